// test_jsonl.c — the JSON-lines reader on plain and zstd input made here with libzstd's
// own compressor: same lines either way, several frames in one file, a 1 MB line, a last
// line without '\n', and the errors (truncated stream, corrupt stream, bad JSON, no "text",
// invalid UTF-8).
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "memprof/jsonl.h"
#include "test.h"

// Reads all lines; returns the count, or −1 on a reader error (message in err).
static int read_lines(char ***out, const void *data, size_t size, bool zstd, memprof_error *err) {
    FILE *stream = fmemopen((void *)data, size, "rb");
    jsonl_reader *reader;
    if (jsonl_reader_from_stream(&reader, stream, "test", zstd, err) != 0) return -1;
    int count = 0, status;
    char **lines = NULL;
    const char *line;
    size_t length;
    int64_t number;
    while ((status = jsonl_reader_next(&line, &length, &number, reader, err)) == 1) {
        lines = realloc(lines, (size_t)(count + 1) * sizeof *lines);
        lines[count++] = strndup(line, length);
        if (number != count) status = -2;
    }
    jsonl_reader_close(reader);
    fclose(stream);
    if (status < 0) {
        for (int i = 0; i < count; i++) free(lines[i]);
        free(lines);
        lines = NULL;
        count = -1;
    }
    *out = lines;
    return count;
}

static void free_lines(char **lines, int count) {  // count < 0: nothing to free
    for (int i = 0; i < count; i++) free(lines[i]);
    free(lines);
}

int main(void) {
    // Three short lines, one 1 MB line, a last line without newline.
    size_t big = 1 << 20;
    size_t capacity = big + 1024;
    char *text = malloc(capacity);
    size_t used = (size_t)snprintf(text, capacity, "{\"text\": \"a\"}\n{\"text\": \"b\\u00e9\"}\n\n{\"text\": \"");
    memset(text + used, 'x', big);
    used += big;
    used += (size_t)snprintf(text + used, capacity - used, "\"}\n{\"text\": \"last\"}");
    memprof_error err = {0};

    char **plain;
    int n_plain = read_lines(&plain, text, used, false, &err);
    CHECK("plain lines", n_plain == 5 && strcmp(plain[0], "{\"text\": \"a\"}") == 0 && plain[2][0] == '\0' &&
          strlen(plain[3]) == big + 12 && strcmp(plain[4], "{\"text\": \"last\"}") == 0, "got %d lines (%s)", n_plain, err.message);

    // Two zstd frames: the split falls inside the big line.
    size_t bound = ZSTD_compressBound(used);
    uint8_t *compressed = malloc(2 * bound);
    size_t half = used / 2;
    size_t first = ZSTD_compress(compressed, bound, text, half, 3);
    size_t second = ZSTD_compress(compressed + first, bound, text + half, used - half, 3);
    size_t total = first + second;
    char **unpacked;
    int n_zstd = read_lines(&unpacked, compressed, total, true, &err);
    int same = n_zstd == n_plain;
    for (int i = 0; same && i < n_zstd; i++) same = strcmp(plain[i], unpacked[i]) == 0;
    CHECK("zstd (two frames) = plain", same, "got %d lines (%s)", n_zstd, err.message);
    if (n_zstd > 0) free_lines(unpacked, n_zstd);

    char **partial = NULL;
    int n_truncated = read_lines(&partial, compressed, total - 7, true, &err);
    CHECK("truncated zstd is an error", n_truncated < 0 && strstr(err.message, "truncated"), "got %d '%s'", n_truncated, err.message);
    free_lines(partial, 0);
    compressed[first + 20] ^= 0xFF;  // corrupt the second frame
    compressed[first + 21] ^= 0xFF;
    n_truncated = read_lines(&partial, compressed, total, true, &err);
    CHECK("corrupt zstd is an error", n_truncated < 0, "accepted");
    free_lines(partial, 0);

    char *value;
    size_t length;
    int status = jsonl_parse_text(&value, &length, plain[1], strlen(plain[1]), &err);
    CHECK("text field with escape", status == 0 && length == 3 && memcmp(value, "b\xc3\xa9", 3) == 0, "'%s'", err.message);
    if (!status) free(value);
    const char *with_nul = "{\"text\": \"a\\u0000b\"}";
    status = jsonl_parse_text(&value, &length, with_nul, strlen(with_nul), &err);
    CHECK("text with NUL", status == 0 && length == 3 && value[1] == '\0', "'%s'", err.message);
    if (!status) free(value);
    status = jsonl_parse_text(&value, &length, plain[2], 0, &err);
    CHECK("empty line does not parse", status != 0 && strstr(err.message, "does not parse"), "'%s'", err.message);
    status = jsonl_parse_text(&value, &length, "[1, 2]", 6, &err);
    CHECK("array is not an object", status != 0, "accepted");
    status = jsonl_parse_text(&value, &length, "{\"txt\": \"a\"}", 12, &err);
    CHECK("missing text", status != 0 && strstr(err.message, "\"text\""), "'%s'", err.message);
    status = jsonl_parse_text(&value, &length, "{\"text\": \"\xed\xa0\x80\"}", 14, &err);
    CHECK("surrogate bytes are invalid UTF-8", status != 0 && strstr(err.message, "invalid UTF-8 at byte 10"), "'%s'", err.message);
    free_lines(plain, n_plain);
    free(compressed);
    free(text);
    return test_failures;
}
