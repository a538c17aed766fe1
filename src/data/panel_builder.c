// panel_builder.c — training rows from the Pile's token store, validation windows from
// text or idx/bin, and the synthetic panel. See include/memprof/panel_builder.h.
#include "memprof/panel_builder.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "memprof/jsonl.h"
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

int panel_fill_training(panel *p, int64_t first_row, const int64_t *indices, int64_t n, const token_store *store,
                        int64_t batch_size, int64_t vocab_size, memprof_error *err) {
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
        }
        p->seq_idx[first_row + r] = index;
        p->split[first_row + r] = PANEL_SPLIT_TRAIN;
        p->train_step[first_row + r] = index / batch_size;
    }
    free(row);
    return status;
}

// Parallel encoding of one batch of lines; each worker owns a session.
typedef struct encode_job {
    char *line;
    size_t length;
    int64_t line_number;
    token_ids ids;
    int status;
    memprof_error err;
} encode_job;

typedef struct encode_batch {
    encode_job *jobs;
    int count;
    atomic_int next;
} encode_batch;

typedef struct encode_worker {
    pthread_t thread;
    tokenizer_session *session;
    encode_batch *batch;
} encode_worker;

static void *encode_worker_run(void *argument) {
    encode_worker *self = argument;
    encode_batch *batch = self->batch;
    for (int i; (i = atomic_fetch_add(&batch->next, 1)) < batch->count;) {
        encode_job *job = &batch->jobs[i];
        char *text;
        size_t length;
        job->status = jsonl_parse_text(&text, &length, job->line, job->length, &job->err);
        if (job->status) continue;
        job->ids.count = 0;
        job->status = tokenizer_encode(&job->ids, self->session, text, length, &job->err);
        free(text);
    }
    return NULL;
}

enum { ENCODE_BATCH_LINES = 1024 };

int token_stream_append_jsonl(token_stream *out, const char *path, const tokenizer *tok, int threads,
                              memprof_error *err) {
    if (threads < 1) threads = 1;
    jsonl_reader *reader = NULL;
    int status = jsonl_reader_open(&reader, path, err);
    if (status) return status;
    encode_worker *workers = calloc((size_t)threads, sizeof *workers);
    encode_batch batch = {.jobs = calloc(ENCODE_BATCH_LINES, sizeof(encode_job))};
    if (!workers || !batch.jobs) status = error_set(err, MEMPROF_ERR_NOMEM, "%s: out of memory", path);
    for (int t = 0; t < threads && !status; t++) status = tokenizer_session_create(&workers[t].session, tok, err);
    for (bool more = true; more && !status;) {
        batch.count = 0;
        while (batch.count < ENCODE_BATCH_LINES) {
            const char *line;
            size_t length;
            int64_t line_number;
            int got = jsonl_reader_next(&line, &length, &line_number, reader, err);
            if (got < 0) {
                status = got;
                break;
            }
            if (got == 0) {
                more = false;
                break;
            }
            encode_job *job = &batch.jobs[batch.count++];
            free(job->line);
            job->line = malloc(length + 1);
            if (!job->line) {
                status = error_set(err, MEMPROF_ERR_NOMEM, "%s: out of memory", path);
                break;
            }
            memcpy(job->line, line, length + 1);
            job->length = length;
            job->line_number = line_number;
        }
        if (status) break;
        atomic_store(&batch.next, 0);
        int started = 0;
        for (int t = 0; t < threads && threads > 1; t++) {
            workers[t].batch = &batch;
            if (pthread_create(&workers[t].thread, NULL, encode_worker_run, &workers[t]) != 0) break;
            started++;
        }
        if (started == 0) {
            workers[0].batch = &batch;
            encode_worker_run(&workers[0]);
        }
        for (int t = 0; t < started; t++) pthread_join(workers[t].thread, NULL);
        for (int i = 0; i < batch.count && !status; i++) {
            encode_job *job = &batch.jobs[i];
            if (job->status) {
                status = error_set(err, job->status, "%s:%lld: %s", path, (long long)job->line_number, job->err.message);
                break;
            }
            status = stream_append(out, job->ids.ids, job->ids.count, err);
            out->documents++;
        }
    }
    if (!status) out->source_bytes += jsonl_reader_bytes_read(reader);
    for (int i = 0; batch.jobs && i < ENCODE_BATCH_LINES; i++) {
        free(batch.jobs[i].line);
        token_ids_free(&batch.jobs[i].ids);
    }
    free(batch.jobs);
    for (int t = 0; workers && t < threads; t++) tokenizer_session_free(workers[t].session);
    free(workers);
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
