// worker.h — a rank that scores tasks: loads the task's checkpoint (keeping it for the next
// task of the same checkpoint), scores the panel rows [lo, hi), writes its slice of /stats.
#ifndef MEMPROF_SWEEP_WORKER_H
#define MEMPROF_SWEEP_WORKER_H

#include <mpi.h>
#include <pthread.h>

#include "memprof/backend.h"
#include "memprof/config.h"
#include "memprof/panel.h"
#include "memprof/stats_parallel.h"
#include "sweep/protocol.h"
#include "sweep/stripe.h"
#include "sweep/token_file.h"
#include "sweep/weight_transport.h"

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
    MPI_Comm comm;              // MPI_COMM_NULL with one rank
    const char *stage_root;     // node-local folder for checkpoints received from peers; NULL = no sharing
    char loaded_dir[4096];      // folder the loaded checkpoint was opened from
    int loaded_staged;          // loaded_dir is a staged copy (deleted on unload)
    int64_t shares_sent, shares_received;
    // Striped reads (stripe.h): with a stage root, a checkpoint read from its folder is split
    // among the node's other workers, whose I/O threads copy their stripes into our staged copy.
    stripe_server stripe;       // serves the node peers' stripe requests
    int stripe_enabled;         // --no-stripe clears it
    int *node_peers;            // the other worker ranks of this node
    int n_node_peers;
    int64_t striped_reads, stripe_ranges_recopied;
    // --share-weights: checkpoints travel between node peers in memory (weight_memory.h); the
    // loaded checkpoint may then have no folder and w->ckpt is NULL, so what the worker needs
    // of it is kept here.
    int share_memory;
    nccl_link *nccl;            // the node's NCCL communicator (device buffers), or NULL
    model_config loaded_config;
    char loaded_checksum[24];   // "xxh64:<hex>" of the loaded checkpoint
    // Prefetch: the checkpoint the coordinator hinted at, loaded by a thread while this one computes.
    struct {
        int active;                 // a thread was started and not yet joined
        int32_t checkpoint;
        pthread_t thread;
        const backend *compute;
        const backend_options *options;
        char dir[4096];             // the folder opened: original, or the striped staged copy
        char original[4096];        // the checkpoint's folder
        stripe_reading *staging;    // with a stage root: the striped read, until every stripe is in
        int thread_started;         // 0 while staging, 1 thread running/joinable, 2 ran inline
        int staged;                 // dir is a staged copy (removed when dropped or unloaded)
        int stripe_rc;
        stripe_stats stripe;
        double t0;
        checkpoint *ckpt;
        void *model;
        int rc;
        memprof_error err;
        double seconds;
    } prefetch;
    int64_t prefetches_used, prefetches_wasted;
    int prefetch_enabled;
    int per_token;              // also write per-token records (token_file.h)
    token_file_writer token_out;
    token_statistics *token_stats;  // [batch], each T − 1 long
    int sync_fd;                // stats.h5 opened read-only: fdatasync makes a task's rows durable
} sweep_worker;

// device: the GPU this worker uses on its node (sweep_worker_device); ignored by the CPU backend.
int sweep_worker_init(sweep_worker *out, const sweep_config *config, const panel *p, stats_writer *writer,
                      MPI_Comm comm, const char *stage_root, int share_memory, int device, memprof_error *err);

// The rank layout's device rule: a worker's index among the workers of its node (rank 0, the
// coordinator, holds no GPU), from each rank's node number.
int sweep_worker_device(const int *node_of_rank, int rank);
void sweep_worker_free(sweep_worker *w);

// Records the other workers of this rank's node (ranks ≥ 1 on node_of_rank[rank]): the peers a
// striped read asks. 0 or MEMPROF_ERR_NOMEM.
int sweep_worker_set_node_peers(sweep_worker *w, const int *node_of_rank, int size, int rank, memprof_error *err);

// per_token: opens this rank's side file of this run in dir (before the first task).
int sweep_worker_open_tokens(sweep_worker *w, const char *dir, int64_t run, int rank, memprof_error *err);

// Computes one task; the outcome (and any reason) goes into *out, never an early exit.
void sweep_worker_run_task(sweep_worker *w, const sweep_task_message *task, sweep_result *out);

// Answers peers' TAG_WEIGHTS_REQUESTs waiting now and runs the stripe server's poll point
// (between batches and while idle).
void sweep_worker_serve_peers(sweep_worker *w);

// Ranks ≥ 1: ask rank 0 for tasks until TAG_STOP, then serve peers until all ranks stopped.
void sweep_worker_loop(sweep_worker *w, MPI_Comm comm);

#endif
