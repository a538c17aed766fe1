// main.c — `memprof <command> [options]`: dispatch to a subcommand.
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "memprof/version.h"

static const command commands[] = {
    {"score", "score token sequences with a checkpoint: per-sequence or per-token statistics", command_score},
    {"config", "check a sweep configuration (YAML + key=value overrides) and print it resolved", command_config},
    {"bench", "measure scoring throughput on a Pythia-shaped model with random weights", command_bench},
    {"tokenize", "JSON lines with \"text\" on stdin -> {\"ids\": [...]} lines (GPT-NeoX-20B tokenizer)", command_tokenize},
    {"panel", "build panel.h5: the paper's Pile sample + validation windows (or --synthetic)", command_panel},
    {"estimate", "Callaway-Sant'Anna ATT(g,t), bootstrap and aggregations from stats.h5 or a CSV panel", command_estimate},
    {"simulate", "a panel with a planted ATT(g,t) surface (stats.h5 and/or CSV) for tests and demos", command_simulate},
    {"plot", "figures from effects.h5: profile heatmap, persistent, instantaneous, residual memorisation", command_plot},
    {"compare", "correlations of ATT(g,t) profiles between effects.h5 files (model sizes)", command_compare},
    {"sweep", "score checkpoints x panel instances into stats.h5 under MPI; resumable (mpirun/srun)", command_sweep},
    {"status", "a sweep's progress, failures and what a resume will do, from its journal", command_status},
    {"sweep-sim", "the sweep's scheduler on a virtual cluster: makespan and idle fraction (--pythia-12b)", command_sweep_sim},
};

static void print_usage(FILE *out) {
    fprintf(out, "usage: memprof <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n`memprof <command> --help` describes a command's options.\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        print_usage(stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        print_usage(stdout);
        return EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("memprof %s\n", MEMPROF_VERSION);
        return EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "memprof: unknown command '%s' (see memprof --help)\n", argv[1]);
    return EXIT_USAGE;
}
