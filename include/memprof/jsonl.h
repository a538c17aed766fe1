// jsonl.h — JSON-lines input, plain or zstd-compressed (streamed, never decompressed to disk).
//
// Each line is one JSON object with a string field "text". Lines are numbered from 1.
// Errors name the source and line: "<name>:<line>: invalid UTF-8 at byte 17".
#ifndef MEMPROF_JSONL_H
#define MEMPROF_JSONL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "memprof/error.h"

typedef struct jsonl_reader jsonl_reader;

// Opens path; ".zst" suffix (or the zstd magic) selects decompression. "-" is stdin.
int jsonl_reader_open(jsonl_reader **out, const char *path, memprof_error *err);
// Reads from an open stream the caller keeps owning; name is used in messages.
int jsonl_reader_from_stream(jsonl_reader **out, FILE *stream, const char *name, bool zstd, memprof_error *err);
void jsonl_reader_close(jsonl_reader *reader);

// The next line without its '\n' (valid until the next call); returns 1 with a line, 0 at
// the end, negative on error (e.g. a truncated zstd stream). *out_line_number counts from 1.
int jsonl_reader_next(const char **out_line, size_t *out_length, int64_t *out_line_number, jsonl_reader *reader,
                      memprof_error *err);
// Total bytes read from the underlying file so far (compressed size for .zst).
uint64_t jsonl_reader_bytes_read(const jsonl_reader *reader);

// Extracts the "text" field of one JSON line into a malloc'ed copy (may contain NUL bytes).
// Checks UTF-8 before parsing so the message says which. The message has no line number;
// callers prefix it.
int jsonl_parse_text(char **out_text, size_t *out_length, const char *line, size_t length, memprof_error *err);

#endif
