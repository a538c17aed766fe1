// stub_score.c — placeholder so this branch links while `score` lives on another branch.
// The weak definition yields to the real command_score when both are linked; delete this
// file once src/cli/cmd_score.c is merged.
#include <stdio.h>

#include "commands.h"

__attribute__((weak)) int command_score(int argc, char **argv) {
    fprintf(stderr, "memprof score: not built on this branch\n");
    return EXIT_USAGE;
}
