// internal.h — what the estimator's files share: cells and linear combinations of cells.
//
// A cell k is (cohort number g, time index t, base index b) with treated set {cohort g}
// and control set = cohorts ctrl_from..C (C = never-treated group) minus ctrl_skip.
// Its influence function is never stored; from the cell means it is, for unit i,
//   IF_ik = n (ΔY_i − Δ̄_T)/n_T  (i treated),  −n (ΔY_i − Δ̄_C)/n_C  (i control),  0 otherwise.
// An aggregated parameter is a linear combination Σ_k w_k IF_k + coef[G_i] (the
// estimated-weight term is constant within a cohort), so its analytic SE and its
// bootstrap draws both follow from the cell quantities.
#ifndef MEMPROF_ESTIMATE_INTERNAL_H
#define MEMPROF_ESTIMATE_INTERNAL_H

#include <stdint.h>

#include "memprof/estimate.h"

typedef struct cell {
    int64_t g;          // cohort number (0..C-1)
    int64_t t, b;       // time indices of the cell's period and base period
    int64_t ctrl_from;  // first cohort number of the control suffix (C: never-treated only)
    int64_t ctrl_skip;  // cohort number excluded from the suffix, or -1
    int is_ref;         // universal-base reference cell: ATT 0, zero IF
    int valid;          // ATT is a number
    int64_t n_t, n_c;
    double mean_t, mean_c;  // Δ̄_T, Δ̄_C
} cell;

typedef struct lincomb {
    int64_t m, cap;
    int64_t *cell;      // [m]
    double *w;          // [m]
    double *coef;       // [C] added to the IF of every unit of cohort c
    double value;       // θ
} lincomb;

// Pointer to rows [start, end) of a unit range (units are cohort-sorted).
static inline int64_t control_units(const estimate_panel *p, const cell *c, int64_t *skip_lo, int64_t *skip_hi) {
    if (c->ctrl_skip >= 0) { *skip_lo = p->start[c->ctrl_skip]; *skip_hi = p->start[c->ctrl_skip + 1]; }
    else { *skip_lo = *skip_hi = 0; }
    return p->start[c->ctrl_from];
}

// Adds scale × IF_k into vec [n].
void cell_add_if(double *vec, const estimate_panel *p, const cell *c, double scale);

// bres [K, B] (cell-major) and W [C+1, B]: per-draw scaled IF sums of every cell and the
// per-cohort multiplier sums. bres[k,b] = (1/√n) Σ_i v_bi IF_ik.
int bootstrap_draws(double *bres, double *wsum, const estimate_panel *p, const cell *cells, int64_t K,
                    int64_t B, uint64_t seed, int threads, const progress_reporter *progress, memprof_error *err);

// IQR sigma of every bootstrap column k of bres [K, B] (NaN when degenerate: R's rule with
// `threshold`, or when cells[k] is NA or a reference cell; cells may be NULL), threaded.
int bootstrap_sigmas(double *sig, const double *bres, const cell *cells, int64_t K, int64_t B, double threshold,
                     int threads, memprof_error *err);

// Type-1 (inverse empirical CDF) quantile of x[0..m) (x is reordered).
double quantile_type1(double *x, int64_t m, double prob);

// IQR scale of a bootstrap column (reorders x): (q.75 − q.25)/(Φ⁻¹(.75) − Φ⁻¹(.25)).
double iqr_sigma(double *x, int64_t m);

int lincomb_push(lincomb *lc, int64_t k, double w);
void lincomb_free(lincomb *lc);

#endif
