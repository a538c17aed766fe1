// draw.c — frames, ticks, text, axes, colours and PNG+SVG output shared by every figure.
// Text uses cairo's toy API with the fontconfig "DejaVu Sans" face (any sans face fontconfig
// substitutes works); sizes are in pixels of the PNG.
#include <cairo-svg.h>
#include <fontconfig/fontconfig.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "plot/draw.h"

const rgb colour_not_significant = {0.86, 0.86, 0.86};
const rgb colour_axis = {0.15, 0.15, 0.15};
const rgb colour_grid = {0.90, 0.90, 0.90};
const rgb colour_text = {0.10, 0.10, 0.10};

rgb rgb_hex(unsigned hex) {
    return (rgb){((hex >> 16) & 0xff) / 255.0, ((hex >> 8) & 0xff) / 255.0, (hex & 0xff) / 255.0};
}
void set_rgb(cairo_t *cr, rgb c) { cairo_set_source_rgb(cr, c.r, c.g, c.b); }
void set_rgba(cairo_t *cr, rgb c, double alpha) { cairo_set_source_rgba(cr, c.r, c.g, c.b, alpha); }

rgb series_colour(int i) {
    // Okabe & Ito (2008): distinguishable under the common colour-vision deficiencies; their
    // yellow is swapped for a brown, which stays visible on white.
    static const unsigned palette[] = {0x0072B2, 0xD55E00, 0x009E73, 0xCC79A7, 0xE69F00, 0x56B4E9, 0x000000, 0x8C564B};
    return rgb_hex(palette[(unsigned)i % (sizeof palette / sizeof palette[0])]);
}

rgb diverging_colour(double v) {
    // ColorBrewer RdYlBu, reversed so that larger memorisation is redder.
    static const unsigned stops[] = {0x313695, 0x4575b4, 0x74add1, 0xabd9e9, 0xe0f3f8, 0xffffbf,
                                     0xfee090, 0xfdae61, 0xf46d43, 0xd73027, 0xa50026};
    const int n = (int)(sizeof stops / sizeof stops[0]);
    if (!(v == v)) return colour_not_significant;
    if (v < -1) v = -1;
    if (v > 1) v = 1;
    double pos = (v + 1) / 2 * (n - 1);
    int i = (int)floor(pos);
    if (i >= n - 1) i = n - 2;
    double t = pos - i;
    rgb a = rgb_hex(stops[i]), b = rgb_hex(stops[i + 1]);
    return (rgb){a.r + t * (b.r - a.r), a.g + t * (b.g - a.g), a.b + t * (b.b - a.b)};
}

int nice_ticks(double *ticks, int cap, double lo, double hi, int target) {
    if (!(hi > lo) || target < 1) {
        if (cap > 0 && isfinite(lo)) { ticks[0] = lo; return 1; }
        return 0;
    }
    double raw = (hi - lo) / target, mag = pow(10, floor(log10(raw))), step = mag;
    double r = raw / mag;
    if (r > 5) step = 10 * mag;
    else if (r > 2.5) step = 5 * mag;
    else if (r > 1) step = 2 * mag;
    int n = 0;
    // Integer multiples of the step, so zero is exactly zero.
    for (double k = ceil(lo / step - 1e-9); k * step <= hi + 1e-9 * step && n < cap; k++) ticks[n++] = k * step + 0.0;  // + 0.0: no "−0"
    return n;
}

// Replaces a leading ASCII hyphen with a typographic minus (U+2212).
static void typographic_minus(char *buf, size_t cap) {
    if (buf[0] != '-' || strlen(buf) + 3 >= cap) return;
    memmove(buf + 3, buf + 1, strlen(buf));
    memcpy(buf, "\xe2\x88\x92", 3);
}

void format_steps(char *buf, size_t cap, double steps) {
    if (fabs(steps) < 1e-9) steps = 0;  // a computed −0 would print as "−0"
    double a = fabs(steps);
    if (a >= 1e6) snprintf(buf, cap, "%gM", steps / 1e6);
    else if (a >= 1e3) snprintf(buf, cap, "%gk", steps / 1e3);
    else snprintf(buf, cap, "%g", steps);
    typographic_minus(buf, cap);
}

void format_value(char *buf, size_t cap, double v) {
    if (fabs(v) < 1e-12) v = 0;
    snprintf(buf, cap, "%.3g", v);
    typographic_minus(buf, cap);
}

static void select_font(cairo_t *cr, double size, int bold) {
    cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
}

double text_width(cairo_t *cr, const char *text, double size, int bold) {
    select_font(cr, size, bold);
    cairo_text_extents_t te;
    cairo_text_extents(cr, text, &te);
    return te.x_advance;
}

void draw_text(cairo_t *cr, double x, double y, const char *text, double size, int bold, int halign, int valign,
               double angle) {
    draw_text_in(cr, colour_text, x, y, text, size, bold, halign, valign, angle);
}

void draw_text_in(cairo_t *cr, rgb colour, double x, double y, const char *text, double size, int bold, int halign,
                  int valign, double angle) {
    select_font(cr, size, bold);
    cairo_text_extents_t te;
    cairo_font_extents_t fe;
    cairo_text_extents(cr, text, &te);
    cairo_font_extents(cr, &fe);
    double dx = halign == ALIGN_START ? 0 : halign == ALIGN_CENTRE ? -te.x_advance / 2 : -te.x_advance;
    // Vertical placement from the font's ascent/descent, so labels in a row share a baseline.
    double dy = valign == ALIGN_START ? fe.ascent : valign == ALIGN_CENTRE ? (fe.ascent - fe.descent) / 2 : -fe.descent;
    cairo_save(cr);
    cairo_translate(cr, x, y);
    cairo_rotate(cr, angle);
    cairo_move_to(cr, dx, dy);
    set_rgb(cr, colour);
    cairo_show_text(cr, text);
    cairo_restore(cr);
}

void draw_hline(cairo_t *cr, const frame *f, double y, rgb c, double width, int dashed) {
    if (y < f->ymin || y > f->ymax) return;
    double py = frame_y(f, y), dash = 5;
    cairo_save(cr);
    set_rgb(cr, c);
    cairo_set_line_width(cr, width);
    if (dashed) cairo_set_dash(cr, &dash, 1, 0);
    cairo_move_to(cr, f->left, py);
    cairo_line_to(cr, f->left + f->width, py);
    cairo_stroke(cr);
    cairo_restore(cr);
}

void draw_vline(cairo_t *cr, const frame *f, double x, rgb c, double width, int dashed) {
    if (x < f->xmin || x > f->xmax) return;
    double px = frame_x(f, x), dash = 5;
    cairo_save(cr);
    set_rgb(cr, c);
    cairo_set_line_width(cr, width);
    if (dashed) cairo_set_dash(cr, &dash, 1, 0);
    cairo_move_to(cr, px, f->top);
    cairo_line_to(cr, px, f->top + f->height);
    cairo_stroke(cr);
    cairo_restore(cr);
}

static void format_tick(char *buf, size_t cap, double v, tick_style s) {
    if (s == TICKS_STEPS) format_steps(buf, cap, v);
    else format_value(buf, cap, v);
}

void draw_axes(cairo_t *cr, const frame *f, const axis_spec *a) {
    double xt[32], yt[32];
    int nx = nice_ticks(xt, 32, f->xmin, f->xmax, f->width > 500 ? 8 : 6);
    int ny = nice_ticks(yt, 32, f->ymin, f->ymax, 6);
    char buf[32];
    const double tick_len = 5, font = 12;
    if (a->grid) {
        for (int i = 0; i < nx; i++) draw_vline(cr, f, xt[i], colour_grid, 1, 0);
        for (int i = 0; i < ny; i++) draw_hline(cr, f, yt[i], colour_grid, 1, 0);
    }
    set_rgb(cr, colour_axis);
    cairo_set_line_width(cr, 1);
    cairo_rectangle(cr, f->left, f->top, f->width, f->height);
    cairo_stroke(cr);
    double max_label = 0;
    for (int i = 0; i < nx; i++) {
        double px = frame_x(f, xt[i]), py = f->top + f->height;
        set_rgb(cr, colour_axis);
        cairo_move_to(cr, px, py);
        cairo_line_to(cr, px, py + tick_len);
        cairo_stroke(cr);
        format_tick(buf, sizeof buf, xt[i], a->xstyle);
        draw_text(cr, px, py + tick_len + 2, buf, font, 0, ALIGN_CENTRE, ALIGN_START, 0);
    }
    for (int i = 0; i < ny; i++) {
        double px = f->left, py = frame_y(f, yt[i]);
        set_rgb(cr, colour_axis);
        cairo_move_to(cr, px, py);
        cairo_line_to(cr, px - tick_len, py);
        cairo_stroke(cr);
        format_tick(buf, sizeof buf, yt[i], a->ystyle);
        double w = text_width(cr, buf, font, 0);
        if (w > max_label) max_label = w;
        draw_text(cr, px - tick_len - 3, py, buf, font, 0, ALIGN_END, ALIGN_CENTRE, 0);
    }
    if (a->xlabel)
        draw_text(cr, f->left + f->width / 2, f->top + f->height + tick_len + 22, a->xlabel, 13, 0, ALIGN_CENTRE,
                  ALIGN_START, 0);
    if (a->ylabel)
        draw_text(cr, f->left - tick_len - 10 - max_label, f->top + f->height / 2, a->ylabel, 13, 0, ALIGN_CENTRE,
                  ALIGN_END, -M_PI / 2);
}

static int record(plot_outputs *out, const char *stem, int width, int height) {
    if (!out) return 0;
    if (out->n >= PLOT_MAX_OUTPUTS) return -1;
    snprintf(out->stem[out->n], sizeof out->stem[0], "%s", stem);
    out->width[out->n] = width;
    out->height[out->n] = height;
    out->n++;
    return 0;
}

int figure_save(plot_outputs *out, const char *dir, const char *stem, int width, int height, draw_fn draw,
                const void *ctx, memprof_error *err) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.png", dir, stem);
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, width, height);
    cairo_t *cr = cairo_create(s);
    draw(cr, ctx);
    cairo_status_t st = cairo_status(cr);
    cairo_destroy(cr);
    if (st == CAIRO_STATUS_SUCCESS) st = cairo_surface_write_to_png(s, path);
    cairo_surface_destroy(s);
    if (st != CAIRO_STATUS_SUCCESS) return error_set(err, MEMPROF_ERR, "%s: %s", path, cairo_status_to_string(st));

    snprintf(path, sizeof path, "%s/%s.svg", dir, stem);
    s = cairo_svg_surface_create(path, width, height);
    cr = cairo_create(s);
    draw(cr, ctx);
    st = cairo_status(cr);
    cairo_destroy(cr);
    cairo_surface_finish(s);
    if (st == CAIRO_STATUS_SUCCESS) st = cairo_surface_status(s);
    cairo_surface_destroy(s);
    if (st != CAIRO_STATUS_SUCCESS) return error_set(err, MEMPROF_ERR, "%s: %s", path, cairo_status_to_string(st));
    if (record(out, stem, width, height)) return error_set(err, MEMPROF_ERR, "too many figures for one call");
    return 0;
}

void plot_release_caches(void) {
    // cairo's font-face cache holds fontconfig patterns, so it goes first.
    cairo_debug_reset_static_data();
    FcFini();
}

void draw_diverging_bar(cairo_t *cr, const frame *f) {
    cairo_set_antialias(cr, CAIRO_ANTIALIAS_NONE);  // one-pixel rows without seams
    for (int px = 0; px < (int)f->height; px++) {
        set_rgb(cr, diverging_colour(1 - (px + 0.5) / f->height * 2));
        cairo_rectangle(cr, f->left, f->top + px, f->width, 1);
        cairo_fill(cr);
    }
    cairo_set_antialias(cr, CAIRO_ANTIALIAS_DEFAULT);
    set_rgb(cr, colour_axis);
    cairo_set_line_width(cr, 1);
    cairo_rectangle(cr, f->left, f->top, f->width, f->height);
    cairo_stroke(cr);
}
