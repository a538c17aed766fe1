// compare.c — how predictable one model's memorisation profile is from another's: over the
// ATT(g,t) cells two effects files share (matched on cohort g and checkpoint t), the Pearson,
// Spearman and Kendall tau-b correlations of memorisation = sign × ATT (signed, so files of
// metrics with opposite signs still compare like with like).
// Shapes: F files, P = F(F−1)/2 pairs; file f has K_f cells.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memprof/plot.h"

typedef struct cell_key { int64_t cohort, time, k; } cell_key;

static int cmp_cell(const void *pa, const void *pb) {
    const cell_key *a = pa, *b = pb;
    if (a->cohort != b->cohort) return a->cohort < b->cohort ? -1 : 1;
    return (a->time > b->time) - (a->time < b->time);
}

int compare_shared_cells(double **xa, double **xb, int64_t *n, const effects_file *a, const effects_file *b,
                         int post_only, memprof_error *err) {
    size_t cap = (size_t)(a->K > 0 ? a->K : 1);
    cell_key *idx = malloc((size_t)(b->K > 0 ? b->K : 1) * sizeof *idx);
    double *va = malloc(cap * sizeof *va), *vb = malloc(cap * sizeof *vb);
    if (!idx || !va || !vb) {
        free(idx); free(va); free(vb);
        return error_set(err, MEMPROF_ERR_NOMEM, "out of memory matching cells of %s and %s", a->path, b->path);
    }
    for (int64_t k = 0; k < b->K; k++) idx[k] = (cell_key){b->cohort[k], b->time[k], k};
    qsort(idx, (size_t)b->K, sizeof *idx, cmp_cell);
    int64_t m = 0;
    for (int64_t k = 0; k < a->K; k++) {
        if (post_only && a->time[k] < a->cohort[k]) continue;
        cell_key key = {a->cohort[k], a->time[k], 0};
        const cell_key *hit = bsearch(&key, idx, (size_t)b->K, sizeof *idx, cmp_cell);
        if (!hit) continue;
        double u = a->memorisation_sign * a->att[k], v = b->memorisation_sign * b->att[hit->k];
        if (!isfinite(u) || !isfinite(v)) continue;
        va[m] = u; vb[m] = v; m++;
    }
    free(idx);
    *xa = va; *xb = vb; *n = m;
    return 0;
}

int compare_effects(compare_pair *pairs, const effects_file *files, int n_files, int post_only, memprof_error *err) {
    int p = 0;
    for (int i = 0; i < n_files; i++)
        for (int j = i + 1; j < n_files; j++, p++) {
            double *x = NULL, *y = NULL;
            int64_t n = 0;
            compare_pair *q = &pairs[p];
            *q = (compare_pair){.a = i, .b = j};
            int rc = compare_shared_cells(&x, &y, &n, &files[i], &files[j], post_only, err);
            if (!rc) {
                q->n_cells = n;
                q->pearson = corr_pearson(x, y, n);
                rc = corr_spearman(&q->spearman, x, y, n, err);
                if (!rc) rc = corr_kendall_tau_b(&q->kendall_tau_b, x, y, n, err);
                if (n < 2) q->spearman = q->kendall_tau_b = NAN;
            }
            free(x); free(y);
            if (rc) return rc;
        }
    return 0;
}

// CSV field, quoted when it holds a separator, quote or line break.
static void put_field(FILE *f, const char *s) {
    if (!strpbrk(s, ",\"\n\r")) { fputs(s, f); return; }
    fputc('"', f);
    for (; *s; s++) { if (*s == '"') fputc('"', f); fputc(*s, f); }
    fputc('"', f);
}

static void put_number(FILE *f, double v) {
    if (isfinite(v)) fprintf(f, ",%.17g", v);
    else fputs(",nan", f);
}

int compare_write_csv(const char *path, const compare_pair *pairs, int n_pairs, const effects_file *files,
                      memprof_error *err) {
    FILE *f = fopen(path, "w");
    if (!f) return error_set(err, MEMPROF_ERR, "%s: cannot create", path);
    fputs("file_a,file_b,model_a,model_b,metric_a,metric_b,cells,pearson,spearman,kendall_tau_b\n", f);
    for (int p = 0; p < n_pairs; p++) {
        const effects_file *a = &files[pairs[p].a], *b = &files[pairs[p].b];
        const char *fields[] = {a->path, b->path, plot_file_label(a), plot_file_label(b), a->metric, b->metric};
        for (int j = 0; j < 6; j++) { if (j) fputc(',', f); put_field(f, fields[j]); }
        fprintf(f, ",%lld", (long long)pairs[p].n_cells);
        put_number(f, pairs[p].pearson);
        put_number(f, pairs[p].spearman);
        put_number(f, pairs[p].kendall_tau_b);
        fputc('\n', f);
    }
    if (ferror(f) | (fclose(f) != 0)) return error_set(err, MEMPROF_ERR, "%s: write failed", path);
    return 0;
}
