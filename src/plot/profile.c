// profile.c — the memorisation profile heatmap: one facet per effects file, cohort g (y, in
// training steps) × checkpoint t (x, in training steps). A cell whose interval excludes zero is
// coloured by memorisation = sign × ATT(g,t) on one colour scale shared by every facet (the
// colour bar); a cell whose interval covers zero is grey; a cell not estimated stays white.
// Shapes: F facets; file f has K_f cells on its own G_f × T_f grid. Cells are drawn at their
// step values (edges halfway between neighbouring steps), so uneven grids keep true spacing.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plot/draw.h"

enum {
    FACET = 340, GAP_X = 90, GAP_Y = 80, LEFT = 95, TOP = 92, FACET_TITLE = 26, BOTTOM = 62, RIGHT = 150, MAX_COLS = 3
};

static int n_cols(int n_files) { return n_files < MAX_COLS ? n_files : MAX_COLS; }
static int n_rows(int n_files) { return (n_files + MAX_COLS - 1) / MAX_COLS; }
static int fig_width(int n_files) { return LEFT + n_cols(n_files) * FACET + (n_cols(n_files) - 1) * GAP_X + RIGHT; }
static int fig_height(int n_files) {
    return TOP + n_rows(n_files) * (FACET_TITLE + FACET) + (n_rows(n_files) - 1) * GAP_Y + BOTTOM;
}

// Range of v[0..n) widened by half the smallest gap between distinct values (a cell's half width).
static void axis_range(double *lo, double *hi, const int64_t *v, int64_t n) {
    int64_t mn = INT64_MAX, mx = INT64_MIN;
    for (int64_t k = 0; k < n; k++) { if (v[k] < mn) mn = v[k]; if (v[k] > mx) mx = v[k]; }
    if (n == 0) { *lo = 0; *hi = 1; return; }
    int64_t gap = INT64_MAX;
    for (int64_t k = 0; k < n; k++)
        if (v[k] > mn) {
            int64_t d = v[k] - mn;  // the first gap is enough to size the end cells
            if (d < gap) gap = d;
        }
    double half = gap == INT64_MAX ? 0.5 : gap / 2.0;
    *lo = (double)mn - half;
    *hi = (double)mx + half;
}

static void facet_frame(frame *f, const effects_file *files, int n_files, int i) {
    int col = i % MAX_COLS, row = i / MAX_COLS;
    f->left = LEFT + col * (FACET + GAP_X);
    f->top = TOP + row * (FACET_TITLE + FACET + GAP_Y) + FACET_TITLE;
    f->width = f->height = FACET;
    axis_range(&f->xmin, &f->xmax, files[i].time, files[i].K);
    axis_range(&f->ymin, &f->ymax, files[i].cohort, files[i].K);
    (void)n_files;
}

// Sorted distinct values of v (caller frees); the cell edges come from neighbours.
static int64_t distinct_sorted(int64_t **out, const int64_t *v, int64_t n) {
    int64_t *u = malloc((size_t)(n > 0 ? n : 1) * sizeof *u);
    if (!u) return -1;
    int64_t m = 0;
    for (int64_t k = 0; k < n; k++) {
        int64_t x = v[k], j = m;
        int dup = 0;
        for (int64_t a = 0; a < m && !dup; a++) dup = u[a] == x;
        if (dup) continue;
        while (j > 0 && u[j - 1] > x) { u[j] = u[j - 1]; j--; }
        u[j] = x;
        m++;
    }
    *out = u;
    return m;
}

// Edges of the cell at value x among sorted distinct values u[0..m), within [lo, hi].
static void cell_edges(double *a, double *b, const int64_t *u, int64_t m, int64_t x, double lo, double hi) {
    int64_t j = 0;
    while (j < m && u[j] != x) j++;
    *a = j == 0 ? lo : (u[j - 1] + u[j]) / 2.0;
    *b = j >= m - 1 ? hi : (u[j] + u[j + 1]) / 2.0;
}

typedef struct profile_ctx {
    const effects_file *files;
    int n_files;
    double vmax;                         // colour scale: memorisation in [−vmax, vmax]
    int64_t **times, **cohorts;          // [F] distinct sorted steps
    int64_t *n_times, *n_cohorts;        // [F]
} profile_ctx;

static void draw_colour_bar(cairo_t *cr, const profile_ctx *c) {
    frame f = {.left = fig_width(c->n_files) - RIGHT + 28, .top = TOP + FACET_TITLE, .width = 18, .height = FACET,
               .xmin = 0, .xmax = 1, .ymin = -c->vmax, .ymax = c->vmax};
    draw_diverging_bar(cr, &f);
    double ticks[16];
    int nt = nice_ticks(ticks, 16, -c->vmax, c->vmax, 6);
    char buf[32];
    for (int i = 0; i < nt; i++) {
        double py = frame_y(&f, ticks[i]);
        set_rgb(cr, colour_axis);
        cairo_move_to(cr, f.left + f.width, py);
        cairo_line_to(cr, f.left + f.width + 4, py);
        cairo_stroke(cr);
        format_value(buf, sizeof buf, ticks[i]);
        draw_text(cr, f.left + f.width + 7, py, buf, 11, 0, ALIGN_START, ALIGN_CENTRE, 0);
    }
    int sign = c->files[0].memorisation_sign;
    for (int i = 1; i < c->n_files; i++) if (c->files[i].memorisation_sign != sign) sign = 0;
    snprintf(buf, sizeof buf, "memorisation (%sATT)", sign < 0 ? "\xe2\x88\x92" : sign > 0 ? "" : "sign \xc3\x97 ");
    draw_text(cr, f.left + f.width / 2, f.top - 8, buf, 11, 0, ALIGN_CENTRE, ALIGN_END, 0);
    // The not-significant swatch, so grey is explained where the colours are.
    double sy = f.top + f.height + 18;
    set_rgb(cr, colour_not_significant);
    cairo_rectangle(cr, f.left, sy, f.width, 12);
    cairo_fill(cr);
    draw_text(cr, f.left + f.width + 7, sy + 6, "not", 11, 0, ALIGN_START, ALIGN_CENTRE, 0);
    draw_text(cr, f.left + f.width + 7, sy + 20, "significant", 11, 0, ALIGN_START, ALIGN_CENTRE, 0);
}

static void draw_facet(cairo_t *cr, const profile_ctx *c, int i) {
    const effects_file *e = &c->files[i];
    frame f;
    facet_frame(&f, c->files, c->n_files, i);
    // Crisp cell edges: antialiasing would draw seams between neighbouring cells.
    cairo_set_antialias(cr, CAIRO_ANTIALIAS_NONE);
    for (int64_t k = 0; k < e->K; k++) {
        double x0, x1, y0, y1, value, lo, hi;
        cell_edges(&x0, &x1, c->times[i], c->n_times[i], e->time[k], f.xmin, f.xmax);
        cell_edges(&y0, &y1, c->cohorts[i], c->n_cohorts[i], e->cohort[k], f.ymin, f.ymax);
        memorisation_interval(&value, &lo, &hi, e->memorisation_sign, e->att[k], e->lower[k], e->upper[k]);
        if (!isfinite(value)) continue;
        set_rgb(cr, e->significant[k] ? diverging_colour(value / c->vmax) : colour_not_significant);
        double px0 = round(frame_x(&f, x0)), px1 = round(frame_x(&f, x1));
        double py0 = round(frame_y(&f, y1)), py1 = round(frame_y(&f, y0));
        cairo_rectangle(cr, px0, py0, px1 - px0, py1 - py0);
        cairo_fill(cr);
    }
    cairo_set_antialias(cr, CAIRO_ANTIALIAS_DEFAULT);
    // The diagonal t = g: cells on it are instantaneous memorisation, right of it persistent.
    cairo_save(cr);
    cairo_rectangle(cr, f.left, f.top, f.width, f.height);
    cairo_clip(cr);
    double lo = fmax(f.xmin, f.ymin), hi = fmin(f.xmax, f.ymax), dash = 4;
    if (hi > lo) {
        set_rgba(cr, colour_axis, 0.6);
        cairo_set_line_width(cr, 1);
        cairo_set_dash(cr, &dash, 1, 0);
        cairo_move_to(cr, frame_x(&f, lo), frame_y(&f, lo));
        cairo_line_to(cr, frame_x(&f, hi), frame_y(&f, hi));
        cairo_stroke(cr);
    }
    cairo_restore(cr);
    axis_spec a = {.xlabel = "checkpoint t (training step)", .ylabel = i % MAX_COLS == 0 ? "cohort g (training step)" : NULL,
                   .xstyle = TICKS_STEPS, .ystyle = TICKS_STEPS};
    draw_axes(cr, &f, &a);
    char title[640];
    int same_metric = 1;
    for (int j = 0; j < c->n_files; j++) same_metric &= strcmp(c->files[j].metric, c->files[0].metric) == 0;
    if (same_metric) snprintf(title, sizeof title, "%s", plot_file_label(e));
    else snprintf(title, sizeof title, "%s (%s)", plot_file_label(e), e->metric);  // the figure title cannot name one
    draw_text(cr, f.left + f.width / 2, f.top - 8, title, 14, 1, ALIGN_CENTRE, ALIGN_END, 0);
}

static void draw_profile(cairo_t *cr, const void *vctx) {
    const profile_ctx *c = vctx;
    set_rgb(cr, (rgb){1, 1, 1});
    cairo_paint(cr);
    const effects_file *e = &c->files[0];
    char title[256], sub[320];
    int same_metric = 1;
    for (int j = 0; j < c->n_files; j++) same_metric &= strcmp(c->files[j].metric, e->metric) == 0;
    snprintf(title, sizeof title, "Memorisation profile (%s)",
             !same_metric ? "metrics per facet" : e->metric[0] ? e->metric : "metric unknown");
    draw_text(cr, LEFT, 14, title, 17, 1, ALIGN_START, ALIGN_START, 0);
    draw_text(cr, LEFT, 38, "ATT(g,t) by cohort g and checkpoint t; dashed: t = g", 12, 0, ALIGN_START, ALIGN_START, 0);
    snprintf(sub, sizeof sub, "coloured: %g%% band excludes 0; grey: covers 0", 100 * (1 - e->alpha));
    draw_text(cr, LEFT, 54, sub, 12, 0, ALIGN_START, ALIGN_START, 0);
    for (int i = 0; i < c->n_files; i++) draw_facet(cr, c, i);
    draw_colour_bar(cr, c);
}

static void profile_ctx_free(profile_ctx *c) {
    for (int i = 0; i < c->n_files; i++) {
        if (c->times) free(c->times[i]);
        if (c->cohorts) free(c->cohorts[i]);
    }
    free(c->times); free(c->cohorts); free(c->n_times); free(c->n_cohorts);
}

int plot_profile(plot_outputs *out, const char *dir, const effects_file *files, int n_files, memprof_error *err) {
    if (n_files < 1) return error_set(err, MEMPROF_ERR, "plot: no effects files");
    profile_ctx c = {.files = files, .n_files = n_files, .vmax = 0};
    c.times = calloc((size_t)n_files, sizeof *c.times);
    c.cohorts = calloc((size_t)n_files, sizeof *c.cohorts);
    c.n_times = calloc((size_t)n_files, sizeof *c.n_times);
    c.n_cohorts = calloc((size_t)n_files, sizeof *c.n_cohorts);
    int rc = 0;
    if (!c.times || !c.cohorts || !c.n_times || !c.n_cohorts) { rc = error_set(err, MEMPROF_ERR_NOMEM, "out of memory"); goto out; }
    for (int i = 0; i < n_files; i++) {
        const effects_file *e = &files[i];
        c.n_times[i] = distinct_sorted(&c.times[i], e->time, e->K);
        c.n_cohorts[i] = distinct_sorted(&c.cohorts[i], e->cohort, e->K);
        if (c.n_times[i] < 0 || c.n_cohorts[i] < 0) { rc = error_set(err, MEMPROF_ERR_NOMEM, "out of memory"); goto out; }
        for (int64_t k = 0; k < e->K; k++)
            if (e->significant[k] && isfinite(e->att[k]) && fabs(e->att[k]) > c.vmax) c.vmax = fabs(e->att[k]);
    }
    if (!(c.vmax > 0)) c.vmax = 1;  // nothing significant: any scale shows an all-grey map
    rc = figure_save(out, dir, "profile", fig_width(n_files), fig_height(n_files), draw_profile, &c, err);
out:
    profile_ctx_free(&c);
    return rc;
}

int plot_profile_cell_pixel(double *x, double *y, const effects_file *files, int n_files, int file, int64_t cohort,
                            int64_t time) {
    if (file < 0 || file >= n_files) return -1;
    const effects_file *e = &files[file];
    int found = 0;
    for (int64_t k = 0; k < e->K && !found; k++) found = e->cohort[k] == cohort && e->time[k] == time;
    if (!found) return -1;
    frame f;
    facet_frame(&f, files, n_files, file);
    int64_t *ts = NULL, *gs = NULL;
    int64_t nt = distinct_sorted(&ts, e->time, e->K), ng = distinct_sorted(&gs, e->cohort, e->K);
    int rc = -1;
    if (nt >= 0 && ng >= 0) {
        double x0, x1, y0, y1;
        cell_edges(&x0, &x1, ts, nt, time, f.xmin, f.xmax);
        cell_edges(&y0, &y1, gs, ng, cohort, f.ymin, f.ymax);
        *x = (frame_x(&f, x0) + frame_x(&f, x1)) / 2;
        *y = (frame_y(&f, y0) + frame_y(&f, y1)) / 2;
        rc = 0;
    }
    free(ts); free(gs);
    return rc;
}

const char *plot_file_label(const effects_file *f) {
    if (f->model[0]) return f->model;
    const char *slash = strrchr(f->path, '/');
    return slash ? slash + 1 : f->path;
}
