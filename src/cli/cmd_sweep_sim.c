// cmd_sweep_sim.c — `memprof sweep-sim [options]`: the scheduling simulator (src/sweep/simulate.c)
// on a virtual cluster; `--pythia-12b` runs the pinned scenario of docs/sweep.md (64, 256 and
// 1024 GPUs at 1 and 0.25 GB/s per GPU). Prints one line per configuration.
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "sweep/simulate.h"
#include "memprof/clock.h"

static void sim_usage(FILE *out) {
    fprintf(out,
            "usage: memprof sweep-sim [--pythia-12b] [options]\n"
            "  --checkpoints N (144)  --instances N (16300)  --shard-size N (64)\n"
            "  --tokens-per-instance X (2048)  --tokens-per-s X (26500, per GPU)\n"
            "  --gpus N (256)  --gpus-per-node N (8)\n"
            "  --checkpoint-gb X (24)  --read-gbps X (1, per GPU)  --intra-node-gbps X (100)\n"
            "  --coordinator-us X (50: coordinator time per task message)\n"
            "  --no-stripe (one rank reads a checkpoint alone)  --no-prefetch\n"
            "  --batch-size N (32: sequences per backend call; workers answer node peers between calls)\n"
            "  --pythia-12b  the pinned scenario: 64/256/1024 GPUs x 1 and 0.25 GB/s\n");
}

static void print_result(const sim_params *p, const sim_result *r, double wall_s) {
    printf("gpus=%d read=%.2fGB/s stripe=%d prefetch=%d shard=%lld poll=%.2fs: makespan %.1f s (ideal %.1f s), efficiency %.2f%%, "
           "idle %.2f%%, %lld tasks, %lld loads, %.0f scheduler calls/s simulated\n",
           p->gpus, p->read_gbps, p->stripe_reads, p->prefetch, (long long)p->shard_size, p->poll_s, r->makespan_s, r->ideal_makespan_s,
           100 * r->efficiency, 100 * r->idle_fraction, (long long)r->tasks, (long long)r->loads,
           wall_s > 0 ? (double)r->messages / wall_s : 0.0);
}

int command_sweep_sim(int argc, char **argv) {
    sim_params p = {.checkpoints = 144, .instances = 16300, .shard_size = 64, .tokens_per_instance = 2048,
                    .tokens_per_s = 26500, .gpus = 256, .gpus_per_node = 8, .checkpoint_gb = 24, .read_gbps = 1,
                    .intra_node_gbps = 100, .coordinator_s = 50e-6, .stripe_reads = true, .prefetch = true};
    int pythia = 0;
    long long batch = 32;  // sequences per backend call: a worker's poll points come after each
    static const struct option options[] = {
        {"checkpoints", required_argument, NULL, 'C'}, {"instances", required_argument, NULL, 'N'},
        {"shard-size", required_argument, NULL, 's'}, {"tokens-per-instance", required_argument, NULL, 'T'},
        {"tokens-per-s", required_argument, NULL, 'R'}, {"gpus", required_argument, NULL, 'g'},
        {"gpus-per-node", required_argument, NULL, 'n'}, {"checkpoint-gb", required_argument, NULL, 'B'},
        {"read-gbps", required_argument, NULL, 'r'}, {"intra-node-gbps", required_argument, NULL, 'i'},
        {"coordinator-us", required_argument, NULL, 'c'}, {"no-stripe", no_argument, NULL, 'S'},
        {"no-prefetch", no_argument, NULL, 'P'}, {"pythia-12b", no_argument, NULL, 'p'},
        {"batch-size", required_argument, NULL, 'b'},
        {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int option;
    optind = 1;
    while ((option = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (option) {
        case 'C': p.checkpoints = atoll(optarg); break;
        case 'N': p.instances = atoll(optarg); break;
        case 's': p.shard_size = atoll(optarg); break;
        case 'T': p.tokens_per_instance = atof(optarg); break;
        case 'R': p.tokens_per_s = atof(optarg); break;
        case 'g': p.gpus = atoi(optarg); break;
        case 'n': p.gpus_per_node = atoi(optarg); break;
        case 'B': p.checkpoint_gb = atof(optarg); break;
        case 'r': p.read_gbps = atof(optarg); break;
        case 'i': p.intra_node_gbps = atof(optarg); break;
        case 'c': p.coordinator_s = atof(optarg) * 1e-6; break;
        case 'S': p.stripe_reads = false; break;
        case 'P': p.prefetch = false; break;
        case 'b': batch = atoll(optarg); break;
        case 'p': pythia = 1; break;
        case 'h': sim_usage(stdout); return EXIT_OK;
        default: sim_usage(stderr); return EXIT_USAGE;
        }
    }
    if (optind < argc || p.checkpoints < 1 || p.instances < 1 || p.shard_size < 1 || p.gpus < 1 || p.gpus_per_node < 1 ||
        batch < 1 || !(p.tokens_per_s > 0) || !(p.read_gbps > 0) || !(p.intra_node_gbps > 0) || !(p.tokens_per_instance > 0)) {
        fprintf(stderr, "memprof sweep-sim: every count and rate must be positive\n");
        sim_usage(stderr);
        return EXIT_USAGE;
    }
    p.poll_s = (double)batch * p.tokens_per_instance / p.tokens_per_s;
    static const int pythia_gpus[] = {64, 256, 1024};
    static const double pythia_bw[] = {1.0, 0.25};
    int runs = pythia ? 6 : 1;
    for (int k = 0; k < runs; k++) {
        if (pythia) { p.gpus = pythia_gpus[k % 3]; p.read_gbps = pythia_bw[k / 3]; }
        sim_result r;
        memprof_error err = {0};
        double t0 = clock_seconds();
        if (sim_run(&r, &p, &err)) {
            fprintf(stderr, "memprof sweep-sim: %s\n", err.message);
            return EXIT_FAILURE_INPUT;
        }
        print_result(&p, &r, clock_seconds() - t0);
    }
    return EXIT_OK;
}
