// history.c — what a journal says about a sweep: the state of every cell, crashes per shard,
// how the last run ended. Used by the resume path of `memprof sweep` and by `memprof status`.
//
// A run is the stretch of records after a RUN record. Cells dispatched in a run that ended
// without an END record (the job was killed) and never reported are "in flight": a resume
// redoes them, and each such run counts one crash against their shards.
#include "sweep/history.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sweep_history_free(sweep_history *h) {
    free(h->header); free(h->cell); free(h->done_count); free(h->crashes); free(h->outstanding);
    memset(h, 0, sizeof *h);
}

static int64_t header_int(const char *text, const char *key) {
    char v[64];
    journal_header_value(v, sizeof v, text, key);
    return v[0] ? strtoll(v, NULL, 10) : -1;
}

// Ends a run: outstanding cells become in-flight (and crash their shards) unless it drained.
static void close_run(sweep_history *h, int ended_cleanly) {
    const int64_t N = h->n_instances;
    h->in_flight_cells = 0;
    for (int64_t c = 0; c < h->n_checkpoints; c++) {
        int64_t counted_shard = -1;
        for (int64_t i = 0; i < N; i++) {
            uint8_t *o = &h->outstanding[c * N + i];
            if (!*o) continue;
            *o = 0;
            if (ended_cleanly) continue;
            h->in_flight_cells++;
            int64_t shard = i / h->shard_size;
            if (shard != counted_shard) { h->crashes[c * h->n_shards + shard]++; counted_shard = shard; }
        }
    }
}

static int in_grid(const sweep_history *h, const journal_record *r) {
    return r->checkpoint >= 0 && r->checkpoint < h->n_checkpoints && r->lo >= 0 && r->lo < r->hi && r->hi <= h->n_instances;
}

int sweep_history_build(sweep_history *h, const journal_contents *j, const char *path, memprof_error *err) {
    memset(h, 0, sizeof *h);
    h->last_end = -1;
    if (j->count == 0 || j->records[0].type != JOURNAL_HEADER || !j->records[0].text)
        return error_set(err, MEMPROF_ERR, "%s: the journal has no header record", path);
    h->header = strdup(j->records[0].text);
    h->n_checkpoints = header_int(h->header, "checkpoints_count");
    h->n_instances = header_int(h->header, "instances");
    h->shard_size = header_int(h->header, "shard_size");
    if (!h->header || h->n_checkpoints < 1 || h->n_instances < 1 || h->shard_size < 1) {
        sweep_history_free(h);
        return error_set(err, MEMPROF_ERR, "%s: the journal header lacks checkpoints_count, instances or shard_size", path);
    }
    const int64_t C = h->n_checkpoints, N = h->n_instances;
    h->n_shards = (N + h->shard_size - 1) / h->shard_size;
    h->cell = calloc((size_t)(C * N), 1);
    h->done_count = calloc((size_t)(C * N), 1);
    h->outstanding = calloc((size_t)(C * N), 1);
    h->crashes = calloc((size_t)(C * h->n_shards), sizeof *h->crashes);
    if (!h->cell || !h->done_count || !h->outstanding || !h->crashes) {
        sweep_history_free(h);
        return error_set(err, MEMPROF_ERR_NOMEM, "out of memory for the journal's %lld cells", (long long)(C * N));
    }
    int in_run = 0;
    for (size_t k = 1; k < j->count; k++) {
        const journal_record *r = &j->records[k];
        switch (r->type) {
        case JOURNAL_RUN:
            if (in_run) close_run(h, 0);
            in_run = 1; h->runs++; h->last_end = -1;
            break;
        case JOURNAL_END:
            close_run(h, 1);
            in_run = 0; h->last_end = r->flag;
            break;
        case JOURNAL_DISPATCH:
        case JOURNAL_DONE:
        case JOURNAL_FAILED:
            if (!in_grid(h, r)) {
                sweep_history_free(h);
                return error_set(err, MEMPROF_ERR, "%s: record %zu names cells outside the grid", path, k + 1);
            }
            for (int64_t i = r->lo; i < r->hi; i++) {
                int64_t at = r->checkpoint * N + i;
                if (r->type == JOURNAL_DISPATCH) { h->outstanding[at] = 1; continue; }
                h->outstanding[at] = 0;
                if (r->type == JOURNAL_DONE) {
                    h->cell[at] = HISTORY_DONE;
                    if (h->done_count[at] < 255) h->done_count[at]++;
                } else if (h->cell[at] != HISTORY_DONE) {
                    h->cell[at] = r->flag ? HISTORY_QUARANTINED : HISTORY_FAILED;
                }
            }
            if (r->type == JOURNAL_DONE) h->done_records++;
            if (r->type == JOURNAL_FAILED) {
                h->failed_records++;
                if (r->text && !h->first_failure[0]) snprintf(h->first_failure, sizeof h->first_failure, "checkpoint %d instances [%lld, %lld): %s",
                                      r->checkpoint, (long long)r->lo, (long long)r->hi, r->text);
            }
            break;
        default: break;
        }
    }
    if (in_run) close_run(h, 0);
    for (int64_t q = 0; q < C * N; q++) {
        h->count[h->cell[q]]++;
        if (h->done_count[q] > 1) h->recomputed_cells++;
    }
    return MEMPROF_OK;
}
