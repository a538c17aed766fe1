// worker.h — a rank that scores tasks: loads the task's checkpoint (keeping it for the next
// task of the same checkpoint), scores the panel rows [lo, hi), writes its slice of /stats.
#ifndef MEMPROF_SWEEP_WORKER_H
#define MEMPROF_SWEEP_WORKER_H

#include <mpi.h>

#include "memprof/backend.h"
#include "memprof/config.h"
#include "memprof/panel.h"
#include "memprof/stats_parallel.h"
#include "sweep/protocol.h"

typedef struct sweep_worker {
    const sweep_config *config;
    const panel *panel;
    stats_writer *writer;
    const backend *compute;
    backend_options options;
    int64_t batch;              // sequences per backend call
    int32_t loaded;             // checkpoint index held, −1 none
    checkpoint *ckpt;
    void *model;
    int delay_ms;               // MEMPROF_TEST_TASK_DELAY_MS: sleep mid-write (fault-injection tests)
    int32_t *tokens;            // [batch, L]
    token_sequence *sequences;  // [batch]
    sequence_statistics *stats; // [batch]
    double *values[4];          // [shard] per metric
    int64_t capacity;           // rows values[] can hold
} sweep_worker;

int sweep_worker_init(sweep_worker *out, const sweep_config *config, const panel *p, stats_writer *writer,
                      memprof_error *err);
void sweep_worker_free(sweep_worker *w);

// Computes one task; the outcome (and any reason) goes into *out, never an early exit.
void sweep_worker_run_task(sweep_worker *w, const sweep_task_message *task, sweep_result *out);

// Ranks ≥ 1: ask rank 0 for tasks until TAG_STOP.
void sweep_worker_loop(sweep_worker *w, MPI_Comm comm);

#endif
