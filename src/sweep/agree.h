// agree.h — one outcome for a collective step: every rank of comm learns whether any rank
// failed, and the lowest failing rank's message.
#ifndef MEMPROF_SWEEP_AGREE_H
#define MEMPROF_SWEEP_AGREE_H

#include <mpi.h>

#include "memprof/error.h"

// Collective. rc is this rank's status; returns 0 when every rank passed 0, else the first
// failing rank's code with its message copied into err on every rank.
int sweep_agree(int rc, memprof_error *err, MPI_Comm comm);

#endif
