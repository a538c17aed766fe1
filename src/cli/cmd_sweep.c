// cmd_sweep.c — `memprof sweep CONFIG [key=value ...] [--crash-limit N] [--progress-interval S]`
// under mpirun/srun (or alone). Exit codes (docs/cli.md): 0 complete, 1 error, 2 usage,
// 3 drained by a signal (run the same command again to resume), 4 finished with failed tasks.
#include <getopt.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "memprof/config.h"
#include "memprof/sweep_run.h"

enum { EXIT_DRAINED = 3, EXIT_FAILED_TASKS = 4 };

static void sweep_usage(FILE *out) {
    fprintf(out,
            "usage: mpirun -np R memprof sweep CONFIG [key=value ...] [--crash-limit N] [--progress-interval S] [--prefetch-lead S] [--stage-dir DIR] [--no-stripe] [--share-weights]\n"
            "\n"
            "Scores every checkpoint x instance of the configuration (docs/configuration.md) into stats.h5.\n"
            "Rank 0 coordinates; ranks 1..R-1 compute (one per GPU). Rerunning the same command resumes.\n"
            "USR2 or TERM drains: in-flight tasks stop, the journal and file are closed, exit status 3.\n"
            "\n"
            "  --crash-limit N        quarantine a shard after N runs died with it in flight (3)\n"
            "  --progress-interval S  seconds between progress reports (0.5 on a terminal, 10 otherwise)\n"
            "  --prefetch-lead S      load the next checkpoint in the background when about S seconds (or 1.5\n"
            "                         load times) of work are left on the current one (off: 0)\n"
            "  --stage-dir DIR        share checkpoints between workers of a node: a worker gets a checkpoint a\n"
            "                         node peer has loaded over MPI and stages it in DIR (node-local, e.g. /dev/shm);\n"
            "                         a checkpoint no peer holds is read in stripes by all workers of the node\n"
            "  --no-stripe            with --stage-dir: a worker reads a checkpoint no peer holds alone\n"
            "  --share-weights        share checkpoints between workers of a node in memory: the peer sends its\n"
            "                         loaded weights (MPI host buffers; NCCL for GPU buffers when libnccl.so.2\n"
            "                         loads); with --stage-dir too, files are the fallback\n"
            "\n"
            "Exit status: 0 complete; 1 error; 2 usage; 3 drained (run again to resume);\n"
            "4 finished, but some tasks failed (see memprof status).\n");
}

static void print_progress(void *ctx, const sweep_progress *p, int final) {
    int tty = *(int *)ctx;
    char eta[32] = "?";
    if (p->eta_s >= 0) snprintf(eta, sizeof eta, "%.0fs", p->eta_s);
    fprintf(stderr, "%ssweep: %lld/%lld cells (%.1f%%), %lld failed, %lld tasks, %lld/%lld checkpoints, %.0f tokens/s, ETA %s%s",
            tty ? "\r" : "", (long long)p->cells_done, (long long)p->cells_total,
            p->cells_total ? 100.0 * (double)p->cells_done / (double)p->cells_total : 0.0, (long long)p->cells_failed,
            (long long)p->tasks_done, (long long)p->checkpoints_done, (long long)p->checkpoints_total, p->tokens_per_s, eta,
            tty && !final ? "   " : "\n");
}

int command_sweep(int argc, char **argv) {
    int crash_limit = 3;
    double interval = -1;
    const char *stage_dir = NULL;
    bool share_weights = false;
    double prefetch_lead = 0;
    int no_stripe = 0;
    static const struct option options[] = {{"crash-limit", required_argument, NULL, 'k'},
                                            {"progress-interval", required_argument, NULL, 'p'},
                                            {"stage-dir", required_argument, NULL, 's'},
                                            {"share-weights", no_argument, NULL, 'w'},
                                            {"prefetch-lead", required_argument, NULL, 'f'},
                                            {"no-stripe", no_argument, NULL, 'S'},
                                            {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int option;
    optind = 1;
    while ((option = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (option) {
        case 'k': crash_limit = atoi(optarg); if (crash_limit < 1) { fprintf(stderr, "memprof sweep: --crash-limit must be >= 1\n"); return EXIT_USAGE; } break;
        case 'p': interval = atof(optarg); break;
        case 's': stage_dir = optarg; break;
        case 'w': share_weights = true; break;
        case 'f': prefetch_lead = atof(optarg); if (!(prefetch_lead >= 0)) { fprintf(stderr, "memprof sweep: --prefetch-lead must be >= 0\n"); return EXIT_USAGE; } break;
        case 'S': no_stripe = 1; break;
        case 'h': sweep_usage(stdout); return EXIT_OK;
        default: sweep_usage(stderr); return EXIT_USAGE;
        }
    }
    if (optind >= argc) { sweep_usage(stderr); return EXIT_USAGE; }
    const char *path = argv[optind];
    for (int k = optind + 1; k < argc; k++)
        if (!strchr(argv[k], '=')) { fprintf(stderr, "memprof sweep: '%s' is not a key=value override\n", argv[k]); return EXIT_USAGE; }

    MPI_Init(&argc, &argv);
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    sweep_config config = {0};
    memprof_error err = {0};
    char *text = NULL;
    int rc = sweep_config_load(&config, path, argc - optind - 1, (const char *const *)argv + optind + 1, &err);
    if (!rc) rc = config_render(&text, &config, &sweep_config_schema, &err);
    int status = EXIT_OK;
    if (!rc) {
        char hash[32];
        snprintf(hash, sizeof hash, "xxh64:%016llx", (unsigned long long)config_hash(text));
        int tty = isatty(STDERR_FILENO);
        sweep_options opt = {.config_text = text, .config_hash = hash, .crash_limit = crash_limit, .stage_dir = stage_dir, .prefetch_lead_s = prefetch_lead,
                             .no_stripe = no_stripe, .share_weights = share_weights,
                             .progress_interval_s = interval >= 0 ? interval : tty ? 0.5 : 10.0,
                             .progress = rank == 0 ? print_progress : NULL, .progress_ctx = &tty};
        sweep_outcome_status outcome;
        rc = sweep_run(&outcome, &config, &opt, &err);
        if (!rc) status = outcome == SWEEP_DRAINED ? EXIT_DRAINED : outcome == SWEEP_FAILURES ? EXIT_FAILED_TASKS : EXIT_OK;
        if (!rc && rank == 0 && outcome == SWEEP_DRAINED)
            fprintf(stderr, "memprof sweep: drained; run the same command again to resume\n");
        if (!rc && rank == 0 && outcome == SWEEP_FAILURES)
            fprintf(stderr, "memprof sweep: finished, but some tasks failed: memprof status %s --journal %s\n", config.output, config.journal);
    }
    if (rc) {
        if (rank == 0) fprintf(stderr, "memprof sweep: %s\n", err.message);
        status = EXIT_FAILURE_INPUT;
    }
    free(text);
    sweep_config_free(&config);
    MPI_Finalize();
    return status;
}
