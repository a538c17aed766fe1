// test_half.c — float_to_half_bits against gcc's own float → _Float16 conversion (round to
// nearest even) on special values, every half boundary region and a million random floats.
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "model/half.h"
#include "test.h"

static uint16_t reference_bits(float value) {
    _Float16 h = (_Float16)value;
    uint16_t bits;
    memcpy(&bits, &h, 2);
    return bits;
}

int main(void) {
    float specials[] = {0.0f, -0.0f, 1.0f, -1.0f, 0.01f, 65504.0f, 65519.0f, 65520.0f, 1e9f, -1e9f, 5.96e-8f, 2.98e-8f,
                        2.99e-8f, 6.1e-5f, 6.097e-5f, 1e-12f, INFINITY, -INFINITY, 0x1.002p0f, 0x1.006p0f, 0x1.001p-14f};
    int mismatches = 0;
    for (size_t i = 0; i < sizeof specials / sizeof specials[0]; i++) mismatches += float_to_half_bits(specials[i]) != reference_bits(specials[i]);
    CHECK("half: special values round like _Float16", mismatches == 0, "%d mismatches", mismatches);
    uint64_t state = 88172645463325252ull;
    mismatches = 0;
    for (int i = 0; i < 1000000; i++) {
        state ^= state << 13, state ^= state >> 7, state ^= state << 17;
        uint32_t bits = (uint32_t)state;
        if (i % 2) bits = (bits & 0x80ffffffu) | ((uint32_t)(100 + (state >> 40) % 50) << 23);  // near the half range
        float value;
        memcpy(&value, &bits, 4);
        if (isnan(value)) continue;
        mismatches += float_to_half_bits(value) != reference_bits(value);
    }
    CHECK("half: a million random floats round like _Float16", mismatches == 0, "%d mismatches", mismatches);
    mismatches = 0;
    for (uint32_t h = 0; h < 0x10000; h++) {
        if (((h >> 10) & 0x1f) == 0x1f && (h & 0x3ff)) continue;  // NaN payloads
        _Float16 reference;
        uint16_t bits = (uint16_t)h;
        memcpy(&reference, &bits, 2);
        float value = half_bits_to_float(bits);
        mismatches += memcmp(&(float){(float)reference}, &value, 4) != 0;
    }
    CHECK("half: every binary16 value widens exactly", mismatches == 0, "%d mismatches", mismatches);
    return test_failures ? 1 : 0;
}
