// sweep_run.h — `memprof sweep`: one collective call on MPI_COMM_WORLD that creates or resumes
// stats.h5 and its journal, runs the coordinator on rank 0 and workers on ranks ≥ 1 (one rank
// alone runs both, in turn), drains on USR2/TERM and closes the file. See docs/sweep.md.
#ifndef MEMPROF_SWEEP_RUN_H
#define MEMPROF_SWEEP_RUN_H

#include <stdbool.h>
#include <stdint.h>

#include "memprof/config.h"
#include "memprof/error.h"

typedef enum sweep_outcome_status {
    SWEEP_COMPLETE = 0,   // every cell computed
    SWEEP_DRAINED = 1,    // stopped by a signal; run the same command again to resume
    SWEEP_FAILURES = 2,   // finished, but some tasks failed or were quarantined
} sweep_outcome_status;

typedef struct sweep_progress {
    int64_t cells_total, cells_done, cells_failed, cells_running;
    int64_t tasks_done, checkpoints_done, checkpoints_total;
    int workers;
    double elapsed_s, tokens_per_s, eta_s;  // eta_s < 0: unknown
} sweep_progress;

typedef struct sweep_options {
    const char *config_text;   // the resolved configuration (config_render)
    const char *config_hash;   // "xxh64:..."
    int crash_limit;           // quarantine a shard after this many crashed runs (≥ 1)
    double prefetch_lead_s;    // > 0: workers prefetch hinted checkpoints; hint this many seconds ahead (or 1.5 loads)
    const char *stage_dir;     // node-local folder for checkpoints received from same-node peers or read in stripes
                               // with them; NULL = each worker reads its own
    int no_stripe;             // with stage_dir: read a checkpoint alone instead of in stripes with the node's workers
    bool share_weights;        // same-node peers send checkpoints in memory (MPI host buffers, NCCL device buffers)
    double progress_interval_s;
    // Called on rank 0 every progress_interval_s and once at the end (final = 1).
    void (*progress)(void *ctx, const sweep_progress *p, int final);
    void *progress_ctx;
} sweep_options;

// Collective. *out_status is the same on every rank. Errors (bad input, refused resume) are
// reported on every rank with the same message.
int sweep_run(sweep_outcome_status *out_status, const sweep_config *config, const sweep_options *options,
              memprof_error *err);

#endif
