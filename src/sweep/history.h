// history.h — a journal replayed into per-cell states (see history.c). Shapes: C×N cells,
// C×S shards.
#ifndef MEMPROF_SWEEP_HISTORY_H
#define MEMPROF_SWEEP_HISTORY_H

#include <stdint.h>

#include "memprof/journal.h"

enum { HISTORY_NONE = 0, HISTORY_DONE = 1, HISTORY_FAILED = 2, HISTORY_QUARANTINED = 3 };

typedef struct sweep_history {
    char *header;                 // the HEADER text
    int64_t n_checkpoints, n_instances, shard_size, n_shards;
    uint8_t *cell;                // [C·N] HISTORY_*
    uint8_t *done_count;          // [C·N] DONE records covering the cell (saturates at 255)
    uint8_t *outstanding;         // scratch: dispatched, not reported, in the current run
    int32_t *crashes;             // [C·S] runs killed while the shard had cells in flight
    int64_t count[4];             // cells per HISTORY_* state
    int64_t runs;                 // RUN records
    int last_end;                 // the last run's END status, −1 when it did not end (killed)
    int64_t in_flight_cells;      // cells the last run dispatched and never reported
    int64_t recomputed_cells;     // cells with more than one DONE record (must stay 0)
    int64_t done_records, failed_records;
    char first_failure[512];      // the first FAILED record, as text (the root cause)
} sweep_history;

int sweep_history_build(sweep_history *out, const journal_contents *journal, const char *path, memprof_error *err);
void sweep_history_free(sweep_history *h);

#endif
