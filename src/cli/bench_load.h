// bench_load.h — `memprof bench --load-checkpoint DIR`: checkpoint load throughput.
#ifndef MEMPROF_CLI_BENCH_LOAD_H
#define MEMPROF_CLI_BENCH_LOAD_H

#include "memprof/backend.h"

// Loads the checkpoint folder with the backend `repeats` times and reads its weight files
// plainly as many times; prints the medians as GB/s. cold: before each measurement, asks
// the kernel to drop the files' cached pages (posix_fadvise DONTNEED). Returns the exit status.
int bench_load(const char *directory, const backend *compute, const backend_options *settings, int repeats, int cold);

#endif
