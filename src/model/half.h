// half.h — float32 → IEEE binary16 bits, round to nearest even (what a cast to _Float16
// does, written out because clang 14, the fuzzing compiler here, has no _Float16 on x86).
#ifndef MEMPROF_MODEL_HALF_H
#define MEMPROF_MODEL_HALF_H

#include <math.h>
#include <stdint.h>

static inline uint16_t float_to_half_bits(float value) {
    union { float value; uint32_t bits; } v = {.value = value};
    uint32_t sign = (v.bits >> 16) & 0x8000u, magnitude = v.bits & 0x7fffffffu;
    if (magnitude >= 0x7f800000u)  // inf, or NaN (kept quiet)
        return (uint16_t)(sign | 0x7c00u | (magnitude > 0x7f800000u ? 0x200u : 0u));
    if (magnitude >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u);  // rounds to ≥ 65520: inf
    if (magnitude < 0x38800000u)  // below 2^-14: a subnormal half, value · 2^24 rounded (exact scaling)
        return (uint16_t)(sign | (uint32_t)lrintf(fabsf(value) * 0x1p24f));
    uint32_t half = (magnitude - 0x38000000u) >> 13;  // rebias 127 → 15, keep 10 mantissa bits
    uint32_t rest = magnitude & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (half & 1u))) half++;  // a carry may bump the exponent
    return (uint16_t)(sign | half);
}

// binary16 bits → float (exact).
static inline float half_bits_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31, exponent = (h >> 10) & 0x1fu, mantissa = h & 0x3ffu;
    union { uint32_t bits; float value; } out;
    if (exponent == 0x1f) out.bits = sign | 0x7f800000u | (mantissa << 13);
    else if (exponent != 0) out.bits = sign | ((exponent + 112u) << 23) | (mantissa << 13);
    else {
        out.value = ldexpf((float)mantissa, -24);
        out.bits |= sign;
    }
    return out.value;
}

#endif
