// test_estimate.c — estimator pieces against independent references: closed-form
// distributions, sort-based quantiles, thread invariance of the bootstrap, the bootstrap SE
// against the analytic SE (Monte-Carlo tolerance, docs/estimator.md), R's preprocessing rules
// rebuilt by hand, and the universal-base reference cells.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "estimate/internal.h"
#include "memprof/estimate.h"
#include "test.h"

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void test_distributions(void) {
    // R: qnorm(0.975), qnorm(0.995), qnorm(0.05)
    CHECK("normal_quantile_975", fabs(normal_quantile(0.975) - 1.959963984540054) < 1e-14, "%.17g", normal_quantile(0.975));
    CHECK("normal_quantile_995", fabs(normal_quantile(0.995) - 2.5758293035489004) < 1e-14, "%.17g", normal_quantile(0.995));
    CHECK("normal_quantile_05", fabs(normal_quantile(0.05) + 1.6448536269514722) < 1e-14, "%.17g", normal_quantile(0.05));
    double worst = 0;
    for (double x = 0.01; x < 60; x *= 1.7) {
        double e1 = erfc(sqrt(x / 2)), e2 = exp(-x / 2), e4 = exp(-x / 2) * (1 + x / 2);
        double d1 = fabs(chisq_upper_tail(x, 1) - e1) / (e1 > 1e-300 ? e1 : 1);
        double d2 = fabs(chisq_upper_tail(x, 2) - e2) / e2;
        double d4 = fabs(chisq_upper_tail(x, 4) - e4) / e4;
        worst = fmax(worst, fmax(d1, fmax(d2, d4)));
    }
    CHECK("chisq_upper_tail_closed_forms", worst < 1e-12, "max relative error %.3g", worst);
}

static void test_quantiles(void) {
    int ok = 1;
    uint64_t state = 42;
    for (int64_t m = 1; m <= 1001 && ok; m += 37) {
        double *x = malloc((size_t)m * sizeof *x), *sorted = malloc((size_t)m * sizeof *sorted);
        for (int64_t j = 0; j < m; j++) {
            state = state * 6364136223846793005ULL + 1442695040888963407ULL;
            x[j] = (double)(state >> 40) / 1e6 - 5;
        }
        memcpy(sorted, x, (size_t)m * sizeof *x);
        qsort(sorted, (size_t)m, sizeof *sorted, cmp_d);
        double probs[] = {0.25, 0.5, 0.75, 0.95};
        for (int q = 0; q < 4; q++) {
            int64_t j = (int64_t)ceil((double)m * probs[q] - 1e-9);   // type 1: x_(ceil(m p))
            if (j < 1) j = 1;
            double want = sorted[j - 1];
            double *tmp = malloc((size_t)m * sizeof *tmp);
            memcpy(tmp, x, (size_t)m * sizeof *x);
            if (quantile_type1(tmp, m, probs[q]) != want) ok = 0;
            free(tmp);
        }
        free(x); free(sorted);
    }
    CHECK("quantile_type1_matches_sorted_order_statistic", ok, "mismatch");
}

static int run(estimate_result *r, estimate_panel *p, const simulated_panel *s, const estimate_options *o) {
    memprof_error err = {0};
    panel_report rep;
    if (estimate_panel_build(p, &rep, s->y, s->cohort, s->times, s->n, s->T, o, &err)) { printf("# %s\n", err.message); return -1; }
    if (estimate_run(r, p, o, &err)) { printf("# %s\n", err.message); estimate_panel_free(p); return -1; }
    return 0;
}

static void test_bootstrap(void) {
    simulate_options so;
    simulate_options_default(&so);
    so.n_cohorts = 5; so.per_cohort = 80; so.n_never = 300; so.n_checkpoints = 8; so.seed = 11;
    simulated_panel s;
    memprof_error err = {0};
    if (simulate_panel(&s, &so, &err)) { CHECK("simulate", 0, "%s", err.message); return; }
    estimate_options o;
    estimate_options_default(&o);
    o.bootstrap = 300; o.seed = 5; o.bootstrap_aggregates = 1;
    estimate_result ref = {0};
    estimate_panel pref = {0};
    o.threads = 1;
    if (run(&ref, &pref, &s, &o)) { CHECK("bootstrap_run", 0, "failed"); simulated_panel_free(&s); return; }
    int same = 1;
    for (int th = 2; th <= 5; th++) {
        estimate_result r = {0};
        estimate_panel p = {0};
        o.threads = th;
        if (run(&r, &p, &s, &o)) { same = 0; break; }
        same &= memcmp(r.se, ref.se, (size_t)r.K * sizeof(double)) == 0 && r.crit == ref.crit;
        for (int a = 0; a < AGG_COUNT; a++)
            for (int64_t j = 0; j < r.agg[a].n_rows; j++)
                same &= memcmp(&r.agg[a].rows[j].se, &ref.agg[a].rows[j].se, sizeof(double)) == 0;
        estimate_result_free(&r); estimate_panel_free(&p);
    }
    CHECK("bootstrap_identical_for_1_to_5_threads", same, "results differ between thread counts");
    estimate_result_free(&ref); estimate_panel_free(&pref);

    // The multiplier bootstrap's variance is exactly Σ IF²/n², so the IQR-based SE must agree
    // with the analytic SE within its Monte-Carlo error: relative s.d. 1.17/√B (docs/estimator.md).
    o.bootstrap = 2000; o.threads = 2;
    estimate_result r = {0};
    estimate_panel p = {0};
    if (run(&r, &p, &s, &o)) { CHECK("bootstrap_run_2000", 0, "failed"); simulated_panel_free(&s); return; }
    double tol = 4 * 1.17 / sqrt((double)o.bootstrap), worst = 0;
    int64_t nse = 0;
    for (int64_t k = 0; k < r.K; k++) {
        if (isnan(r.se[k]) || isnan(r.se_analytic[k])) continue;
        worst = fmax(worst, fabs(r.se[k] / r.se_analytic[k] - 1)); nse++;
    }
    CHECK("bootstrap_se_vs_analytic_cells", nse == r.K && worst <= tol, "max |se_boot/se_analytic - 1| = %.4f > %.4f (%lld cells)", worst, tol, (long long)nse);
    printf("# cells: max |se_boot/se_analytic - 1| = %.4f (tolerance 4*1.17/sqrt(B) = %.4f)\n", worst, tol);
    // aggregates: bootstrap vs analytic (re-run without bootstrap_aggregates for the analytic SEs)
    estimate_options oa = o;
    oa.bootstrap_aggregates = 0;
    estimate_result ra = {0};
    estimate_panel pa = {0};
    if (run(&ra, &pa, &s, &oa) == 0) {
        worst = 0;
        for (int a = 0; a < AGG_COUNT; a++)
            for (int64_t j = 0; j < r.agg[a].n_rows; j++) {
                double b = r.agg[a].rows[j].se, an = ra.agg[a].rows[j].se;
                if (!isnan(b) && !isnan(an)) worst = fmax(worst, fabs(b / an - 1));
            }
        CHECK("bootstrap_se_vs_analytic_aggregates", worst <= tol, "max |se_boot/se_analytic - 1| = %.4f > %.4f", worst, tol);
        CHECK("bootstrap_aggregates_band_wider_than_pointwise", r.agg[AGG_EVENT].crit > normal_quantile(0.975),
              "event crit %.4f", r.agg[AGG_EVENT].crit);
        CHECK("cell_band_is_simultaneous", r.crit > normal_quantile(0.975) && r.crit < 7, "crit %.4f", r.crit);
        estimate_result_free(&ra); estimate_panel_free(&pa);
    }
    estimate_result_free(&r); estimate_panel_free(&p);

    // every configuration: the per-cohort-sum bootstrap agrees with the analytic SE (which the
    // differences goldens check to 1e-9) within the same Monte-Carlo tolerance
    int all_ok = 1;
    double worst_all = 0;
    for (int cfg = 0; cfg < 8; cfg++) {
        estimate_options oc;
        estimate_options_default(&oc);
        oc.control = (cfg & 1) ? CONTROL_NOT_YET_TREATED : CONTROL_NEVER_TREATED;
        oc.base = (cfg & 2) ? BASE_UNIVERSAL : BASE_VARYING;
        oc.anticipation = (cfg & 4) ? 1 : 0;
        oc.bootstrap = 2000; oc.seed = 77; oc.threads = 2;
        estimate_result rc = {0};
        estimate_panel pc = {0};
        if (run(&rc, &pc, &s, &oc)) { all_ok = 0; continue; }
        for (int64_t k = 0; k < rc.K; k++) {
            if (isnan(rc.se_analytic[k])) { all_ok &= isnan(rc.se[k]); continue; }
            double d = fabs(rc.se[k] / rc.se_analytic[k] - 1);
            worst_all = fmax(worst_all, d);
            all_ok &= d <= tol;
        }
        estimate_result_free(&rc); estimate_panel_free(&pc);
    }
    CHECK("bootstrap_se_vs_analytic_all_8_configurations", all_ok, "max |se_boot/se_analytic - 1| = %.4f > %.4f", worst_all, tol);
    printf("# 8 configurations: max |se_boot/se_analytic - 1| = %.4f (tolerance %.4f)\n", worst_all, tol);
    simulated_panel_free(&s);
}

// R: with no never-treated units, the last cohort becomes the comparison group and the periods
// from it on are dropped. Rebuild that panel by hand and compare.
static void test_no_never_treated(void) {
    simulate_options so;
    simulate_options_default(&so);
    so.n_cohorts = 4; so.per_cohort = 60; so.n_never = 0; so.n_checkpoints = 7; so.seed = 3;
    simulated_panel s;
    memprof_error err = {0};
    if (simulate_panel(&s, &so, &err)) { CHECK("simulate_no_never", 0, "%s", err.message); return; }
    estimate_options o;
    estimate_options_default(&o);
    estimate_result r = {0};
    estimate_panel p = {0};
    int ok = run(&r, &p, &s, &o) == 0;
    // by hand: cohort 4000 (the last) → never; keep periods < 4000
    int64_t T2 = 4;
    double *coh = malloc((size_t)s.n * sizeof *coh);
    for (int64_t i = 0; i < s.n; i++) coh[i] = s.cohort[i] == 4000 ? NAN : s.cohort[i];
    estimate_panel p2 = {0};
    estimate_result r2 = {0};
    panel_report rep;
    ok = ok && estimate_panel_build(&p2, &rep, s.y, coh, s.times, s.n, T2, &o, &err) == 0 && estimate_run(&r2, &p2, &o, &err) == 0;
    int same = ok && r.K == r2.K;
    for (int64_t k = 0; same && k < r.K; k++)
        same = r.cohort[k] == r2.cohort[k] && r.time[k] == r2.time[k] && fabs(r.att[k] - r2.att[k]) < 1e-12 &&
               fabs(r.se[k] - r2.se[k]) < 1e-12;
    CHECK("no_never_treated_coerces_last_cohort_like_R", same, "K %lld vs %lld (%s)", (long long)r.K, (long long)r2.K, err.message);
    estimate_result_free(&r); estimate_panel_free(&p); estimate_result_free(&r2); estimate_panel_free(&p2);
    free(coh);
    simulated_panel_free(&s);
}

static void test_universal_and_missing(void) {
    simulate_options so;
    simulate_options_default(&so);
    so.n_cohorts = 3; so.per_cohort = 40; so.n_never = 100; so.n_checkpoints = 6; so.seed = 8;
    simulated_panel s;
    memprof_error err = {0};
    if (simulate_panel(&s, &so, &err)) return;
    estimate_options o;
    estimate_options_default(&o);
    o.base = BASE_UNIVERSAL;
    estimate_result r = {0};
    estimate_panel p = {0};
    if (run(&r, &p, &s, &o) == 0) {
        int ok = r.K == 3 * 6;
        int64_t refs = 0;
        for (int64_t k = 0; k < r.K; k++)
            if (r.time[k] == r.base[k]) { refs++; ok &= r.att[k] == 0.0 && isnan(r.se[k]); }
        CHECK("universal_reference_cells_att0_se_nan", ok && refs == 3, "K %lld refs %lld", (long long)r.K, (long long)refs);
        estimate_result_free(&r); estimate_panel_free(&p);
    }
    // universal base with bootstrap: R drops the degenerate reference columns, so the band is finite
    // (differences returns NaN bounds everywhere here: docs/estimator.md, divergence 8)
    o.bootstrap = 500;
    if (run(&r, &p, &s, &o) == 0) {
        int finite = isfinite(r.crit) && r.crit > normal_quantile(0.975);
        int64_t bounded = 0;
        for (int64_t k = 0; k < r.K; k++) bounded += !isnan(r.lower[k]);
        CHECK("universal_bootstrap_band_finite_like_R", finite && bounded == r.K - 3, "crit %g, %lld bounded cells", r.crit, (long long)bounded);
        estimate_result_free(&r); estimate_panel_free(&p);
    }
    o.bootstrap = 0;
    // units with a missing period are dropped (R's balancing rule) and counted
    s.y[2 * s.n + 5] = NAN;
    s.y[4 * s.n + 130] = NAN;
    s.y[4 * s.n + 131] = NAN;
    panel_report rep;
    o.base = BASE_VARYING;
    int ok = estimate_panel_build(&p, &rep, s.y, s.cohort, s.times, s.n, s.T, &o, &err) == 0;
    CHECK("missing_values_drop_units", ok && rep.dropped_missing == 3 && p.n == s.n - 3, "dropped %lld, n %lld", (long long)rep.dropped_missing, (long long)p.n);
    if (ok) estimate_panel_free(&p);
    simulated_panel_free(&s);
}

int main(void) {
    test_distributions();
    test_quantiles();
    test_bootstrap();
    test_no_never_treated();
    test_universal_and_missing();
    return test_failures ? 1 : 0;
}
