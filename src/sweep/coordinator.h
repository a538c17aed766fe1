// coordinator.h — rank 0's loop: hands tasks to workers as they ask (pull), journals every
// outcome before acting on it, marks /done shards, shows progress, drains on a signal.
#ifndef MEMPROF_SWEEP_COORDINATOR_H
#define MEMPROF_SWEEP_COORDINATOR_H

#include <mpi.h>

#include "memprof/journal.h"
#include "memprof/stats_parallel.h"
#include "memprof/sweep.h"
#include "memprof/sweep_run.h"
#include "sweep/worker.h"

typedef struct sweep_coordinator {
    sweep_scheduler scheduler;
    journal *journal;
    stats_writer *writer;
    const sweep_options *options;
    int64_t sequence_length;
    int64_t *checkpoint_settled;   // [C] cells DONE or FAILED
    uint8_t *checksum_recorded;    // [C]
    int64_t tasks_done, cells_done_this_run, cells_at_start, messages;
    double started, last_progress, last_sync;
    int draining;
    int journal_failed;            // a journal write failed: drain, nothing more is durable
    memprof_error journal_error;
    const char *failure_reason;    // while failing a whole checkpoint
    int share_weights;             // name a same-node source in task messages
    int32_t *worker_loaded;        // [W] checkpoint of each worker's last successful task, −1
} sweep_coordinator;

// Multi-rank: workers are ranks 1..size−1 (scheduler worker w = rank w + 1).
void sweep_coordinator_loop(sweep_coordinator *co, MPI_Comm comm);
// One rank: the coordinator runs each task itself with this worker.
void sweep_coordinator_run_local(sweep_coordinator *co, sweep_worker *worker);

#endif
