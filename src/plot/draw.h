// draw.h — what the figure files share: a data→pixel frame, tick choice, axis and text
// drawing, colours, and saving one drawing as PNG and SVG. Internal to src/plot/.
// Coordinates are pixels with y down (cairo's); a frame maps data (x right, y up) into a rect.
#ifndef MEMPROF_PLOT_DRAW_H
#define MEMPROF_PLOT_DRAW_H

#include <cairo.h>
#include <stdint.h>

#include "memprof/error.h"
#include "memprof/plot.h"

typedef struct frame {
    double left, top, width, height;     // pixel rectangle of the plotting area
    double xmin, xmax, ymin, ymax;       // data range it shows
} frame;

static inline double frame_x(const frame *f, double x) { return f->left + (x - f->xmin) / (f->xmax - f->xmin) * f->width; }
static inline double frame_y(const frame *f, double y) { return f->top + (f->ymax - y) / (f->ymax - f->ymin) * f->height; }

typedef struct rgb { double r, g, b; } rgb;
rgb rgb_hex(unsigned hex);
void set_rgb(cairo_t *cr, rgb c);
void set_rgba(cairo_t *cr, rgb c, double alpha);
rgb series_colour(int i);           // colour-blind-safe qualitative palette
// Diverging palette (blue < 0 < red) for v in [−1, 1]; the centre is pale yellow so a
// near-zero significant cell still differs from the grey of non-significant cells.
rgb diverging_colour(double v);
// The diverging palette as a vertical bar filling f's rectangle (top +1, bottom −1), outlined.
void draw_diverging_bar(cairo_t *cr, const frame *f);
extern const rgb colour_not_significant, colour_axis, colour_grid, colour_text;

// Up to about `target` round tick values covering [lo, hi]; returns how many (≤ cap).
int nice_ticks(double *ticks, int cap, double lo, double hi, int target);
// Tick labels: training steps as 0, 500, 10k, 143k, 1.2M (negative with a minus sign);
// plain values with 3 significant digits.
void format_steps(char *buf, size_t cap, double steps);
void format_value(char *buf, size_t cap, double v);

enum { ALIGN_START, ALIGN_CENTRE, ALIGN_END };
// Text anchored at (x, y): halign/valign choose which edge or centre sits there; angle in radians.
void draw_text(cairo_t *cr, double x, double y, const char *text, double size, int bold, int halign, int valign,
               double angle);
void draw_text_in(cairo_t *cr, rgb colour, double x, double y, const char *text, double size, int bold, int halign,
                  int valign, double angle);
double text_width(cairo_t *cr, const char *text, double size, int bold);

typedef enum { TICKS_STEPS, TICKS_VALUES } tick_style;
typedef struct axis_spec {
    const char *xlabel, *ylabel;
    tick_style xstyle, ystyle;
    int grid;                         // light grid lines at the ticks
} axis_spec;
// Frame border, ticks, tick labels and axis labels.
void draw_axes(cairo_t *cr, const frame *f, const axis_spec *a);
void draw_hline(cairo_t *cr, const frame *f, double y, rgb c, double width, int dashed);
void draw_vline(cairo_t *cr, const frame *f, double x, rgb c, double width, int dashed);

typedef void (*draw_fn)(cairo_t *cr, const void *ctx);
// Draws `draw` twice (PNG at 1 px per unit, SVG) into DIR/<stem>.png and .svg; records them in out.
int figure_save(plot_outputs *out, const char *dir, const char *stem, int width, int height, draw_fn draw,
                const void *ctx, memprof_error *err);

// memorisation = sign × ATT; the interval flips with it.
static inline void memorisation_interval(double *value, double *lo, double *hi, int sign, double att, double lower,
                                         double upper) {
    *value = sign * att;
    *lo = sign > 0 ? lower : -upper;
    *hi = sign > 0 ? upper : -lower;
}

#endif
