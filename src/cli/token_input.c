// token_input.c — reads score's token files (text or safetensors) into named sequences.
#include "cli/token_input.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memprof/weights.h"

static int append_sequence(token_input *input, int *capacity, int32_t *tokens, int64_t length, const char *name) {
    if (input->count == *capacity) {
        int grown = *capacity ? 2 * *capacity : 16;
        token_sequence *sequences = realloc(input->sequences, (size_t)grown * sizeof *sequences);
        if (sequences) input->sequences = sequences;
        char **names = realloc(input->names, (size_t)grown * sizeof *names);
        if (names) input->names = names;
        if (!sequences || !names) return -1;
        *capacity = grown;
    }
    char *copy = strdup(name);
    if (copy == NULL) return -1;
    input->sequences[input->count] = (token_sequence){tokens, length};
    input->names[input->count] = copy;
    input->count++;
    return 0;
}

// One sequence per line; blank lines are sequences of 0 tokens (rejected by validation),
// except a final newline, which ends the file.
static int load_text(token_input *out, FILE *file, const char *path, memprof_error *err) {
    int capacity = 0;
    char *line = NULL;
    size_t line_capacity = 0;
    ssize_t line_length;
    long line_number = 0;
    int status = 0;
    while (status == 0 && (line_length = getline(&line, &line_capacity, file)) != -1) {
        line_number++;
        int64_t count = 0, allocated = 64;
        int32_t *tokens = malloc((size_t)allocated * sizeof *tokens);
        if (tokens == NULL) {
            status = error_set(err, MEMPROF_ERR_NOMEM, "%s: out of memory", path);
            break;
        }
        char *cursor = line;
        for (;;) {
            while (*cursor == ' ' || *cursor == '\t' || *cursor == '\r' || *cursor == '\n') cursor++;
            if (*cursor == '\0') break;
            char *end;
            errno = 0;
            long long value = strtoll(cursor, &end, 10);
            if (end == cursor || (*end != '\0' && !isspace((unsigned char)*end)) || errno == ERANGE || value < 0 ||
                value > INT32_MAX) {
                int width = 0;
                while (cursor[width] && !isspace((unsigned char)cursor[width]) && width < 32) width++;
                status = error_set(err, MEMPROF_ERR, "%s:%ld: '%.*s' at column %ld is not a token id (a non-negative integer)",
                                   path, line_number, width, cursor, (long)(cursor - line) + 1);
                break;
            }
            if (count == allocated) {
                allocated *= 2;
                int32_t *grown = realloc(tokens, (size_t)allocated * sizeof *tokens);
                if (grown == NULL) {
                    status = error_set(err, MEMPROF_ERR_NOMEM, "%s: out of memory", path);
                    break;
                }
                tokens = grown;
            }
            tokens[count++] = (int32_t)value;
            cursor = end;
        }
        char name[32];
        snprintf(name, sizeof name, "%ld", line_number);
        if (status != 0 || append_sequence(out, &capacity, tokens, count, name) != 0) {
            free(tokens);
            if (status == 0) status = error_set(err, MEMPROF_ERR_NOMEM, "%s: out of memory", path);
        }
    }
    free(line);
    if (status == 0 && ferror(file)) status = error_set(err, MEMPROF_ERR, "%s: read error", path);
    return status;
}

static int compare_views_by_name(const void *a, const void *b) {
    return strcmp(((const tensor_view *)a)->name, ((const tensor_view *)b)->name);
}

static int64_t read_integer(const uint8_t *data, tensor_dtype dtype, int64_t index) {
    switch (dtype) {
    case TENSOR_U8: return data[index];
    case TENSOR_I8: return (int8_t)data[index];
    case TENSOR_I16: { int16_t v; memcpy(&v, data + 2 * index, 2); return v; }
    case TENSOR_U16: { uint16_t v; memcpy(&v, data + 2 * index, 2); return v; }
    case TENSOR_I32: { int32_t v; memcpy(&v, data + 4 * index, 4); return v; }
    case TENSOR_U32: { uint32_t v; memcpy(&v, data + 4 * index, 4); return v; }
    case TENSOR_U64: { uint64_t v; memcpy(&v, data + 8 * index, 8); return v > INT64_MAX ? -1 : (int64_t)v; }
    default: { int64_t v; memcpy(&v, data + 8 * index, 8); return v; }
    }
}

static int is_integer_dtype(tensor_dtype dtype) {
    return dtype == TENSOR_U8 || dtype == TENSOR_I8 || dtype == TENSOR_I16 || dtype == TENSOR_U16 ||
           dtype == TENSOR_I32 || dtype == TENSOR_U32 || dtype == TENSOR_I64 || dtype == TENSOR_U64;
}

// Sequence name of a tensor: "input_ids" → "input_ids", "<name>.input_ids" → "<name>"; NULL otherwise.
static int sequence_base_name(char *out, size_t size, const char *tensor_name) {
    static const char suffix[] = ".input_ids";
    size_t length = strlen(tensor_name), suffix_length = sizeof suffix - 1;
    if (strcmp(tensor_name, "input_ids") == 0) return snprintf(out, size, "input_ids"), 1;
    if (length > suffix_length && strcmp(tensor_name + length - suffix_length, suffix) == 0)
        return snprintf(out, size, "%.*s", (int)(length - suffix_length), tensor_name), 1;
    return 0;
}

static int load_safetensors(token_input *out, const char *path, memprof_error *err) {
    mapped_file file;
    int status = mapped_file_open(&file, path, err);
    if (status != 0) return status;
    tensor_view *views = NULL;
    int view_count = 0, capacity = 0;
    status = safetensors_parse(&views, &view_count, file.data, file.size, path, err);
    if (status == 0) qsort(views, (size_t)view_count, sizeof *views, compare_views_by_name);
    for (int v = 0; v < view_count && status == 0; v++) {
        const tensor_view *t = &views[v];
        char base[TENSOR_NAME_MAX];
        if (!sequence_base_name(base, sizeof base, t->name)) continue;
        if (!is_integer_dtype(t->dtype) || (t->ndim != 1 && t->ndim != 2)) {
            status = error_set(err, MEMPROF_ERR, "%s: tensor %s must be a 1-D or 2-D integer tensor (found %s, %d dims)",
                               path, t->name, tensor_dtype_name(t->dtype), t->ndim);
            break;
        }
        int64_t rows = t->ndim == 2 ? t->shape[0] : 1, length = t->shape[t->ndim - 1];
        for (int64_t r = 0; r < rows && status == 0; r++) {
            int32_t *tokens = malloc((size_t)(length > 0 ? length : 1) * sizeof *tokens);
            if (tokens == NULL) {
                status = error_set(err, MEMPROF_ERR_NOMEM, "%s: out of memory", path);
                break;
            }
            for (int64_t i = 0; i < length; i++) {
                int64_t value = read_integer(t->data, t->dtype, r * length + i);
                tokens[i] = value < 0 || value > INT32_MAX ? -1 : (int32_t)value;
            }
            char name[TENSOR_NAME_MAX + 32];
            if (t->ndim == 2) snprintf(name, sizeof name, "%s[%lld]", base, (long long)r);
            else snprintf(name, sizeof name, "%s", base);
            if (append_sequence(out, &capacity, tokens, length, name) != 0) {
                free(tokens);
                status = error_set(err, MEMPROF_ERR_NOMEM, "%s: out of memory", path);
            }
        }
    }
    if (status == 0 && out->count == 0)
        status = error_set(err, MEMPROF_ERR, "%s: no tensor named input_ids or <name>.input_ids", path);
    free(views);
    mapped_file_close(&file);
    return status;
}

static int has_suffix(const char *text, const char *suffix) {
    size_t a = strlen(text), b = strlen(suffix);
    return a >= b && strcmp(text + a - b, suffix) == 0;
}

int token_input_load(token_input *out, const char *path, memprof_error *err) {
    memset(out, 0, sizeof *out);
    int status;
    if (has_suffix(path, ".safetensors")) {
        status = load_safetensors(out, path, err);
    } else {
        FILE *file = fopen(path, "r");
        if (file == NULL) return error_set(err, MEMPROF_ERR, "%s: cannot open: %s", path, strerror(errno));
        status = load_text(out, file, path, err);
        fclose(file);
        if (status == 0 && out->count == 0) status = error_set(err, MEMPROF_ERR, "%s: no sequences", path);
    }
    if (status != 0) token_input_free(out);
    return status;
}

int token_input_validate(const token_input *input, const char *path, int vocab_size, memprof_error *err) {
    for (int i = 0; i < input->count; i++) {
        const token_sequence *s = &input->sequences[i];
        if (s->length < 2)
            return error_set(err, MEMPROF_ERR, "%s: sequence %s has %lld token%s; at least 2 are needed", path,
                             input->names[i], (long long)s->length, s->length == 1 ? "" : "s");
        for (int64_t p = 0; p < s->length; p++) {
            if (s->tokens[p] < 0)
                return error_set(err, MEMPROF_ERR, "%s: sequence %s, position %lld: token id is negative or too large",
                                 path, input->names[i], (long long)p);
            if (s->tokens[p] >= vocab_size)
                return error_set(err, MEMPROF_ERR,
                                 "%s: sequence %s, position %lld: token id %d is not below the model's vocabulary size %d",
                                 path, input->names[i], (long long)p, s->tokens[p], vocab_size);
        }
    }
    return 0;
}

void token_input_free(token_input *input) {
    for (int i = 0; i < input->count; i++) {
        free((void *)input->sequences[i].tokens);
        free(input->names[i]);
    }
    free(input->sequences);
    free(input->names);
    memset(input, 0, sizeof *input);
}
