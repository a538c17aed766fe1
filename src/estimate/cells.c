// cells.c — the ATT(g,t) cells: which (g, t, b), which controls, point estimate and
// analytic SE (docs/estimator.md), from two passes over the cell's units.
//
//   ATT = Δ̄_T − Δ̄_C,  ΔY_i = Y_it − Y_ib (current minus base, also when t < b)
//   se² = Σ_T (ΔY−Δ̄_T)²/n_T² + Σ_C (ΔY−Δ̄_C)²/n_C²     (= Σ_i IF_i²/n², n cancels)
// Shapes: cells [K]; K = C·(T−1) (varying) or C·T (universal).
#include <math.h>
#include <stdlib.h>

#include "estimate/internal.h"

// R dr/ipw trims controls whose propensity score is ≥ 0.995; without covariates p̂ = n_T/N1
// for every unit, so the whole control group goes and the cell is NA (docs/estimator.md).
#define TRIM_LEVEL 0.995

static double sum_delta(const estimate_panel *p, int64_t lo, int64_t hi, int64_t t, int64_t b) {
    const double *yt = p->y + t * p->n, *yb = p->y + b * p->n;
    double s = 0;
    for (int64_t i = lo; i < hi; i++) s += yt[i] - yb[i];
    return s;
}

static double sum_sq_dev(const estimate_panel *p, int64_t lo, int64_t hi, int64_t t, int64_t b, double mean) {
    const double *yt = p->y + t * p->n, *yb = p->y + b * p->n;
    double s = 0;
    for (int64_t i = lo; i < hi; i++) { double d = yt[i] - yb[i] - mean; s += d * d; }
    return s;
}

// Fills cells [K] and their ATT and analytic SE. Returns K, or a negative error.
int64_t cells_build(cell **out, double **att, double **se, const estimate_panel *p, const estimate_options *opt,
                    memprof_error *err) {
    int64_t C = p->C, T = p->T, delta = opt->anticipation;
    int64_t per = opt->base == BASE_UNIVERSAL ? T : T - 1;
    int64_t ncoh = p->no_cells_from;
    int64_t K = ncoh * per;
    cell *cells = calloc((size_t)(K > 0 ? K : 1), sizeof *cells);
    double *a = malloc((size_t)(K > 0 ? K : 1) * sizeof *a);
    double *s = malloc((size_t)(K > 0 ? K : 1) * sizeof *s);
    if (!cells || !a || !s) { free(cells); free(a); free(s); return error_set(err, MEMPROF_ERR_NOMEM, "out of memory"); }
    int64_t k = 0;
    for (int64_t g = 0; g < ncoh; g++) {
        int64_t gi = p->cohort_index[g];
        int64_t bg = gi - 1 - delta;   // last period with t + δ < g (in grid periods)
        for (int64_t j = (opt->base == BASE_UNIVERSAL ? 0 : 1); j < T; j++, k++) {
            cell *c = &cells[k];
            c->g = g; c->t = j;
            if (opt->base == BASE_UNIVERSAL) c->b = bg;
            else c->b = (j < gi) ? j - 1 : bg;   // R: pre cells (anticipation ones too) are one-period gaps; post use b_g
            c->is_ref = (opt->base == BASE_UNIVERSAL && j == bg);
            c->ctrl_skip = -1;
            if (opt->control == CONTROL_NEVER_TREATED) {
                c->ctrl_from = C;
            } else {
                int64_t cut = (j > c->b ? j : c->b) + delta;
                int64_t f = 0;
                while (f < C && p->cohort_index[f] <= cut) f++;
                c->ctrl_from = f;
                if (g >= f) c->ctrl_skip = g;
            }
            c->n_t = p->start[g + 1] - p->start[g];
            c->n_c = p->start[C + 1] - p->start[c->ctrl_from];
            if (c->ctrl_skip >= 0) c->n_c -= p->start[c->ctrl_skip + 1] - p->start[c->ctrl_skip];
            if (c->is_ref) { c->valid = 1; a[k] = 0.0; s[k] = NAN; continue; }
            if (c->n_c == 0 || (double)c->n_t / (double)(c->n_t + c->n_c) >= TRIM_LEVEL) {
                c->valid = 0; a[k] = NAN; s[k] = NAN; continue;
            }
            c->valid = 1;
            int64_t lo_t = p->start[g], hi_t = p->start[g + 1];
            int64_t lo_c = p->start[c->ctrl_from], hi_c = p->start[C + 1];
            int64_t skip_lo = c->ctrl_skip >= 0 ? p->start[c->ctrl_skip] : hi_c;
            int64_t skip_hi = c->ctrl_skip >= 0 ? p->start[c->ctrl_skip + 1] : hi_c;
            c->mean_t = sum_delta(p, lo_t, hi_t, c->t, c->b) / (double)c->n_t;
            c->mean_c = (sum_delta(p, lo_c, skip_lo, c->t, c->b) + sum_delta(p, skip_hi, hi_c, c->t, c->b)) / (double)c->n_c;
            double ss_t = sum_sq_dev(p, lo_t, hi_t, c->t, c->b, c->mean_t);
            double ss_c = sum_sq_dev(p, lo_c, skip_lo, c->t, c->b, c->mean_c) + sum_sq_dev(p, skip_hi, hi_c, c->t, c->b, c->mean_c);
            a[k] = c->mean_t - c->mean_c;
            s[k] = sqrt(ss_t / ((double)c->n_t * (double)c->n_t) + ss_c / ((double)c->n_c * (double)c->n_c));
        }
    }
    *out = cells; *att = a; *se = s;
    return K;
}

void cell_add_if(double *vec, const estimate_panel *p, const cell *c, double scale) {
    if (!c->valid || c->is_ref || scale == 0.0) return;
    int64_t n = p->n, C = p->C;
    const double *yt = p->y + c->t * n, *yb = p->y + c->b * n;
    double st = scale * (double)n / (double)c->n_t, sc = -scale * (double)n / (double)c->n_c;
    for (int64_t i = p->start[c->g]; i < p->start[c->g + 1]; i++) vec[i] += st * (yt[i] - yb[i] - c->mean_t);
    int64_t lo = p->start[c->ctrl_from], hi = p->start[C + 1];
    int64_t skip_lo = c->ctrl_skip >= 0 ? p->start[c->ctrl_skip] : hi;
    int64_t skip_hi = c->ctrl_skip >= 0 ? p->start[c->ctrl_skip + 1] : hi;
    for (int64_t i = lo; i < skip_lo; i++) vec[i] += sc * (yt[i] - yb[i] - c->mean_c);
    for (int64_t i = skip_hi; i < hi; i++) vec[i] += sc * (yt[i] - yb[i] - c->mean_c);
}
