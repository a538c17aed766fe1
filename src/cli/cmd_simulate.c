// cmd_simulate.c — `memprof simulate`: a panel with a planted ATT(g,t) surface, written as
// stats.h5 (pinned layout) and/or a long CSV, plus the true surface as CSV.
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "memprof/estimate.h"
#include "memprof/store.h"

static void usage(FILE *out) {
    fprintf(out,
        "usage: memprof simulate [options] (--out-h5 STATS.h5 | --out-csv FILE) [--truth FILE]\n"
        "\n"
        "Simulated memorisation panel: checkpoints at steps j*interval (j = 0..checkpoints-1), treated\n"
        "cohorts at steps 1..cohorts, held-out instances never treated, and\n"
        "  Y = level + unit effect + trend*exp(-j/10) + ATT(g,t) + noise,\n"
        "  ATT(g,t) = persistent + (effect - persistent) * decay^(periods since g) for t >= g, else 0.\n"
        "\n"
        "  --cohorts C (8)  --per-cohort N (100)  --never N (400)  --checkpoints T (10)  --interval S (1000)\n"
        "  --effect A (-0.5)  --persistent P (-0.1)  --decay R (0.6)  --noise SD (0.3)  --unit-sd SD (0.5)\n"
        "  --trend A (1.0)  --level L (3.0)  --seed S (1)\n"
        "  --out-h5 FILE     stats.h5; the outcome is stored as --metric (default sup_seq), the other\n"
        "                    metrics as NaN (not computed)\n"
        "  --metric NAME     sup_seq | acc_seq | entr_seq | avg_rank\n"
        "  --incomplete S1,S2  leave these checkpoint steps NaN for the first instance (a partial sweep)\n"
        "  --model NAME      root attribute model (default simulated)\n"
        "  --out-csv FILE    long format: unit,time,cohort,y (cohort empty = never treated)\n"
        "  --truth FILE      cohort,time,att: the planted surface\n");
}

int command_simulate(int argc, char **argv) {
    simulate_options o;
    simulate_options_default(&o);
    const char *h5 = NULL, *csv = NULL, *truth = NULL, *metric = "sup_seq", *incomplete = NULL, *model = "simulated";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) { usage(stdout); return EXIT_OK; }
        if (i + 1 >= argc) { fprintf(stderr, "memprof simulate: %s needs a value (see --help)\n", a); return EXIT_USAGE; }
        const char *v = argv[++i];
        char *end = NULL;
        errno = 0;
        int is_int = 1;
        long long iv = 0;
        double dv = 0;
        if (strcmp(a, "--out-h5") == 0) { h5 = v; continue; }
        if (strcmp(a, "--out-csv") == 0) { csv = v; continue; }
        if (strcmp(a, "--truth") == 0) { truth = v; continue; }
        if (strcmp(a, "--metric") == 0) { metric = v; continue; }
        if (strcmp(a, "--incomplete") == 0) { incomplete = v; continue; }
        if (strcmp(a, "--model") == 0) { model = v; continue; }
        if (!strcmp(a, "--cohorts") || !strcmp(a, "--per-cohort") || !strcmp(a, "--never") || !strcmp(a, "--checkpoints") ||
            !strcmp(a, "--interval") || !strcmp(a, "--seed")) iv = strtoll(v, &end, 10);
        else { is_int = 0; dv = strtod(v, &end); }
        if (errno || end == v || *end) { fprintf(stderr, "memprof simulate: bad value '%s' for %s\n", v, a); return EXIT_USAGE; }
        if (is_int) {
            if (!strcmp(a, "--cohorts")) o.n_cohorts = iv;
            else if (!strcmp(a, "--per-cohort")) o.per_cohort = iv;
            else if (!strcmp(a, "--never")) o.n_never = iv;
            else if (!strcmp(a, "--checkpoints")) o.n_checkpoints = iv;
            else if (!strcmp(a, "--interval")) o.interval = iv;
            else o.seed = (uint64_t)iv;
        } else if (!strcmp(a, "--effect")) o.effect = dv;
        else if (!strcmp(a, "--persistent")) o.persistent = dv;
        else if (!strcmp(a, "--decay")) o.decay = dv;
        else if (!strcmp(a, "--noise")) o.noise = dv;
        else if (!strcmp(a, "--unit-sd")) o.unit_sd = dv;
        else if (!strcmp(a, "--trend")) o.trend = dv;
        else if (!strcmp(a, "--level")) o.level = dv;
        else { fprintf(stderr, "memprof simulate: unknown option %s (see --help)\n", a); return EXIT_USAGE; }
    }
    if (!h5 && !csv) { fprintf(stderr, "memprof simulate: give --out-h5 FILE and/or --out-csv FILE\n"); return EXIT_USAGE; }
    int mi = -1;
    for (int j = 0; j < STATS_N_METRICS; j++) if (strcmp(metric, stats_metric_names[j]) == 0) mi = j;
    if (mi < 0) { fprintf(stderr, "memprof simulate: unknown metric '%s'\n", metric); return EXIT_USAGE; }

    memprof_error err = {0};
    simulated_panel s;
    if (simulate_panel(&s, &o, &err)) { fprintf(stderr, "memprof simulate: %s\n", err.message); return EXIT_FAILURE_INPUT; }
    int status = EXIT_FAILURE_INPUT;
    if (incomplete) {
        char *copy = strdup(incomplete), *save = NULL;
        for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            long long st = strtoll(tok, NULL, 10);
            int found = 0;
            for (int64_t j = 0; j < s.T; j++) if (s.times[j] == st) { s.y[j * s.n] = NAN; found = 1; }
            if (!found) { fprintf(stderr, "memprof simulate: --incomplete: %s is not a checkpoint step\n", tok); free(copy); goto out; }
        }
        free(copy);
    }
    if (h5) {
        stats_meta m = {.n_instances = s.n, .n_checkpoints = s.T, .seq_idx = s.seq_idx, .split = s.split,
                        .train_step = s.train_step, .step = s.times};
        snprintf(m.model, sizeof m.model, "%s", model);
        const double *metrics[STATS_N_METRICS] = {NULL, NULL, NULL, NULL};
        metrics[mi] = s.y;
        if (store_stats_write(h5, &m, metrics, 1024, "simulate", &err)) { fprintf(stderr, "memprof simulate: %s\n", err.message); goto out; }
    }
    if (csv) {
        FILE *f = fopen(csv, "w");
        if (!f) { fprintf(stderr, "memprof simulate: %s: %s\n", csv, strerror(errno)); goto out; }
        fputs("unit,time,cohort,y\n", f);
        for (int64_t i = 0; i < s.n; i++)
            for (int64_t j = 0; j < s.T; j++) {
                fprintf(f, "%lld,%lld,", (long long)i, (long long)s.times[j]);
                if (!isnan(s.cohort[i])) fprintf(f, "%.0f", s.cohort[i]);
                fputc(',', f);
                if (!isnan(s.y[j * s.n + i])) fprintf(f, "%.17g", s.y[j * s.n + i]);
                fputc('\n', f);
            }
        if (fclose(f) != 0) { fprintf(stderr, "memprof simulate: %s: write failed\n", csv); goto out; }
    }
    if (truth) {
        FILE *f = fopen(truth, "w");
        if (!f) { fprintf(stderr, "memprof simulate: %s: %s\n", truth, strerror(errno)); goto out; }
        fputs("cohort,time,att\n", f);
        for (int64_t c = 0; c < s.C; c++)
            for (int64_t j = 0; j < s.T; j++)
                fprintf(f, "%lld,%lld,%.17g\n", (long long)s.times[c + 1], (long long)s.times[j], s.truth[c * s.T + j]);
        if (fclose(f) != 0) { fprintf(stderr, "memprof simulate: %s: write failed\n", truth); goto out; }
    }
    status = EXIT_OK;
out:
    simulated_panel_free(&s);
    return status;
}
