// effects_input.h — helpers shared by `memprof plot` and `memprof compare`.
#ifndef MEMPROF_CLI_EFFECTS_INPUT_H
#define MEMPROF_CLI_EFFECTS_INPUT_H

#include "memprof/effects.h"

// mkdir -p; 0 when path is (now) a folder.
int cli_make_dirs(const char *path);
// Reads n effects.h5 files into *out [n] (free each with effects_free, then the array); on a
// bad file prints "memprof <cmd>: <file>: <what>" and returns −1 with nothing to free.
int cli_read_effects(effects_file **out, const char *const *paths, int n, const char *cmd);

#endif
