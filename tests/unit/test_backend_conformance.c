// test_backend_conformance.c — every compiled GPU backend against the CPU fp32 reference
// (ggml's test-backend-ops idea), on the fixtures and on any checkpoint folders listed in
// MEMPROF_CONFORMANCE_CHECKPOINTS (colon-separated; the GPU check script passes random
// Pythia-shaped models there), with each LM head (chunked, fused, fused-256: MEMPROF_LM_HEAD)
// and, on a Hopper GPU, the wgmma kernels (fused-wgmma with wgmma attention; chunked with
// wgmma-serial, wgmma-64, wgmma-pingpong and wgmma-tma attention: MEMPROF_ATTENTION; the
// last twice more with the fused GEMMs: MEMPROF_UP_GEMM=fused-gelu with
// MEMPROF_RESIDUAL_GEMM=fused, and fused-gelu-pingpong; and once with the rotary inside it:
// MEMPROF_ROTARY=attention) and the joined residual GEMM (MEMPROF_RESIDUAL_GEMM=joined).
// Reports SKIP where no GPU is present. Also on small random models made in memory whose head
// dims (64, 80) take the tensor-core attention kernels, which the fixtures' 16 does not.
// Built against the CPU emulator (test_backend_conformance_emulated: every kernel file
// emulated, cuBLASLt on the CPU, an emulated H100), the same checks run without a GPU, on
// sequences of 300, 129, 77 and 2 tokens (2049 tokens would take hours there).
//
// Criteria, for fp16 (ε = 0.02) and bf16 (ε = 0.1):
//   per sequence: |Δ sup_seq|, |Δ entr_seq| ≤ 2e-3 nats; acc_seq and avg_rank within 0.5% relative
//   per position: |Δ rank| ≤ #{v : |z_v − z_y| ≤ ε} in the CPU's logits; correct equal where the
//   CPU's top-2 gap exceeds ε. Also: GPU statistics identical for a sequence alone and in a batch.
// The sequences: 2049 tokens (the Pythia sample length), 1025, 77 (lengths that are not
// multiples of any tile), and T = 2 (one prediction: the smallest attention problem), all in
// one batch; the 2-token one is held to the per-position criteria only (the means of a single
// position are not what the per-sequence tolerances are about).
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>


#include "cpu/cpu_internal.h"
#include "memprof/backend.h"
#include "test.h"
#ifdef MEMPROF_CUDA
#include "cuda/cuda_kernels.h"
#endif

enum { RANDOM_SEQUENCES = 4, MEANS_MIN_PREDICTIONS = 2 };

// 1 where the space-separated list names `word`.
static int listed(const char *list, const char *word) {
    size_t n = strlen(word);
    for (const char *p = list; (p = strstr(p, word)) != NULL; p += n)
        if ((p == list || p[-1] == ' ') && (p[n] == '\0' || p[n] == ' ')) return 1;
    return 0;
}

#ifdef MEMPROF_CUDA_EMULATED
static const int64_t LENGTHS[RANDOM_SEQUENCES] = {300, 129, 77, 2};  // past a 128-row tile, and the edge cases
#else
static const int64_t LENGTHS[RANDOM_SEQUENCES] = {2049, 1025, 77, 2};  // the Pythia sample length, then shorter
#endif

typedef struct scored {
    sequence_statistics *sequences;
    token_statistics *tokens;
} scored;

static scored score_all(const backend *b, void *model, const token_sequence *sequences, int count, memprof_error *err,
                        int *status) {
    scored s = {calloc((size_t)count, sizeof *s.sequences), calloc((size_t)count, sizeof *s.tokens)};
    for (int i = 0; i < count; i++) {
        size_t n = (size_t)sequences[i].length - 1;
        s.tokens[i] = (token_statistics){malloc(n * 8), malloc(n * 8), malloc(n * 8), malloc(n)};
    }
    *status = b->score(s.sequences, s.tokens, model, sequences, count, err);
    return s;
}

static void scored_free(scored *s, int count) {
    for (int i = 0; i < count; i++)
        free(s->tokens[i].surprisal), free(s->tokens[i].entropy), free(s->tokens[i].rank), free(s->tokens[i].correct);
    free(s->tokens);
    free(s->sequences);
}

// Seconds on a monotonic clock: each stage's time is printed (the GPU machine's budget is short).
static double seconds_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double relative(double a, double b) { return fabs(a - b) / fmax(fabs(b), 1e-12); }

// The CPU side, computed once per checkpoint: statistics, and per position the number of
// logits within each epsilon of the target's and the top-2 gap.
typedef struct reference_side {
    scored scores;
    int64_t *near_fp16, *near_bf16;  // [sequence][position], flattened with offsets
    float *top2_gap;
    int64_t *offsets;                // [count + 1]
} reference_side;

static int reference_compute(reference_side *out, const checkpoint *ckpt, const token_sequence *sequences, int count,
                             memprof_error *err) {
    const backend *cpu = cpu_backend();
    void *handle = NULL;
    backend_options options = {.threads = 0};
    int status = cpu->load(&handle, ckpt, &options, err);
    if (status != 0) return status;
    out->scores = score_all(cpu, handle, sequences, count, err, &status);
    cpu_model *weights = handle;
    int64_t V = weights->config.vocab_size, d = weights->config.hidden_size;
    out->offsets = calloc((size_t)count + 1, sizeof *out->offsets);
    for (int i = 0; i < count; i++) out->offsets[i + 1] = out->offsets[i] + sequences[i].length - 1;
    size_t total = (size_t)out->offsets[count];
    out->near_fp16 = calloc(total, sizeof *out->near_fp16);
    out->near_bf16 = calloc(total, sizeof *out->near_bf16);
    out->top2_gap = calloc(total, sizeof *out->top2_gap);
    enum { CHUNK = 64 };
    float *logits = malloc((size_t)CHUNK * (size_t)V * sizeof(float));
    for (int i = 0; i < count && status == 0; i++) {
        int64_t T = sequences[i].length;
        cpu_workspace workspace;
        if ((status = cpu_workspace_alloc(&workspace, &weights->config, T, err)) != 0) break;
        cpu_forward_hidden(&workspace, weights, sequences[i].tokens, T);
        for (int64_t first = 0; first + 1 < T; first += CHUNK) {
            int64_t rows = T - 1 - first < CHUNK ? T - 1 - first : CHUNK;
            matmul_transposed(logits, workspace.norm1 + first * d, weights->embed_out, rows, V, d, d, d, V, 1.0f);
            for (int64_t r = 0; r < rows; r++) {
                const float *z = logits + r * V;
                int32_t y = sequences[i].tokens[first + r + 1];
                int64_t near16 = 0, near_bf = 0;
                float top1 = -INFINITY, top2 = -INFINITY;
                for (int64_t v = 0; v < V; v++) {
                    float gap = fabsf(z[v] - z[y]);
                    near16 += v != y && gap <= 0.02f;
                    near_bf += v != y && gap <= 0.1f;
                    if (z[v] > top1) top2 = top1, top1 = z[v];
                    else if (z[v] > top2) top2 = z[v];
                }
                int64_t at = out->offsets[i] + first + r;
                out->near_fp16[at] = near16;
                out->near_bf16[at] = near_bf;
                out->top2_gap[at] = top1 - top2;
            }
        }
        cpu_workspace_free(&workspace);
    }
    free(logits);
    cpu->unload(handle);
    return status;
}

static void reference_free(reference_side *r, int count) {
    scored_free(&r->scores, count);
    free(r->near_fp16), free(r->near_bf16), free(r->top2_gap), free(r->offsets);
}

// options: NULL for the defaults, or batch size, tuning file … (the precision is set here).
static void compare(const char *label, const checkpoint *ckpt, const token_sequence *sequences, int count,
                    const reference_side *reference, const backend *gpu, compute_precision precision, double epsilon,
                    const backend_options *options) {
    char name[700];
    memprof_error err = {0};
    void *gpu_model = NULL;
    backend_options gpu_options = options ? *options : (backend_options){0};
    gpu_options.precision = precision;
    int status = gpu->load(&gpu_model, ckpt, &gpu_options, &err);
    if (status != 0) {
        snprintf(name, sizeof name, "%s: %s load", label, gpu->name);
        if (strstr(err.message, "no CUDA device")) SKIP(name, "%s", err.message);
        // A kernel this GPU cannot hold (test_bench.sh checks the refusal's line).
        else if (strstr(err.message, "bytes of shared memory per block, this GPU allows")) SKIP(name, "%s", err.message);
        else CHECK(name, 0, "%s", err.message);
        return;
    }
    scored candidate = score_all(gpu, gpu_model, sequences, count, &err, &status);
    snprintf(name, sizeof name, "%s: %s score", label, gpu->name);
    CHECK(name, status == 0, "%s", err.message);
    const int64_t *near = precision == PRECISION_BF16 ? reference->near_bf16 : reference->near_fp16;
    for (int i = 0; i < count && status == 0; i++) {
        const sequence_statistics *r = &reference->scores.sequences[i], *c = &candidate.sequences[i];
        int64_t excused = 0, rank_violations = 0, correct_violations = 0;
        for (int64_t p = 0; p + 1 < sequences[i].length; p++) {
            int64_t at = reference->offsets[i] + p;
            int64_t delta = llabs(candidate.tokens[i].rank[p] - reference->scores.tokens[i].rank[p]);
            excused += delta != 0;
            rank_violations += delta > near[at];
            if (reference->top2_gap[at] > epsilon)
                correct_violations += candidate.tokens[i].correct[p] != reference->scores.tokens[i].correct[p];
        }
        printf("%s seq %d (%s): dsup %.2e dentr %.2e, acc %.6f vs %.6f, avg_rank %.4f vs %.4f, %lld positions with a "
               "different rank (all within their near-tie allowance: %s)\n", label, i, gpu->name,
               fabs(c->sup_seq - r->sup_seq), fabs(c->entr_seq - r->entr_seq), c->acc_seq, r->acc_seq, c->avg_rank,
               r->avg_rank, (long long)excused, rank_violations ? "no" : "yes");
        snprintf(name, sizeof name, "%s: seq %d rank within the near-tie allowance", label, i);
        CHECK(name, rank_violations == 0, "%lld positions", (long long)rank_violations);
        snprintf(name, sizeof name, "%s: seq %d correct equal where the top-2 gap exceeds epsilon", label, i);
        CHECK(name, correct_violations == 0, "%lld positions", (long long)correct_violations);
        snprintf(name, sizeof name, "%s: seq %d statistics finite", label, i);
        CHECK(name, isfinite(c->sup_seq) && isfinite(c->entr_seq) && isfinite(c->avg_rank), "%g %g %g", c->sup_seq,
              c->entr_seq, c->avg_rank);
        if (r->n_pred < MEANS_MIN_PREDICTIONS) continue;
        snprintf(name, sizeof name, "%s: seq %d sup_seq and entr_seq within 2e-3", label, i);
        CHECK(name, fabs(c->sup_seq - r->sup_seq) <= 2e-3 && fabs(c->entr_seq - r->entr_seq) <= 2e-3, "%.3g, %.3g",
              fabs(c->sup_seq - r->sup_seq), fabs(c->entr_seq - r->entr_seq));
        snprintf(name, sizeof name, "%s: seq %d acc_seq and avg_rank within 0.5%%", label, i);
        CHECK(name, (relative(c->acc_seq, r->acc_seq) <= 5e-3 || fabs(c->acc_seq - r->acc_seq) < 1e-12) &&
                        relative(c->avg_rank, r->avg_rank) <= 5e-3,
              "acc %.6f vs %.6f, avg_rank %.4f vs %.4f", c->acc_seq, r->acc_seq, c->avg_rank, r->avg_rank);
    }

    // Batch independence on the GPU: each of the last two sequences alone gives the same bits.
    for (int i = count > 2 ? count - 2 : 1; status == 0 && i < count; i++) {
        sequence_statistics alone;
        status = gpu->score(&alone, NULL, gpu_model, &sequences[i], 1, &err);
        snprintf(name, sizeof name, "%s: %s seq %d statistics identical alone and in a batch", label, gpu->name, i);
        CHECK(name, status == 0 && memcmp(&alone, &candidate.sequences[i], sizeof alone) == 0, "%s",
              status ? err.message : "bits differ");
    }
    scored_free(&candidate, count);
    gpu->unload(gpu_model);
}

// The same statistics, bit for bit, from two values of a kernel setting that must not change
// a bit (MEMPROF_ROTARY: the rotary pass, or the rotation inside the TMA attention).
static void check_same_bits(const char *label, const checkpoint *ckpt, const token_sequence *sequences, int count,
                            const backend *gpu, const char *variable, const char *first, const char *second) {
    char name[700];
    memprof_error err = {0};
    scored runs[2];
    int status = 0;
    for (int run = 0; run < 2; run++) {
        setenv(variable, run ? second : first, 1);
        void *gpu_model = NULL;
        backend_options options = {.precision = PRECISION_FP16};
        status = gpu->load(&gpu_model, ckpt, &options, &err);
        runs[run] = (scored){NULL, NULL};
        if (status == 0) {
            runs[run] = score_all(gpu, gpu_model, sequences, count, &err, &status);
            gpu->unload(gpu_model);
        }
        if (status != 0) {
            if (runs[run].sequences) scored_free(&runs[run], count);
            if (run) scored_free(&runs[0], count);
            break;
        }
    }
    unsetenv(variable);
    snprintf(name, sizeof name, "%s: fp16 statistics with %s=%s bit for bit those with %s=%s", label, variable, second,
             variable, first);
    if (status != 0) {
        CHECK(name, 0, "%s", err.message);
        return;
    }
    int64_t differing = 0;
    for (int i = 0; i < count; i++) {
        size_t n = (size_t)sequences[i].length - 1;
        differing += memcmp(&runs[0].sequences[i], &runs[1].sequences[i], sizeof runs[0].sequences[i]) != 0;
        differing += memcmp(runs[0].tokens[i].surprisal, runs[1].tokens[i].surprisal, n * 8) != 0 ||
                     memcmp(runs[0].tokens[i].entropy, runs[1].tokens[i].entropy, n * 8) != 0 ||
                     memcmp(runs[0].tokens[i].rank, runs[1].tokens[i].rank, n * 8) != 0 ||
                     memcmp(runs[0].tokens[i].correct, runs[1].tokens[i].correct, n) != 0;
    }
    CHECK(name, differing == 0, "%lld sequence or per-token records differ", (long long)differing);
    scored_free(&runs[0], count);
    scored_free(&runs[1], count);
}

// Every comparison on one model (`folder` names it in the output).
// other_paths: also through batches of one sequence and tuned GEMMs.
static void check_model(const char *folder, const checkpoint *ckpt, const backend *gpu, int other_paths) {
    memprof_error err = {0};
    char name[512];
    // Random tokens (a fixed LCG) of the lengths above.
    int vocab = checkpoint_config(ckpt)->vocab_size;
    token_sequence sequences[RANDOM_SEQUENCES];
    uint64_t state = 12345;
    for (int i = 0; i < RANDOM_SEQUENCES; i++) {
        int64_t length = LENGTHS[i];
        int32_t *tokens = malloc((size_t)length * sizeof *tokens);
        for (int64_t t = 0; t < length; t++) {
            state = state * 6364136223846793005ull + 1442695040888963407ull;
            tokens[t] = (int32_t)((state >> 33) % (uint64_t)vocab);
        }
        sequences[i] = (token_sequence){tokens, length};
    }
    char label[600];
    reference_side reference = {0};
    double started = seconds_now();
    int status = reference_compute(&reference, ckpt, sequences, RANDOM_SEQUENCES, &err);
    printf("%s: cpu reference in %.1f s\n", folder, seconds_now() - started);
    snprintf(name, sizeof name, "%s: cpu reference", folder);
    if (status != 0) CHECK(name, 0, "%s", err.message);
    // Every LM head: GEMM chunks + the statistics kernel, and the fused kernel in both tilings
    // (MEMPROF_LM_HEAD); on a Hopper GPU the wgmma kernels too (MEMPROF_ATTENTION).
    // LM head, attention, up GEMM, residual GEMM (MEMPROF_LM_HEAD, MEMPROF_ATTENTION,
    // MEMPROF_UP_GEMM, MEMPROF_RESIDUAL_GEMM) and where the rotary runs (MEMPROF_ROTARY); then
    // the fused GEMMs, the TMA attention with half its exponentials on the FMA units, the
    // ping-pong GEMM LM head, and the rotary inside the TMA attention (at head dim 16, the
    // fixtures', the pass runs after all: the TMA form does not cover it). The joined residual
    // GEMM (cuBLASLt, any GPU: the first four rows run everywhere) with the mma attention, and
    // with the TMA one, rotary folded, writing its rows beside the MLP's.
    static const char *const heads[][5] = {
        {"chunked", "mma", "cublaslt", "cublaslt", "pass"}, {"fused", "mma", "cublaslt", "cublaslt", "pass"},
        {"fused-256", "mma", "cublaslt", "cublaslt", "pass"}, {"chunked", "mma", "cublaslt", "joined", "pass"},
        {"fused-wgmma", "wgmma", "cublaslt", "cublaslt", "pass"}, {"chunked", "wgmma-serial", "cublaslt", "cublaslt", "pass"},
        {"chunked", "wgmma-64", "cublaslt", "cublaslt", "pass"}, {"chunked", "wgmma-pingpong", "cublaslt", "cublaslt", "pass"},
        {"chunked", "wgmma-tma", "cublaslt", "cublaslt", "pass"}, {"chunked", "wgmma-tma", "fused-gelu", "fused", "pass"},
        {"chunked", "wgmma-tma", "fused-gelu-pingpong", "cublaslt", "pass"}, {"chunked", "wgmma-tma-fma50", "cublaslt", "cublaslt", "pass"},
        {"fused-pingpong", "wgmma-tma", "cublaslt", "cublaslt", "pass"}, {"chunked", "wgmma-tma", "cublaslt", "cublaslt", "attention"},
        {"fused-pingpong", "wgmma-tma", "cublaslt", "joined", "attention"}};
    int wgmma = 0;
#ifdef MEMPROF_CUDA
    wgmma = cuda_wgmma_available();
#endif
    // MEMPROF_CONFORMANCE_SKIP: attention or up GEMM kernels to leave out ("fused-residual":
    // the residual GEMM's), space-separated (the GPU
    // check names those whose own test timed out, so that a kernel that hangs costs the call
    // one timeout, not this test's too); each is reported as skipped.
    const char *skip = getenv("MEMPROF_CONFORMANCE_SKIP");
    for (int h = 0; h < (wgmma ? (int)(sizeof heads / sizeof heads[0]) : 4) && status == 0; h++) {
        char kernels[200];
        snprintf(kernels, sizeof kernels, "%s LM head, %s attention, %s up GEMM, %s residual GEMM, rotary %s",
                 heads[h][0], heads[h][1], heads[h][2], heads[h][3], heads[h][4]);
        if (skip != NULL && (listed(skip, heads[h][1]) || listed(skip, heads[h][2]) ||
                             (strcmp(heads[h][3], "fused") == 0 && listed(skip, "fused-residual")))) {
            snprintf(label, sizeof label, "%s (%s)", folder, kernels);
            SKIP(label, "MEMPROF_CONFORMANCE_SKIP names one of these kernels");
            continue;
        }
        setenv("MEMPROF_LM_HEAD", heads[h][0], 1);
        setenv("MEMPROF_ATTENTION", heads[h][1], 1);
        setenv("MEMPROF_UP_GEMM", heads[h][2], 1);
        setenv("MEMPROF_RESIDUAL_GEMM", heads[h][3], 1);
        setenv("MEMPROF_ROTARY", heads[h][4], 1);
        snprintf(label, sizeof label, "%s fp16 (%s)", folder, kernels);
        started = seconds_now();
        compare(label, ckpt, sequences, RANDOM_SEQUENCES, &reference, gpu, PRECISION_FP16, 0.02, NULL);
        printf("%s: gpu load, score and checks in %.1f s\n", label, seconds_now() - started);
        snprintf(label, sizeof label, "%s bf16 (%s)", folder, kernels);
        started = seconds_now();
        compare(label, ckpt, sequences, RANDOM_SEQUENCES, &reference, gpu, PRECISION_BF16, 0.1, NULL);
        printf("%s: gpu load, score and checks in %.1f s\n", label, seconds_now() - started);
    }
    if (wgmma && status == 0) {
        // The rotary inside the TMA attention, end to end: every layer's attention on rotated q
        // and k without the pass, the same bits (head dims the TMA form covers: the random models).
        setenv("MEMPROF_LM_HEAD", "chunked", 1);
        setenv("MEMPROF_ATTENTION", "wgmma-tma", 1);
        setenv("MEMPROF_UP_GEMM", "cublaslt", 1);
        setenv("MEMPROF_RESIDUAL_GEMM", "cublaslt", 1);
        check_same_bits(folder, ckpt, sequences, RANDOM_SEQUENCES, gpu, "MEMPROF_ROTARY", "pass", "attention");
    }
    if (!wgmma) SKIP("backend conformance, wgmma kernels", "the device is not compute capability 9.x or this build has no sm_90a code");
    unsetenv("MEMPROF_LM_HEAD");
    unsetenv("MEMPROF_ATTENTION");
    unsetenv("MEMPROF_UP_GEMM");
    unsetenv("MEMPROF_RESIDUAL_GEMM");
    unsetenv("MEMPROF_ROTARY");
    if (other_paths && status == 0) {
        // The chunked LM head and mma attention through the other host paths: one sequence
        // per device batch (the planner's batches, each with its own GEMM calls) and GEMM
        // algorithms tuned through a tuning file (timed candidates, the file written, then
        // read back). Chunked by name: the automatic head may be the fused one (no LM head GEMM).
        setenv("MEMPROF_LM_HEAD", "chunked", 1);
        char tuning[64];
        snprintf(tuning, sizeof tuning, "/tmp/memprof-conformance-tuning-%ld.txt", (long)getpid());
        backend_options options = {.batch_sequences = 1, .gemm_tuning_file = tuning};
        snprintf(label, sizeof label, "%s fp16 (batches of one sequence, tuned GEMMs)", folder);
        compare(label, ckpt, sequences, RANDOM_SEQUENCES, &reference, gpu, PRECISION_FP16, 0.02, &options);
        FILE *written = fopen(tuning, "r");
        int lines = 0;
        for (int c; written && (c = fgetc(written)) != EOF;) lines += c == '\n';
        if (written) fclose(written);
        snprintf(name, sizeof name, "%s: the GEMM tuning file holds the tuned shapes", folder);
        CHECK(name, lines >= 4, "%d lines in %s", lines, tuning);
        unlink(tuning);
        // The joined residual GEMM tuned: the up GEMM's strided output and the k = d + ff GEMM
        // are shapes of their own in the tuning file.
        setenv("MEMPROF_RESIDUAL_GEMM", "joined", 1);
        snprintf(label, sizeof label, "%s fp16 (joined residual GEMM, batches of one sequence, tuned GEMMs)", folder);
        compare(label, ckpt, sequences, RANDOM_SEQUENCES, &reference, gpu, PRECISION_FP16, 0.02, &options);
        unsetenv("MEMPROF_RESIDUAL_GEMM");
        written = fopen(tuning, "r");
        int joined_lines = 0, strided_lines = 0;
        char line[1024];
        while (written && fgets(line, sizeof line, written))
            joined_lines++, strided_lines += strstr(line, "apart") != NULL;
        if (written) fclose(written);
        snprintf(name, sizeof name, "%s: the tuning file holds the joined path's shapes, the strided up GEMM apart",
                 folder);
        CHECK(name, joined_lines >= 4 && strided_lines == 1, "%d lines, %d of them strided, in %s", joined_lines,
              strided_lines, tuning);
        unlink(tuning);
        // The chunked head's GEMMs on all but 8 SMs and its statistics kernels on 8 blocks
        // taking rows in turn (MEMPROF_STATISTICS_SMS). A 50 MB cap (32 MB of it cuBLASLt's
        // workspace) leaves a logits buffer of under a thousand rows at these vocabularies,
        // so a 2049-token sequence takes several chunks, all but the last beside a GEMM.
        setenv("MEMPROF_STATISTICS_SMS", "8", 1);
        backend_options capped = {.max_memory_gb = 0.05};
        snprintf(label, sizeof label, "%s fp16 (chunked LM head, statistics on 8 SMs, 50 MB cap)", folder);
        compare(label, ckpt, sequences, RANDOM_SEQUENCES, &reference, gpu, PRECISION_FP16, 0.02, &capped);
        unsetenv("MEMPROF_STATISTICS_SMS");
        unsetenv("MEMPROF_LM_HEAD");
    }
    reference_free(&reference, RANDOM_SEQUENCES);
    for (int i = 0; i < RANDOM_SEQUENCES; i++) free((void *)sequences[i].tokens);
}

static void check_checkpoint(const char *folder, const backend *gpu) {
    memprof_error err = {0};
    checkpoint *ckpt = NULL;
    char name[512];
    snprintf(name, sizeof name, "%s: open", folder);
    if (checkpoint_open(&ckpt, folder, &err) != 0) {
        CHECK(name, 0, "%s", err.message);
        return;
    }
    check_model(folder, ckpt, gpu, 0);
    checkpoint_close(ckpt);
}

// A Pythia-shaped model (rotary 1/4 of the head dim, ff = 4d) with random F16 weights at the
// fixtures' scales, held in memory; a vocabulary that is not a multiple of the LM head's tiles.
static void check_random_model(int hidden, int heads, int layers, int vocab, const backend *gpu) {
    model_config config = {.hidden_size = hidden, .num_attention_heads = heads, .num_hidden_layers = layers,
                           .intermediate_size = 4 * hidden, .vocab_size = vocab, .head_dim = hidden / heads,
                           .rotary_fraction = 0.25, .rotary_dims = hidden / heads / 4, .rotary_base = 10000.0,
                           .layer_norm_eps = 1e-5};
    char label[128], name[160];
    snprintf(label, sizeof label, "random d %d, head dim %d, %d layers, V %d", hidden, hidden / heads, layers, vocab);
    memprof_error err = {0};
    checkpoint *ckpt = NULL;
    snprintf(name, sizeof name, "%s: create", label);
    if (checkpoint_create_random(&ckpt, &config, TENSOR_F16, 7, &err) != 0) {
        CHECK(name, 0, "%s", err.message);
        return;
    }
    check_model(label, ckpt, gpu, 1);
    checkpoint_close(ckpt);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);  // each stage's time as it ends
    const backend *gpu = backend_find("cuda");
    if (gpu == NULL) {
        SKIP("backend conformance", "no GPU backend compiled in (built with CUDA=0)");
        return 0;
    }
    // One probe: without a device every comparison is skipped, without computing references.
    {
        memprof_error err = {0};
        checkpoint *ckpt = NULL;
        void *model = NULL;
        backend_options options = {0};
        if (checkpoint_open(&ckpt, "tests/fixtures/tiny-neox-f32-safetensors", &err) == 0 &&
            gpu->load(&model, ckpt, &options, &err) != 0 && strstr(err.message, "no CUDA device")) {
            SKIP("backend conformance", "%s", err.message);
            checkpoint_close(ckpt);
            return 0;
        }
        if (model) gpu->unload(model);
        checkpoint_close(ckpt);
    }
    check_checkpoint("tests/fixtures/tiny-neox-f32-safetensors", gpu);
    check_checkpoint("tests/fixtures/tiny-neox-f16-bin", gpu);
    check_random_model(128, 2, 2, 1000, gpu);  // head dim 64 (Pythia 70m–410m)
    check_random_model(160, 2, 1, 1000, gpu);  // head dim 80 (Pythia 2.8b)
    const char *extra = getenv("MEMPROF_CONFORMANCE_CHECKPOINTS");
    if (extra && *extra) {
        char *list = strdup(extra), *saveptr = NULL;
        for (char *folder = strtok_r(list, ":", &saveptr); folder; folder = strtok_r(NULL, ":", &saveptr))
            check_checkpoint(folder, gpu);
        free(list);
    }
    return test_failures ? 1 : 0;
}
