// correlation.c — Pearson, Spearman (Pearson of average ranks) and Kendall tau-b of two
// samples x, y [n]. Inputs must be finite (compare drops NaN cells first). A coefficient
// that is undefined (n < 2, or a constant sample) is NaN, as scipy.stats reports it.
// Kendall tau-b follows Knight (1966): sort by (x, y), count ties, then count discordant
// pairs as the swaps a merge sort by y makes — O(n log n), so full Pythia grids (≈ 20k cells)
// take milliseconds rather than the seconds of the O(n²) pair loop.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "memprof/plot.h"

double corr_pearson(const double *x, const double *y, int64_t n) {
    if (n < 2) return NAN;
    double mx = 0, my = 0;
    for (int64_t i = 0; i < n; i++) { mx += x[i]; my += y[i]; }
    mx /= n; my /= n;
    double sxy = 0, sxx = 0, syy = 0;
    for (int64_t i = 0; i < n; i++) {
        double dx = x[i] - mx, dy = y[i] - my;
        sxy += dx * dy; sxx += dx * dx; syy += dy * dy;
    }
    if (!(sxx > 0) || !(syy > 0)) return NAN;
    double r = sxy / sqrt(sxx * syy);
    return r > 1 ? 1 : r < -1 ? -1 : r;  // rounding can overshoot by an ulp
}

typedef struct keyed { double v; int64_t i; } keyed;

static int cmp_keyed(const void *pa, const void *pb) {
    const keyed *a = pa, *b = pb;
    if (a->v < b->v) return -1;
    if (a->v > b->v) return 1;
    return (a->i > b->i) - (a->i < b->i);
}

int corr_average_ranks(double *ranks, const double *x, int64_t n, memprof_error *err) {
    keyed *k = malloc((size_t)(n > 0 ? n : 1) * sizeof *k);
    if (!k) return error_set(err, MEMPROF_ERR_NOMEM, "out of memory (ranks of %lld values)", (long long)n);
    for (int64_t i = 0; i < n; i++) k[i] = (keyed){x[i], i};
    qsort(k, (size_t)n, sizeof *k, cmp_keyed);
    for (int64_t a = 0; a < n;) {
        int64_t b = a;
        while (b + 1 < n && k[b + 1].v == k[a].v) b++;
        double r = (a + b) / 2.0 + 1;  // ranks a+1 … b+1 share their mean
        for (int64_t j = a; j <= b; j++) ranks[k[j].i] = r;
        a = b + 1;
    }
    free(k);
    return 0;
}

int corr_spearman(double *out, const double *x, const double *y, int64_t n, memprof_error *err) {
    double *rx = malloc((size_t)(n > 0 ? n : 1) * sizeof *rx), *ry = malloc((size_t)(n > 0 ? n : 1) * sizeof *ry);
    int rc = 0;
    if (!rx || !ry) rc = error_set(err, MEMPROF_ERR_NOMEM, "out of memory (Spearman of %lld values)", (long long)n);
    else if (!(rc = corr_average_ranks(rx, x, n, err)) && !(rc = corr_average_ranks(ry, y, n, err)))
        *out = corr_pearson(rx, ry, n);
    free(rx); free(ry);
    return rc;
}

typedef struct pair { double x, y; } pair;

static int cmp_xy(const void *pa, const void *pb) {
    const pair *a = pa, *b = pb;
    if (a->x != b->x) return a->x < b->x ? -1 : 1;
    return (a->y > b->y) - (a->y < b->y);
}

// Sorts p[0..n) by y (stable merge sort through tmp); returns the number of inversions,
// counting only strict ones (equal y is not a swap, so y-ties are not discordant).
static int64_t merge_sort_y(pair *p, pair *tmp, int64_t n) {
    if (n < 2) return 0;
    int64_t h = n / 2, swaps = merge_sort_y(p, tmp, h) + merge_sort_y(p + h, tmp, n - h);
    int64_t i = 0, j = h, o = 0;
    while (i < h && j < n) {
        if (p[j].y < p[i].y) { tmp[o++] = p[j++]; swaps += h - i; }
        else tmp[o++] = p[i++];
    }
    while (i < h) tmp[o++] = p[i++];
    while (j < n) tmp[o++] = p[j++];
    memcpy(p, tmp, (size_t)n * sizeof *p);
    return swaps;
}

int corr_kendall_tau_b(double *out, const double *x, const double *y, int64_t n, memprof_error *err) {
    if (n < 2) { *out = NAN; return 0; }
    pair *p = malloc((size_t)n * sizeof *p), *tmp = malloc((size_t)n * sizeof *tmp);
    if (!p || !tmp) { free(p); free(tmp); return error_set(err, MEMPROF_ERR_NOMEM, "out of memory (Kendall of %lld values)", (long long)n); }
    for (int64_t i = 0; i < n; i++) p[i] = (pair){x[i], y[i]};
    qsort(p, (size_t)n, sizeof *p, cmp_xy);
    // Tied pairs: in x (n1), in both x and y (n3); counted over runs of the (x, y) order.
    double n1 = 0, n3 = 0, n2 = 0;
    for (int64_t a = 0; a < n;) {
        int64_t b = a;
        while (b + 1 < n && p[b + 1].x == p[a].x) b++;
        double t = (double)(b - a + 1);
        n1 += t * (t - 1) / 2;
        for (int64_t c = a; c <= b;) {
            int64_t d = c;
            while (d + 1 <= b && p[d + 1].y == p[c].y) d++;
            double u = (double)(d - c + 1);
            n3 += u * (u - 1) / 2;
            c = d + 1;
        }
        a = b + 1;
    }
    double discordant = (double)merge_sort_y(p, tmp, n);
    for (int64_t a = 0; a < n;) {  // now sorted by y: tied pairs in y (n2)
        int64_t b = a;
        while (b + 1 < n && p[b + 1].y == p[a].y) b++;
        double t = (double)(b - a + 1);
        n2 += t * (t - 1) / 2;
        a = b + 1;
    }
    double n0 = (double)n * (n - 1) / 2;
    double s = n0 - n1 - n2 + n3 - 2 * discordant;  // concordant − discordant
    double denom = sqrt((n0 - n1) * (n0 - n2));
    *out = denom > 0 ? s / denom : NAN;
    if (*out > 1) *out = 1;
    if (*out < -1) *out = -1;
    free(p); free(tmp);
    return 0;
}
