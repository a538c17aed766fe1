// sampler.h — numpy's legacy RandomState (MT19937), bit for bit, and the paper's Pile sampler.
//
// numpy.random.RandomState(seed) with an integer seed runs MT19937's init_genrand (not
// init_by_array); randint, shuffle and choice(replace=False) then consume 32-bit draws by
// masked rejection sampling. Reproducing those exactly lets memprof redraw the paper's
// 14,300 training indices (pietrolesci/memorisation-profiles scripts/sample_pile.py)
// and the validation windows without Python.
#ifndef MEMPROF_SAMPLER_H
#define MEMPROF_SAMPLER_H

#include <stdint.h>

#include "memprof/error.h"

#define MT19937_STATE_WORDS 624

typedef struct legacy_random {
    uint32_t key[MT19937_STATE_WORDS];
    int position;  // next word of key to temper; MT19937_STATE_WORDS = regenerate first
} legacy_random;

// RandomState(seed) for 0 ≤ seed < 2^32.
void legacy_random_seed(legacy_random *out, uint32_t seed);
uint32_t legacy_random_next32(legacy_random *state);
// Two 32-bit draws, the first in the high half (numpy's mt19937_next64).
uint64_t legacy_random_next64(legacy_random *state);
// A uniform integer in [0, max] by masked rejection (numpy's random_interval).
uint64_t legacy_random_interval(legacy_random *state, uint64_t max);
// RandomState.randint(high): a uniform integer in [0, high), high ≥ 1.
int64_t legacy_random_randint(legacy_random *state, int64_t high);
// RandomState.permutation(n): out[0..n) = a Fisher–Yates shuffle of 0..n−1.
void legacy_random_permutation(int64_t *out, legacy_random *state, int64_t n);
// RandomState.choice(n, k, replace=False): the first k of permutation(n). out holds k
// values; scratch space of n int64 is allocated internally.
int legacy_random_choice(int64_t *out, legacy_random *state, int64_t n, int64_t k, memprof_error *err);

// The paper's training sample. With the defaults (seed 1994, 143 cohorts of 1000 batches,
// 10 batches per cohort, 10 of each batch's 1024 sequences) it draws 14,300 indices:
//   rng = RandomState(seed)
//   for c in 0..cohorts−1:
//     batches = rng.choice(batches_per_cohort, batches_drawn) + batches_per_cohort·c
//     for b in batches:
//       seqs = rng.choice(batch_size, sequences_drawn) + batch_size·b
//       rng = RandomState(rng.randint(1_000_000))
typedef struct pile_sampler_config {
    uint32_t seed;               // 1994
    int64_t cohorts;             // 143
    int64_t batches_per_cohort;  // 1000
    int64_t batches_drawn;       // 10
    int64_t batch_size;          // 1024
    int64_t sequences_drawn;     // 10
} pile_sampler_config;

pile_sampler_config pile_sampler_defaults(void);
// cohorts · batches_drawn · sequences_drawn
int64_t pile_sampler_count(const pile_sampler_config *config);
// out_indices[pile_sampler_count] in the order drawn (not sorted).
int pile_sampler_draw(int64_t *out_indices, const pile_sampler_config *config, memprof_error *err);

// Reads one non-negative integer per line (blank lines and '#' comments skipped).
// *out_indices is malloc'ed; the caller frees it.
int index_list_read(int64_t **out_indices, int64_t *out_count, const char *path, memprof_error *err);

#endif
