// plot.h — figures from effects.h5 files (PNG and SVG through cairo) and the cross-size
// comparison of memorisation profiles.
// Shapes: F effects files (one per model size), K_f cells in file f, P = F(F−1)/2 pairs.
// Everything shows memorisation = memorisation_sign × ATT (effects.h5 stores raw ATT).
#ifndef MEMPROF_PLOT_H
#define MEMPROF_PLOT_H

#include <stdint.h>

#include "memprof/effects.h"
#include "memprof/error.h"

// What a plot call wrote: each figure as DIR/<stem>.png and DIR/<stem>.svg of width × height px.
#define PLOT_MAX_OUTPUTS 16
typedef struct plot_outputs {
    int n;
    char stem[PLOT_MAX_OUTPUTS][64];
    int width[PLOT_MAX_OUTPUTS], height[PLOT_MAX_OUTPUTS];
} plot_outputs;

// profile (heatmap, one facet per file), persistent (event-time aggregation),
// instantaneous (cells t = g), residual (cells at each file's last checkpoint).
int plot_all(plot_outputs *out, const char *dir, const effects_file *files, int n_files, memprof_error *err);
int plot_profile(plot_outputs *out, const char *dir, const effects_file *files, int n_files, memprof_error *err);
int plot_persistent(plot_outputs *out, const char *dir, const effects_file *files, int n_files, memprof_error *err);
int plot_instantaneous(plot_outputs *out, const char *dir, const effects_file *files, int n_files, memprof_error *err);
int plot_residual(plot_outputs *out, const char *dir, const effects_file *files, int n_files, memprof_error *err);

// Pixel centre of cell (cohort, time) of facet `file` in the profile figure (for tests and
// tools that annotate the picture); −1 when the file has no such cell.
int plot_profile_cell_pixel(double *x, double *y, const effects_file *files, int n_files, int file, int64_t cohort,
                            int64_t time);

// ---- correlations (average ranks for ties; NaN when a coefficient is undefined) ----
double corr_pearson(const double *x, const double *y, int64_t n);
// Spearman = Pearson of average ranks; Kendall tau-b in O(n log n) (Knight 1966).
int corr_spearman(double *out, const double *x, const double *y, int64_t n, memprof_error *err);
int corr_kendall_tau_b(double *out, const double *x, const double *y, int64_t n, memprof_error *err);
// ranks[i] = average 1-based rank of x[i] among x[0..n).
int corr_average_ranks(double *ranks, const double *x, int64_t n, memprof_error *err);

// ---- compare ----
typedef struct compare_pair {
    int a, b;               // file indices, a < b
    int64_t n_cells;        // shared (cohort, time) cells with finite ATT in both
    double pearson, spearman, kendall_tau_b;
} compare_pair;

// Shared cells of files a and b (matched on cohort and time; post_only keeps t ≥ g):
// xa/xb [n] memorisation values (caller frees). n may be 0.
int compare_shared_cells(double **xa, double **xb, int64_t *n, const effects_file *a, const effects_file *b,
                         int post_only, memprof_error *err);
// pairs [F(F−1)/2], ordered (0,1), (0,2), …, (1,2), …
int compare_effects(compare_pair *pairs, const effects_file *files, int n_files, int post_only, memprof_error *err);
int compare_write_csv(const char *path, const compare_pair *pairs, int n_pairs, const effects_file *files,
                      memprof_error *err);
// correlation.png/svg (matrices of the three coefficients) and scatter.png/svg (one panel per pair).
int plot_compare(plot_outputs *out, const char *dir, const compare_pair *pairs, int n_pairs, const effects_file *files,
                 int n_files, int post_only, memprof_error *err);

// Frees the process-wide font caches cairo and fontconfig keep (so leak checkers see a clean
// exit). Call once, after the last figure of the process; drawing afterwards reloads them.
void plot_release_caches(void);

// The label a figure or table uses for a file: its model attribute, else its file name.
const char *plot_file_label(const effects_file *f);

#endif
