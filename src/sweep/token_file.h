// token_file.h — per-token side files of a sweep (per_token: true; layout in docs/formats.md,
// "Per-token side files"). One file per worker rank per run, OUTPUT.tokens/run-RRRR.rank-NNNNN.zst:
// concatenated zstd frames, one per task, each decompressing to the task's records
//   u32 magic 0x3154504D ("MPT1") | i32 checkpoint | i64 instance | i64 n = T − 1 |
//   f64 surprisal[n] | i64 rank[n] | f64 entropy[n] | u8 correct[n]        (little-endian)
// A record counts only when the journal has a DONE record of the same run and rank covering
// its cell (a killed task can leave a frame without one, or a torn last frame).
#ifndef MEMPROF_SWEEP_TOKEN_FILE_H
#define MEMPROF_SWEEP_TOKEN_FILE_H

#include <stdint.h>
#include <stdio.h>

#include "memprof/backend.h"
#include "memprof/error.h"

#define TOKEN_RECORD_MAGIC 0x3154504Du

// The side file of (run, rank): dir/run-RRRR.rank-NNNNN.zst.
void token_file_path(char *out, size_t size, const char *dir, int64_t run, int rank);

typedef struct token_file_writer {
    FILE *file;
    uint8_t *raw;         // records of the current task
    size_t raw_len, raw_cap;
    void *packed;         // compressed frame
    size_t packed_cap;
    char path[4200];
} token_file_writer;

int token_file_open(token_file_writer *out, const char *dir, int64_t run, int rank, memprof_error *err);
// Appends one sequence's record to the current task's frame.
int token_file_add(token_file_writer *w, int32_t checkpoint_index, int64_t instance, int64_t n, const token_statistics *t,
                   memprof_error *err);
// Compresses the task's records into one frame, appends it and syncs it to disk.
int token_file_end_task(token_file_writer *w, memprof_error *err);
void token_file_close(token_file_writer *w);

// Reads every complete frame of a side file; calls visit for each record (arrays point into
// a buffer valid during the call). Stops quietly at a torn last frame.
typedef void (*token_record_visit)(void *ctx, int32_t checkpoint, int64_t instance, int64_t n, const double *surprisal,
                                   const int64_t *rank, const double *entropy, const uint8_t *correct);
int token_file_read(const char *path, token_record_visit visit, void *ctx, memprof_error *err);

#endif
