// cmd_compare.c — `memprof compare EFFECTS.h5 EFFECTS.h5 [...] --out DIR`: correlations of
// memorisation profiles between model sizes (table + figures).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "effects_input.h"
#include "memprof/plot.h"

static void usage(FILE *out) {
    fprintf(out,
        "usage: memprof compare EFFECTS.h5 EFFECTS.h5 [EFFECTS.h5 ...] --out DIR [--post-only] [--no-figures]\n"
        "\n"
        "How predictable one model's memorisation profile is from another's: for every pair of files,\n"
        "over the ATT(g,t) cells both contain (matched on cohort g and checkpoint t, finite in both),\n"
        "the Pearson, Spearman (average ranks for ties) and Kendall tau-b correlations of\n"
        "memorisation = memorisation_sign x ATT.\n"
        "\n"
        "  --out DIR       writes DIR/compare.csv (one row per pair: file_a,file_b,model_a,model_b,\n"
        "                  metric_a,metric_b,cells,pearson,spearman,kendall_tau_b; nan = undefined),\n"
        "                  DIR/correlation.png/.svg (coefficient matrices) and DIR/scatter.png/.svg\n"
        "                  (one panel per pair, the first 9 pairs)\n"
        "  --post-only     use only post-treatment cells (t >= g), the memorisation profile proper\n"
        "  --no-figures    the table only\n"
        "\n"
        "Exit status: 0 ok, 1 bad input (the message names the file and dataset), 2 bad command line.\n");
}

int command_compare(int argc, char **argv) {
    const char **inputs = calloc((size_t)argc, sizeof *inputs);
    const char *out_dir = NULL;
    int n_inputs = 0, post_only = 0, figures = 1;
    if (!inputs) return EXIT_FAILURE_INPUT;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { usage(stdout); free(inputs); return EXIT_OK; }
        if (!strcmp(a, "--post-only")) { post_only = 1; continue; }
        if (!strcmp(a, "--no-figures")) { figures = 0; continue; }
        if (!strcmp(a, "--out")) {
            if (i + 1 >= argc) { fprintf(stderr, "memprof compare: --out needs a value (see --help)\n"); free(inputs); return EXIT_USAGE; }
            out_dir = argv[++i];
            continue;
        }
        if (a[0] == '-' && a[1]) { fprintf(stderr, "memprof compare: unknown option %s (see --help)\n", a); free(inputs); return EXIT_USAGE; }
        inputs[n_inputs++] = a;
    }
    if (n_inputs < 2 || !out_dir) {
        fprintf(stderr, "memprof compare: give at least two EFFECTS.h5 files and --out DIR (see --help)\n");
        free(inputs);
        return EXIT_USAGE;
    }
    effects_file *files = NULL;
    if (cli_read_effects(&files, inputs, n_inputs, "compare")) { free(inputs); return EXIT_FAILURE_INPUT; }
    int n_pairs = n_inputs * (n_inputs - 1) / 2, status = EXIT_FAILURE_INPUT;
    compare_pair *pairs = calloc((size_t)n_pairs, sizeof *pairs);
    memprof_error err = {0};
    plot_outputs done = {0};
    char csv[1100];
    snprintf(csv, sizeof csv, "%s/compare.csv", out_dir);
    if (!pairs) { fprintf(stderr, "memprof compare: out of memory\n"); goto out; }
    if (cli_make_dirs(out_dir)) { fprintf(stderr, "memprof compare: %s: cannot create the output folder\n", out_dir); goto out; }
    if (compare_effects(pairs, files, n_inputs, post_only, &err) || compare_write_csv(csv, pairs, n_pairs, files, &err) ||
        (figures && plot_compare(&done, out_dir, pairs, n_pairs, files, n_inputs, post_only, &err))) {
        fprintf(stderr, "memprof compare: %s\n", err.message);
        goto out;
    }
    printf("%-24s %-24s %7s %8s %8s %8s\n", "model_a", "model_b", "cells", "pearson", "spearman", "kendall");
    for (int p = 0; p < n_pairs; p++)
        printf("%-24s %-24s %7lld %8.4f %8.4f %8.4f\n", plot_file_label(&files[pairs[p].a]), plot_file_label(&files[pairs[p].b]),
               (long long)pairs[p].n_cells, pairs[p].pearson, pairs[p].spearman, pairs[p].kendall_tau_b);
    printf("wrote %s\n", csv);
    for (int j = 0; j < done.n; j++)
        printf("wrote %s/%s.png and .svg (%d x %d)\n", out_dir, done.stem[j], done.width[j], done.height[j]);
    for (int p = 0; p < n_pairs; p++)
        if (pairs[p].n_cells < 2)
            fprintf(stderr, "memprof compare: warning: %s and %s share %lld cells; their correlations are undefined (nan)\n",
                    inputs[pairs[p].a], inputs[pairs[p].b], (long long)pairs[p].n_cells);
    status = EXIT_OK;
out:
    plot_release_caches();
    for (int i = 0; i < n_inputs; i++) effects_free(&files[i]);
    free(files);
    free(pairs);
    free(inputs);
    return status;
}
