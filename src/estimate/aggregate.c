// aggregate.c — the aggregated parameters as linear combinations of cells (docs/estimator.md).
//
//   θ = Σ_{k∈Kp} ω_k ATT_k,  ω_k = n_{g_k} / N_K,  N_K = Σ_{k∈Kp} n_{g_k}
//   IF^θ_i = Σ_k ω_k IF_ik + (n/N_K) Σ_{k∈Kp: g_k = G_i} (ATT_k − θ)     (estimated-weight term)
// simple: post cells; cohort θ_g: post cells of g (equal weights, the weight term sums to 0);
// cohort overall: θ_g weighted by n_g (+ weight term over distinct cohorts); event θ_e: all
// cells with t − g = e; time θ_t: post cells at t; event/time overall: plain means (no extra
// term). "post" is t ≥ g whatever the anticipation. Cells with NA ATT are left out (na.rm).
// Shapes: defs[AGG_COUNT], each n_keyed + 1 lincombs (the last is the overall one).
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "estimate/aggregate.h"

int lincomb_push(lincomb *lc, int64_t k, double w) {
    if (lc->m == lc->cap) {
        int64_t cap = lc->cap ? 2 * lc->cap : 16;
        int64_t *c = realloc(lc->cell, (size_t)cap * sizeof *c);
        if (!c) return MEMPROF_ERR_NOMEM;
        lc->cell = c;
        double *w2 = realloc(lc->w, (size_t)cap * sizeof *w2);
        if (!w2) return MEMPROF_ERR_NOMEM;
        lc->w = w2;
        lc->cap = cap;
    }
    lc->cell[lc->m] = k;
    lc->w[lc->m] = w;
    lc->m++;
    return 0;
}

void lincomb_free(lincomb *lc) {
    free(lc->cell); free(lc->w); free(lc->coef);
    memset(lc, 0, sizeof *lc);
}

void agg_defs_free(agg_def *defs) {
    for (int a = 0; a < AGG_COUNT; a++) {
        for (int64_t j = 0; j < defs[a].n_keyed + 1 && defs[a].params; j++) lincomb_free(&defs[a].params[j]);
        free(defs[a].params); free(defs[a].keys);
        memset(&defs[a], 0, sizeof defs[a]);
    }
}

static int64_t cohort_size(const estimate_panel *p, int64_t g) { return p->start[g + 1] - p->start[g]; }

// θ over cells ks[0..m) with cohort-share weights and the estimated-weight term.
static int weighted_param(lincomb *lc, const estimate_panel *p, const cell *cells, const double *att,
                          const int64_t *ks, int64_t m) {
    lc->coef = calloc((size_t)(p->C > 0 ? p->C : 1), sizeof *lc->coef);
    if (!lc->coef) return MEMPROF_ERR_NOMEM;
    double nk = 0;
    for (int64_t j = 0; j < m; j++) nk += (double)cohort_size(p, cells[ks[j]].g);
    double theta = 0;
    for (int64_t j = 0; j < m; j++) theta += (double)cohort_size(p, cells[ks[j]].g) / nk * att[ks[j]];
    lc->value = m > 0 ? theta : NAN;
    for (int64_t j = 0; j < m; j++) {
        int64_t k = ks[j];
        if (lincomb_push(lc, k, (double)cohort_size(p, cells[k].g) / nk)) return MEMPROF_ERR_NOMEM;
        lc->coef[cells[k].g] += (double)p->n / nk * (att[k] - theta);
    }
    return 0;
}

// out = Σ_j wts[j] · parts[j] (cell lists concatenated, coefficients summed).
static int combine(lincomb *out, const estimate_panel *p, const lincomb *parts, const double *wts, int64_t m) {
    out->coef = calloc((size_t)(p->C > 0 ? p->C : 1), sizeof *out->coef);
    if (!out->coef) return MEMPROF_ERR_NOMEM;
    double v = 0;
    for (int64_t j = 0; j < m; j++) {
        v += wts[j] * parts[j].value;
        for (int64_t q = 0; q < parts[j].m; q++)
            if (lincomb_push(out, parts[j].cell[q], wts[j] * parts[j].w[q])) return MEMPROF_ERR_NOMEM;
        for (int64_t c = 0; c < p->C; c++) out->coef[c] += wts[j] * parts[j].coef[c];
    }
    out->value = m > 0 ? v : NAN;
    return 0;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int aggregate_build(agg_def *defs, const estimate_panel *p, const cell *cells, const double *att, int64_t K,
                    const estimate_options *opt, memprof_error *err) {
    memset(defs, 0, AGG_COUNT * sizeof *defs);
    int64_t *ks = malloc((size_t)(K > 0 ? K : 1) * sizeof *ks);
    int64_t *keys = malloc((size_t)(K > 0 ? K : 1) * sizeof *keys);
    double *wts = malloc((size_t)(K + p->C + 1) * sizeof *wts);
    int rc = MEMPROF_ERR_NOMEM;
    if (!ks || !keys || !wts) goto fail;
    const int64_t *tm = p->times;
#define POST(k) (tm[cells[k].t] >= p->cohort[cells[k].g])
#define USABLE(k) (cells[k].valid && !isnan(att[k]))
#define WITHIN_MAX_E(k) ((double)(cells[k].t - p->cohort_index[cells[k].g]) <= opt->max_e)

    // simple
    int64_t m = 0;
    for (int64_t k = 0; k < K; k++) if (USABLE(k) && POST(k) && WITHIN_MAX_E(k)) ks[m++] = k;
    defs[AGG_SIMPLE].n_keyed = 0;
    defs[AGG_SIMPLE].params = calloc(1, sizeof(lincomb));
    if (!defs[AGG_SIMPLE].params || weighted_param(&defs[AGG_SIMPLE].params[0], p, cells, att, ks, m)) goto fail;

    // cohort
    {
        agg_def *d = &defs[AGG_COHORT];
        d->params = calloc((size_t)(p->C + 1), sizeof(lincomb));
        d->keys = malloc((size_t)(p->C + 1) * sizeof(int64_t));
        if (!d->params || !d->keys) goto fail;
        double nsum = 0;
        for (int64_t g = 0; g < p->no_cells_from; g++) {
            m = 0;
            for (int64_t k = 0; k < K; k++) if (cells[k].g == g && USABLE(k) && POST(k) && WITHIN_MAX_E(k)) ks[m++] = k;
            if (m == 0) continue;
            lincomb *lc = &d->params[d->n_keyed];
            if (weighted_param(lc, p, cells, att, ks, m)) goto fail;
            d->keys[d->n_keyed] = p->cohort[g];
            wts[d->n_keyed] = (double)cohort_size(p, g);
            nsum += wts[d->n_keyed];
            d->n_keyed++;
        }
        for (int64_t j = 0; j < d->n_keyed; j++) wts[j] /= nsum;
        lincomb *ov = &d->params[d->n_keyed];
        if (combine(ov, p, d->params, wts, d->n_keyed)) goto fail;
        // estimated-weight term over distinct cohorts: (n/Σn_g)(θ_g − θ)
        for (int64_t j = 0; j < d->n_keyed; j++) {
            int64_t g = d->params[j].m ? cells[d->params[j].cell[0]].g : 0;
            ov->coef[g] += (double)p->n / nsum * (d->params[j].value - ov->value);
        }
    }

    // event
    {
        agg_def *d = &defs[AGG_EVENT];
        int64_t t_max = tm[p->T - 1], t_min = tm[0];
        int64_t ne = 0;
        for (int64_t k = 0; k < K; k++) {
            if (!USABLE(k)) continue;
            if (opt->has_balance_e && (double)(t_max - p->cohort[cells[k].g]) < opt->balance_e) continue;
            keys[ne++] = tm[cells[k].t] - p->cohort[cells[k].g];
        }
        qsort(keys, (size_t)ne, sizeof *keys, cmp_i64);
        int64_t u = 0;
        for (int64_t j = 0; j < ne; j++) if (u == 0 || keys[u - 1] != keys[j]) keys[u++] = keys[j];
        d->params = calloc((size_t)(u + 1), sizeof(lincomb));
        d->keys = malloc((size_t)(u + 1) * sizeof(int64_t));
        if (!d->params || !d->keys) goto fail;
        int64_t npost = 0;
        for (int64_t j = 0; j < u; j++) {
            double e = (double)keys[j];
            if (opt->has_balance_e && (e > opt->balance_e || e < opt->balance_e - (double)(t_max - t_min))) continue;
            if (e < opt->min_e || e > opt->max_e) continue;
            m = 0;
            for (int64_t k = 0; k < K; k++) {
                if (!USABLE(k) || tm[cells[k].t] - p->cohort[cells[k].g] != keys[j]) continue;
                if (opt->has_balance_e && (double)(t_max - p->cohort[cells[k].g]) < opt->balance_e) continue;
                ks[m++] = k;
            }
            lincomb *lc = &d->params[d->n_keyed];
            if (weighted_param(lc, p, cells, att, ks, m)) goto fail;
            d->keys[d->n_keyed++] = keys[j];
        }
        // overall: mean of θ_e, e ≥ 0 (they are the last ones: keys ascend)
        int64_t first_post = d->n_keyed;
        for (int64_t j = 0; j < d->n_keyed; j++) if (d->keys[j] >= 0) { first_post = j; break; }
        npost = d->n_keyed - first_post;
        for (int64_t j = 0; j < npost; j++) wts[j] = 1.0 / (double)npost;
        if (combine(&d->params[d->n_keyed], p, d->params + first_post, wts, npost)) goto fail;
    }

    // time
    {
        agg_def *d = &defs[AGG_TIME];
        d->params = calloc((size_t)(p->T + 1), sizeof(lincomb));
        d->keys = malloc((size_t)(p->T + 1) * sizeof(int64_t));
        if (!d->params || !d->keys) goto fail;
        int64_t gmin = p->cohort[0];
        for (int64_t j = 0; j < p->T; j++) {
            if (tm[j] < gmin) continue;
            m = 0;
            for (int64_t k = 0; k < K; k++) if (cells[k].t == j && USABLE(k) && POST(k)) ks[m++] = k;
            if (m == 0) continue;
            if (weighted_param(&d->params[d->n_keyed], p, cells, att, ks, m)) goto fail;
            d->keys[d->n_keyed++] = tm[j];
        }
        for (int64_t j = 0; j < d->n_keyed; j++) wts[j] = 1.0 / (double)d->n_keyed;
        if (combine(&d->params[d->n_keyed], p, d->params, wts, d->n_keyed)) goto fail;
    }
    free(ks); free(keys); free(wts);
    return 0;
fail:
    free(ks); free(keys); free(wts);
    agg_defs_free(defs);
    return error_set(err, rc, "aggregation: out of memory");
#undef POST
#undef USABLE
#undef WITHIN_MAX_E
}
