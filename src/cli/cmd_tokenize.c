// cmd_tokenize.c — `memprof tokenize --tokenizer FILE [--threads N]`
//
// stdin: JSON lines, each an object with a string "text". stdout: one line {"ids": [...]}
// per input line, in input order. The first bad line (does not parse, no string "text",
// invalid UTF-8) stops the run with "memprof tokenize: line N: …" after the lines before
// it have been written. Lines are read in batches; a batch is encoded by N threads, each
// with its own tokenizer session, and written in order.
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "memprof/jsonl.h"
#include "memprof/tokenizer.h"

enum { BATCH_LINES = 4096, BATCH_BYTES = 8 << 20, MAX_THREADS = 256 };

typedef struct line_job {
    char *input;
    size_t input_length;
    int64_t line_number;
    char *output;  // "{"ids": [...]}\n"
    size_t output_length;
    int status;
    memprof_error err;
} line_job;

typedef struct batch {
    line_job *jobs;
    int count;
    atomic_int next;
} batch;

typedef struct worker {
    pthread_t thread;
    tokenizer_session *session;
    token_ids ids;
    batch *work;
} worker;

static void print_help(FILE *out) {
    fprintf(out,
            "usage: memprof tokenize --tokenizer FILE [--threads N]\n\n"
            "Reads JSON lines with a string field \"text\" on stdin and writes one line\n"
            "{\"ids\": [...]} per input line, in order (GPT-NeoX-20B tokenizer semantics of HF\n"
            "tokenizers: added tokens matched in the text, NFC, byte-level BPE).\n\n"
            "  --tokenizer FILE  a HF tokenizer.json (e.g. data/gpt-neox-20b-tokenizer.json)\n"
            "  --threads N       encoding threads (default 1)\n"
            "  --help            this text\n\n"
            "A line that does not parse, lacks a string \"text\" or holds invalid UTF-8 stops\n"
            "the run with an error naming its line number (exit status 1).\n");
}

static int format_ids(line_job *job, const token_ids *ids) {
    size_t capacity = 16 + (size_t)ids->count * 8;
    char *text = malloc(capacity);
    if (!text) return MEMPROF_ERR_NOMEM;
    size_t used = (size_t)snprintf(text, capacity, "{\"ids\": [");
    for (int64_t i = 0; i < ids->count; i++) {
        char digits[12];
        int n = 0;
        uint32_t value = (uint32_t)ids->ids[i];
        do digits[n++] = (char)('0' + value % 10); while ((value /= 10) > 0);
        if (i > 0) text[used++] = ',', text[used++] = ' ';
        while (n > 0) text[used++] = digits[--n];
    }
    memcpy(text + used, "]}\n", 3);
    job->output = text;
    job->output_length = used + 3;
    return MEMPROF_OK;
}

static void encode_job(line_job *job, worker *self) {
    char *text;
    size_t length;
    job->status = jsonl_parse_text(&text, &length, job->input, job->input_length, &job->err);
    if (job->status) return;
    self->ids.count = 0;
    job->status = tokenizer_encode(&self->ids, self->session, text, length, &job->err);
    free(text);
    if (!job->status && format_ids(job, &self->ids) != 0)
        job->status = error_set(&job->err, MEMPROF_ERR_NOMEM, "out of memory");
}

static void *worker_run(void *argument) {
    worker *self = argument;
    batch *work = self->work;
    for (int i; (i = atomic_fetch_add(&work->next, 1)) < work->count;) encode_job(&work->jobs[i], self);
    return NULL;
}

// Encodes a batch with n_workers threads; returns the index of the first failed job or count.
static int run_batch(batch *work, worker *workers, int n_workers) {
    atomic_store(&work->next, 0);
    if (n_workers == 1) {
        workers[0].work = work;
        worker_run(&workers[0]);
    } else {
        int started = 0;
        for (int t = 0; t < n_workers; t++) {
            workers[t].work = work;
            if (pthread_create(&workers[t].thread, NULL, worker_run, &workers[t]) != 0) break;
            started++;
        }
        if (started == 0) worker_run(&workers[0]);
        for (int t = 0; t < started; t++) pthread_join(workers[t].thread, NULL);
    }
    for (int i = 0; i < work->count; i++)
        if (work->jobs[i].status) return i;
    return work->count;
}

int command_tokenize(int argc, char **argv) {
    const char *tokenizer_path = NULL;
    int n_threads = 1;
    static const struct option options[] = {
        {"tokenizer", required_argument, NULL, 't'}, {"threads", required_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int option;
    optind = 1;
    while ((option = getopt_long(argc, argv, "t:j:h", options, NULL)) != -1) {
        switch (option) {
        case 't': tokenizer_path = optarg; break;
        case 'j':
            n_threads = atoi(optarg);
            if (n_threads < 1 || n_threads > MAX_THREADS) {
                fprintf(stderr, "memprof tokenize: --threads must be 1..%d\n", MAX_THREADS);
                return EXIT_USAGE;
            }
            break;
        case 'h': print_help(stdout); return EXIT_OK;
        default: print_help(stderr); return EXIT_USAGE;
        }
    }
    if (!tokenizer_path || optind != argc) {
        print_help(stderr);
        return EXIT_USAGE;
    }
    memprof_error err = {0};
    tokenizer *tok = NULL;
    if (tokenizer_load(&tok, tokenizer_path, &err) != 0) {
        fprintf(stderr, "memprof tokenize: %s\n", err.message);
        return EXIT_FAILURE_INPUT;
    }
    int exit_status = EXIT_OK;
    worker *workers = calloc((size_t)n_threads, sizeof *workers);
    batch work = {.jobs = calloc(BATCH_LINES, sizeof(line_job))};
    jsonl_reader *reader = NULL;
    if (!workers || !work.jobs) {
        fprintf(stderr, "memprof tokenize: out of memory\n");
        exit_status = EXIT_FAILURE_INPUT;
        goto done;
    }
    for (int t = 0; t < n_threads; t++)
        if (tokenizer_session_create(&workers[t].session, tok, &err) != 0) {
            fprintf(stderr, "memprof tokenize: %s\n", err.message);
            exit_status = EXIT_FAILURE_INPUT;
            goto done;
        }
    if (jsonl_reader_from_stream(&reader, stdin, "<stdin>", false, &err) != 0) {
        fprintf(stderr, "memprof tokenize: %s\n", err.message);
        exit_status = EXIT_FAILURE_INPUT;
        goto done;
    }
    for (bool more = true; more && exit_status == EXIT_OK;) {
        work.count = 0;
        size_t bytes = 0;
        while (work.count < BATCH_LINES && bytes < BATCH_BYTES) {
            const char *line;
            size_t length;
            int64_t line_number;
            int got = jsonl_reader_next(&line, &length, &line_number, reader, &err);
            if (got < 0) {
                fprintf(stderr, "memprof tokenize: %s\n", err.message);
                exit_status = EXIT_FAILURE_INPUT;
                more = false;
                break;
            }
            if (got == 0) {
                more = false;
                break;
            }
            line_job *job = &work.jobs[work.count++];
            *job = (line_job){.input = malloc(length + 1), .input_length = length, .line_number = line_number};
            if (!job->input) {
                job->status = error_set(&job->err, MEMPROF_ERR_NOMEM, "out of memory");
                continue;
            }
            memcpy(job->input, line, length + 1);
            bytes += length;
        }
        int first_failed = run_batch(&work, workers, n_threads);
        for (int i = 0; i < first_failed; i++) fwrite(work.jobs[i].output, 1, work.jobs[i].output_length, stdout);
        if (first_failed < work.count) {
            fflush(stdout);
            fprintf(stderr, "memprof tokenize: line %lld: %s\n", (long long)work.jobs[first_failed].line_number,
                    work.jobs[first_failed].err.message);
            exit_status = EXIT_FAILURE_INPUT;
        }
        for (int i = 0; i < work.count; i++) {
            free(work.jobs[i].input);
            free(work.jobs[i].output);
        }
    }
    if (fflush(stdout) != 0 && exit_status == EXIT_OK) {
        fprintf(stderr, "memprof tokenize: cannot write stdout\n");
        exit_status = EXIT_FAILURE_INPUT;
    }
done:
    jsonl_reader_close(reader);
    if (workers)
        for (int t = 0; t < n_threads; t++) {
            tokenizer_session_free(workers[t].session);
            token_ids_free(&workers[t].ids);
        }
    free(workers);
    free(work.jobs);
    tokenizer_free(tok);
    return exit_status;
}
