// estimate.c — estimate_run: cells → inference → aggregations → pre-test → simple difference.
//
// Inference follows R `did` 2.5 (docs/estimator.md):
//   analytic se ≤ √eps·10 → NA; pointwise intervals att ± Φ⁻¹(1−α/2)·se;
//   with B > 0 the ATT(g,t) table reports the bootstrap SE (IQR/1.34898/√n, type-1 quantiles)
//   and the sup-t band over all non-degenerate cells; the critical value falls back to
//   Φ⁻¹(1−α/2) when it is NA, infinite or below it, and with only two periods;
//   aggregations are analytic and pointwise unless bootstrap_aggregates, in which case each
//   parameter gets a bootstrap SE and the keyed rows a joint sup-t band (overall: pointwise).
// Shapes: K cells, B draws, n units; work buffers bres [K, B], wsum [C+1, B], one n-vector per
// aggregation thread.
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "estimate/aggregate.h"

#define ZERO_SE (sqrt(DBL_EPSILON) * 10)   // R: se ≤ this is NA

void estimate_result_free(estimate_result *r) {
    free(r->cohort); free(r->base); free(r->time);
    free(r->att); free(r->se); free(r->lower); free(r->upper); free(r->se_analytic);
    free(r->significant); free(r->n_treated); free(r->n_control);
    for (int a = 0; a < AGG_COUNT; a++) free(r->agg[a].rows);
    free(r->simple_difference);
    memset(r, 0, sizeof *r);
}

// Bootstrap IQR sigma of one column of draws, NaN when the column is degenerate (R's ndg rule).
static double column_sigma(const double *draws, int64_t B, double *tmp) {
    double s = 0, s2 = 0;
    for (int64_t b = 0; b < B; b++) { s += draws[b]; s2 += draws[b] * draws[b]; }
    if (!isfinite(s) || !(s2 > ZERO_SE)) return NAN;
    memcpy(tmp, draws, (size_t)B * sizeof *tmp);
    double sig = iqr_sigma(tmp, B);
    return sig > ZERO_SE ? sig : NAN;
}

// sup-t critical value: type-1 (1−α) quantile over draws of max_k |draw_k / sigma_k|.
static double supt_crit(const double *draws, const double *sigma, int64_t m, int64_t B, double alpha, double *tmp) {
    for (int64_t b = 0; b < B; b++) tmp[b] = -INFINITY;
    for (int64_t k = 0; k < m; k++) {   // column by column: draws[k] is contiguous
        if (isnan(sigma[k])) continue;
        const double *col = draws + k * B;
        double inv = 1.0 / sigma[k];
        for (int64_t b = 0; b < B; b++) {
            double v = fabs(col[b] * inv);
            if (v > tmp[b] || isnan(v)) tmp[b] = v;   // a NaN draw makes the row non-finite
        }
    }
    int64_t nb = 0;
    for (int64_t b = 0; b < B; b++) if (isfinite(tmp[b])) tmp[nb++] = tmp[b];
    return nb ? quantile_type1(tmp, nb, 1 - alpha) : NAN;
}

static double crit_or_pointwise(double c, double z) {
    return (isnan(c) || isinf(c) || c < z) ? z : c;
}

static void set_bounds(double att, double se, double crit, double *lo, double *hi, int *sig) {
    if (isnan(se) || isnan(att)) { *lo = *hi = NAN; *sig = 0; return; }
    *lo = att - crit * se; *hi = att + crit * se;
    *sig = (*hi < 0) || (*lo > 0);
}

// Σ_i (IF^θ_i)² for a lincomb, through an n-vector.
static double lincomb_se(double *vec, const estimate_panel *p, const cell *cells, const lincomb *lc) {
    memset(vec, 0, (size_t)p->n * sizeof *vec);
    for (int64_t j = 0; j < lc->m; j++) cell_add_if(vec, p, &cells[lc->cell[j]], lc->w[j]);
    for (int64_t c = 0; c < p->C; c++)
        if (lc->coef[c] != 0.0)
            for (int64_t i = p->start[c]; i < p->start[c + 1]; i++) vec[i] += lc->coef[c];
    double s = 0;
    for (int64_t i = 0; i < p->n; i++) s += vec[i] * vec[i];
    return sqrt(s) / (double)p->n;
}

static void lincomb_draws(double *out, const lincomb *lc, const double *bres, const double *wsum, int64_t C,
                          int64_t B, double n) {
    memset(out, 0, (size_t)B * sizeof *out);
    for (int64_t j = 0; j < lc->m; j++) {
        const double *col = bres + lc->cell[j] * B;
        double w = lc->w[j];
        for (int64_t b = 0; b < B; b++) out[b] += w * col[b];
    }
    for (int64_t c = 0; c < C; c++) {
        if (lc->coef[c] == 0.0) continue;
        double s = lc->coef[c] / sqrt(n);
        for (int64_t b = 0; b < B; b++) out[b] += s * wsum[c * B + b];
    }
}

// Wald pre-test: W = n b̂ᵀ V⁻¹ b̂ over the pre-treatment cells with an SE (docs/estimator.md).
static void wald_pretest(estimate_result *r, const estimate_panel *p, const cell *cells, const double *att, int64_t K) {
    r->wald_stat = r->wald_pvalue = NAN;
    r->wald_df = 0;
    int64_t q = 0;
    for (int64_t k = 0; k < K; k++)
        if (p->times[cells[k].t] < p->cohort[cells[k].g] && !isnan(r->se_analytic[k])) q++;
    if (q == 0) { r->wald_note = "no pre-treatment cells"; return; }
    for (int64_t k = 0; k < K; k++)
        if (p->times[cells[k].t] < p->cohort[cells[k].g] && isnan(att[k]) && !cells[k].is_ref) { r->wald_note = "a pre-treatment ATT is NA"; return; }
    if (q > 4000) { r->wald_note = "too many pre-treatment cells for the pre-test (more than 4000)"; return; }
    // V = IFᵀIF/n from the cohort structure: a unit of cohort c has a non-zero IF only in the
    // pre cells whose treated or control set contains c, so V costs Σ_c n_c·(#cells of c)².
    int64_t G = p->C + 1, T = p->T;
    int64_t *pre = malloc((size_t)q * sizeof *pre), *cnt = calloc((size_t)G, sizeof *cnt);
    int64_t *idx = malloc((size_t)q * sizeof *idx);
    double *V = calloc((size_t)(q * q), sizeof *V), *bv = malloc((size_t)q * sizeof *bv), *vals = malloc((size_t)q * sizeof *vals);
    if (!pre || !cnt || !idx || !V || !bv || !vals) { r->wald_note = "out of memory for the pre-test"; goto out; }
    int64_t j = 0;
    for (int64_t k = 0; k < K; k++)
        if (p->times[cells[k].t] < p->cohort[cells[k].g] && !isnan(r->se_analytic[k])) { bv[j] = att[k]; pre[j++] = k; }
#define IN_CELL(ck, c) ((c) == (ck)->g || ((c) >= (ck)->ctrl_from && (c) != (ck)->ctrl_skip))
    double cost = 0;
    for (int64_t c = 0; c < G; c++) {
        for (j = 0; j < q; j++) cnt[c] += IN_CELL(&cells[pre[j]], c);
        cost += (double)(p->start[c + 1] - p->start[c]) * (double)cnt[c] * (double)cnt[c];
    }
    if (cost > 4e9) { r->wald_note = "pre-test too large (sum over cohorts of units x pre cells^2 > 4e9)"; goto out; }
    for (int64_t c = 0; c < G; c++) {
        int64_t m = 0;
        for (j = 0; j < q; j++) if (IN_CELL(&cells[pre[j]], c)) idx[m++] = j;
        for (int64_t i = p->start[c]; i < p->start[c + 1]; i++) {
            for (int64_t a = 0; a < m; a++) {
                const cell *ck = &cells[pre[idx[a]]];
                double dy = p->y[ck->t * p->n + i] - p->y[ck->b * p->n + i];
                vals[a] = c == ck->g ? (double)p->n * (dy - ck->mean_t) / (double)ck->n_t
                                     : -(double)p->n * (dy - ck->mean_c) / (double)ck->n_c;
            }
            if (m == q) {   // every pre cell (e.g. the never-treated group): contiguous, vectorisable
                for (int64_t a = 0; a < m; a++) {
                    double va = vals[a];
                    double *row = V + a * q;
                    for (int64_t b = 0; b <= a; b++) row[b] += va * vals[b];
                }
            } else {
                for (int64_t a = 0; a < m; a++) {
                    double va = vals[a];
                    double *row = V + idx[a] * q;
                    for (int64_t b = 0; b <= a; b++) row[idx[b]] += va * vals[b];
                }
            }
        }
    }
#undef IN_CELL
    for (int64_t a = 0; a < q * q; a++) V[a] /= (double)p->n;
    (void)T;
    // Cholesky V = L Lᵀ (lower); a non-positive or tiny pivot means V is (numerically) singular.
    double maxd = 0;
    for (int64_t a = 0; a < q; a++) if (V[a * q + a] > maxd) maxd = V[a * q + a];
    int ok = 1;
    for (int64_t a = 0; a < q && ok; a++) {
        for (int64_t b = 0; b <= a; b++) {
            double s = V[a * q + b];
            for (int64_t c = 0; c < b; c++) s -= V[a * q + c] * V[b * q + c];
            if (a == b) {
                if (!(s > maxd * DBL_EPSILON)) { ok = 0; break; }
                V[a * q + a] = sqrt(s);
            } else {
                V[a * q + b] = s / V[b * q + b];
            }
        }
    }
    if (ok) {
        double w = 0;
        for (int64_t a = 0; a < q; a++) {  // forward solve L y = b̂
            double s = bv[a];
            for (int64_t c = 0; c < a; c++) s -= V[a * q + c] * bv[c];
            bv[a] = s / V[a * q + a];
            w += bv[a] * bv[a];
        }
        r->wald_stat = (double)p->n * w;
        r->wald_df = q;
        r->wald_pvalue = chisq_upper_tail(r->wald_stat, (double)q);
    } else {
        r->wald_note = "covariance of the pre-treatment cells is singular; pre-test skipped";
    }
out:
    free(pre); free(cnt); free(idx); free(V); free(bv); free(vals);
}

// The paper's comparison: two-way demeaned outcome, mean(never) − mean(cohort) per (cohort, time).
// The time means and the grand mean cancel in the difference, leaving the cohort-level terms.
static int simple_difference(double *out, const estimate_panel *p) {
    int64_t C = p->C, T = p->T;
    int64_t n_never = p->start[C + 1] - p->start[C];
    double *m = calloc((size_t)((C + 1) * T), sizeof *m), *u = calloc((size_t)(C + 1), sizeof *u);
    if (!m || !u) { free(m); free(u); return MEMPROF_ERR_NOMEM; }
    for (int64_t c = 0; c <= C; c++) {
        int64_t nc = p->start[c + 1] - p->start[c];
        for (int64_t s = 0; s < T; s++) {
            double acc = 0;
            for (int64_t i = p->start[c]; i < p->start[c + 1]; i++) acc += p->y[s * p->n + i];
            m[c * T + s] = nc ? acc / (double)nc : NAN;
            u[c] += m[c * T + s] / (double)T;
        }
    }
    for (int64_t c = 0; c < C; c++)
        for (int64_t s = 0; s < T; s++)
            out[c * T + s] = n_never ? (m[C * T + s] - u[C]) - (m[c * T + s] - u[c]) : NAN;
    free(m); free(u);
    return 0;
}

// Rows [j0, j1) of one aggregation table: value, analytic SE and (bootstrap_aggregates) the
// parameter's draws and IQR sigma. Rows are independent, so threads split them freely.
typedef struct agg_job {
    agg_table *tb;
    const agg_def *def;
    const estimate_panel *p;
    const cell *cells;
    const double *bres, *wsum;
    double *pdraws, *psig;
    int64_t B;
    int boot;
    int64_t j0, j1;
    int failed;
} agg_job;

static void *agg_rows(void *arg) {
    agg_job *job = arg;
    const estimate_panel *p = job->p;
    int64_t m = job->def->n_keyed, B = job->B;
    double *vec = malloc((size_t)p->n * sizeof *vec), *tmp = malloc((size_t)(B > 0 ? B : 1) * sizeof *tmp);
    if (!vec || !tmp) { job->failed = 1; free(vec); free(tmp); return NULL; }
    for (int64_t j = job->j0; j < job->j1; j++) {
        const lincomb *lc = &job->def->params[j];
        agg_row *row = &job->tb->rows[j];
        row->key = j < m ? job->def->keys[j] : 0;
        row->is_overall = (j == m);
        row->att = lc->value;
        row->se = isnan(lc->value) ? NAN : lincomb_se(vec, p, job->cells, lc);
        if (!(row->se > ZERO_SE)) row->se = NAN;
        job->psig[j] = NAN;
        if (job->boot && !isnan(lc->value)) {
            lincomb_draws(job->pdraws + j * B, lc, job->bres, job->wsum, p->C, B, (double)p->n);
            job->psig[j] = column_sigma(job->pdraws + j * B, B, tmp);
            if (!isnan(row->se)) row->se = job->psig[j] / sqrt((double)p->n);
        }
    }
    free(vec); free(tmp);
    return NULL;
}

static int run_agg_jobs(const agg_job *proto, int64_t rows, int threads, memprof_error *err) {
    if (threads < 1) threads = 1;
    if (threads > 64) threads = 64;
    if (threads > rows) threads = (int)(rows > 0 ? rows : 1);
    agg_job jobs[64];
    pthread_t tids[64];
    int started = 0, failed = 0;
    for (int t = 0; t < threads; t++) {
        jobs[t] = *proto;
        jobs[t].j0 = rows * t / threads;
        jobs[t].j1 = rows * (t + 1) / threads;
        if (threads == 1) { agg_rows(&jobs[t]); continue; }
        if (pthread_create(&tids[t], NULL, agg_rows, &jobs[t]) != 0) { failed = 1; break; }
        started++;
    }
    for (int t = 0; t < started; t++) pthread_join(tids[t], NULL);
    for (int t = 0; t < threads; t++) failed |= jobs[t].failed;
    return failed ? error_set(err, MEMPROF_ERR_NOMEM, "aggregation: out of memory or could not start a thread") : 0;
}

int estimate_run(estimate_result *out, const estimate_panel *p, const estimate_options *opt, memprof_error *err) {
    memset(out, 0, sizeof *out);
    if (!(opt->alpha > 0 && opt->alpha < 1)) return error_set(err, MEMPROF_ERR, "alpha must be in (0, 1), got %g", opt->alpha);
    if (opt->bootstrap < 0) return error_set(err, MEMPROF_ERR, "bootstrap draws must be >= 0");
    cell *cells = NULL;
    double *att = NULL, *se_an = NULL, *bres = NULL, *wsum = NULL, *tmp = NULL, *sig = NULL, *pdraws = NULL;
    agg_def defs[AGG_COUNT];
    memset(defs, 0, sizeof defs);
    int rc = 0;
    int64_t K = cells_build(&cells, &att, &se_an, p, opt, err);
    if (K < 0) return (int)K;
    if (K == 0) { rc = error_set(err, MEMPROF_ERR, "no ATT(g,t) cells to estimate"); goto done; }
    int64_t n = p->n, B = opt->bootstrap;
    out->K = K; out->n = n;
    out->cohort = malloc((size_t)K * sizeof(int64_t)); out->base = malloc((size_t)K * sizeof(int64_t));
    out->time = malloc((size_t)K * sizeof(int64_t));
    out->att = att; att = NULL;
    out->se_analytic = se_an; se_an = NULL;
    out->se = malloc((size_t)K * sizeof(double)); out->lower = malloc((size_t)K * sizeof(double));
    out->upper = malloc((size_t)K * sizeof(double)); out->significant = malloc((size_t)K * sizeof(int));
    out->n_treated = malloc((size_t)K * sizeof(int64_t)); out->n_control = malloc((size_t)K * sizeof(int64_t));
    out->simple_difference = malloc((size_t)(p->C * p->T + 1) * sizeof(double));
    tmp = malloc((size_t)((B > K ? B : K) + 1) * sizeof *tmp);
    if (!out->cohort || !out->base || !out->time || !out->se || !out->lower || !out->upper || !out->significant ||
        !out->n_treated || !out->n_control || !out->simple_difference || !tmp) {
        rc = error_set(err, MEMPROF_ERR_NOMEM, "out of memory"); goto done;
    }
    for (int64_t k = 0; k < K; k++) {
        out->cohort[k] = p->cohort[cells[k].g];
        out->base[k] = p->times[cells[k].b];
        out->time[k] = p->times[cells[k].t];
        out->n_treated[k] = cells[k].n_t;
        out->n_control[k] = cells[k].n_c;
        if (!cells[k].valid && !cells[k].is_ref) out->failed_cells++;
        if (out->se_analytic[k] <= ZERO_SE) out->se_analytic[k] = NAN;
        out->se[k] = out->se_analytic[k];
    }
    double z = normal_quantile(1 - opt->alpha / 2);
    out->crit = z;
    if (B > 0) {
        bres = malloc((size_t)K * (size_t)B * sizeof *bres);
        wsum = malloc((size_t)(p->C + 1) * (size_t)B * sizeof *wsum);
        sig = malloc((size_t)K * sizeof *sig);
        if (!bres || !wsum || !sig) { rc = error_set(err, MEMPROF_ERR_NOMEM, "out of memory for %lld x %lld bootstrap draws", (long long)K, (long long)B); goto done; }
        if ((rc = bootstrap_draws(bres, wsum, p, cells, K, B, opt->seed, opt->threads, opt->progress, err))) goto done;
        if ((rc = bootstrap_sigmas(sig, bres, cells, K, B, ZERO_SE, opt->threads, err))) goto done;
        for (int64_t k = 0; k < K; k++)
            if (!isnan(out->se_analytic[k])) out->se[k] = sig[k] / sqrt((double)n);
        out->crit = p->T > 2 ? crit_or_pointwise(supt_crit(bres, sig, K, B, opt->alpha, tmp), z) : z;
    }
    for (int64_t k = 0; k < K; k++)
        set_bounds(out->att[k], out->se[k], out->crit, &out->lower[k], &out->upper[k], &out->significant[k]);

    if ((rc = aggregate_build(defs, p, cells, out->att, K, opt, err))) goto done;
    int boot_agg = opt->bootstrap_aggregates && B > 0;
    for (int a = 0; a < AGG_COUNT; a++) {
        agg_table *tb = &out->agg[a];
        int64_t m = defs[a].n_keyed;
        tb->n_rows = m + 1;
        tb->rows = calloc((size_t)(m + 1), sizeof *tb->rows);
        double *psig = malloc((size_t)(m + 1) * sizeof *psig);
        free(pdraws);
        pdraws = boot_agg ? malloc((size_t)(m + 1) * (size_t)B * sizeof *pdraws) : NULL;
        if (!tb->rows || !psig || (boot_agg && !pdraws)) { free(psig); rc = error_set(err, MEMPROF_ERR_NOMEM, "out of memory"); goto done; }
        agg_job job = {tb, &defs[a], p, cells, bres, wsum, pdraws, psig, B, boot_agg, 0, 0, 0};
        if ((rc = run_agg_jobs(&job, m + 1, opt->threads, err))) { free(psig); goto done; }
        tb->crit = z;
        if (boot_agg && a != AGG_SIMPLE && m > 0) tb->crit = crit_or_pointwise(supt_crit(pdraws, psig, m, B, opt->alpha, tmp), z);
        for (int64_t j = 0; j <= m; j++) {
            agg_row *row = &tb->rows[j];
            set_bounds(row->att, row->se, j < m ? tb->crit : z, &row->lower, &row->upper, &row->significant);
        }
        free(psig);
    }
    wald_pretest(out, p, cells, out->att, K);
    if (simple_difference(out->simple_difference, p)) { rc = error_set(err, MEMPROF_ERR_NOMEM, "out of memory"); goto done; }
done:
    agg_defs_free(defs);
    free(cells); free(att); free(se_an); free(bres); free(wsum); free(tmp); free(sig); free(pdraws);
    if (rc) estimate_result_free(out);
    return rc;
}
