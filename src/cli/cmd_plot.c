// cmd_plot.c — `memprof plot EFFECTS.h5 [...] --out DIR`: the memorisation figures (PNG + SVG).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "effects_input.h"
#include "memprof/plot.h"

static void usage(FILE *out) {
    fprintf(out,
        "usage: memprof plot EFFECTS.h5 [EFFECTS.h5 ...] --out DIR [--only NAME]\n"
        "\n"
        "Figures of memorisation (= memorisation_sign x ATT, so larger is more memorised) from\n"
        "effects.h5 files written by `memprof estimate`, one file per model; each as DIR/NAME.png\n"
        "and DIR/NAME.svg (docs/figures.md says how to read them):\n"
        "  profile        heatmap cohort x checkpoint, one facet per file; cells whose band excludes 0\n"
        "                 coloured by memorisation (shared colour bar), the others grey\n"
        "  persistent     event-time aggregation (steps since treatment) with intervals\n"
        "  instantaneous  cells t = g per cohort with intervals\n"
        "  residual       cells at the last checkpoint per cohort with intervals\n"
        "\n"
        "  --out DIR      output folder (created if missing)\n"
        "  --only NAME    draw just this figure (repeatable)\n"
        "\n"
        "Exit status: 0 ok, 1 bad input (the message names the file and dataset), 2 bad command line.\n");
}

int command_plot(int argc, char **argv) {
    const char **inputs = calloc((size_t)argc, sizeof *inputs);
    const char *out_dir = NULL;
    int n_inputs = 0, only_mask = 0;
    static const char *names[] = {"profile", "persistent", "instantaneous", "residual"};
    if (!inputs) return EXIT_FAILURE_INPUT;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { usage(stdout); free(inputs); return EXIT_OK; }
        if (!strcmp(a, "--out") || !strcmp(a, "--only")) {
            if (i + 1 >= argc) { fprintf(stderr, "memprof plot: %s needs a value (see --help)\n", a); free(inputs); return EXIT_USAGE; }
            const char *v = argv[++i];
            if (!strcmp(a, "--out")) { out_dir = v; continue; }
            int found = 0;
            for (int j = 0; j < 4; j++) if (!strcmp(v, names[j])) { only_mask |= 1 << j; found = 1; }
            if (!found) { fprintf(stderr, "memprof plot: --only: unknown figure '%s'\n", v); free(inputs); return EXIT_USAGE; }
            continue;
        }
        if (a[0] == '-' && a[1]) { fprintf(stderr, "memprof plot: unknown option %s (see --help)\n", a); free(inputs); return EXIT_USAGE; }
        inputs[n_inputs++] = a;
    }
    if (n_inputs == 0 || !out_dir) {
        fprintf(stderr, "memprof plot: give at least one EFFECTS.h5 and --out DIR (see --help)\n");
        free(inputs);
        return EXIT_USAGE;
    }
    if (!only_mask) only_mask = 0xf;
    effects_file *files = NULL;
    if (cli_read_effects(&files, inputs, n_inputs, "plot")) { free(inputs); return EXIT_FAILURE_INPUT; }
    int status = EXIT_FAILURE_INPUT;
    memprof_error err = {0};
    plot_outputs done = {0};
    int (*const fns[4])(plot_outputs *, const char *, const effects_file *, int, memprof_error *) = {
        plot_profile, plot_persistent, plot_instantaneous, plot_residual};
    if (cli_make_dirs(out_dir)) { fprintf(stderr, "memprof plot: %s: cannot create the output folder\n", out_dir); goto out; }
    for (int j = 0; j < 4; j++)
        if ((only_mask >> j & 1) && fns[j](&done, out_dir, files, n_inputs, &err)) {
            fprintf(stderr, "memprof plot: %s\n", err.message);
            goto out;
        }
    for (int j = 0; j < done.n; j++)
        printf("wrote %s/%s.png and .svg (%d x %d)\n", out_dir, done.stem[j], done.width[j], done.height[j]);
    status = EXIT_OK;
out:
    plot_release_caches();
    for (int i = 0; i < n_inputs; i++) effects_free(&files[i]);
    free(files);
    free(inputs);
    return status;
}
