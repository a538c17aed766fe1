// cpu_math.h — an exp that the compiler can vectorise (glibc offers its vector expf only
// under -ffast-math). Relative error ≈ 2e-7 on the range softmax uses (x ≤ 0), far below
// the 1e-4 nats the statistics are checked to; results are identical run to run.
#ifndef MEMPROF_CPU_MATH_H
#define MEMPROF_CPU_MATH_H

#include <stdint.h>

// exp(x) for x ≤ ~88: x = n·ln2 + r with |r| ≤ ln2/2, exp(r) by a degree-6 Taylor
// polynomial (error < 2e-8 on that interval), times 2^n built in the exponent bits.
// Inputs below −87 give exp(−87) ≈ 1.6e-38 instead of a denormal or zero: negligible in
// a softmax sum, and it keeps the loop free of branches so that it vectorises.
static inline float exp_vectorizable(float x) {
    const float log2e = 1.44269504088896341f;
    const float ln2_high = 0.693359375f, ln2_low = -2.12194440e-4f;  // ln2 split so n·ln2_high is exact
    float clamped = x > -87.0f ? x : -87.0f;
    float n = __builtin_rintf(clamped * log2e);
    float r = (clamped - n * ln2_high) - n * ln2_low;
    float p = 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    union { int32_t bits; float value; } scale = {.bits = ((int32_t)n + 127) << 23};  // 2^n
    return p * scale.value;
}

#endif
