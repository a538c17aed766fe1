// panel_builder.c — training rows from the Pile's token store, validation windows from
// text or idx/bin, and the synthetic panel. See include/memprof/panel_builder.h.
#include "memprof/panel_builder.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "memprof/jsonl.h"
#include "memprof/line_encoder.h"
#include "memprof/sampler.h"

void token_stream_free(token_stream *stream) {
    free(stream->tokens);
    memset(stream, 0, sizeof *stream);
}

static int stream_append(token_stream *stream, const int32_t *ids, int64_t n, memprof_error *err) {
    if (stream->count + n > stream->capacity) {
        int64_t capacity = stream->capacity ? stream->capacity : 1 << 20;
        while (capacity < stream->count + n) capacity *= 2;
        uint16_t *grown = realloc(stream->tokens, (size_t)capacity * sizeof *grown);
        if (!grown) return error_set(err, MEMPROF_ERR_NOMEM, "token stream: out of memory at %lld tokens", (long long)stream->count);
        stream->tokens = grown;
        stream->capacity = capacity;
    }
    for (int64_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] > UINT16_MAX)
            return error_set(err, MEMPROF_ERR, "token stream: id %d does not fit uint16", ids[i]);
        stream->tokens[stream->count + i] = (uint16_t)ids[i];
    }
    stream->count += n;
    return MEMPROF_OK;
}

int panel_fill_training(panel *p, int64_t *out_special_tokens, int64_t first_row, const int64_t *indices, int64_t n,
                        const token_store *store, int64_t batch_size, int64_t vocab_size,
                        const progress_reporter *progress, memprof_error *err) {
    *out_special_tokens = 0;
    int64_t length = p->sequence_length;
    int32_t *row = malloc((size_t)length * sizeof *row);
    if (!row) return error_set(err, MEMPROF_ERR_NOMEM, "panel: out of memory");
    uint64_t samples = token_store_tokens(store) / (uint64_t)length;
    int status = MEMPROF_OK;
    for (int64_t r = 0; r < n && !status; r++) {
        int64_t index = indices[r];
        if (index < 0 || (uint64_t)index >= samples) {
            status = error_set(err, MEMPROF_ERR, "sample %lld out of range: the .bin files hold %llu samples of %lld tokens",
                               (long long)index, (unsigned long long)samples, (long long)length);
            break;
        }
        status = token_store_read(row, store, (uint64_t)index * (uint64_t)length, (uint64_t)length, err);
        if (status) {
            error_prefix(err, "sample %lld", (long long)index);
            break;
        }
        uint16_t *out = p->tokens + (first_row + r) * length;
        for (int64_t t = 0; t < length; t++) {
            if (row[t] >= vocab_size) {
                status = error_set(err, MEMPROF_ERR, "sample %lld position %lld: token id %d >= model vocabulary %lld",
                                   (long long)index, (long long)t, row[t], (long long)vocab_size);
                break;
            }
            out[t] = (uint16_t)row[t];
            *out_special_tokens += row[t] <= 1;
        }
        p->seq_idx[first_row + r] = index;
        p->split[first_row + r] = PANEL_SPLIT_TRAIN;
        p->train_step[first_row + r] = index / batch_size;
        progress_report(progress, "reading the training samples", (double)(r + 1), (double)n, "samples");
    }
    free(row);
    return status;
}

enum { ENCODE_BATCH_LINES = 1024 };

int token_stream_append_jsonl(token_stream *out, const char *path, const tokenizer *tok, int threads,
                              const progress_reporter *progress, memprof_error *err) {
    jsonl_reader *reader = NULL;
    line_encoder *encoder = NULL;
    encoded_line *lines = calloc(ENCODE_BATCH_LINES, sizeof *lines);
    int status = lines ? MEMPROF_OK : error_set(err, MEMPROF_ERR_NOMEM, "%s: out of memory", path);
    if (!status) status = jsonl_reader_open(&reader, path, err);
    if (!status) status = line_encoder_create(&encoder, tok, threads, err);
    for (bool more = true; more && !status;) {
        int count = 0;
        while (count < ENCODE_BATCH_LINES && !status) {
            const char *line;
            size_t length;
            int64_t line_number;
            int got = jsonl_reader_next(&line, &length, &line_number, reader, err);
            if (got <= 0) {
                status = got;
                more = false;
                break;
            }
            status = encoded_line_set(&lines[count++], line, length, line_number, err);
        }
        if (status) break;
        int first_failed = line_encoder_run(encoder, lines, count);
        for (int i = 0; i < first_failed && !status; i++) {
            status = stream_append(out, lines[i].ids.ids, lines[i].ids.count, err);
            out->documents++;
        }
        progress_report(progress, "tokenising validation documents", (double)out->documents, 0, "documents");
        if (!status && first_failed < count)
            status = error_set(err, lines[first_failed].status, "%s:%lld: %s", path,
                               (long long)lines[first_failed].line_number, lines[first_failed].err.message);
    }
    if (!status) out->source_bytes += jsonl_reader_bytes_read(reader);
    encoded_lines_free(lines, ENCODE_BATCH_LINES);
    line_encoder_free(encoder);
    jsonl_reader_close(reader);
    return status;
}

int token_stream_append_indexed(token_stream *out, const indexed_dataset *dataset, memprof_error *err) {
    const indexed_index *index = indexed_dataset_index(dataset);
    int64_t capacity = 4096;
    int32_t *item = malloc((size_t)capacity * sizeof *item);
    if (!item) return error_set(err, MEMPROF_ERR_NOMEM, "out of memory");
    int status = MEMPROF_OK;
    for (uint64_t i = 0; i < index->items && !status; i++) {
        int32_t size;
        memcpy(&size, index->sizes + 4 * i, 4);
        if (size > capacity) {
            capacity = size;
            int32_t *grown = realloc(item, (size_t)capacity * sizeof *item);
            if (!grown) {
                status = error_set(err, MEMPROF_ERR_NOMEM, "out of memory");
                break;
            }
            item = grown;
        }
        int64_t count;
        status = indexed_dataset_read_item(item, &count, dataset, i, capacity, err);
        if (!status) status = stream_append(out, item, count, err);
        out->documents++;
    }
    if (!status) out->source_bytes += token_store_bytes(indexed_dataset_store(dataset));
    free(item);
    return status;
}

int panel_fill_heldout(panel *p, int64_t first_row, const token_stream *stream, const int64_t *windows, int64_t n,
                       int64_t vocab_size, memprof_error *err) {
    int64_t length = p->sequence_length, n_windows = stream->count / length;
    for (int64_t r = 0; r < n; r++) {
        int64_t window = windows[r];
        if (window < 0 || window >= n_windows)
            return error_set(err, MEMPROF_ERR, "validation window %lld out of range (%lld windows)", (long long)window,
                             (long long)n_windows);
        const uint16_t *source = stream->tokens + window * length;
        for (int64_t t = 0; t < length; t++)
            if (source[t] >= vocab_size)
                return error_set(err, MEMPROF_ERR, "validation window %lld position %lld: token id %u >= model vocabulary %lld",
                                 (long long)window, (long long)t, source[t], (long long)vocab_size);
        memcpy(p->tokens + (first_row + r) * length, source, (size_t)length * sizeof *source);
        p->seq_idx[first_row + r] = -100 - window;
        p->split[first_row + r] = PANEL_SPLIT_HELDOUT;
        p->train_step[first_row + r] = -1;
    }
    return MEMPROF_OK;
}

synthetic_config synthetic_defaults(void) {
    return (synthetic_config){.seed = 0, .train_rows = 48, .heldout_rows = 16, .sequence_length = 2049,
                              .vocab_size = 1024, .steps = 8000, .batch_size = 1024};
}

static int compare_int64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int panel_synthetic(panel *out, const synthetic_config *config, memprof_error *err) {
    if (config->train_rows < 0 || config->heldout_rows < 0 || config->steps < 1 || config->batch_size < 1 ||
        config->vocab_size < 3 || config->vocab_size > 65536 || config->sequence_length < 2)
        return error_set(err, MEMPROF_ERR, "synthetic panel: bad sizes");
    int status = panel_alloc(out, config->train_rows + config->heldout_rows, config->sequence_length, err);
    if (status) return status;
    legacy_random rng;
    legacy_random_seed(&rng, config->seed);
    // Training rows: step s = ⌊k·steps / train_rows⌋ spreads rows over every cohort; the
    // sequence within the step is random, so seq_idx values are distinct.
    for (int64_t k = 0; k < config->train_rows; k++) {
        int64_t step = k * config->steps / config->train_rows;
        int64_t index = step * config->batch_size + (int64_t)legacy_random_interval(&rng, (uint64_t)config->batch_size - 1);
        out->seq_idx[k] = index;
    }
    qsort(out->seq_idx, (size_t)config->train_rows, sizeof *out->seq_idx, compare_int64);
    for (int64_t k = 0; k < config->train_rows; k++) {
        out->split[k] = PANEL_SPLIT_TRAIN;
        out->train_step[k] = out->seq_idx[k] / config->batch_size;
    }
    for (int64_t k = 0; k < config->heldout_rows; k++) {
        int64_t row = config->train_rows + k;
        out->seq_idx[row] = -100 - k;
        out->split[row] = PANEL_SPLIT_HELDOUT;
        out->train_step[row] = -1;
    }
    int64_t total = out->rows * out->sequence_length;
    for (int64_t i = 0; i < total; i++)
        out->tokens[i] = (uint16_t)(2 + legacy_random_interval(&rng, (uint64_t)config->vocab_size - 3));
    return MEMPROF_OK;
}
