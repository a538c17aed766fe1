// fuzz_jsonl.c — the JSON-lines reader and "text" parser on arbitrary bytes: read as plain
// text, and (when the bytes start with the zstd magic) as a zstd stream.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "memprof/jsonl.h"

static void read_all(const uint8_t *data, size_t size, bool zstd) {
    FILE *stream = fmemopen((void *)data, size, "rb");
    if (!stream) return;
    jsonl_reader *reader;
    memprof_error err;
    if (jsonl_reader_from_stream(&reader, stream, "fuzz", zstd, &err) == 0) {
        const char *line;
        size_t length;
        int64_t number;
        while (jsonl_reader_next(&line, &length, &number, reader, &err) == 1) {
            char *text;
            size_t text_length;
            if (jsonl_parse_text(&text, &text_length, line, length, &err) == 0) free(text);
        }
        jsonl_reader_close(reader);
    }
    fclose(stream);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    read_all(data, size, false);
    if (size >= 4 && data[0] == 0x28 && data[1] == 0xB5 && data[2] == 0x2F && data[3] == 0xFD) read_all(data, size, true);
    return 0;
}
