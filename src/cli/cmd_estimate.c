// cmd_estimate.c — `memprof estimate`: Callaway–Sant'Anna ATT(g,t) + aggregations from a
// long-format CSV or a stats.h5 metric; writes CSV tables (and effects.h5 for stats input).
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/progress_printer.h"
#include "commands.h"
#include "memprof/config.h"
#include "memprof/estimate.h"
#include "memprof/store.h"

static void usage(FILE *out) {
    fprintf(out,
        "usage: memprof estimate --csv FILE --unit COL --time COL --cohort COL --outcome COL [options] --out DIR\n"
        "       memprof estimate STATS.h5 --metric NAME [options] --out DIR\n"
        "\n"
        "Callaway & Sant'Anna (2021) ATT(g,t), analytic and multiplier-bootstrap inference, and the\n"
        "simple/cohort/time/event aggregations (R did 2.5 conventions; see docs/estimator.md).\n"
        "\n"
        "input:\n"
        "  --csv FILE               long format, one row per unit x time, with a header\n"
        "  --unit/--time/--cohort/--outcome COL   column names\n"
        "  --never-value V          cohort value meaning never treated (an empty cell always does)\n"
        "  STATS.h5 --metric NAME   sup_seq, acc_seq, entr_seq or avg_rank\n"
        "  --steps S1,S2,...        restrict the checkpoint grid (stats.h5); items may be inclusive\n"
        "                           ranges start:stop:step, e.g. 0,1000:143000:1000 (the paper's 144)\n"
        "  --cohort-rule RULE       first-after (default: first checkpoint step > train_step) or paper\n"
        "                           (ceil(ceil(seq_idx/1024)/1000)*1000)\n"
        "options:\n"
        "  --control never_treated|not_yet_treated      (default never_treated)\n"
        "  --base-period varying|universal              (default varying)\n"
        "  --anticipation D         periods of the time grid (default 0)\n"
        "  --bootstrap B            multiplier-bootstrap draws (default 1000; 0 = analytic only)\n"
        "  --seed S                 (default 1234)   --threads N (default: online CPUs)\n"
        "  --alpha A                (default 0.05)\n"
        "  --bootstrap-aggregates   bootstrap SEs and sup-t bands for the aggregations too\n"
        "  --min-e E --max-e E --balance-e E   R aggte event-window options\n"
        "  --min-cohort G --max-cohort G --min-time T --max-time T   cohort / time window\n"
        "  --out DIR                attgt.csv, agg_{simple,cohort,time,event}.csv, simple_difference.csv,\n"
        "                           pretest.csv (and effects.h5 for stats.h5 input)\n"
        "  --effects FILE           effects.h5 path (stats.h5 input: default DIR/effects.h5; CSV input: only\n"
        "                           when given; metric = the outcome column, memorisation_sign 0 unless\n"
        "                           it is a known metric name)\n"
        "  --quiet                  no summary on stdout\n");
}

static int parse_i64(const char *s, int64_t *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end) return -1;
    *out = v;
    return 0;
}

static int parse_f64(const char *s, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end) return -1;
    *out = v;
    return 0;
}

int command_estimate(int argc, char **argv) {
    estimate_options opt;
    estimate_options_default(&opt);
    opt.bootstrap = 1000;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    opt.threads = ncpu > 0 ? (int)ncpu : 1;
    const char *csv = NULL, *unit = NULL, *time_col = NULL, *cohort_col = NULL, *outcome = NULL, *never = NULL;
    const char *stats = NULL, *metric = NULL, *out_dir = NULL, *effects = NULL, *steps_arg = NULL;
    int paper_rule = 0, quiet = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) { usage(stdout); return EXIT_OK; }
        if (strcmp(a, "--bootstrap-aggregates") == 0) { opt.bootstrap_aggregates = 1; continue; }
        if (strcmp(a, "--quiet") == 0) { quiet = 1; continue; }
        if (a[0] != '-') {
            if (stats) { fprintf(stderr, "memprof estimate: more than one input file\n"); return EXIT_USAGE; }
            stats = a; continue;
        }
        if (i + 1 >= argc) { fprintf(stderr, "memprof estimate: %s needs a value\n", a); return EXIT_USAGE; }
        const char *v = argv[++i];
        int bad = 0;
        int64_t iv;
        if (strcmp(a, "--csv") == 0) csv = v;
        else if (strcmp(a, "--unit") == 0) unit = v;
        else if (strcmp(a, "--time") == 0) time_col = v;
        else if (strcmp(a, "--cohort") == 0) cohort_col = v;
        else if (strcmp(a, "--outcome") == 0) outcome = v;
        else if (strcmp(a, "--never-value") == 0) never = v;
        else if (strcmp(a, "--metric") == 0) metric = v;
        else if (strcmp(a, "--out") == 0) out_dir = v;
        else if (strcmp(a, "--effects") == 0) effects = v;
        else if (strcmp(a, "--steps") == 0) steps_arg = v;
        else if (strcmp(a, "--cohort-rule") == 0) {
            if (strcmp(v, "paper") == 0) paper_rule = 1;
            else if (strcmp(v, "first-after") == 0) paper_rule = 0;
            else bad = 1;
        } else if (strcmp(a, "--control") == 0) {
            if (strcmp(v, "never_treated") == 0) opt.control = CONTROL_NEVER_TREATED;
            else if (strcmp(v, "not_yet_treated") == 0) opt.control = CONTROL_NOT_YET_TREATED;
            else bad = 1;
        } else if (strcmp(a, "--base-period") == 0) {
            if (strcmp(v, "varying") == 0) opt.base = BASE_VARYING;
            else if (strcmp(v, "universal") == 0) opt.base = BASE_UNIVERSAL;
            else bad = 1;
        } else if (strcmp(a, "--anticipation") == 0) { bad = parse_i64(v, &iv) || iv < 0 || iv > 1000000; opt.anticipation = (int)iv; }
        else if (strcmp(a, "--bootstrap") == 0) bad = parse_i64(v, &opt.bootstrap) || opt.bootstrap < 0;
        else if (strcmp(a, "--seed") == 0) { bad = parse_i64(v, &iv); opt.seed = (uint64_t)iv; }
        else if (strcmp(a, "--threads") == 0) { bad = parse_i64(v, &iv) || iv < 1 || iv > 4096; opt.threads = (int)iv; }
        else if (strcmp(a, "--alpha") == 0) bad = parse_f64(v, &opt.alpha) || !(opt.alpha > 0 && opt.alpha < 1);
        else if (strcmp(a, "--min-e") == 0) bad = parse_f64(v, &opt.min_e);
        else if (strcmp(a, "--max-e") == 0) bad = parse_f64(v, &opt.max_e);
        else if (strcmp(a, "--balance-e") == 0) { bad = parse_f64(v, &opt.balance_e); opt.has_balance_e = 1; }
        else if (strcmp(a, "--min-cohort") == 0) bad = parse_i64(v, &opt.min_cohort);
        else if (strcmp(a, "--max-cohort") == 0) bad = parse_i64(v, &opt.max_cohort);
        else if (strcmp(a, "--min-time") == 0) bad = parse_i64(v, &opt.min_time);
        else if (strcmp(a, "--max-time") == 0) bad = parse_i64(v, &opt.max_time);
        else { fprintf(stderr, "memprof estimate: unknown option %s (see --help)\n", a); return EXIT_USAGE; }
        if (bad) { fprintf(stderr, "memprof estimate: bad value '%s' for %s\n", v, a); return EXIT_USAGE; }
    }
    if (!out_dir) { fprintf(stderr, "memprof estimate: --out DIR is required\n"); return EXIT_USAGE; }
    if (!!csv == !!stats) { fprintf(stderr, "memprof estimate: give either --csv FILE or a stats.h5 file\n"); return EXIT_USAGE; }
    if (csv && (!unit || !time_col || !cohort_col || !outcome)) {
        fprintf(stderr, "memprof estimate: --csv needs --unit, --time, --cohort and --outcome\n"); return EXIT_USAGE;
    }
    if (stats && !metric) { fprintf(stderr, "memprof estimate: a stats.h5 input needs --metric\n"); return EXIT_USAGE; }

    // Steps and inclusive ranges, as in a sweep configuration: "0,1000:143000:1000".
    int64_t *steps = NULL, n_steps = 0;
    if (steps_arg) {
        size_t count = 0, capacity = 0;
        char why[256] = "", *copy = strdup(steps_arg), *save = NULL;
        int bad = copy == NULL;
        for (char *tok = copy ? strtok_r(copy, ",", &save) : NULL; tok && !bad; tok = strtok_r(NULL, ",", &save)) {
            while (*tok == ' ') tok++;
            bad = config_steps_append_item(&steps, &count, &capacity, tok, why, sizeof why) != 0;
        }
        config_steps list = {steps, count};
        if (!bad) bad = config_steps_finish(&list, why, sizeof why) != 0;
        free(copy);
        if (bad) {
            fprintf(stderr, "memprof estimate: --steps: %s\n", why[0] ? why : "out of memory");
            free(steps);
            return EXIT_USAGE;
        }
        steps = list.values;
        n_steps = (int64_t)list.count;
    }

    memprof_error err = {0};
    double *y = NULL, *coh = NULL;
    int64_t *times = NULL, n = 0, T = 0;
    stats_panel sp = {0};
    estimate_panel panel = {0};
    estimate_result res = {0};
    panel_report rep;
    int rc;
    int status = EXIT_FAILURE_INPUT;
    if (csv) {
        rc = estimate_read_csv(&y, &coh, &times, &n, &T, csv, unit, time_col, cohort_col, outcome, never, &err);
    } else {
        rc = estimate_load_stats(&sp, stats, metric, steps, n_steps, paper_rule, &err);
        if (!rc) { y = sp.y; coh = sp.cohort; times = sp.times; n = sp.n; T = sp.T; }
    }
    if (rc) goto fail;
    if ((rc = estimate_panel_build(&panel, &rep, y, coh, times, n, T, &opt, &err))) goto fail;
    progress_printer printer;
    progress_reporter progress;
    progress_printer_init(&printer, &progress, stderr);
    opt.progress = &progress;
    rc = estimate_run(&res, &panel, &opt, &err);
    progress_printer_finish(&printer);
    if (rc) goto fail;
    if ((rc = estimate_write_csv(out_dir, &res, &panel, &err))) goto fail;
    if (stats || effects) {
        char path[4096];
        if (!effects) { snprintf(path, sizeof path, "%s/effects.h5", out_dir); effects = path; }
        effects_attrs at = {
            .model = stats ? sp.model : "", .metric = stats ? metric : outcome,
            .control_group = opt.control == CONTROL_NEVER_TREATED ? "never_treated" : "not_yet_treated",
            .base_period = opt.base == BASE_VARYING ? "varying" : "universal",
            .anticipation = opt.anticipation, .bootstrap = opt.bootstrap, .n_units = panel.n, .seed = opt.seed,
            .alpha = opt.alpha, .memorisation_sign = stats_memorisation_sign(stats ? metric : outcome),
            .cohort_rule = stats ? (paper_rule ? "paper" : "first-after") : "csv", .missing_checkpoints = stats ? sp.missing : "",
        };
        if ((rc = store_effects_write(effects, &res, &panel, &at, &err))) goto fail;
    }
    if (!quiet) {
        printf("units: %lld in, %lld used (dropped: %lld with missing periods, %lld treated at or before the first period(s), %lld outside the cohort window; %lld treated after the last period counted as never treated)\n",
               (long long)rep.units_in, (long long)panel.n, (long long)rep.dropped_missing, (long long)rep.dropped_early,
               (long long)rep.dropped_window, (long long)rep.recoded_late);
        if (rep.coerced_last_cohort)
            printf("no never-treated units: cohort %lld is the comparison group and periods from it (minus anticipation) on are dropped (R did)\n",
                   (long long)rep.coerced_cohort);
        if (stats && sp.n_missing) printf("incomplete checkpoints left out (%lld): %s\n", (long long)sp.n_missing, sp.missing);
        printf("periods: %lld, cohorts: %lld, cells: %lld (%lld NA), critical value: %.6f\n", (long long)panel.T,
               (long long)panel.C, (long long)res.K, (long long)res.failed_cells, res.crit);
        if (!isnan(res.wald_stat)) printf("pre-test: W = %.6g, df = %lld, p = %.6g\n", res.wald_stat, (long long)res.wald_df, res.wald_pvalue);
        else printf("pre-test: not computed (%s)\n", res.wald_note ? res.wald_note : "?");
    }
    status = EXIT_OK;
    goto out;
fail:
    fprintf(stderr, "memprof estimate: %s\n", err.message);
out:
    estimate_result_free(&res);
    estimate_panel_free(&panel);
    if (csv) { free(y); free(coh); free(times); }
    stats_panel_free(&sp);
    free(steps);
    return status;
}
