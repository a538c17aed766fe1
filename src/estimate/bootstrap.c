// bootstrap.c — the Rademacher multiplier bootstrap from per-cohort sums (did-spec §7.3).
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
} draw_job;

static void *draw_range(void *arg) {
    draw_job *job = arg;
    const estimate_panel *p = job->p;
    int64_t n = p->n, T = p->T, C = p->C, G = C + 1;
    double *plus = malloc((size_t)(G * T) * sizeof *plus);     // Σ over v=+1 units
    double *m = malloc((size_t)(G + 1) * (size_t)T * sizeof *m); // suffix sums of M over cohorts; row G = 0
    double *w = malloc((size_t)(G + 1) * sizeof *w);           // suffix sums of W
    double *mc = malloc((size_t)(G * T) * sizeof *mc);          // M per cohort
    double *wc = malloc((size_t)G * sizeof *wc);
    if (!plus || !m || !w || !mc || !wc) { job->failed = 1; goto out; }
    double sqrt_n = sqrt((double)n);
    for (int64_t b = job->b0; b < job->b1; b++) {
        memset(plus, 0, (size_t)(G * T) * sizeof *plus);
        for (int64_t c = 0; c < G; c++) {
            int64_t lo = p->start[c], hi = p->start[c + 1];
            double *acc = plus + c * T;
            int64_t cnt = 0;
            for (int64_t i = lo; i < hi; i++) {
                // bit i of draw b
                uint64_t word = mix64(job->key ^ (((uint64_t)b << 32) | (uint64_t)(i >> 6)));
                if (!((word >> (i & 63)) & 1)) continue;
                cnt++;
                const double *yi = p->y_unit + i * T;
                for (int64_t s = 0; s < T; s++) acc[s] += yi[s];
            }
            for (int64_t s = 0; s < T; s++) mc[c * T + s] = 2.0 * acc[s] - job->total[c * T + s];
            wc[c] = (double)(2 * cnt - (hi - lo));
            job->wsum[c * job->B + b] = wc[c];
        }
        memset(m + G * T, 0, (size_t)T * sizeof *m);
        w[G] = 0.0;
        for (int64_t c = G - 1; c >= 0; c--) {
            for (int64_t s = 0; s < T; s++) m[c * T + s] = m[(c + 1) * T + s] + mc[c * T + s];
            w[c] = w[c + 1] + wc[c];
        }
        for (int64_t k = 0; k < job->K; k++) {
            const cell *ck = &job->cells[k];
            double v;
            if (!ck->valid) v = NAN;
            else if (ck->is_ref) v = 0.0;
            else {
                int64_t g = ck->g, t = ck->t, bb = ck->b, f = ck->ctrl_from;
                double a_t = mc[g * T + t] - mc[g * T + bb], w_t = wc[g];
                double a_c = m[f * T + t] - m[f * T + bb], w_c = w[f];
                if (ck->ctrl_skip >= 0) {
                    int64_t s = ck->ctrl_skip;
                    a_c -= mc[s * T + t] - mc[s * T + bb];
                    w_c -= wc[s];
                }
                v = sqrt_n * ((a_t - ck->mean_t * w_t) / (double)ck->n_t - (a_c - ck->mean_c * w_c) / (double)ck->n_c);
            }
            job->bres[k * job->B + b] = v;
        }
    }
out:
    free(plus); free(m); free(w); free(mc); free(wc);
    return NULL;
}

int bootstrap_draws(double *bres, double *wsum, const estimate_panel *p, const cell *cells, int64_t K,
                    int64_t B, uint64_t seed, int threads, memprof_error *err) {
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
        jobs[j] = (draw_job){bres, wsum, p, cells, K, B, B * j / threads, B * (j + 1) / threads, key, total, 0};
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
double quantile_type1(double *x, int64_t m, double prob) {
    if (m <= 0) return NAN;
    double fuzz = 4.0 * 2.220446049250313e-16;
    double np = (double)m * prob;
    int64_t j = (int64_t)floor(np + fuzz);
    if (np - (double)j > fuzz) j++;   // 1-based order statistic
    if (j < 1) j = 1;
    if (j > m) j = m;
    return select_kth(x, m, j - 1);
}

double iqr_sigma(double *x, int64_t m) {
    double q75 = quantile_type1(x, m, 0.75);
    double q25 = quantile_type1(x, m, 0.25);
    return (q75 - q25) / 1.3489795003921634;
}
