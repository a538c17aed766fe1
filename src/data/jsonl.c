// jsonl.c — line reader over a plain or zstd-compressed stream, and the "text" field parser.
// zstd input is decompressed in 128 KiB steps with ZSTD_decompressStream; a stream that
// ends inside a frame is an error, not a short file.
#include "memprof/jsonl.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "memprof/tokenizer.h"

struct jsonl_reader {
    FILE *stream;
    bool owns_stream;
    char name[1024];
    ZSTD_DCtx *zstd;  // NULL for plain text
    size_t frame_remaining;  // last ZSTD_decompressStream hint: 0 = at a frame boundary
    uint8_t *input;
    ZSTD_inBuffer in;
    bool input_ended;
    // Decompressed or raw bytes not yet returned as lines.
    char *buffer;
    size_t buffer_start, buffer_end, buffer_capacity;
    char *line;  // the line handed out, NUL-terminated
    size_t line_capacity;
    int64_t line_number;
    uint64_t bytes_read;
};

enum { INPUT_CHUNK = 1 << 17 };

int jsonl_reader_from_stream(jsonl_reader **out, FILE *stream, const char *name, bool zstd, memprof_error *err) {
    jsonl_reader *reader = calloc(1, sizeof *reader);
    if (!reader) return error_set(err, MEMPROF_ERR_NOMEM, "%s: out of memory", name);
    reader->stream = stream;
    snprintf(reader->name, sizeof reader->name, "%s", name);
    reader->buffer_capacity = 1 << 18;
    reader->buffer = malloc(reader->buffer_capacity);
    if (zstd) {
        reader->zstd = ZSTD_createDCtx();
        reader->input = malloc(INPUT_CHUNK);
    }
    if (!reader->buffer || (zstd && (!reader->zstd || !reader->input))) {
        jsonl_reader_close(reader);
        return error_set(err, MEMPROF_ERR_NOMEM, "%s: out of memory", name);
    }
    *out = reader;
    return MEMPROF_OK;
}

int jsonl_reader_open(jsonl_reader **out, const char *path, memprof_error *err) {
    *out = NULL;
    if (strcmp(path, "-") == 0) return jsonl_reader_from_stream(out, stdin, "<stdin>", false, err);
    FILE *stream = fopen(path, "rb");
    if (!stream) return error_set(err, MEMPROF_ERR, "%s: cannot open: %s", path, strerror(errno));
    uint8_t magic[4] = {0};
    size_t got = fread(magic, 1, 4, stream);
    rewind(stream);
    size_t length = strlen(path);
    bool zstd = (length > 4 && strcmp(path + length - 4, ".zst") == 0) ||
                (got == 4 && magic[0] == 0x28 && magic[1] == 0xB5 && magic[2] == 0x2F && magic[3] == 0xFD);
    int status = jsonl_reader_from_stream(out, stream, path, zstd, err);
    if (status) {
        fclose(stream);
        return status;
    }
    (*out)->owns_stream = true;
    return MEMPROF_OK;
}

void jsonl_reader_close(jsonl_reader *reader) {
    if (!reader) return;
    if (reader->owns_stream) fclose(reader->stream);
    ZSTD_freeDCtx(reader->zstd);
    free(reader->input);
    free(reader->buffer);
    free(reader->line);
    free(reader);
}

uint64_t jsonl_reader_bytes_read(const jsonl_reader *reader) { return reader->bytes_read; }

// Appends more bytes to buffer; returns bytes added (0 at the end) or a negative status.
static int64_t refill(jsonl_reader *reader, memprof_error *err) {
    if (reader->buffer_start > 0) {  // compact
        memmove(reader->buffer, reader->buffer + reader->buffer_start, reader->buffer_end - reader->buffer_start);
        reader->buffer_end -= reader->buffer_start;
        reader->buffer_start = 0;
    }
    if (reader->buffer_capacity - reader->buffer_end < INPUT_CHUNK) {
        size_t capacity = reader->buffer_capacity * 2;
        char *grown = realloc(reader->buffer, capacity);
        if (!grown) return error_set(err, MEMPROF_ERR_NOMEM, "%s: out of memory", reader->name);
        reader->buffer = grown;
        reader->buffer_capacity = capacity;
    }
    char *space = reader->buffer + reader->buffer_end;
    size_t room = reader->buffer_capacity - reader->buffer_end;
    if (!reader->zstd) {
        size_t got = fread(space, 1, room, reader->stream);
        if (got == 0 && ferror(reader->stream)) return error_set(err, MEMPROF_ERR, "%s: read error", reader->name);
        reader->bytes_read += got;
        reader->buffer_end += got;
        return (int64_t)got;
    }
    for (;;) {
        if (reader->in.pos == reader->in.size && !reader->input_ended) {
            size_t got = fread(reader->input, 1, INPUT_CHUNK, reader->stream);
            if (got == 0 && ferror(reader->stream)) return error_set(err, MEMPROF_ERR, "%s: read error", reader->name);
            if (got == 0) reader->input_ended = true;
            reader->bytes_read += got;
            reader->in = (ZSTD_inBuffer){reader->input, got, 0};
        }
        bool drained = reader->in.pos == reader->in.size && reader->input_ended;
        if (drained && reader->frame_remaining == 0) return 0;
        // With no input left this still flushes what the decoder holds.
        ZSTD_outBuffer output = {space, room, 0};
        size_t hint = ZSTD_decompressStream(reader->zstd, &output, &reader->in);
        if (ZSTD_isError(hint))
            return error_set(err, MEMPROF_ERR, "%s: corrupt zstd stream: %s", reader->name, ZSTD_getErrorName(hint));
        reader->frame_remaining = hint;
        if (output.pos > 0) {
            reader->buffer_end += output.pos;
            return (int64_t)output.pos;
        }
        if (drained)
            return error_set(err, MEMPROF_ERR, "%s: truncated zstd stream (ends inside a frame)", reader->name);
    }
}

int jsonl_reader_next(const char **out_line, size_t *out_length, int64_t *out_line_number, jsonl_reader *reader,
                      memprof_error *err) {
    size_t scanned = reader->buffer_start;
    for (;;) {
        char *newline = memchr(reader->buffer + scanned, '\n', reader->buffer_end - scanned);
        bool at_end = false;
        size_t line_end;
        if (newline) {
            line_end = (size_t)(newline - reader->buffer);
        } else {
            int64_t added = refill(reader, err);  // may move the buffered bytes to the front
            if (added < 0) return (int)added;
            scanned = reader->buffer_end - (size_t)added;
            if (added > 0) continue;
            if (reader->buffer_end == reader->buffer_start) return 0;
            at_end = true;  // a last line without '\n'
            line_end = reader->buffer_end;
        }
        size_t length = line_end - reader->buffer_start;
        if (length + 1 > reader->line_capacity) {
            size_t capacity = (length + 1) * 2;
            char *grown = realloc(reader->line, capacity);
            if (!grown) return error_set(err, MEMPROF_ERR_NOMEM, "%s: out of memory", reader->name);
            reader->line = grown;
            reader->line_capacity = capacity;
        }
        memcpy(reader->line, reader->buffer + reader->buffer_start, length);
        reader->line[length] = '\0';
        reader->buffer_start = at_end ? reader->buffer_end : line_end + 1;
        reader->line_number++;
        *out_line = reader->line;
        *out_length = length;
        *out_line_number = reader->line_number;
        return 1;
    }
}

int jsonl_parse_text(char **out_text, size_t *out_length, const char *line, size_t length, memprof_error *err) {
    *out_text = NULL;
    *out_length = 0;
    size_t valid = utf8_valid_prefix(line, length);
    if (valid != length) return error_set(err, MEMPROF_ERR, "invalid UTF-8 at byte %zu", valid);
    json_error_t json_error;
    json_t *root = json_loadb(line, length, JSON_ALLOW_NUL, &json_error);
    if (!root) return error_set(err, MEMPROF_ERR, "JSON does not parse: %s (column %d)", json_error.text, json_error.column);
    json_t *text = json_object_get(root, "text");
    int status = MEMPROF_OK;
    if (!json_is_object(root)) status = error_set(err, MEMPROF_ERR, "expected a JSON object");
    else if (!json_is_string(text)) status = error_set(err, MEMPROF_ERR, "no string field \"text\"");
    if (!status) {
        size_t text_length = json_string_length(text);
        char *copy = malloc(text_length + 1);
        if (!copy) status = error_set(err, MEMPROF_ERR_NOMEM, "out of memory");
        else {
            memcpy(copy, json_string_value(text), text_length + 1);
            *out_text = copy;
            *out_length = text_length;
        }
    }
    json_decref(root);
    return status;
}
