// cmd_score.c — `memprof score --checkpoint DIR --tokens FILE [--per-token] [--threads N] [--backend NAME]`
//
// Scores every sequence of FILE with the checkpoint and writes one CSV on stdout:
//   per sequence: seq,n_pred,sup_seq,acc_seq,entr_seq,avg_rank
//   --per-token:  seq,pos,target,surprisal,rank,entropy,correct   (pos predicts pos+1)
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/token_input.h"
#include "commands.h"
#include "memprof/backend.h"
#include "memprof/checkpoint.h"

enum { SCORE_BATCH = 32 };  // sequences handed to the backend at once

static void score_usage(FILE *out) {
    fprintf(out,
            "usage: memprof score --checkpoint DIR --tokens FILE [--per-token] [--threads N] [--backend cpu|cuda]\n"
            "                     [--precision fp32|fp16|bf16] [--max-gpu-memory GB] [--tune-gemm FILE]\n"
            "\n"
            "Scores token sequences with a GPT-NeoX checkpoint folder (config.json + model.safetensors or\n"
            "pytorch_model.bin, maybe sharded) and writes a CSV on stdout.\n"
            "\n"
            "  --checkpoint DIR  checkpoint folder as published on the Hugging Face hub\n"
            "  --tokens FILE     a text file with one sequence per line (space-separated token ids;\n"
            "                    sequence name = 1-based line number), or a .safetensors file whose integer\n"
            "                    tensors `input_ids` or `<name>.input_ids` hold sequences (1-D: one sequence\n"
            "                    <name>; 2-D [N, T]: sequences <name>[0..N-1]), taken in name order\n"
            "  --per-token       write seq,pos,target,surprisal,rank,entropy,correct for every position\n"
            "                    instead of the per-sequence table seq,n_pred,sup_seq,acc_seq,entr_seq,avg_rank\n"
            "  --threads N       CPU threads (default: all cores); results do not depend on it\n"
            "  --backend NAME    compute backend: cpu (default, fp32) or cuda (when compiled in)\n"
            "  --precision P     fp32 (cpu), fp16 (cuda default) or bf16 (cuda)\n"
            "  --max-gpu-memory GB  cap on the GPU memory the cuda backend may use\n"
            "  --tune-gemm FILE  cuda: GEMM algorithms timed once per shape and shared through FILE (docs/design.md)\n");
}

static void print_sequence_row(const char *name, const sequence_statistics *s) {
    printf("%s,%lld,%.17g,%.17g,%.17g,%.17g\n", name, (long long)s->n_pred, s->sup_seq, s->acc_seq, s->entr_seq,
           s->avg_rank);
}

static void print_token_rows(const char *name, const token_sequence *sequence, const token_statistics *t) {
    for (int64_t p = 0; p + 1 < sequence->length; p++)
        printf("%s,%lld,%d,%.17g,%lld,%.17g,%d\n", name, (long long)p, sequence->tokens[p + 1], t->surprisal[p],
               (long long)t->rank[p], t->entropy[p], t->correct[p]);
}

static int allocate_token_statistics(token_statistics *out, int64_t predictions) {
    size_t n = (size_t)(predictions > 0 ? predictions : 1);
    out->surprisal = malloc(n * sizeof(double));
    out->entropy = malloc(n * sizeof(double));
    out->rank = malloc(n * sizeof(int64_t));
    out->correct = malloc(n);
    return out->surprisal && out->entropy && out->rank && out->correct ? 0 : -1;
}

static void free_token_statistics(token_statistics *t) {
    free(t->surprisal);
    free(t->entropy);
    free(t->rank);
    free(t->correct);
}

int command_score(int argc, char **argv) {
    const char *checkpoint_dir = NULL, *tokens_path = NULL, *backend_name = "cpu", *tuning_file = NULL;
    int per_token = 0, threads = 0;
    compute_precision precision = PRECISION_DEFAULT;
    double memory_cap = 0;
    static const struct option options[] = {
        {"checkpoint", required_argument, NULL, 'c'}, {"tokens", required_argument, NULL, 't'},
        {"per-token", no_argument, NULL, 'p'},       {"threads", required_argument, NULL, 'j'},
        {"backend", required_argument, NULL, 'b'},   {"help", no_argument, NULL, 'h'},
        {"precision", required_argument, NULL, 'P'}, {"max-gpu-memory", required_argument, NULL, 'm'},
        {"tune-gemm", required_argument, NULL, 'T'}, {NULL, 0, NULL, 0}};
    int option;
    optind = 1;
    while ((option = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (option) {
        case 'c': checkpoint_dir = optarg; break;
        case 't': tokens_path = optarg; break;
        case 'p': per_token = 1; break;
        case 'b': backend_name = optarg; break;
        case 'T': tuning_file = optarg; break;
        case 'j': {
            char *end;
            long value = strtol(optarg, &end, 10);
            if (*end != '\0' || value < 0 || value > 4096) {
                fprintf(stderr, "memprof score: --threads: '%s' is not a thread count (0..4096)\n", optarg);
                return EXIT_USAGE;
            }
            threads = (int)value;
            break;
        }
        case 'P':
            if (strcmp(optarg, "fp32") == 0) precision = PRECISION_FP32;
            else if (strcmp(optarg, "fp16") == 0) precision = PRECISION_FP16;
            else if (strcmp(optarg, "bf16") == 0) precision = PRECISION_BF16;
            else {
                fprintf(stderr, "memprof score: --precision: '%s' is not fp32, fp16 or bf16\n", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'm': {
            char *end;
            memory_cap = strtod(optarg, &end);
            if (*end != '\0' || !(memory_cap > 0)) {
                fprintf(stderr, "memprof score: --max-gpu-memory: '%s' is not a positive number of GB\n", optarg);
                return EXIT_USAGE;
            }
            break;
        }
        case 'h': score_usage(stdout); return EXIT_OK;
        default: score_usage(stderr); return EXIT_USAGE;
        }
    }
    if (optind < argc || checkpoint_dir == NULL || tokens_path == NULL) {
        if (optind < argc) fprintf(stderr, "memprof score: unexpected argument '%s'\n", argv[optind]);
        else fprintf(stderr, "memprof score: --checkpoint and --tokens are required\n");
        score_usage(stderr);
        return EXIT_USAGE;
    }
    const backend *compute = backend_find(backend_name);
    if (compute == NULL) {
        fprintf(stderr, "memprof score: --backend: no backend named '%s' is compiled in\n", backend_name);
        return EXIT_USAGE;
    }

    memprof_error err = {0};
    checkpoint *ckpt = NULL;
    token_input input = {0};
    void *model = NULL;
    int status = checkpoint_open(&ckpt, checkpoint_dir, &err);
    if (status == 0) status = token_input_load(&input, tokens_path, &err);
    if (status == 0) status = token_input_validate(&input, tokens_path, checkpoint_config(ckpt)->vocab_size, &err);
    backend_options backend_settings = {.threads = threads, .precision = precision, .max_memory_gb = memory_cap,
                                        .gemm_tuning_file = tuning_file};
    if (status == 0) status = compute->load(&model, ckpt, &backend_settings, &err);

    if (status == 0) {
        printf(per_token ? "seq,pos,target,surprisal,rank,entropy,correct\n"
                         : "seq,n_pred,sup_seq,acc_seq,entr_seq,avg_rank\n");
        sequence_statistics results[SCORE_BATCH];
        token_statistics token_results[SCORE_BATCH] = {{0}};
        for (int start = 0; start < input.count && status == 0; start += SCORE_BATCH) {
            int batch = input.count - start < SCORE_BATCH ? input.count - start : SCORE_BATCH;
            for (int i = 0; i < batch && per_token && status == 0; i++)
                if (allocate_token_statistics(&token_results[i], input.sequences[start + i].length - 1) != 0)
                    status = error_set(&err, MEMPROF_ERR_NOMEM, "out of memory for per-token statistics");
            if (status == 0)
                status = compute->score(results, per_token ? token_results : NULL, model, input.sequences + start,
                                        batch, &err);
            for (int i = 0; i < batch && status == 0; i++) {
                if (per_token) print_token_rows(input.names[start + i], &input.sequences[start + i], &token_results[i]);
                else print_sequence_row(input.names[start + i], &results[i]);
            }
            for (int i = 0; i < batch && per_token; i++) {
                free_token_statistics(&token_results[i]);
                token_results[i] = (token_statistics){0};
            }
        }
    }
    if (model) compute->unload(model);
    token_input_free(&input);
    checkpoint_close(ckpt);
    if (status != 0) {
        fprintf(stderr, "memprof score: %s\n", err.message);
        return EXIT_FAILURE_INPUT;
    }
    if (fflush(stdout) != 0) {
        fprintf(stderr, "memprof score: cannot write the output\n");
        return EXIT_FAILURE_INPUT;
    }
    return EXIT_OK;
}
