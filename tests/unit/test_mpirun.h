// test_mpirun.h — for unit tests that are MPI programs: run without arguments (as
// tests/run-tests.sh does), the test starts itself under `mpirun -np RANKS` with "--ranked";
// every rank then prints its own PASS/FAIL lines.
#ifndef MEMPROF_TEST_MPIRUN_H
#define MEMPROF_TEST_MPIRUN_H

#include <stdio.h>
#include <stdlib.h>

#include "test.h"

// Returns the number of failures to report (0 when mpirun is missing: a SKIP line instead).
static int test_run_under_mpirun(const char *label, const char *self, int ranks) {
    if (system("command -v mpirun >/dev/null 2>&1") != 0) { SKIP(label, "mpirun not installed"); return 0; }
    char cmd[4400];
    // Under `make sanitize`: Open MPI keeps per-process allocations to exit; the suppressions
    // recognise them with full unwinding (memprof's own leaks still fail).
    snprintf(cmd, sizeof cmd,
             "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 "
             "ASAN_OPTIONS=${ASAN_OPTIONS:-fast_unwind_on_malloc=0} "
             "LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=tests/cli/lsan-mpi.supp} "
             "timeout 120 mpirun -np %d --oversubscribe %s --ranked", ranks, self);
    int status = system(cmd);
    if (status != 0) { printf("FAIL %s: mpirun exited with status %d\n", label, status); return 1; }
    return 0;
}

#endif
