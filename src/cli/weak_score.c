// weak_score.c — a weak stand-in for `memprof score` so this branch links before the
// score command lands; the real (strong) definition in cmd_score.c replaces it at link time.
// Delete this file once cmd_score.c is on the branch.
#include <stdio.h>

#include "commands.h"

__attribute__((weak)) int command_score(int argc, char **argv) {
    (void)argc; (void)argv;
    fprintf(stderr, "memprof score: not built in this tree\n");
    return EXIT_FAILURE_INPUT;
}
