// journal.h — the sweep's completion journal: the source of truth for resume.
//
// An append-only file of framed records (docs/formats.md, "Sweep journal"):
//   u32 magic 0x314A504D ("MPJ1") | u32 payload length | u32 xxh32(payload, seed 0) | payload
// integers little-endian. Payload: u8 type, then the type's fields:
//   HEADER   text: "key=value\n" lines naming what a resume must not change
//   RUN      i32 ranks, i64 unix time                     (one per start or resume)
//   DISPATCH i32 checkpoint, i64 lo, i64 hi, i32 rank      (a task was handed out)
//   DONE     i32 checkpoint, i64 lo, i64 hi, i32 rank, u64 xxh64 of the values, f64 seconds
//   FAILED   i32 checkpoint, i64 lo, i64 hi, i32 rank, u8 quarantined, text reason
//   END      u8 status (0 complete, 1 drained, 2 finished with failures)
// A record whose frame or checksum does not verify ends the journal (a torn tail from a kill):
// the reader reports where, and the writer truncates there before appending. Each record is
// one write(2), so it survives a kill of the process at once; fsync (for a crash of the
// machine) is grouped: the coordinator syncs whenever it is idle and at least every 100 ms,
// and always before END. A record lost to a machine crash only means its cells are redone.
#ifndef MEMPROF_JOURNAL_H
#define MEMPROF_JOURNAL_H

#include <stdint.h>
#include <sys/types.h>

#include "memprof/error.h"

#define JOURNAL_MAGIC 0x314A504Du
#define JOURNAL_MAX_PAYLOAD (1u << 20)

typedef enum journal_type {
    JOURNAL_HEADER = 1, JOURNAL_RUN = 2, JOURNAL_DISPATCH = 3, JOURNAL_DONE = 4, JOURNAL_FAILED = 5, JOURNAL_END = 6,
} journal_type;

typedef enum journal_end_status { JOURNAL_END_COMPLETE = 0, JOURNAL_END_DRAINED = 1, JOURNAL_END_FAILURES = 2 } journal_end_status;

typedef struct journal_record {
    int type;             // journal_type
    int32_t checkpoint;   // DISPATCH, DONE, FAILED
    int64_t lo, hi;
    int32_t rank;         // DISPATCH, DONE, FAILED; RUN: the rank count
    uint64_t checksum;    // DONE
    double seconds;       // DONE
    int64_t time;         // RUN
    uint8_t flag;         // FAILED: quarantined; END: journal_end_status
    char *text;           // HEADER, FAILED (owned by the array journal_read returns)
} journal_record;

typedef struct journal_contents {
    journal_record *records;
    size_t count;
    off_t valid_bytes;    // where the last good record ends
    off_t torn_bytes;     // bytes after it (0 for a clean journal)
} journal_contents;

// Reads every good record. A missing file is an error; an empty one has no records.
int journal_read(journal_contents *out, const char *path, memprof_error *err);
void journal_contents_free(journal_contents *c);

typedef struct journal {
    int fd;
    int dirty;          // records written since the last fsync
    char path[4096];
} journal;

// Opens for appending after truncating to valid_bytes (0 creates a new, empty journal).
int journal_open(journal *out, const char *path, off_t valid_bytes, memprof_error *err);
// Appends one record; sync = fsync before returning.
int journal_append(journal *j, const journal_record *r, int sync, memprof_error *err);
// fsync if anything was appended since the last one (group commit).
int journal_sync(journal *j, memprof_error *err);
void journal_close(journal *j);

// Looks up "key" in a HEADER text; copies its value (or "") into out.
void journal_header_value(char *out, size_t size, const char *header_text, const char *key);

#endif
