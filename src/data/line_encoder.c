// line_encoder.c — parallel "text" → ids over a batch of JSON lines (see line_encoder.h).
// Workers take lines from a shared atomic counter; threads are started per batch, which
// costs microseconds against batches of thousands of lines.
#include "memprof/line_encoder.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "memprof/jsonl.h"

typedef struct encoder_worker {
    pthread_t thread;
    tokenizer_session *session;
    struct line_encoder *owner;
} encoder_worker;

struct line_encoder {
    encoder_worker *workers;
    int threads;
    encoded_line *lines;  // the batch being encoded
    int count;
    atomic_int next;
};

int line_encoder_create(line_encoder **out, const tokenizer *tok, int threads, memprof_error *err) {
    *out = NULL;
    if (threads < 1) threads = 1;
    line_encoder *encoder = calloc(1, sizeof *encoder);
    if (!encoder) return error_set(err, MEMPROF_ERR_NOMEM, "line encoder: out of memory");
    encoder->workers = calloc((size_t)threads, sizeof *encoder->workers);
    encoder->threads = threads;
    if (!encoder->workers) {
        free(encoder);
        return error_set(err, MEMPROF_ERR_NOMEM, "line encoder: out of memory");
    }
    for (int t = 0; t < threads; t++) {
        encoder->workers[t].owner = encoder;
        int status = tokenizer_session_create(&encoder->workers[t].session, tok, err);
        if (status) {
            line_encoder_free(encoder);
            return status;
        }
    }
    *out = encoder;
    return MEMPROF_OK;
}

void line_encoder_free(line_encoder *encoder) {
    if (!encoder) return;
    for (int t = 0; t < encoder->threads; t++) tokenizer_session_free(encoder->workers[t].session);
    free(encoder->workers);
    free(encoder);
}

static void encode_one(encoded_line *line, tokenizer_session *session) {
    char *text;
    size_t length;
    line->ids.count = 0;
    error_clear(&line->err);
    line->status = jsonl_parse_text(&text, &length, line->line, line->length, &line->err);
    if (line->status) return;
    line->status = tokenizer_encode(&line->ids, session, text, length, &line->err);
    free(text);
}

static void *worker_run(void *argument) {
    encoder_worker *self = argument;
    line_encoder *encoder = self->owner;
    for (int i; (i = atomic_fetch_add(&encoder->next, 1)) < encoder->count;) encode_one(&encoder->lines[i], self->session);
    return NULL;
}

int line_encoder_run(line_encoder *encoder, encoded_line *lines, int count) {
    encoder->lines = lines;
    encoder->count = count;
    atomic_store(&encoder->next, 0);
    int started = 0;
    if (encoder->threads > 1 && count > 1)
        for (int t = 0; t < encoder->threads; t++) {
            if (pthread_create(&encoder->workers[t].thread, NULL, worker_run, &encoder->workers[t]) != 0) break;
            started++;
        }
    if (started == 0) worker_run(&encoder->workers[0]);  // one thread, or none could start
    for (int t = 0; t < started; t++) pthread_join(encoder->workers[t].thread, NULL);
    for (int i = 0; i < count; i++)
        if (lines[i].status) return i;
    return count;
}

int encoded_line_set(encoded_line *line, const char *text, size_t length, int64_t line_number, memprof_error *err) {
    char *copy = realloc(line->line, length + 1);
    if (!copy) return error_set(err, MEMPROF_ERR_NOMEM, "line %lld: out of memory", (long long)line_number);
    memcpy(copy, text, length);
    copy[length] = '\0';
    line->line = copy;
    line->length = length;
    line->line_number = line_number;
    line->status = 0;
    return MEMPROF_OK;
}

void encoded_lines_free(encoded_line *lines, int count) {
    if (!lines) return;
    for (int i = 0; i < count; i++) {
        free(lines[i].line);
        token_ids_free(&lines[i].ids);
    }
    free(lines);
}
