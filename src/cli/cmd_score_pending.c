// cmd_score_pending.c — placeholder so this branch links before `memprof score` lands.
// Weak: the real command_score (src/cli/cmd_score.c) replaces it; delete this file then.
#include <stdio.h>

#include "commands.h"

__attribute__((weak)) int command_score(int argc, char **argv) {
    fprintf(stderr, "memprof score: not built in this branch\n");
    return EXIT_FAILURE_INPUT;
}
