// cmd_tokenize.c — `memprof tokenize --tokenizer FILE [--threads N]`
//
// stdin: JSON lines, each an object with a string "text". stdout: one line {"ids": [...]}
// per input line, in input order. The first bad line (does not parse, no string "text",
// invalid UTF-8) stops the run with "memprof tokenize: line N: …" after the lines before
// it have been written. Lines are encoded in batches by a line_encoder (N threads).
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "memprof/jsonl.h"
#include "memprof/line_encoder.h"

enum { BATCH_LINES = 4096, BATCH_BYTES = 8 << 20, MAX_THREADS = 256 };

static void print_help(FILE *out) {
    fprintf(out,
            "usage: memprof tokenize --tokenizer FILE [--threads N]\n\n"
            "Reads JSON lines with a string field \"text\" on stdin and writes one line\n"
            "{\"ids\": [...]} per input line, in order (GPT-NeoX-20B tokenizer semantics of HF\n"
            "tokenizers: added tokens matched in the text, NFC, byte-level BPE; no BOS/EOS).\n\n"
            "  --tokenizer FILE  a HF tokenizer.json (e.g. data/gpt-neox-20b-tokenizer.json)\n"
            "  --threads N       encoding threads (default 1); the output does not depend on N\n"
            "  --help            this text\n\n"
            "A line that does not parse, lacks a string \"text\" or holds invalid UTF-8 stops\n"
            "the run with an error naming its line number (exit status 1).\n");
}

// Writes {"ids": [a, b, ...]}\n with a hand-rolled integer formatter (printf dominates otherwise).
static int write_ids(FILE *out, const token_ids *ids, char **buffer, size_t *capacity) {
    size_t need = 16 + (size_t)ids->count * 12;
    if (need > *capacity) {
        free(*buffer);
        *capacity = need * 2;
        *buffer = malloc(*capacity);
        if (!*buffer) {
            *capacity = 0;
            return -1;
        }
    }
    char *text = *buffer;
    size_t used = 0;
    memcpy(text, "{\"ids\": [", 9);
    used = 9;
    for (int64_t i = 0; i < ids->count; i++) {
        char digits[12];
        int n = 0;
        uint32_t value = (uint32_t)ids->ids[i];
        do digits[n++] = (char)('0' + value % 10); while ((value /= 10) > 0);
        if (i > 0) text[used++] = ',', text[used++] = ' ';
        while (n > 0) text[used++] = digits[--n];
    }
    memcpy(text + used, "]}\n", 3);
    return fwrite(text, 1, used + 3, out) == used + 3 ? 0 : -1;
}

int command_tokenize(int argc, char **argv) {
    const char *tokenizer_path = NULL;
    int threads = 1;
    static const struct option options[] = {
        {"tokenizer", required_argument, NULL, 't'}, {"threads", required_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int option;
    optind = 1;
    while ((option = getopt_long(argc, argv, "t:j:h", options, NULL)) != -1) {
        switch (option) {
        case 't': tokenizer_path = optarg; break;
        case 'j':
            threads = atoi(optarg);
            if (threads < 1 || threads > MAX_THREADS) {
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
    line_encoder *encoder = NULL;
    jsonl_reader *reader = NULL;
    encoded_line *lines = calloc(BATCH_LINES, sizeof *lines);
    char *output = NULL;
    size_t output_capacity = 0;
    int exit_status = EXIT_FAILURE_INPUT;
    if (!lines) {
        error_set(&err, MEMPROF_ERR_NOMEM, "out of memory");
        goto done;
    }
    if (tokenizer_load(&tok, tokenizer_path, &err) != 0 || line_encoder_create(&encoder, tok, threads, &err) != 0 ||
        jsonl_reader_from_stream(&reader, stdin, "<stdin>", false, &err) != 0)
        goto done;
    for (bool more = true; more;) {
        int count = 0;
        size_t bytes = 0;
        while (count < BATCH_LINES && bytes < BATCH_BYTES) {
            const char *line;
            size_t length;
            int64_t line_number;
            int got = jsonl_reader_next(&line, &length, &line_number, reader, &err);
            if (got < 0) goto done;
            if (got == 0) {
                more = false;
                break;
            }
            if (encoded_line_set(&lines[count++], line, length, line_number, &err) != 0) goto done;
            bytes += length;
        }
        int first_failed = line_encoder_run(encoder, lines, count);
        for (int i = 0; i < first_failed; i++)
            if (write_ids(stdout, &lines[i].ids, &output, &output_capacity) != 0) {
                error_set(&err, MEMPROF_ERR, "cannot write stdout");
                goto done;
            }
        if (first_failed < count) {
            fflush(stdout);
            error_set(&err, MEMPROF_ERR, "line %lld: %s", (long long)lines[first_failed].line_number,
                      lines[first_failed].err.message);
            goto done;
        }
    }
    if (fflush(stdout) != 0) {
        error_set(&err, MEMPROF_ERR, "cannot write stdout");
        goto done;
    }
    exit_status = EXIT_OK;
done:
    if (exit_status != EXIT_OK) fprintf(stderr, "memprof tokenize: %s\n", err.message);
    free(output);
    encoded_lines_free(lines, BATCH_LINES);
    jsonl_reader_close(reader);
    line_encoder_free(encoder);
    tokenizer_free(tok);
    return exit_status;
}
