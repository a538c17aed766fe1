// test_correlation.c — Pearson, Spearman (average ranks) and Kendall tau-b: a small tied
// example against scipy.stats 1.17 values, Knight's O(n log n) tau-b against the O(n²) pair
// definition on random tied data, undefined cases, and the cell matching of compare.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "memprof/plot.h"
#include "test.h"

// tau-b straight from its definition: (C − D) / sqrt((n0 − n1)(n0 − n2)).
static double kendall_brute(const double *x, const double *y, int64_t n) {
    double c = 0, d = 0, tx = 0, ty = 0;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = i + 1; j < n; j++) {
            double sx = (x[i] > x[j]) - (x[i] < x[j]), sy = (y[i] > y[j]) - (y[i] < y[j]);
            if (sx == 0) tx++;
            if (sy == 0) ty++;
            if (sx * sy > 0) c++;
            if (sx * sy < 0) d++;
        }
    double n0 = (double)n * (n - 1) / 2;
    return (c - d) / sqrt((n0 - tx) * (n0 - ty));
}

static uint64_t lcg(uint64_t *s) { *s = *s * 6364136223846793005ULL + 1442695040888963407ULL; return *s >> 33; }

static effects_file cells_file(int sign, const int64_t *g, const int64_t *t, const double *att, int64_t K) {
    effects_file e;
    memset(&e, 0, sizeof e);
    e.memorisation_sign = sign;
    e.K = K;
    e.cohort = malloc((size_t)K * sizeof(int64_t)); e.time = malloc((size_t)K * sizeof(int64_t));
    e.att = malloc((size_t)K * sizeof(double));
    memcpy(e.cohort, g, (size_t)K * sizeof(int64_t)); memcpy(e.time, t, (size_t)K * sizeof(int64_t));
    memcpy(e.att, att, (size_t)K * sizeof(double));
    return e;
}

int main(void) {
    memprof_error err = {0};
    // scipy.stats.pearsonr / spearmanr / kendalltau (tau-b) on these, scipy 1.17.1
    const double x[] = {1, 2, 2, 3, 4, 4, 4, 5, 6, 7}, y[] = {2, 1, 3, 3, 5, 4, 6, 6, 6, 9};
    double r = corr_pearson(x, y, 10), rho = NAN, tau = NAN;
    CHECK("pearson_scipy", fabs(r - 0.9262164579261153) < 1e-14, "got %.17g", r);
    CHECK("spearman_scipy", corr_spearman(&rho, x, y, 10, &err) == 0 && fabs(rho - 0.934375) < 1e-14, "got %.17g", rho);
    CHECK("kendall_scipy", corr_kendall_tau_b(&tau, x, y, 10, &err) == 0 && fabs(tau - 0.8536585365853658) < 1e-14,
          "got %.17g", tau);
    double ranks[10];
    const double want[10] = {1, 2.5, 2.5, 4, 6, 6, 6, 8, 9, 10};
    int same = corr_average_ranks(ranks, x, 10, &err) == 0;
    for (int i = 0; i < 10; i++) same &= ranks[i] == want[i];
    CHECK("average_ranks_ties", same, "ranks differ from scipy.stats.rankdata");

    // Knight's algorithm against the pair loop, heavy ties in both samples
    int agree = 1;
    double worst = 0;
    for (int trial = 0; trial < 20; trial++) {
        uint64_t s = 1234 + (uint64_t)trial;
        int64_t n = 50 + (int64_t)(lcg(&s) % 400);
        double *a = malloc((size_t)n * sizeof *a), *b = malloc((size_t)n * sizeof *b);
        for (int64_t i = 0; i < n; i++) {
            a[i] = (double)(lcg(&s) % 12);
            b[i] = trial % 2 ? a[i] + (double)(lcg(&s) % 7) : (double)(lcg(&s) % 1000) / 10;
        }
        double fast = NAN, slow = kendall_brute(a, b, n);
        agree &= corr_kendall_tau_b(&fast, a, b, n, &err) == 0;
        worst = fmax(worst, fabs(fast - slow));
        free(a); free(b);
    }
    CHECK("kendall_knight_matches_pairs", agree && worst < 1e-12, "max difference %.3g", worst);

    const double c5[] = {3, 3, 3, 3, 3}, v5[] = {1, 2, 3, 4, 5};
    double und = 0;
    CHECK("pearson_constant_nan", isnan(corr_pearson(c5, v5, 5)), "expected NaN");
    CHECK("kendall_constant_nan", corr_kendall_tau_b(&und, c5, v5, 5, &err) == 0 && isnan(und), "expected NaN");
    CHECK("pearson_one_value_nan", isnan(corr_pearson(v5, v5, 1)), "expected NaN");
    CHECK("pearson_perfect", fabs(corr_pearson(v5, v5, 5) - 1) < 1e-15, "expected 1");
    double neg[5] = {5, 4, 3, 2, 1};
    CHECK("kendall_reversed", corr_kendall_tau_b(&und, v5, neg, 5, &err) == 0 && und == -1, "got %g", und);

    // compare: cells matched on (cohort, time), memorisation signs applied, NaN cells dropped
    const int64_t ga[] = {1, 1, 2, 2, 3}, ta[] = {1, 2, 2, 3, 3};
    const double aa[] = {-1.0, -0.5, -2.0, NAN, -3.0};
    const int64_t gb[] = {3, 2, 2, 1, 9}, tb[] = {3, 3, 2, 1, 9};
    const double ab[] = {0.3, 0.7, 0.2, 0.1, 5.0};
    effects_file fa = cells_file(-1, ga, ta, aa, 5), fb = cells_file(+1, gb, tb, ab, 5);
    double *xa = NULL, *xb = NULL;
    int64_t n = -1;
    int rc = compare_shared_cells(&xa, &xb, &n, &fa, &fb, 0, &err);
    CHECK("shared_cells_count", rc == 0 && n == 3, "n = %lld", (long long)n);  // (1,1), (2,2), (3,3)
    CHECK("shared_cells_values", rc == 0 && n == 3 && xa[0] == 1.0 && xb[0] == 0.1 && xa[1] == 2.0 && xb[1] == 0.2 &&
          xa[2] == 3.0 && xb[2] == 0.3, "memorisation values not matched");
    free(xa); free(xb);
    effects_file both[2] = {fa, fb};
    compare_pair p;
    rc = compare_effects(&p, both, 2, 0, &err);
    CHECK("compare_pair_perfect", rc == 0 && p.n_cells == 3 && fabs(p.pearson - 1) < 1e-12 && p.spearman == 1 &&
          p.kendall_tau_b == 1, "pearson %g spearman %g kendall %g", p.pearson, p.spearman, p.kendall_tau_b);
    effects_free(&fa); effects_free(&fb);
    return test_failures ? 1 : 0;
}
