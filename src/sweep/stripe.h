// stripe.h — striped node reads: a worker that must read a checkpoint folder from the shared
// file system splits its bytes among the workers of its node; each copies its stripe into the
// requester's staged folder (node-local storage) on an I/O thread while it keeps computing,
// and reports the xxh64 of every range it wrote. The requester re-hashes the ranges, copies
// any range a peer failed itself, and only then opens the folder (docs/sweep.md).
//
// Messages (src/sweep/protocol.h):
//   requester → peer TAG_STRIPE_REQUEST  stripe_request_header + count × stripe_range
//   peer → requester TAG_STRIPE_DONE     stripe_done_header + count × u64 xxh64 (one per range)
// Both travel with MPI_Isend, so two workers that send each other requests or replies never
// block each other; the copy thread makes no MPI call (MPI runs without THREAD_MULTIPLE).
#ifndef MEMPROF_SWEEP_STRIPE_H
#define MEMPROF_SWEEP_STRIPE_H

#include <mpi.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "memprof/error.h"
#include "sweep/folder_files.h"

enum { STRIPE_NAME_BYTES = FOLDER_NAME_BYTES, STRIPE_PATH_BYTES = 4096 };

// Bytes [offset, offset + length) of one file of the folder.
typedef struct stripe_range {
    char name[STRIPE_NAME_BYTES];
    uint64_t offset, length;
} stripe_range;

typedef struct stripe_job stripe_job;
typedef struct stripe_reading stripe_reading;

// Every worker's side: queues peers' stripe requests and runs them, one at a time, on an I/O
// thread; stripe_server_poll is the worker's poll point.
typedef struct stripe_server {
    MPI_Comm comm;
    int rank;
    int ready;                  // stripe_server_init ran
    stripe_job *queue;          // waiting jobs, first runs next
    stripe_job *running;        // on the I/O thread (NULL: thread idle)
    stripe_reading *reading;    // this rank's own striped read waiting for replies (one at a time)
    pthread_t thread;
    volatile int finished;      // set by the thread when `running` is done (read under `lock`)
    pthread_mutex_t lock;
    struct pending_send { MPI_Request request; void *buffer; } *sends;
    int n_sends, cap_sends;
    int fail_rank, fail_mode;   // MEMPROF_TEST_STRIPE_FAIL_RANK / _MODE (fault-injection tests)
    int64_t stripes_served, stripes_failed;
    uint64_t bytes_served;
} stripe_server;

// The fault-injection modes of MEMPROF_TEST_STRIPE_FAIL_RANK=R (or `all`: every rank): rank R
// damages the bytes it writes for others but reports the source's xxh64 (corrupt, the
// default), or reports failure (MEMPROF_TEST_STRIPE_FAIL_MODE=error).
enum { STRIPE_FAIL_CORRUPT = 0, STRIPE_FAIL_ERROR = 1, STRIPE_FAIL_EVERY_RANK = -2 };

void stripe_server_init(stripe_server *s, MPI_Comm comm);
// Poll point: receives stripe requests waiting now (queued), sends the done reply of a finished
// job, starts the next one, completes sends. Never blocks on a peer.
void stripe_server_poll(stripe_server *s);
// True while a job is queued or running, or a reply is not yet delivered.
int stripe_server_busy(const stripe_server *s);
// Waits for the running job (no MPI), drops queued ones, frees everything. Call after every
// requester is done (the sweep: after its MPI_Ibarrier), or any time when no peer waits.
void stripe_server_free(stripe_server *s);

typedef struct stripe_stats {
    int ranks;                 // readers, the requester included
    uint64_t bytes;            // the folder's bytes
    double seconds;            // from the first request to the verified folder
    int ranges_recopied;       // ranges a peer failed or refused, copied by the requester
    uint64_t bytes_recopied;
} stripe_stats;

// One regular file of a folder.
typedef folder_file stripe_file;  // name and size (hash unused)

// Splits the concatenation of the files into `parts` near-equal runs whose boundaries are
// multiples of `align` (the last run ends at the total; trailing runs may be empty); part k's
// pieces of files are ranges[first[k] .. first[k + 1]). Returns the number of ranges
// (≤ n + parts) or < 0 when out of memory; *ranges and *first (parts + 1 entries) are malloc'd.
int stripe_plan(stripe_range **ranges, int **first, const stripe_file *files, int n, int parts, uint64_t align);

// The requester. Stages src_dir's regular files in staging_root/<folder>.striped<N>.to-<rank>
// (out_dir) with peers[0 .. n_peers) each copying a stripe (boundaries aligned to `align`
// bytes; 0 = 1 MiB, or 4 KiB when the folder holds less than 1 MiB per rank) and this rank the
// first. While waiting it calls stripe_server_poll and, when given, serve(ctx). Every range a
// peer failed, refused or wrote wrong is copied again here (log line). On error nothing is left
// staged and out_dir is not to be used.
int stripe_read(char *out_dir, size_t out_size, stripe_server *s, const char *src_dir, const char *staging_root,
                const int *peers, int n_peers, uint64_t align, void (*serve)(void *ctx), void *ctx, stripe_stats *stats,
                memprof_error *err);

// stripe_read in three steps, for a read that proceeds while the caller computes (prefetch):
// start (creates the staged files, sends the requests, queues this rank's stripe; one read at a
// time per rank), ready (a poll point: 1 once every reply and this rank's stripe are in; the
// requester must keep calling it until then, also before it stops), finish (no MPI call, so it
// may run on a thread: verifies, copies failed ranges, fills out_dir; frees the reading).
int stripe_read_start(stripe_reading **out, stripe_server *s, const char *src_dir, const char *staging_root, const int *peers,
                      int n_peers, uint64_t align, memprof_error *err);
int stripe_read_ready(stripe_reading *r);
int stripe_read_finish(stripe_reading *r, char *out_dir, size_t out_size, stripe_stats *stats, memprof_error *err);

#endif
