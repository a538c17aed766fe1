// series.c — memorisation with intervals along one axis, one series per effects file:
//   persistent    (event-time aggregation: x = steps since treatment, t − g),
//   instantaneous (cells t = g: x = cohort g),
//   residual      (cells at the file's last checkpoint: x = cohort g).
// Shapes: S series (one per file), n_s points each. Sparse series draw points with error bars
// (filled = interval excludes 0, hollow = covers 0), nudged sideways so files do not overlap;
// dense series (> 40 points) draw a band and a line.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plot/draw.h"

enum { WIDTH = 920, MIN_HEIGHT = 520, LEFT = 95, TOP = 78, RIGHT = 250, BOTTOM = 72, DENSE = 40 };

typedef struct series {
    char label[320];
    int64_t n;
    double *x, *y, *lo, *hi;   // [n] memorisation and its interval
    uint8_t *sig;              // [n]
} series;

typedef struct series_fig {
    const char *title, *xlabel;
    char subtitle[320], ylabel[96];
    tick_style xstyle;
    int vline_at_zero;         // event time 0 marks treatment
    int n_series;
    series *s;
    int height;                // MIN_HEIGHT, or taller when the legend needs it
} series_fig;

static void series_free(series *s, int n) {
    for (int i = 0; i < n; i++) { free(s[i].x); free(s[i].y); free(s[i].lo); free(s[i].hi); free(s[i].sig); }
    free(s);
}

static int series_alloc(series *s, int64_t n) {
    size_t m = (size_t)(n > 0 ? n : 1);
    s->x = malloc(m * sizeof(double)); s->y = malloc(m * sizeof(double));
    s->lo = malloc(m * sizeof(double)); s->hi = malloc(m * sizeof(double)); s->sig = malloc(m);
    s->n = 0;
    return s->x && s->y && s->lo && s->hi && s->sig ? 0 : -1;
}

static void series_push(series *s, double x, int sign, double att, double lower, double upper, uint8_t sig) {
    int64_t j = s->n;
    // keep x ascending (inputs are nearly sorted: insertion is cheap)
    while (j > 0 && s->x[j - 1] > x) {
        s->x[j] = s->x[j - 1]; s->y[j] = s->y[j - 1]; s->lo[j] = s->lo[j - 1]; s->hi[j] = s->hi[j - 1]; s->sig[j] = s->sig[j - 1];
        j--;
    }
    s->x[j] = x;
    memorisation_interval(&s->y[j], &s->lo[j], &s->hi[j], sign, att, lower, upper);
    s->sig[j] = sig;
    s->n++;
}

static void data_frame(frame *f, const series_fig *fig) {
    f->left = LEFT; f->top = TOP; f->width = WIDTH - LEFT - RIGHT; f->height = fig->height - TOP - BOTTOM;
    double x0 = INFINITY, x1 = -INFINITY, y0 = 0, y1 = 0;  // y always shows zero
    for (int i = 0; i < fig->n_series; i++)
        for (int64_t j = 0; j < fig->s[i].n; j++) {
            const series *s = &fig->s[i];
            if (s->x[j] < x0) x0 = s->x[j];
            if (s->x[j] > x1) x1 = s->x[j];
            double lo = isfinite(s->lo[j]) ? s->lo[j] : s->y[j], hi = isfinite(s->hi[j]) ? s->hi[j] : s->y[j];
            if (isfinite(lo) && lo < y0) y0 = lo;
            if (isfinite(hi) && hi > y1) y1 = hi;
        }
    if (!isfinite(x0)) { x0 = 0; x1 = 1; }
    if (x1 <= x0) { x0 -= 1000; x1 += 1000; }
    if (y1 <= y0) { y0 = -1; y1 = 1; }
    double px = (x1 - x0) * 0.04, py = (y1 - y0) * 0.08;
    f->xmin = x0 - px; f->xmax = x1 + px; f->ymin = y0 - py; f->ymax = y1 + py;
}

// Smallest gap between neighbouring x values of any series: sizes the sideways nudge.
static double min_gap(const series_fig *fig) {
    double g = INFINITY;
    for (int i = 0; i < fig->n_series; i++)
        for (int64_t j = 1; j < fig->s[i].n; j++) {
            double d = fig->s[i].x[j] - fig->s[i].x[j - 1];
            if (d > 0 && d < g) g = d;
        }
    return isfinite(g) ? g : 0;
}

static void draw_marker(cairo_t *cr, double x, double y, rgb c, int filled) {
    cairo_new_sub_path(cr);
    cairo_arc(cr, x, y, 3.6, 0, 2 * M_PI);
    if (filled) { set_rgb(cr, c); cairo_fill(cr); return; }
    set_rgb(cr, (rgb){1, 1, 1});
    cairo_fill_preserve(cr);
    set_rgb(cr, c);
    cairo_set_line_width(cr, 1.4);
    cairo_stroke(cr);
}

static void draw_series(cairo_t *cr, const frame *f, const series *s, rgb c, double nudge) {
    if (s->n > DENSE) {
        // band, then line, then markers only where significant (dense data would clutter)
        set_rgba(cr, c, 0.22);
        int started = 0;
        for (int64_t j = 0; j < s->n; j++) {
            if (!isfinite(s->hi[j])) continue;
            if (!started) cairo_move_to(cr, frame_x(f, s->x[j]), frame_y(f, s->hi[j]));
            else cairo_line_to(cr, frame_x(f, s->x[j]), frame_y(f, s->hi[j]));
            started = 1;
        }
        for (int64_t j = s->n - 1; j >= 0; j--)
            if (isfinite(s->lo[j])) cairo_line_to(cr, frame_x(f, s->x[j]), frame_y(f, s->lo[j]));
        cairo_close_path(cr);
        cairo_fill(cr);
        set_rgb(cr, c);
        cairo_set_line_width(cr, 1.6);
        started = 0;
        for (int64_t j = 0; j < s->n; j++) {
            if (!isfinite(s->y[j])) { started = 0; continue; }
            if (!started) cairo_move_to(cr, frame_x(f, s->x[j]), frame_y(f, s->y[j]));
            else cairo_line_to(cr, frame_x(f, s->x[j]), frame_y(f, s->y[j]));
            started = 1;
        }
        cairo_stroke(cr);
        for (int64_t j = 0; j < s->n; j++)
            if (s->sig[j] && isfinite(s->y[j])) {
                cairo_new_sub_path(cr);
                cairo_arc(cr, frame_x(f, s->x[j]), frame_y(f, s->y[j]), 2.2, 0, 2 * M_PI);
                cairo_fill(cr);
            }
        return;
    }
    for (int64_t j = 0; j < s->n; j++) {
        if (!isfinite(s->y[j])) continue;
        double px = frame_x(f, s->x[j] + nudge), py = frame_y(f, s->y[j]);
        if (isfinite(s->lo[j]) && isfinite(s->hi[j])) {
            double plo = frame_y(f, s->lo[j]), phi = frame_y(f, s->hi[j]);
            set_rgb(cr, c);
            cairo_set_line_width(cr, 1.4);
            cairo_move_to(cr, px, plo); cairo_line_to(cr, px, phi);
            cairo_move_to(cr, px - 3, plo); cairo_line_to(cr, px + 3, plo);
            cairo_move_to(cr, px - 3, phi); cairo_line_to(cr, px + 3, phi);
            cairo_stroke(cr);
        }
        draw_marker(cr, px, py, c, s->sig[j]);
    }
}

static int label_lines(const char *label) {
    int n = 1;
    for (const char *c = label; *c; c++) n += *c == '\n';
    return n;
}

// Pixels the legend takes below TOP (draw_legend's spacing), so the figure can grow to fit it.
static int legend_height(const series_fig *fig) {
    int h = 6 + 24 + 8, dense = 0, sparse = 0;
    for (int i = 0; i < fig->n_series; i++) {
        h += 24 + 16 * (label_lines(fig->s[i].label) - 1);
        dense |= fig->s[i].n > DENSE;
        sparse |= fig->s[i].n <= DENSE;
    }
    return h + 40 * sparse + 40 * dense;
}

static void draw_legend(cairo_t *cr, const series_fig *fig) {
    double x = WIDTH - RIGHT + 22, y = TOP + 6;
    draw_text(cr, x, y, "model", 12, 1, ALIGN_START, ALIGN_START, 0);
    y += 24;
    for (int i = 0; i < fig->n_series; i++) {
        rgb c = series_colour(i);
        set_rgb(cr, c);
        cairo_set_line_width(cr, 2);
        cairo_move_to(cr, x, y); cairo_line_to(cr, x + 22, y); cairo_stroke(cr);
        draw_marker(cr, x + 11, y, c, 1);
        // a label may carry further lines after '\n' (the overall average, the checkpoint)
        char lines[320];
        snprintf(lines, sizeof lines, "%s", fig->s[i].label);
        char *save = NULL;
        int first = 1;
        for (char *line = strtok_r(lines, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
            if (!first) y += 16;
            draw_text(cr, x + 30, y, line, first ? 12 : 11, 0, ALIGN_START, ALIGN_CENTRE, 0);
            first = 0;
        }
        y += 24;
    }
    y += 8;
    int dense = 0, sparse = 0;
    for (int i = 0; i < fig->n_series; i++) {
        dense |= fig->s[i].n > DENSE;
        sparse |= fig->s[i].n <= DENSE;
    }
    if (sparse) {  // points with error bars: fill tells significance
        draw_marker(cr, x + 11, y, colour_axis, 1);
        draw_text(cr, x + 30, y, "interval excludes 0", 11, 0, ALIGN_START, ALIGN_CENTRE, 0);
        y += 20;
        draw_marker(cr, x + 11, y, colour_axis, 0);
        draw_text(cr, x + 30, y, "interval covers 0", 11, 0, ALIGN_START, ALIGN_CENTRE, 0);
        y += 20;
    }
    if (dense) {  // bands and lines: dots mark significance, the band is the interval
        set_rgba(cr, colour_axis, 0.22);
        cairo_rectangle(cr, x, y - 6, 22, 12);
        cairo_fill(cr);
        draw_text(cr, x + 30, y, "interval (band)", 11, 0, ALIGN_START, ALIGN_CENTRE, 0);
        y += 20;
        set_rgb(cr, colour_axis);
        cairo_new_sub_path(cr);
        cairo_arc(cr, x + 11, y, 2.2, 0, 2 * M_PI);
        cairo_fill(cr);
        draw_text(cr, x + 30, y, "dot on line: interval excludes 0", 11, 0, ALIGN_START, ALIGN_CENTRE, 0);
    }
}

static void draw_series_fig(cairo_t *cr, const void *vctx) {
    const series_fig *fig = vctx;
    set_rgb(cr, (rgb){1, 1, 1});
    cairo_paint(cr);
    draw_text(cr, LEFT, 14, fig->title, 17, 1, ALIGN_START, ALIGN_START, 0);
    draw_text(cr, LEFT, 38, fig->subtitle, 12, 0, ALIGN_START, ALIGN_START, 0);
    frame f;
    data_frame(&f, fig);
    axis_spec a = {.xlabel = fig->xlabel, .ylabel = fig->ylabel, .xstyle = fig->xstyle, .ystyle = TICKS_VALUES, .grid = 1};
    draw_axes(cr, &f, &a);
    draw_hline(cr, &f, 0, colour_axis, 1, 0);
    if (fig->vline_at_zero) draw_vline(cr, &f, 0, colour_axis, 1, 1);
    cairo_save(cr);
    cairo_rectangle(cr, f.left, f.top, f.width, f.height);
    cairo_clip(cr);
    double gap = min_gap(fig);
    for (int i = 0; i < fig->n_series; i++) {
        double nudge = fig->n_series > 1 ? (i - (fig->n_series - 1) / 2.0) * gap * 0.5 / fig->n_series : 0;
        draw_series(cr, &f, &fig->s[i], series_colour(i), nudge);
    }
    cairo_restore(cr);
    draw_legend(cr, fig);
}

static void set_ylabel(series_fig *fig, const effects_file *files, int n_files) {
    const effects_file *e = &files[0];
    int same = 1;
    for (int i = 1; i < n_files; i++) same &= strcmp(files[i].metric, e->metric) == 0;
    if (same && e->metric[0])
        snprintf(fig->ylabel, sizeof fig->ylabel, "memorisation (%sATT of %s)", e->memorisation_sign < 0 ? "\xe2\x88\x92" : "", e->metric);
    else snprintf(fig->ylabel, sizeof fig->ylabel, "memorisation (sign \xc3\x97 ATT)");
}

enum { KIND_PERSISTENT, KIND_INSTANTANEOUS, KIND_RESIDUAL };

static int plot_kind(plot_outputs *out, const char *dir, const effects_file *files, int n_files, int kind, memprof_error *err) {
    if (n_files < 1) return error_set(err, MEMPROF_ERR, "plot: no effects files");
    series_fig fig = {.n_series = n_files, .xstyle = TICKS_STEPS};
    fig.s = calloc((size_t)n_files, sizeof *fig.s);
    if (!fig.s) return error_set(err, MEMPROF_ERR_NOMEM, "out of memory");
    set_ylabel(&fig, files, n_files);
    double level = 100 * (1 - files[0].alpha);
    int rc = 0;
    for (int i = 0; i < n_files && !rc; i++) {
        const effects_file *e = &files[i];
        series *s = &fig.s[i];
        snprintf(s->label, sizeof s->label, "%s", plot_file_label(e));
        if (kind == KIND_PERSISTENT) {
            const effects_agg *g = &e->agg[EFFECTS_AGG_EVENT];
            if (series_alloc(s, g->n)) { rc = error_set(err, MEMPROF_ERR_NOMEM, "out of memory"); break; }
            for (int64_t j = 0; j < g->n; j++) {
                if (g->is_overall[j]) {
                    double v, lo, hi;
                    char a[32], b[32], c[32];
                    memorisation_interval(&v, &lo, &hi, e->memorisation_sign, g->att[j], g->lower[j], g->upper[j]);
                    format_value(a, sizeof a, v); format_value(b, sizeof b, lo); format_value(c, sizeof c, hi);
                    snprintf(s->label, sizeof s->label, "%s\nmean over t \xe2\x88\x92 g \xe2\x89\xa5 0:\n%s [%s, %s]",
                             plot_file_label(e), a, b, c);
                    continue;
                }
                series_push(s, (double)g->key[j], e->memorisation_sign, g->att[j], g->lower[j], g->upper[j], g->significant[j]);
            }
        } else {
            if (series_alloc(s, e->K)) { rc = error_set(err, MEMPROF_ERR_NOMEM, "out of memory"); break; }
            int64_t last = INT64_MIN;
            for (int64_t k = 0; k < e->K; k++) if (e->time[k] > last) last = e->time[k];
            for (int64_t k = 0; k < e->K; k++) {
                int keep = kind == KIND_INSTANTANEOUS ? e->time[k] == e->cohort[k] : e->time[k] == last;
                if (keep) series_push(s, (double)e->cohort[k], e->memorisation_sign, e->att[k], e->lower[k], e->upper[k], e->significant[k]);
            }
            if (kind == KIND_RESIDUAL) {
                char step[32];
                format_steps(step, sizeof step, (double)last);
                size_t len = strlen(s->label);
                snprintf(s->label + len, sizeof s->label - len, "\nat checkpoint %s", step);
            }
        }
    }
    const char *stem = NULL;
    if (!rc) {
        if (kind == KIND_PERSISTENT) {
            stem = "persistent";
            fig.title = "Persistent memorisation (event-time aggregation)";
            fig.xlabel = "training steps since treatment (t \xe2\x88\x92 g)";
            fig.vline_at_zero = 1;
            snprintf(fig.subtitle, sizeof fig.subtitle,
                     "ATT averaged over cohorts at each distance from treatment, with %g%% intervals; left of the dashed line: pre-treatment (placebo)", level);
        } else if (kind == KIND_INSTANTANEOUS) {
            stem = "instantaneous";
            fig.title = "Instantaneous memorisation (t = g)";
            fig.xlabel = "cohort g = checkpoint t (training step)";
            snprintf(fig.subtitle, sizeof fig.subtitle,
                     "ATT(g, g): effect at the first checkpoint after the cohort was trained on, with %g%% bands", level);
        } else {
            stem = "residual";
            fig.title = "Residual memorisation (last checkpoint)";
            fig.xlabel = "cohort g (training step)";
            snprintf(fig.subtitle, sizeof fig.subtitle,
                     "ATT(g, T) at each file's last checkpoint T: what is left at the end of training, with %g%% bands", level);
        }
        fig.height = MIN_HEIGHT;
        if (TOP + legend_height(&fig) + 10 > fig.height) fig.height = TOP + legend_height(&fig) + 10;
        rc = figure_save(out, dir, stem, WIDTH, fig.height, draw_series_fig, &fig, err);
    }
    series_free(fig.s, n_files);
    return rc;
}

int plot_persistent(plot_outputs *out, const char *dir, const effects_file *files, int n_files, memprof_error *err) {
    return plot_kind(out, dir, files, n_files, KIND_PERSISTENT, err);
}
int plot_instantaneous(plot_outputs *out, const char *dir, const effects_file *files, int n_files, memprof_error *err) {
    return plot_kind(out, dir, files, n_files, KIND_INSTANTANEOUS, err);
}
int plot_residual(plot_outputs *out, const char *dir, const effects_file *files, int n_files, memprof_error *err) {
    return plot_kind(out, dir, files, n_files, KIND_RESIDUAL, err);
}

int plot_all(plot_outputs *out, const char *dir, const effects_file *files, int n_files, memprof_error *err) {
    int rc = plot_profile(out, dir, files, n_files, err);
    if (!rc) rc = plot_persistent(out, dir, files, n_files, err);
    if (!rc) rc = plot_instantaneous(out, dir, files, n_files, err);
    if (!rc) rc = plot_residual(out, dir, files, n_files, err);
    return rc;
}
