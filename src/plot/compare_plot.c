// compare_plot.c — figures of `memprof compare`:
//   correlation: three F × F matrices (Pearson, Spearman, Kendall tau-b), each cell coloured on
//                [−1, 1] and printed; the diagonal is a file with itself (1);
//   scatter:     one panel per pair (the first SCATTER_MAX pairs): memorisation of file a (x)
//                against file b (y) over their shared cells, with the line y = x.
// Shapes: F files, P pairs, n_p shared cells of pair p.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plot/draw.h"

enum { TOP = 78, GAP = 46, BAR = 110, SCATTER_MAX = 9, PANEL = 300, PANEL_GAP_X = 95, PANEL_GAP_Y = 100,
       PANEL_LEFT = 95, PANEL_TOP = 116, PANEL_BOTTOM = 60, PANEL_RIGHT = 40 };

typedef struct matrix_ctx {
    const compare_pair *pairs;
    int n_pairs, n_files, post_only;
    const effects_file *files;
    int cell, label_w;            // px: matrix cell side, widest file label
} matrix_ctx;

static double coefficient(const compare_pair *p, int which) {
    return which == 0 ? p->pearson : which == 1 ? p->spearman : p->kendall_tau_b;
}

static const compare_pair *find_pair(const matrix_ctx *c, int i, int j) {
    for (int p = 0; p < c->n_pairs; p++)
        if ((c->pairs[p].a == i && c->pairs[p].b == j) || (c->pairs[p].a == j && c->pairs[p].b == i)) return &c->pairs[p];
    return NULL;
}

static int matrix_left(const matrix_ctx *c, int m) { return 20 + c->label_w + 10 + m * (c->n_files * c->cell + GAP); }
static int matrix_width(const matrix_ctx *c) { return matrix_left(c, 3) - GAP + BAR; }
static int matrix_height(const matrix_ctx *c) { return TOP + 30 + c->n_files * c->cell + (int)(c->label_w * 0.72) + 40; }

static void draw_matrices(cairo_t *cr, const void *vctx) {
    const matrix_ctx *c = vctx;
    set_rgb(cr, (rgb){1, 1, 1});
    cairo_paint(cr);
    draw_text(cr, 20, 14, "Cross-model predictability of memorisation profiles", 17, 1, ALIGN_START, ALIGN_START, 0);
    draw_text(cr, 20, 38,
              c->post_only ? "correlation of memorisation over shared post-treatment cells (t \xe2\x89\xa5 g); n = shared cells"
                           : "correlation of memorisation over shared ATT(g,t) cells",
              12, 0, ALIGN_START, ALIGN_START, 0);
    static const char *names[3] = {"Pearson r", "Spearman \xcf\x81", "Kendall \xcf\x84-b"};
    int top = TOP + 30, F = c->n_files;
    char buf[64];
    for (int m = 0; m < 3; m++) {
        int left = matrix_left(c, m);
        draw_text(cr, left + F * c->cell / 2.0, top - 8, names[m], 14, 1, ALIGN_CENTRE, ALIGN_END, 0);
        for (int i = 0; i < F; i++)
            for (int j = 0; j < F; j++) {
                const compare_pair *p = i == j ? NULL : find_pair(c, i, j);
                double v = i == j ? 1 : p ? coefficient(p, m) : NAN;
                double x = left + j * c->cell, y = top + i * c->cell;
                rgb col = isfinite(v) ? diverging_colour(v) : colour_not_significant;
                set_rgb(cr, col);
                cairo_rectangle(cr, x, y, c->cell, c->cell);
                cairo_fill(cr);
                set_rgb(cr, (rgb){1, 1, 1});
                cairo_set_line_width(cr, 1);
                cairo_rectangle(cr, x, y, c->cell, c->cell);
                cairo_stroke(cr);
                if (isfinite(v)) snprintf(buf, sizeof buf, "%.2f", v);
                else snprintf(buf, sizeof buf, "n/a");
                // dark cells (|v| near 1, the palette's ends) get white text
                double luminance = 0.299 * col.r + 0.587 * col.g + 0.114 * col.b;
                rgb ink = luminance < 0.45 ? (rgb){1, 1, 1} : colour_text;
                double cx = x + c->cell / 2.0, cy = y + c->cell / 2.0;
                draw_text_in(cr, ink, cx, cy - (p ? 6 : 0), buf, 13, 1, ALIGN_CENTRE, ALIGN_CENTRE, 0);
                if (p) {
                    snprintf(buf, sizeof buf, "n=%lld", (long long)p->n_cells);
                    draw_text_in(cr, ink, cx, cy + 12, buf, 10, 0, ALIGN_CENTRE, ALIGN_CENTRE, 0);
                }
            }
        for (int i = 0; i < F; i++) {
            const char *label = plot_file_label(&c->files[i]);
            if (m == 0) draw_text(cr, left - 8, top + (i + 0.5) * c->cell, label, 12, 0, ALIGN_END, ALIGN_CENTRE, 0);
            draw_text(cr, left + (i + 0.5) * c->cell, top + F * c->cell + 8, label, 12, 0, ALIGN_START, ALIGN_CENTRE, M_PI / 4);
        }
    }
    // colour bar
    frame f = {.left = matrix_left(c, 3) - GAP + 30, .top = top, .width = 16, .height = fmax(F * c->cell, 160),
               .xmin = 0, .xmax = 1, .ymin = -1, .ymax = 1};
    draw_diverging_bar(cr, &f);
    for (int t = -2; t <= 2; t++) {
        double v = t / 2.0, py = frame_y(&f, v);
        set_rgb(cr, colour_axis);
        cairo_move_to(cr, f.left + f.width, py);
        cairo_line_to(cr, f.left + f.width + 4, py);
        cairo_stroke(cr);
        format_value(buf, sizeof buf, v);
        draw_text(cr, f.left + f.width + 7, py, buf, 11, 0, ALIGN_START, ALIGN_CENTRE, 0);
    }
}

typedef struct scatter_ctx {
    const compare_pair *pairs;
    const effects_file *files;
    int n_panels, n_pairs, post_only;
    double **x, **y;          // [n_panels][n_cells]
} scatter_ctx;

static int scatter_cols(int n) { return n < 3 ? n : 3; }
static int scatter_width(int n) { return PANEL_LEFT + scatter_cols(n) * PANEL + (scatter_cols(n) - 1) * PANEL_GAP_X + PANEL_RIGHT; }
static int scatter_height(int n) { int rows = (n + 2) / 3; return PANEL_TOP + rows * PANEL + (rows - 1) * PANEL_GAP_Y + PANEL_BOTTOM; }

static void draw_scatter(cairo_t *cr, const void *vctx) {
    const scatter_ctx *c = vctx;
    set_rgb(cr, (rgb){1, 1, 1});
    cairo_paint(cr);
    draw_text(cr, PANEL_LEFT, 14, "Memorisation of shared cells, model against model", 17, 1, ALIGN_START, ALIGN_START, 0);
    char sub[200];
    int len = snprintf(sub, sizeof sub, "%s; dashed: y = x",
                       c->post_only ? "one point per shared cell with t \xe2\x89\xa5 g" : "one point per shared ATT(g,t) cell");
    if (c->n_panels < c->n_pairs && len > 0 && (size_t)len < sizeof sub)
        snprintf(sub + len, sizeof sub - (size_t)len, "; the first %d of %d pairs (all are in compare.csv)", c->n_panels, c->n_pairs);
    draw_text(cr, PANEL_LEFT, 38, sub, 12, 0, ALIGN_START, ALIGN_START, 0);
    for (int p = 0; p < c->n_panels; p++) {
        const compare_pair *q = &c->pairs[p];
        frame f = {.left = PANEL_LEFT + (p % 3) * (PANEL + PANEL_GAP_X), .top = PANEL_TOP + (p / 3) * (PANEL + PANEL_GAP_Y),
                   .width = PANEL, .height = PANEL};
        double lo = INFINITY, hi = -INFINITY;
        for (int64_t k = 0; k < q->n_cells; k++) {
            lo = fmin(lo, fmin(c->x[p][k], c->y[p][k]));
            hi = fmax(hi, fmax(c->x[p][k], c->y[p][k]));
        }
        if (!(hi > lo)) { lo = -1; hi = 1; }
        double pad = (hi - lo) * 0.06;
        f.xmin = f.ymin = lo - pad;  // same scale on both axes, so y = x is the diagonal
        f.xmax = f.ymax = hi + pad;
        char xl[300], yl[300], stats[200];
        snprintf(xl, sizeof xl, "memorisation, %s", plot_file_label(&c->files[q->a]));
        snprintf(yl, sizeof yl, "memorisation, %s", plot_file_label(&c->files[q->b]));
        axis_spec a = {.xlabel = xl, .ylabel = yl, .xstyle = TICKS_VALUES, .ystyle = TICKS_VALUES, .grid = 1};
        draw_axes(cr, &f, &a);
        cairo_save(cr);
        cairo_rectangle(cr, f.left, f.top, f.width, f.height);
        cairo_clip(cr);
        double dash = 5;
        set_rgb(cr, colour_axis);
        cairo_set_dash(cr, &dash, 1, 0);
        cairo_move_to(cr, frame_x(&f, f.xmin), frame_y(&f, f.ymin));
        cairo_line_to(cr, frame_x(&f, f.xmax), frame_y(&f, f.ymax));
        cairo_stroke(cr);
        cairo_set_dash(cr, NULL, 0, 0);
        set_rgba(cr, series_colour(0), q->n_cells > 500 ? 0.25 : 0.6);
        for (int64_t k = 0; k < q->n_cells; k++) {
            cairo_new_sub_path(cr);
            cairo_arc(cr, frame_x(&f, c->x[p][k]), frame_y(&f, c->y[p][k]), 2.4, 0, 2 * M_PI);
            cairo_fill(cr);
        }
        cairo_restore(cr);
        snprintf(stats, sizeof stats, "r = %.2f   \xcf\x81 = %.2f   \xcf\x84-b = %.2f   n = %lld", q->pearson, q->spearman,
                 q->kendall_tau_b, (long long)q->n_cells);
        draw_text(cr, f.left + f.width / 2, f.top - 8, stats, 12, 0, ALIGN_CENTRE, ALIGN_END, 0);
        snprintf(stats, sizeof stats, "%s vs %s", plot_file_label(&c->files[q->a]), plot_file_label(&c->files[q->b]));
        draw_text(cr, f.left + f.width / 2, f.top - 28, stats, 13, 1, ALIGN_CENTRE, ALIGN_END, 0);
    }
}

int plot_compare(plot_outputs *out, const char *dir, const compare_pair *pairs, int n_pairs, const effects_file *files,
                 int n_files, int post_only, memprof_error *err) {
    if (n_files < 2 || n_pairs < 1) return error_set(err, MEMPROF_ERR, "compare: needs at least two effects files");
    matrix_ctx m = {.pairs = pairs, .n_pairs = n_pairs, .n_files = n_files, .files = files, .post_only = post_only};
    m.cell = n_files <= 4 ? 78 : n_files <= 8 ? 60 : 46;
    // Label width measured with the same font the figure uses.
    cairo_surface_t *scratch = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, 1, 1);
    cairo_t *cr = cairo_create(scratch);
    double w = 0;
    for (int i = 0; i < n_files; i++) w = fmax(w, text_width(cr, plot_file_label(&files[i]), 12, 0));
    cairo_destroy(cr);
    cairo_surface_destroy(scratch);
    m.label_w = (int)ceil(fmin(fmax(w, 40), 320));
    int rc = figure_save(out, dir, "correlation", matrix_width(&m), matrix_height(&m), draw_matrices, &m, err);
    if (rc) return rc;

    scatter_ctx s = {.pairs = pairs, .files = files, .n_panels = n_pairs < SCATTER_MAX ? n_pairs : SCATTER_MAX,
                     .n_pairs = n_pairs, .post_only = post_only};
    s.x = calloc((size_t)s.n_panels, sizeof *s.x);
    s.y = calloc((size_t)s.n_panels, sizeof *s.y);
    if (!s.x || !s.y) rc = error_set(err, MEMPROF_ERR_NOMEM, "out of memory");
    for (int p = 0; p < s.n_panels && !rc; p++) {
        int64_t n = 0;
        rc = compare_shared_cells(&s.x[p], &s.y[p], &n, &files[pairs[p].a], &files[pairs[p].b], post_only, err);
    }
    if (!rc) rc = figure_save(out, dir, "scatter", scatter_width(s.n_panels), scatter_height(s.n_panels), draw_scatter, &s, err);
    for (int p = 0; p < s.n_panels; p++) {
        if (s.x) free(s.x[p]);
        if (s.y) free(s.y[p]);
    }
    free(s.x); free(s.y);
    return rc;
}
