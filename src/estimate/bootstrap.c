// bootstrap.c — the Rademacher multiplier bootstrap from per-cohort sums (docs/estimator.md).
//
// For draw b, with multipliers v_bi ∈ {−1, +1}:
//   M_b(c,s) = Σ_{i∈c} v_bi Y_is,  W_b(c) = Σ_{i∈c} v_bi       ([C+1, T] and [C+1])
//   bres[k,b] = √n [ (A_T − Δ̄_T W_T)/n_T − (A_C − Δ̄_C W_C)/n_C ],  A_S = Σ_{c∈S} M_b(c,t) − M_b(c,b)
// which equals (1/√n) Σ_i v_bi IF_ik without forming IF. Cost O(B·n·T/2 + B·K).
// Multipliers come from a counter-based generator keyed by (seed, draw, word), so every
// draw is the same whichever thread computes it: results do not depend on the thread count.
// Shapes: bres [K, B] cell-major, wsum [C+1, B].
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "estimate/internal.h"

// SplitMix64's finaliser: a bijection with full avalanche; applied to distinct counters it
// yields independent-looking 64-bit words.
static inline uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

typedef struct draw_job {
    double *bres, *wsum;
    const estimate_panel *p;
    const cell *cells;
    int64_t K, B, b0, b1;
    uint64_t key;
    double *total;  // [C+1, T] Σ_{i∈c} Y_is (shared, read-only)
    int failed;
    atomic_llong *draws_done;              // shared count, for progress
    const progress_reporter *progress;     // only job 0 reports (one thread at a time)
} draw_job;

// a[0..T) += y[0..T): the hot loop of the bootstrap. GCC's -O2 does not vectorise loops that
// need an epilogue, so ask for it here (clang vectorises this at -O2 already); on x86-64 an AVX2
// clone is picked at load time where the CPU has it (additions only: results are unchanged).
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
__attribute__((optimize("tree-vectorize"), target_clones("avx2", "default")))
#elif defined(__GNUC__) && !defined(__clang__)
__attribute__((optimize("tree-vectorize")))
#endif
static void add_row(double *restrict a, const double *restrict y, int64_t T) {
    for (int64_t s = 0; s < T; s++) a[s] += y[s];
}

// Draws are processed in blocks of DRAW_BLOCK (16 measured best on the paper shape: 8 and 32 are
// 10% slower) so that each unit's row of Y is read once per
// block (it stays in L1 while the block's accumulators take it), not once per draw.
#define DRAW_BLOCK 16

static void *draw_range(void *arg) {
    draw_job *job = arg;
    const estimate_panel *p = job->p;
    int64_t T = p->T, C = p->C, G = C + 1, B = job->B;
    double *acc = malloc((size_t)(DRAW_BLOCK * T) * sizeof *acc);        // Σ over v=+1 units, per draw
    double *mc = malloc((size_t)(DRAW_BLOCK * G * T) * sizeof *mc);      // M_b(c, s) per draw of the block
    double *wc = malloc((size_t)(DRAW_BLOCK * G) * sizeof *wc);          // W_b(c)
    double *m = malloc((size_t)(DRAW_BLOCK * (G + 1) * T) * sizeof *m);  // suffix sums of M over cohorts; row G = 0
    double *w = malloc((size_t)(DRAW_BLOCK * (G + 1)) * sizeof *w);      // suffix sums of W
    if (!acc || !mc || !wc || !m || !w) { job->failed = 1; goto out; }
    double sqrt_n = sqrt((double)p->n);
    for (int64_t b0 = job->b0; b0 < job->b1; b0 += DRAW_BLOCK) {
        int64_t nd = job->b1 - b0 < DRAW_BLOCK ? job->b1 - b0 : DRAW_BLOCK;
        for (int64_t c = 0; c < G; c++) {
            int64_t lo = p->start[c], hi = p->start[c + 1];
            int64_t cnt[DRAW_BLOCK] = {0};
            memset(acc, 0, (size_t)(nd * T) * sizeof *acc);
            for (int64_t i = lo; i < hi; i++) {
                const double *yi = p->y_unit + i * T;
                for (int64_t d = 0; d < nd; d++) {
                    // bit i of draw b0 + d
                    uint64_t word = mix64(job->key ^ (((uint64_t)(b0 + d) << 32) | (uint64_t)(i >> 6)));
                    if (!((word >> (i & 63)) & 1)) continue;
                    cnt[d]++;
                    add_row(acc + d * T, yi, T);
                }
            }
            for (int64_t d = 0; d < nd; d++) {
                for (int64_t s = 0; s < T; s++) mc[(d * G + c) * T + s] = 2.0 * acc[d * T + s] - job->total[c * T + s];
                wc[d * G + c] = (double)(2 * cnt[d] - (hi - lo));
                job->wsum[c * B + b0 + d] = wc[d * G + c];
            }
        }
        for (int64_t d = 0; d < nd; d++) {   // suffix sums over cohorts (control sets are suffixes)
            const double *mcd = mc + d * G * T, *wcd = wc + d * G;
            double *md = m + d * (G + 1) * T, *wd = w + d * (G + 1);
            memset(md + G * T, 0, (size_t)T * sizeof *md);
            wd[G] = 0.0;
            for (int64_t c = G - 1; c >= 0; c--) {
                for (int64_t s = 0; s < T; s++) md[c * T + s] = md[(c + 1) * T + s] + mcd[c * T + s];
                wd[c] = wd[c + 1] + wcd[c];
            }
        }
        // cell-major so that the block's draws of a cell land in one cache line of bres
        for (int64_t k = 0; k < job->K; k++) {
            const cell *ck = &job->cells[k];
            double *out_k = job->bres + k * B + b0;
            if (!ck->valid || ck->is_ref) {
                for (int64_t d = 0; d < nd; d++) out_k[d] = ck->valid ? 0.0 : NAN;
                continue;
            }
            int64_t g = ck->g, t = ck->t, bb = ck->b, f = ck->ctrl_from, sk = ck->ctrl_skip;
            double scale_t = sqrt_n / (double)ck->n_t, scale_c = sqrt_n / (double)ck->n_c;  // no division per draw
            for (int64_t d = 0; d < nd; d++) {
                const double *mcd = mc + d * G * T, *wcd = wc + d * G;
                const double *md = m + d * (G + 1) * T, *wd = w + d * (G + 1);
                double a_t = mcd[g * T + t] - mcd[g * T + bb], w_t = wcd[g];
                double a_c = md[f * T + t] - md[f * T + bb], w_c = wd[f];
                if (sk >= 0) {
                    a_c -= mcd[sk * T + t] - mcd[sk * T + bb];
                    w_c -= wcd[sk];
                }
                out_k[d] = scale_t * (a_t - ck->mean_t * w_t) - scale_c * (a_c - ck->mean_c * w_c);
            }
        }
        long long done = atomic_fetch_add(job->draws_done, nd) + nd;
        if (job->progress) progress_report(job->progress, "bootstrap draws", (double)done, (double)B, "draws");
    }
out:
    free(acc); free(mc); free(wc); free(m); free(w);
    return NULL;
}

int bootstrap_draws(double *bres, double *wsum, const estimate_panel *p, const cell *cells, int64_t K,
                    int64_t B, uint64_t seed, int threads, const progress_reporter *progress, memprof_error *err) {
    atomic_llong draws_done;
    atomic_init(&draws_done, 0);
    int64_t G = p->C + 1, T = p->T;
    double *total = calloc((size_t)(G * T), sizeof *total);
    if (!total) return error_set(err, MEMPROF_ERR_NOMEM, "out of memory");
    for (int64_t c = 0; c < G; c++)
        for (int64_t i = p->start[c]; i < p->start[c + 1]; i++)
            for (int64_t s = 0; s < T; s++) total[c * T + s] += p->y_unit[i * T + s];
    if (threads < 1) threads = 1;
    if (threads > B) threads = (int)(B > 0 ? B : 1);
    draw_job *jobs = calloc((size_t)threads, sizeof *jobs);
    pthread_t *tids = calloc((size_t)threads, sizeof *tids);
    if (!jobs || !tids) { free(total); free(jobs); free(tids); return error_set(err, MEMPROF_ERR_NOMEM, "out of memory"); }
    uint64_t key = mix64(seed ^ 0x6a09e667f3bcc908ULL);
    int started = 0;
    for (int j = 0; j < threads; j++) {
        jobs[j] = (draw_job){bres, wsum, p, cells, K, B, B * j / threads, B * (j + 1) / threads, key, total, 0,
                             &draws_done, j == 0 ? progress : NULL};
        if (threads == 1) { draw_range(&jobs[j]); continue; }
        if (pthread_create(&tids[j], NULL, draw_range, &jobs[j]) != 0) { jobs[j].failed = 2; break; }
        started++;
    }
    for (int j = 0; j < started; j++) pthread_join(tids[j], NULL);
    int failed = 0;
    for (int j = 0; j < threads; j++) failed |= jobs[j].failed;
    free(total); free(jobs); free(tids);
    if (failed) return error_set(err, MEMPROF_ERR_NOMEM, "bootstrap: out of memory or could not start a thread");
    return 0;
}

// Quickselect: the k-th smallest (0-based) of x[0..m), reordering x. NaN must be absent.
static double select_kth(double *x, int64_t m, int64_t k) {
    int64_t lo = 0, hi = m - 1;
    while (lo < hi) {
        double pivot = x[lo + (hi - lo) / 2];
        int64_t i = lo, j = hi;
        while (i <= j) {
            while (x[i] < pivot) i++;
            while (x[j] > pivot) j--;
            if (i <= j) { double tmp = x[i]; x[i] = x[j]; x[j] = tmp; i++; j--; }
        }
        if (k <= j) hi = j;
        else if (k >= i) lo = i;
        else return x[k];
    }
    return x[k];
}

// R's quantile(type = 1): j = floor(m·p) with R's fuzz; x_(j) if m·p is an integer, else x_(j+1).
static int64_t type1_index(int64_t m, double prob);

double quantile_type1(double *x, int64_t m, double prob) {
    if (m <= 0) return NAN;
    return select_kth(x, m, type1_index(m, prob) - 1);
}

// 1-based order statistic R's type-1 quantile picks.
static int64_t type1_index(int64_t m, double prob) {
    double fuzz = 4.0 * 2.220446049250313e-16;
    double np = (double)m * prob;
    int64_t j = (int64_t)floor(np + fuzz);
    if (np - (double)j > fuzz) j++;
    if (j < 1) j = 1;
    if (j > m) j = m;
    return j;
}

double iqr_sigma(double *x, int64_t m) {
    if (m <= 0) return NAN;
    int64_t j25 = type1_index(m, 0.25) - 1, j75 = type1_index(m, 0.75) - 1;
    double q25 = select_kth(x, m, j25);
    // after the selection everything from j25 on is ≥ q25, so q75 is found there
    double q75 = select_kth(x + j25, m - j25, j75 - j25);
    return (q75 - q25) / 1.3489795003921634;
}

typedef struct sigma_job {
    double *sig;
    const double *bres;
    const cell *cells;
    int64_t k0, k1, B;
    double threshold;
    int failed;
} sigma_job;

static void *sigma_range(void *arg) {
    sigma_job *job = arg;
    double *tmp = malloc((size_t)(job->B > 0 ? job->B : 1) * sizeof *tmp);
    if (!tmp) { job->failed = 1; return NULL; }
    for (int64_t k = job->k0; k < job->k1; k++) {
        job->sig[k] = NAN;
        if (job->cells && (!job->cells[k].valid || job->cells[k].is_ref)) continue;
        const double *col = job->bres + k * job->B;
        double s = 0, s2 = 0;
        for (int64_t b = 0; b < job->B; b++) { s += col[b]; s2 += col[b] * col[b]; }
        if (!isfinite(s) || !(s2 > job->threshold)) continue;   // R's non-degenerate-column rule
        memcpy(tmp, col, (size_t)job->B * sizeof *tmp);
        double sg = iqr_sigma(tmp, job->B);
        if (sg > job->threshold) job->sig[k] = sg;
    }
    free(tmp);
    return NULL;
}

int bootstrap_sigmas(double *sig, const double *bres, const cell *cells, int64_t K, int64_t B, double threshold,
                     int threads, memprof_error *err) {
    if (threads < 1) threads = 1;
    if (threads > K) threads = (int)(K > 0 ? K : 1);
    sigma_job jobs[64];
    pthread_t tids[64];
    if (threads > 64) threads = 64;
    int started = 0, failed = 0;
    for (int j = 0; j < threads; j++) {
        jobs[j] = (sigma_job){sig, bres, cells, K * j / threads, K * (j + 1) / threads, B, threshold, 0};
        if (threads == 1) { sigma_range(&jobs[j]); continue; }
        if (pthread_create(&tids[j], NULL, sigma_range, &jobs[j]) != 0) { failed = 1; break; }
        started++;
    }
    for (int j = 0; j < started; j++) pthread_join(tids[j], NULL);
    for (int j = 0; j < threads; j++) failed |= jobs[j].failed;
    return failed ? error_set(err, MEMPROF_ERR_NOMEM, "bootstrap: out of memory or could not start a thread") : 0;
}
