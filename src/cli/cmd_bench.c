// cmd_bench.c — `memprof bench --size SIZE --random-weights [...]`: scoring throughput of a
// backend on a Pythia-shaped model with random weights (no files), all four statistics; and
// `memprof bench --load-checkpoint DIR`: load throughput from files (bench_load.c).
//
// Prints tokens/s (median of the timed runs), GFLOP/token from the FLOPs model of
// docs/performance.md (2·N_nonembedding + 2·d·V + 2·L·d·T, T = 2048), the achieved rate,
// MFU against an H100's 989 TFLOP/s dense fp16/bf16 for GPU backends, and peak memory.
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "bench_load.h"
#include "commands.h"
#include "memprof/clock.h"
#include "memprof/backend.h"
#include "memprof/checkpoint.h"

enum { MAX_REPEATS = 100 };
static const double H100_DENSE_TFLOPS = 989.0;

// The MEMPROF_* environment settings given a value other than auto (sorted), so that a
// benchmark's record says which settings it ran with: "none" for the defaults.
static int compare_strings(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }
static void print_settings(void) {
    extern char **environ;
    const char *set[64];
    size_t count = 0;
    for (char **entry = environ; entry && *entry && count < sizeof set / sizeof set[0]; entry++) {
        const char *value = strchr(*entry, '=');
        if (strncmp(*entry, "MEMPROF_", 8) != 0 || value == NULL || value[1] == '\0' || strcmp(value + 1, "auto") == 0)
            continue;
        set[count++] = *entry;
    }
    qsort(set, count, sizeof set[0], compare_strings);
    printf("  settings:");
    if (count == 0) printf(" none");
    for (size_t i = 0; i < count; i++) printf(" %s", set[i]);
    printf("\n");
}

static void bench_usage(FILE *out) {
    fprintf(out,
            "usage: memprof bench --size SIZE --random-weights [--backend cuda|cpu] [--batch N] [--precision fp16|bf16|fp32]\n"
            "                     [--max-gpu-memory GB] [--sequences N] [--length T] [--repeats R] [--threads N] [--seed S]\n"
            "                     [--tune-gemm FILE]\n"
            "       memprof bench --load-checkpoint DIR [--backend cuda|cpu] [--precision P] [--repeats R] [--cold]\n"
            "\n"
            "Measures scoring throughput on a Pythia-shaped model (14m 31m 70m 160m 410m 1b 1.4b 2.8b 6.9b 12b) with\n"
            "random fp16 weights held in memory. Every run scores the same N random sequences of T tokens (default\n"
            "2049) with all four statistics; one warm-up run is not timed. Prints tokens/s (median), each run's\n"
            "seconds in the order run ('run seconds:', for a rank test between two benches), GFLOP/token,\n"
            "achieved TFLOP/s, MFU (GPU backends, against 989 TFLOP/s) and peak memory; then what the run was:\n"
            "'kernels:' (GPU: the kernels the MEMPROF_* settings and auto resolved to) and 'settings:' (the\n"
            "MEMPROF_* variables set to other than auto, or none); a --max-gpu-memory cap is named on the first line.\n"
            "\n"
            "  --backend NAME       cuda when compiled in (default), or cpu\n"
            "  --batch N            GPU: sequences per device batch (default: planned from free memory)\n"
            "  --precision P        fp16 (GPU default), bf16, or fp32 (the CPU backend)\n"
            "  --max-gpu-memory GB  cap on the GPU memory the backend may use\n"
            "  --sequences N        sequences per timed run (default: 4 batches on a GPU, 2 per thread on the CPU)\n"
            "  --repeats R          timed runs (default 3)\n"
            "  --tune-gemm FILE     GPU: time up to 8 cuBLASLt algorithms per GEMM shape and keep the fastest, shared\n"
            "                       through FILE (read when it has the shape, else tuned and written; docs/design.md)\n"
            "\n"
            "With --load-checkpoint: loads the checkpoint folder onto the backend R times and reads its weight files\n"
            "with read() as many times; prints the median GB/s of the plain read, the open (map + hash), the backend's\n"
            "own fill (GPU: host copy, DMA, conversion), the whole load, and open + load.\n"
            "  --cold               drop the files' cached pages before each measurement (posix_fadvise, best effort)\n");
}

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double gflop_per_token(const model_config *c) {
    double d = c->hidden_size, ff = c->intermediate_size, V = c->vocab_size, L = c->num_hidden_layers;
    double non_embedding = L * (4 * d + 3 * d * d + 3 * d + d * d + d + ff * d + ff + d * ff + d) + 2 * d;
    return (2 * non_embedding + 2 * d * V + 2 * L * d * 2048) * 1e-9;
}

static int parse_positive(const char *text, const char *option, double minimum, double *out) {
    char *end;
    double value = strtod(text, &end);
    if (*end != '\0' || !(value >= minimum)) {
        fprintf(stderr, "memprof bench: %s: '%s' is not a number ≥ %g\n", option, text, minimum);
        return -1;
    }
    *out = value;
    return 0;
}

int command_bench(int argc, char **argv) {
    const char *size = NULL, *backend_name = backend_find("cuda") ? "cuda" : "cpu";
    const char *load_directory = NULL, *tuning_file = NULL;
    int random_weights = 0, cold = 0;
    double batch = 0, sequences_wanted = 0, length = 2049, repeats = 3, threads = 0, seed = 1, memory_cap = 0;
    compute_precision precision = PRECISION_DEFAULT;
    static const struct option options[] = {
        {"size", required_argument, NULL, 's'},      {"random-weights", no_argument, NULL, 'r'},
        {"backend", required_argument, NULL, 'b'},   {"batch", required_argument, NULL, 'n'},
        {"precision", required_argument, NULL, 'p'}, {"max-gpu-memory", required_argument, NULL, 'm'},
        {"sequences", required_argument, NULL, 'q'}, {"length", required_argument, NULL, 'l'},
        {"repeats", required_argument, NULL, 'R'},   {"threads", required_argument, NULL, 'j'},
        {"seed", required_argument, NULL, 'S'},      {"help", no_argument, NULL, 'h'},
        {"load-checkpoint", required_argument, NULL, 'L'}, {"cold", no_argument, NULL, 'C'},
        {"tune-gemm", required_argument, NULL, 'T'},
        {NULL, 0, NULL, 0}};
    int option, bad = 0;
    optind = 1;
    while ((option = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (option) {
        case 's': size = optarg; break;
        case 'r': random_weights = 1; break;
        case 'L': load_directory = optarg; break;
        case 'C': cold = 1; break;
        case 'T': tuning_file = optarg; break;
        case 'b': backend_name = optarg; break;
        case 'n': bad |= parse_positive(optarg, "--batch", 1, &batch); break;
        case 'm': bad |= parse_positive(optarg, "--max-gpu-memory", 0, &memory_cap); break;
        case 'q': bad |= parse_positive(optarg, "--sequences", 1, &sequences_wanted); break;
        case 'l': bad |= parse_positive(optarg, "--length", 2, &length); break;
        case 'R': bad |= parse_positive(optarg, "--repeats", 1, &repeats); break;
        case 'j': bad |= parse_positive(optarg, "--threads", 0, &threads); break;
        case 'S': bad |= parse_positive(optarg, "--seed", 0, &seed); break;
        case 'p':
            if (strcmp(optarg, "fp16") == 0) precision = PRECISION_FP16;
            else if (strcmp(optarg, "bf16") == 0) precision = PRECISION_BF16;
            else if (strcmp(optarg, "fp32") == 0) precision = PRECISION_FP32;
            else {
                fprintf(stderr, "memprof bench: --precision: '%s' is not fp16, bf16 or fp32\n", optarg);
                bad = 1;
            }
            break;
        case 'h': bench_usage(stdout); return EXIT_OK;
        default: bench_usage(stderr); return EXIT_USAGE;
        }
    }
    if (bad) return EXIT_USAGE;
    if (load_directory != NULL) {
        if (size != NULL || random_weights || optind < argc) {
            fprintf(stderr, "memprof bench: --load-checkpoint measures a checkpoint's load; it takes no --size or --random-weights\n");
            return EXIT_USAGE;
        }
        const backend *loader = backend_find(backend_name);
        if (loader == NULL) {
            fprintf(stderr, "memprof bench: --backend: no backend named '%s' is compiled in\n", backend_name);
            return EXIT_USAGE;
        }
        backend_options settings = {.threads = (int)threads, .precision = precision, .max_memory_gb = memory_cap};
        return bench_load(load_directory, loader, &settings, (int)repeats, cold);
    }
    if (size == NULL || !random_weights || optind < argc) {
        fprintf(stderr, "memprof bench: --size and --random-weights are required (a checkpoint's load: --load-checkpoint DIR)\n");
        return EXIT_USAGE;
    }
    if (repeats > MAX_REPEATS) repeats = MAX_REPEATS;
    const backend *compute = backend_find(backend_name);
    if (compute == NULL) {
        fprintf(stderr, "memprof bench: --backend: no backend named '%s' is compiled in\n", backend_name);
        return EXIT_USAGE;
    }

    memprof_error err = {0};
    model_config config;
    checkpoint *ckpt = NULL;
    void *model = NULL;
    int status = pythia_size_config(&config, size, &err);
    double start = clock_seconds(), fill_seconds = 0, load_seconds = 0;
    if (status == 0) status = checkpoint_create_random(&ckpt, &config, TENSOR_F16, (uint64_t)seed, &err);
    fill_seconds = clock_seconds() - start;
    backend_options settings = {.threads = (int)threads, .precision = precision, .batch_sequences = (int)batch,
                                .max_memory_gb = memory_cap, .gemm_tuning_file = tuning_file};
    start = clock_seconds();
    if (status == 0) status = compute->load(&model, ckpt, &settings, &err);
    load_seconds = clock_seconds() - start;

    int gpu = strcmp(compute->name, "cpu") != 0;
    int count = sequences_wanted > 0 ? (int)sequences_wanted : gpu ? (batch > 0 ? 4 * (int)batch : 64)
                                                                   : 2 * (threads > 0 ? (int)threads : 2);
    int64_t T = (int64_t)length;
    token_sequence *sequences = calloc((size_t)count, sizeof *sequences);
    int32_t *tokens = malloc((size_t)count * (size_t)T * sizeof *tokens);
    sequence_statistics *results = calloc((size_t)count, sizeof *results);
    if (status == 0 && (!sequences || !tokens || !results))
        status = error_set(&err, MEMPROF_ERR_NOMEM, "out of memory for %d sequences", count);
    uint64_t state = (uint64_t)seed * 2654435761u + 1;
    for (int i = 0; status == 0 && i < count; i++) {
        for (int64_t t = 0; t < T; t++) {
            state = state * 6364136223846793005ull + 1442695040888963407ull;
            tokens[(int64_t)i * T + t] = (int32_t)((state >> 33) % 50277u);  // the tokenizer's ids
        }
        sequences[i] = (token_sequence){tokens + (int64_t)i * T, T};
    }

    double times[MAX_REPEATS];
    int warmup = batch > 0 && batch < count ? (int)batch : count;
    if (status == 0) status = compute->score(results, NULL, model, sequences, warmup, &err);
    for (int r = 0; status == 0 && r < (int)repeats; r++) {
        start = clock_seconds();
        status = compute->score(results, NULL, model, sequences, count, &err);
        times[r] = clock_seconds() - start;
    }
    if (status == 0) {
        double in_order[MAX_REPEATS];  // as run: a trend (clocks settling, heat) shows in the order
        memcpy(in_order, times, (size_t)repeats * sizeof times[0]);
        qsort(times, (size_t)repeats, sizeof times[0], compare_doubles);
        double median = times[(int)repeats / 2];
        double tokens_per_second = (double)count * (double)T / median, gflop = gflop_per_token(&config);
        double tflops = tokens_per_second * gflop * 1e-3;
        struct rusage usage;
        getrusage(RUSAGE_SELF, &usage);
        printf("bench %s on %s (%s): %d sequences x %lld tokens, batch %s%s%s", size, compute->name,
               precision == PRECISION_BF16 ? "bf16" : precision == PRECISION_FP16 || (gpu && precision == PRECISION_DEFAULT) ? "fp16" : "fp32",
               count, (long long)T, batch > 0 ? "fixed" : "planned", tuning_file && gpu ? ", GEMM algorithms from " : "",
               tuning_file && gpu ? tuning_file : "");
        if (memory_cap > 0) printf(", at most %g GB of GPU memory", memory_cap);
        printf("\n");
        printf("  tokens/s: %.0f (median of %d runs, %.4g s each; min %.4g, max %.4g)\n", tokens_per_second,
               (int)repeats, median, times[0], times[(int)repeats - 1]);
        // Every run's time, for a rank test between two benches (scripts/device-summary.py).
        printf("  run seconds:");
        for (int r = 0; r < (int)repeats; r++) printf(" %.6f", in_order[r]);
        printf("\n");
        printf("  GFLOP/token: %.3f; achieved: %.1f GFLOP/s", gflop, tflops * 1e3);
        if (gpu) printf("; MFU: %.1f%% of %.0f TFLOP/s", 100.0 * tflops / H100_DENSE_TFLOPS, H100_DENSE_TFLOPS);
        printf("\n  memory: device %.2f GiB held by the backend, host peak RSS %.2f GiB\n",
               (double)compute->device_memory_bytes(model) / (1u << 30), (double)usage.ru_maxrss / (1 << 20));
        printf("  setup: random weights %.2f s, backend load %.2f s\n", fill_seconds, load_seconds);
        if (compute->describe) {
            char kernels[320];
            compute->describe(kernels, sizeof kernels, model);
            printf("  kernels: %s\n", kernels);
        }
        print_settings();
    }
    if (model) compute->unload(model);
    checkpoint_close(ckpt);
    free(sequences), free(tokens), free(results);
    if (status != 0) {
        fprintf(stderr, "memprof bench: %s\n", err.message);
        return EXIT_FAILURE_INPUT;
    }
    return EXIT_OK;
}
