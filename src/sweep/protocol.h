// protocol.h — the messages between the coordinator (rank 0) and the workers (ranks ≥ 1).
// Two-sided MPI point-to-point, raw bytes (every rank runs the same binary):
//   worker → 0  TAG_RESULT  sweep_result  (outcome READY on start; every result asks for more)
//   0 → worker  TAG_TASK    sweep_task_message
//   0 → worker  TAG_STOP    empty: no more work, go to the collective close
#ifndef MEMPROF_SWEEP_PROTOCOL_H
#define MEMPROF_SWEEP_PROTOCOL_H

#include <stdint.h>

enum { TAG_TASK = 11, TAG_RESULT = 12, TAG_STOP = 13 };

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
