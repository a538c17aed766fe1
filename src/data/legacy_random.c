// legacy_random.c — numpy's legacy RandomState: MT19937 (Matsumoto & Nishimura) seeded by
// init_genrand, plus the integer samplers RandomState uses (numpy/random/src/mt19937,
// distributions.c random_interval, _bounded_integers masked path, mtrand shuffle/choice).
// Every draw is reproduced bit for bit; see tests/unit/test_sampler.c and
// scripts/sampler_reference.py for the numpy cross-check.
#include <stdlib.h>

#include "memprof/sampler.h"

enum { MT_M = 397 };
#define MT_MATRIX_A 0x9908b0dfu
#define MT_UPPER_MASK 0x80000000u
#define MT_LOWER_MASK 0x7fffffffu

void legacy_random_seed(legacy_random *out, uint32_t seed) {
    for (int i = 0; i < MT19937_STATE_WORDS; i++) {
        out->key[i] = seed;
        seed = 1812433253u * (seed ^ (seed >> 30)) + (uint32_t)i + 1u;
    }
    out->position = MT19937_STATE_WORDS;
}

static uint32_t twist(uint32_t upper, uint32_t lower, uint32_t far) {
    uint32_t y = (upper & MT_UPPER_MASK) | (lower & MT_LOWER_MASK);
    return far ^ (y >> 1) ^ ((0u - (y & 1u)) & MT_MATRIX_A);
}

// Regenerates all 624 words at once (the reference "genrand" block step).
static void regenerate(legacy_random *state) {
    uint32_t *key = state->key;
    const int n = MT19937_STATE_WORDS;
    int i = 0;
    for (; i < n - MT_M; i++) key[i] = twist(key[i], key[i + 1], key[i + MT_M]);
    for (; i < n - 1; i++) key[i] = twist(key[i], key[i + 1], key[i + MT_M - n]);
    key[n - 1] = twist(key[n - 1], key[0], key[MT_M - 1]);
    state->position = 0;
}

uint32_t legacy_random_next32(legacy_random *state) {
    if (state->position >= MT19937_STATE_WORDS) regenerate(state);
    uint32_t y = state->key[state->position++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}

uint64_t legacy_random_next64(legacy_random *state) {
    uint64_t high = legacy_random_next32(state);
    uint64_t low = legacy_random_next32(state);
    return high << 32 | low;
}

// The smallest all-ones mask covering max.
static uint64_t covering_mask(uint64_t max) {
    uint64_t mask = max;
    mask |= mask >> 1;
    mask |= mask >> 2;
    mask |= mask >> 4;
    mask |= mask >> 8;
    mask |= mask >> 16;
    mask |= mask >> 32;
    return mask;
}

uint64_t legacy_random_interval(legacy_random *state, uint64_t max) {
    if (max == 0) return 0;
    uint64_t mask = covering_mask(max), value;
    if (max <= 0xffffffffu) {
        while ((value = (legacy_random_next32(state) & mask)) > max) {}
    } else {
        while ((value = (legacy_random_next64(state) & mask)) > max) {}
    }
    return value;
}

// randint's legacy (masked) bounded path differs from random_interval only at the full
// 32- and 64-bit ranges, where it takes one draw without masking.
int64_t legacy_random_randint(legacy_random *state, int64_t high) {
    uint64_t range = (uint64_t)high - 1u;
    if (range == 0xffffffffu) return (int64_t)legacy_random_next32(state);
    if (range == UINT64_MAX) return (int64_t)legacy_random_next64(state);
    return (int64_t)legacy_random_interval(state, range);
}

void legacy_random_permutation(int64_t *out, legacy_random *state, int64_t n) {
    for (int64_t i = 0; i < n; i++) out[i] = i;
    for (int64_t i = n - 1; i >= 1; i--) {
        int64_t j = (int64_t)legacy_random_interval(state, (uint64_t)i);
        int64_t swap = out[i];
        out[i] = out[j];
        out[j] = swap;
    }
}

int legacy_random_choice(int64_t *out, legacy_random *state, int64_t n, int64_t k, memprof_error *err) {
    if (n < 0 || k < 0 || k > n)
        return error_set(err, MEMPROF_ERR, "choice: cannot take %lld of %lld without replacement", (long long)k,
                         (long long)n);
    int64_t *permutation = malloc((size_t)(n > 0 ? n : 1) * sizeof *permutation);
    if (!permutation) return error_set(err, MEMPROF_ERR_NOMEM, "choice: out of memory for %lld items", (long long)n);
    legacy_random_permutation(permutation, state, n);
    for (int64_t i = 0; i < k; i++) out[i] = permutation[i];
    free(permutation);
    return MEMPROF_OK;
}
