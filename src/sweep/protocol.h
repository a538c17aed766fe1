// protocol.h — the messages between the coordinator (rank 0) and the workers (ranks ≥ 1).
// Two-sided MPI point-to-point, raw bytes (every rank runs the same binary):
//   worker → 0  TAG_RESULT  sweep_result  (outcome READY on start; every result asks for more)
//   0 → worker  TAG_TASK    sweep_task_message
//   0 → worker  TAG_STOP    empty: no more work; serve peers until every rank stopped
//                           (MPI_Ibarrier), then the collective close
//   worker → peer TAG_WEIGHTS_REQUEST i32 checkpoint: "send me the folder you loaded"
//   peer → worker TAG_WEIGHTS_REPLY   weights_offer, then (if ok) file entries and chunks as
//                                     TAG_WEIGHTS_DATA (src/sweep/weight_share.c)
//   worker → peer TAG_STRIPE_REQUEST  "copy these byte ranges of folder F into my staged copy S"
//                                     (stripe_request_header + ranges, src/sweep/stripe.c)
//   peer → worker TAG_STRIPE_DONE     status + one xxh64 per range, once the peer's I/O thread
//                                     copied them (both sent with MPI_Isend)
//   worker ↔ peer TAG_WEIGHTS_MEMORY_* the same in memory: the loaded model's weight buffer,
//                                     not the folder's files (src/sweep/weight_memory.h)
#ifndef MEMPROF_SWEEP_PROTOCOL_H
#define MEMPROF_SWEEP_PROTOCOL_H

#include <stdint.h>

enum { TAG_TASK = 11, TAG_RESULT = 12, TAG_STOP = 13, TAG_WEIGHTS_REQUEST = 21, TAG_WEIGHTS_REPLY = 22, TAG_WEIGHTS_DATA = 23,
       TAG_STRIPE_REQUEST = 31, TAG_STRIPE_DONE = 32 };
enum { TAG_WEIGHTS_MEMORY_REQUEST = 41, TAG_WEIGHTS_MEMORY_OFFER = 42, TAG_WEIGHTS_MEMORY_READY = 43, TAG_WEIGHTS_MEMORY_DATA = 44 };

typedef enum sweep_outcome {
    OUTCOME_READY = 0,              // no task attached: the worker's first request
    OUTCOME_OK = 1,                 // cells computed and written
    OUTCOME_TASK_FAILED = 2,        // these cells could not be computed (reason)
    OUTCOME_CHECKPOINT_FAILED = 3,  // the checkpoint cannot be loaded: fail all its cells
    OUTCOME_ABANDONED = 4,          // drained before finishing: cells go back to pending
} sweep_outcome;

typedef struct sweep_task_message {
    int32_t checkpoint, prefetch;
    int64_t lo, hi;
    int32_t source;  // a worker rank of the same node that has this checkpoint loaded, or −1
    int32_t pad;
} sweep_task_message;

typedef struct sweep_result {
    int32_t outcome;     // sweep_outcome
    int32_t checkpoint;
    int64_t lo, hi;
    uint64_t checksum;   // xxh64 of the values written (metric-major)
    double compute_s, load_s;
    char checkpoint_checksum[24];  // "xxh64:" + hex, when the worker loaded the checkpoint
    char reason[1024];
} sweep_result;

#endif
