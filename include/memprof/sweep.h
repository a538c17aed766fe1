// sweep.h — the distributed sweep: grid checkpoints × instances, scheduled in tasks.
//
// A cell is (checkpoint c, instance i), C × N of them. A task is a run of cells [lo, hi) of one
// checkpoint inside one shard (shard s = instances [s·shard, (s+1)·shard)); tasks are a shard
// long until the tail, where they shrink so every worker keeps busy (guided self-scheduling).
//
// The scheduler is a pure state machine with no MPI and no clock of its own: the coordinator
// of `memprof sweep` (src/sweep/coordinator.c) and the scheduling simulator
// (src/sweep/simulate.c) both drive this same code, one with MPI messages and wall time, the
// other with virtual workers and a virtual clock.
#ifndef MEMPROF_SWEEP_H
#define MEMPROF_SWEEP_H

#include <stdbool.h>
#include <stdint.h>

#include "memprof/error.h"

typedef enum cell_state { CELL_PENDING = 0, CELL_RUNNING = 1, CELL_DONE = 2, CELL_FAILED = 3 } cell_state;

typedef struct sweep_task {
    int32_t checkpoint;
    int32_t prefetch;  // a checkpoint this worker's node should start reading now, or −1
    int64_t lo, hi;    // instances [lo, hi)
} sweep_task;

typedef struct sweep_scheduler {
    int64_t n_checkpoints, n_instances, shard_size, n_shards;
    int64_t min_chunk;          // the smallest task the tail splits down to
    uint8_t *cell;              // [C·N] cell_state
    int64_t *shard_cursor;      // [C] first shard that may still hold pending cells
    int64_t *pending;           // [C] pending cells
    int32_t *holders;           // [C] workers that hold (or are loading) checkpoint c
    int32_t *reserved_node;     // [C] node that was told to prefetch c, or −1
    int64_t total_pending, total_running;
    int n_workers, n_nodes;
    int *worker_node;           // [W]
    int32_t *worker_checkpoint; // [W] checkpoint held, −1 none
    int32_t *node_prefetch;     // [nodes] checkpoint being prefetched, −1 none
    int32_t *prefetch_worker;   // [nodes] the worker that was told to prefetch it
    int32_t *node_holders;      // [nodes·C] workers of node n holding c
    double cell_seconds;        // running mean compute time per cell (0 = unknown)
    double load_seconds;        // running mean checkpoint load time (0 = unknown)
    bool prefetch_hints;        // issue prefetch hints
    bool prefetch_private;      // a prefetch is the hinted worker's own (real CPU workers), not the node's
    double prefetch_lead_s;     // hint when the node's work left on its checkpoint ≤ max(this, 1.5 loads)
} sweep_scheduler;

// worker_node[w] in [0, n_nodes) for each of n_workers workers (workers are 0-based here).
int sweep_scheduler_init(sweep_scheduler *out, int64_t n_checkpoints, int64_t n_instances, int64_t shard_size,
                         int n_workers, const int *worker_node, memprof_error *err);
void sweep_scheduler_free(sweep_scheduler *s);

// Sets cells [lo, hi) of checkpoint c to state (resume: DONE, or FAILED for quarantined).
void sweep_scheduler_mark(sweep_scheduler *s, int32_t c, int64_t lo, int64_t hi, cell_state state);

// The next task for worker w: 1 with *out filled, 0 when nothing is left that w should take.
int sweep_scheduler_next(sweep_scheduler *s, int w, sweep_task *out);

// Worker w finished task t: ok → cells DONE, else FAILED. compute_s / load_s (≥ 0) feed the
// estimates the tail rules use; load_s = 0 when the checkpoint was already loaded.
void sweep_scheduler_complete(sweep_scheduler *s, int w, const sweep_task *t, bool ok, double compute_s, double load_s);

// Worker w no longer holds a checkpoint (its load failed, or it was told to drop it).
void sweep_scheduler_release(sweep_scheduler *s, int w);

// Marks every pending cell of checkpoint c FAILED (an unreadable checkpoint); calls
// emit(ctx, c, lo, hi) for each run of cells so marked, runs never crossing a shard.
void sweep_scheduler_fail_checkpoint(sweep_scheduler *s, int32_t c,
                                     void (*emit)(void *ctx, int32_t c, int64_t lo, int64_t hi), void *ctx);

// True when every cell of shard s of checkpoint c is DONE.
bool sweep_scheduler_shard_done(const sweep_scheduler *s, int32_t c, int64_t shard);

// What the caller does with an answer to a waiting worker (MPI messages in the coordinator,
// virtual-clock events in the simulator).
typedef struct sweep_dispatch_ops {
    void (*assign)(void *ctx, int w, const sweep_task *task);
    void (*stop)(void *ctx, int w);
    void *ctx;
} sweep_dispatch_ops;

// Answers waiting workers (parked[w] = 1), lowest first: a task, or stop once nothing is
// pending or when draining; a worker with neither stays parked (work remains, but only for
// the workers holding its checkpoint, who will come back for it). Returns how many stay parked.
int sweep_scheduler_serve(sweep_scheduler *s, uint8_t *parked, bool draining, const sweep_dispatch_ops *ops);

// Cells per state, over the whole grid.
void sweep_scheduler_counts(const sweep_scheduler *s, int64_t counts[4]);

#endif
