// simulate.c — a panel with a planted ATT(g,t) surface (see estimate.h for the model).
// Deterministic in the seed: xoshiro256** seeded by SplitMix64, normals by Box–Muller.
// Units are laid out cohort by cohort (first treated cohort first), never-treated last.
// Shapes: y [T, n] time-major, truth [C, T].
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "memprof/estimate.h"

typedef struct rng { uint64_t s[4]; int has_spare; double spare; } rng;

static uint64_t splitmix(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
static uint64_t next_u64(rng *r) {
    uint64_t *s = r->s, out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3]; s[2] ^= t; s[3] = rotl(s[3], 45);
    return out;
}
static double uniform01(rng *r) { return ((double)(next_u64(r) >> 11) + 0.5) * 0x1.0p-53; }
static double normal(rng *r) {
    if (r->has_spare) { r->has_spare = 0; return r->spare; }
    double u = uniform01(r), v = uniform01(r), rad = sqrt(-2 * log(u));
    r->spare = rad * sin(2 * M_PI * v); r->has_spare = 1;
    return rad * cos(2 * M_PI * v);
}

void simulate_options_default(simulate_options *o) {
    memset(o, 0, sizeof *o);
    o->n_cohorts = 8; o->per_cohort = 100; o->n_never = 400; o->n_checkpoints = 10; o->interval = 1000;
    o->effect = -0.5; o->persistent = -0.1; o->decay = 0.6; o->noise = 0.3; o->unit_sd = 0.5; o->trend = 1.0;
    o->level = 3.0; o->seed = 1;
}

void simulated_panel_free(simulated_panel *s) {
    free(s->y); free(s->cohort); free(s->times); free(s->seq_idx); free(s->train_step); free(s->split); free(s->truth);
    memset(s, 0, sizeof *s);
}

int simulate_panel(simulated_panel *out, const simulate_options *o, memprof_error *err) {
    memset(out, 0, sizeof *out);
    int64_t T = o->n_checkpoints, C = o->n_cohorts;
    if (T < 2 || C < 1 || C > T - 1) return error_set(err, MEMPROF_ERR, "simulate: need 2 <= checkpoints and 1 <= cohorts <= checkpoints - 1 (got %lld, %lld)", (long long)T, (long long)C);
    if (o->per_cohort < 1 || o->n_never < 0 || o->interval < 1) return error_set(err, MEMPROF_ERR, "simulate: per-cohort >= 1, never >= 0, interval >= 1");
    int64_t n = C * o->per_cohort + o->n_never;
    out->n = n; out->T = T; out->C = C;
    out->y = malloc((size_t)(n * T) * sizeof *out->y);
    out->cohort = malloc((size_t)n * sizeof *out->cohort);
    out->times = malloc((size_t)T * sizeof *out->times);
    out->seq_idx = malloc((size_t)n * sizeof *out->seq_idx);
    out->train_step = malloc((size_t)n * sizeof *out->train_step);
    out->split = malloc((size_t)n);
    out->truth = calloc((size_t)(C * T), sizeof *out->truth);
    if (!out->y || !out->cohort || !out->times || !out->seq_idx || !out->train_step || !out->split || !out->truth) {
        simulated_panel_free(out);
        return error_set(err, MEMPROF_ERR_NOMEM, "simulate: out of memory for %lld x %lld", (long long)n, (long long)T);
    }
    for (int64_t j = 0; j < T; j++) out->times[j] = j * o->interval;
    for (int64_t c = 0; c < C; c++)
        for (int64_t j = c + 1; j < T; j++)
            out->truth[c * T + j] = o->persistent + (o->effect - o->persistent) * pow(o->decay, (double)(j - (c + 1)));
    rng r = {{0}, 0, 0};
    uint64_t x = o->seed;
    for (int q = 0; q < 4; q++) r.s[q] = splitmix(&x);
    for (int64_t i = 0; i < n; i++) {
        int64_t c = i < C * o->per_cohort ? i / o->per_cohort : -1;   // cohort number or never
        if (c >= 0) {
            int64_t lo = c * o->interval;   // trained in [s_c, s_{c+1}) → first checkpoint after is s_{c+1}
            int64_t step = lo + (int64_t)(uniform01(&r) * (double)o->interval);
            if (step >= lo + o->interval) step = lo + o->interval - 1;
            out->train_step[i] = step;
            out->seq_idx[i] = step * 1024 + (int64_t)(uniform01(&r) * 1024.0);
            out->split[i] = 0;
            out->cohort[i] = (double)out->times[c + 1];
        } else {
            out->train_step[i] = -1;
            out->seq_idx[i] = -100 - (i - C * o->per_cohort);
            out->split[i] = 1;
            out->cohort[i] = NAN;
        }
        double alpha = o->unit_sd * normal(&r);
        for (int64_t j = 0; j < T; j++) {
            double att = c >= 0 ? out->truth[c * T + j] : 0.0;
            out->y[j * n + i] = o->level + alpha + o->trend * exp(-(double)j / 10.0) + att + o->noise * normal(&r);
        }
    }
    return 0;
}
