// commands.h — every subcommand's entry point. Each returns the process exit status
// (see docs/cli.md "Exit codes") and prints its own errors; nothing below cli/ prints.
#ifndef MEMPROF_CLI_COMMANDS_H
#define MEMPROF_CLI_COMMANDS_H

enum {
    EXIT_OK = 0,
    EXIT_FAILURE_INPUT = 1,  // bad input or a failed operation (one-line message on stderr)
    EXIT_USAGE = 2,          // bad command line
};

typedef struct command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);  // argv[0] is the subcommand name
} command;

// One line per subcommand, kept in the order `memprof --help` lists them.
int command_score(int argc, char **argv);
int command_config(int argc, char **argv);
int command_bench(int argc, char **argv);
int command_tokenize(int argc, char **argv);
int command_panel(int argc, char **argv);
int command_estimate(int argc, char **argv);
int command_simulate(int argc, char **argv);
int command_plot(int argc, char **argv);
int command_compare(int argc, char **argv);
int command_sweep(int argc, char **argv);
int command_status(int argc, char **argv);
int command_sweep_sim(int argc, char **argv);

#endif
