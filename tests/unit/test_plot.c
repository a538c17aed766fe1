// test_plot.c — figures from in-memory effects files: every figure is written as PNG and SVG
// at the reported size; in the profile heatmap a significant cell is drawn in the colour scale
// and a non-significant one in grey (pixels read back with cairo).
#include <cairo.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "memprof/plot.h"
#include "test.h"

// G cohorts × T checkpoints at steps of 1000; significant where t ≥ g (memorisation 0.5),
// not significant before (ATT 0 ± 0.1). Aggregations: event time only matters to the plots.
static void make_file(effects_file *e, const char *model, int G, int T, double scale) {
    memset(e, 0, sizeof *e);
    snprintf(e->model, sizeof e->model, "%s", model);
    snprintf(e->metric, sizeof e->metric, "sup_seq");
    e->memorisation_sign = -1;
    e->alpha = 0.05;
    int64_t K = (int64_t)G * T;
    e->K = K;
    e->cohort = malloc((size_t)K * 8); e->time = malloc((size_t)K * 8); e->base_period = malloc((size_t)K * 8);
    e->att = malloc((size_t)K * 8); e->se = malloc((size_t)K * 8); e->lower = malloc((size_t)K * 8); e->upper = malloc((size_t)K * 8);
    e->significant = malloc((size_t)K);
    for (int g = 0; g < G; g++)
        for (int t = 0; t < T; t++) {
            int64_t k = (int64_t)g * T + t;
            e->cohort[k] = 1000 * (g + 1); e->time[k] = 1000 * (t + 1); e->base_period[k] = e->cohort[k] - 1000;
            int post = t >= g;
            e->att[k] = post ? -scale * (0.2 + 0.8 * pow(0.6, t - g)) : 0.01;
            e->se[k] = 0.05;
            e->lower[k] = e->att[k] - 0.1; e->upper[k] = e->att[k] + 0.1;
            e->significant[k] = (uint8_t)post;
        }
    for (int a = 0; a < EFFECTS_AGG_COUNT; a++) {
        effects_agg *ag = &e->agg[a];
        int64_t n = a == EFFECTS_AGG_EVENT ? 2 * T : 1;  // event: keys −(T−1)…(T−1) + overall
        ag->n = n;
        ag->key = calloc((size_t)n, 8); ag->att = calloc((size_t)n, 8); ag->se = calloc((size_t)n, 8);
        ag->lower = calloc((size_t)n, 8); ag->upper = calloc((size_t)n, 8);
        ag->significant = calloc((size_t)n, 1); ag->is_overall = calloc((size_t)n, 1);
        for (int64_t j = 0; j < n; j++) {
            int64_t ev = j - (T - 1);
            ag->key[j] = j == n - 1 ? 0 : 1000 * ev;
            ag->att[j] = ev >= 0 ? -scale * 0.5 : 0;
            ag->lower[j] = ag->att[j] - 0.05; ag->upper[j] = ag->att[j] + 0.05;
            ag->significant[j] = ev >= 0;
        }
        ag->is_overall[n - 1] = 1;
    }
}

static int png_size_and_pixel(const char *path, int *w, int *h, int px, int py, unsigned *r, unsigned *g, unsigned *b) {
    cairo_surface_t *s = cairo_image_surface_create_from_png(path);
    if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS) { cairo_surface_destroy(s); return -1; }
    *w = cairo_image_surface_get_width(s);
    *h = cairo_image_surface_get_height(s);
    cairo_surface_flush(s);
    if (px >= 0 && py >= 0 && px < *w && py < *h) {
        const unsigned char *row = cairo_image_surface_get_data(s) + (size_t)py * (size_t)cairo_image_surface_get_stride(s);
        uint32_t v;
        memcpy(&v, row + 4 * px, 4);  // ARGB32, native-endian words; the figure is opaque
        *r = (v >> 16) & 0xff; *g = (v >> 8) & 0xff; *b = v & 0xff;
    }
    cairo_surface_destroy(s);
    return 0;
}

static int starts_with_file(const char *path, const char *prefix) {
    char buf[64] = {0};
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    return n >= strlen(prefix) && memcmp(buf, prefix, strlen(prefix)) == 0;
}

int main(void) {
    char dir[] = "/tmp/memprof-test-plot-XXXXXX";
    if (!mkdtemp(dir)) { printf("FAIL mkdtemp\n"); return 1; }
    effects_file files[2];
    make_file(&files[0], "model-a", 6, 8, 1.0);
    make_file(&files[1], "model-b", 6, 8, 0.5);
    memprof_error err = {0};
    plot_outputs out = {0};
    int rc = plot_all(&out, dir, files, 2, &err);
    CHECK("plot_all", rc == 0 && out.n == 4, "rc %d, %d figures: %s", rc, out.n, err.message);
    for (int i = 0; i < out.n; i++) {
        char png[512], svg[512], name[128];
        snprintf(png, sizeof png, "%s/%s.png", dir, out.stem[i]);
        snprintf(svg, sizeof svg, "%s/%s.svg", dir, out.stem[i]);
        int w = 0, h = 0;
        unsigned r, g, b;
        snprintf(name, sizeof name, "%s_png_size", out.stem[i]);
        CHECK(name, png_size_and_pixel(png, &w, &h, -1, -1, &r, &g, &b) == 0 && w == out.width[i] && h == out.height[i],
              "%s: %d x %d, reported %d x %d", png, w, h, out.width[i], out.height[i]);
        snprintf(name, sizeof name, "%s_svg_header", out.stem[i]);
        CHECK(name, starts_with_file(svg, "<?xml"), "%s does not start with an XML declaration", svg);
    }
    // profile: significant (cohort 2k, t 5k) vs not significant (cohort 5k, t 2k), both facets
    char profile[512];
    snprintf(profile, sizeof profile, "%s/profile.png", dir);
    for (int f = 0; f < 2; f++) {
        double sx, sy, nx, ny;
        int ok = plot_profile_cell_pixel(&sx, &sy, files, 2, f, 2000, 5000) == 0 &&
                 plot_profile_cell_pixel(&nx, &ny, files, 2, f, 5000, 2000) == 0;
        unsigned sr = 0, sg = 0, sb = 0, nr = 0, ng = 0, nb = 0;
        int w, h;
        ok = ok && png_size_and_pixel(profile, &w, &h, (int)sx, (int)sy, &sr, &sg, &sb) == 0 &&
             png_size_and_pixel(profile, &w, &h, (int)nx, (int)ny, &nr, &ng, &nb) == 0;
        char name[64];
        snprintf(name, sizeof name, "profile_nonsignificant_grey_facet%d", f);
        CHECK(name, ok && nr >= 218 && nr <= 221 && nr == ng && ng == nb, "pixel (%u,%u,%u)", nr, ng, nb);
        snprintf(name, sizeof name, "profile_significant_coloured_facet%d", f);
        CHECK(name, ok && (sr != nr || sg != ng || sb != nb) && sr > sb, "significant (%u,%u,%u) vs grey (%u,%u,%u)", sr,
              sg, sb, nr, ng, nb);
    }
    double x, y;
    CHECK("profile_cell_pixel_missing", plot_profile_cell_pixel(&x, &y, files, 2, 0, 99000, 1000) == -1, "expected -1");

    // compare figures on the same two files
    compare_pair pair;
    plot_outputs cmp = {0};
    rc = compare_effects(&pair, files, 2, 1, &err);
    CHECK("compare_post_only_cells", rc == 0 && pair.n_cells == 33, "n_cells %lld", (long long)pair.n_cells);
    rc = rc ? rc : plot_compare(&cmp, dir, &pair, 1, files, 2, 1, &err);
    CHECK("plot_compare", rc == 0 && cmp.n == 2, "rc %d: %s", rc, err.message);

    for (int f = 0; f < 2; f++) effects_free(&files[f]);
    // leave nothing behind
    const char *stems[] = {"profile", "persistent", "instantaneous", "residual", "correlation", "scatter"};
    for (size_t i = 0; i < sizeof stems / sizeof stems[0]; i++)
        for (int k = 0; k < 2; k++) {
            char p[512];
            snprintf(p, sizeof p, "%s/%s.%s", dir, stems[i], k ? "svg" : "png");
            unlink(p);
        }
    rmdir(dir);
    plot_release_caches();
    return test_failures ? 1 : 0;
}
