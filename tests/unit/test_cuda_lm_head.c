// test_cuda_lm_head.c — the fused LM heads (cuda_lm_head_statistics on mma.sync, and where
// the device and build have wgmma cuda_lm_head_wgmma_statistics and the ping-pong GEMM
// cuda_lm_head_pingpong_statistics) against the statistics computed here in double, fp16
// and bf16.
//
// Inputs are multiples of 1/64 in [−1, 1]: exact in fp16 and bf16, their products exact, and
// every partial sum a multiple of 2⁻¹² below 2¹¹ (d ≤ 2048), so the logits are exact in fp32
// whatever the summation order: the kernel's logits must equal the double reference, its rank
// must equal the count above the target's logit, and surprisal and entropy are held to
// fp32-accumulation tolerances. The kernel's test mode writes out every logit it computes,
// which checks the rank's design directly: the target logit the kernel keeps (the end of its
// workspace) is bit for bit the target's logit in that output, and the rank is the count of
// that output's values above it. Also: the production kernel gives the same bits as the test
// mode, rows give the same bits at another offset in the batch, with 256-row blocks (mma.sync)
// and with persistent blocks taking several work units each (ping-pong: 2 emulated SMs), rows
// whose target is −1 are left alone, and vocabularies, splits and d that are not multiples
// of the tiles.
// Needs a GPU: reports SKIP (never PASS) without one. Built with tests/emulator instead
// (test_cuda_lm_head_emulated), the same checks run the kernel's source on the CPU emulator,
// in every `make test`, except the 70m-shaped case (too slow there: MEMPROF_EMULATE_ALL=1).
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "test_kernels.h"

#ifdef MEMPROF_CUDA
#include <cuda_runtime_api.h>

#include "cuda/cuda_kernels.h"

typedef struct head_case {
    const char *label;
    int64_t rows;
    int dim, vocab, splits;  // splits 0: cuda_lm_head_splits(vocab)
    int skipped_every;       // every k-th row gets target −1 (0: none)
} head_case;

typedef struct device_run {
    double *surprisal, *entropy;
    int64_t *rank;
    float *logits, *target_logits;  // logits only in the test mode
} device_run;

enum { HEAD_MMA = 0, HEAD_WGMMA = 1, HEAD_PINGPONG = 2 };
static const char *const head_names[] = {"", " (wgmma)", " (ping-pong)"};

// One launch on device inputs; outputs come back to the host. Rows are [offset, rows).
// HEAD_MMA: cuda_lm_head_statistics with block_rows 128 or 256; HEAD_WGMMA:
// cuda_lm_head_wgmma_statistics; HEAD_PINGPONG: cuda_lm_head_pingpong_statistics (two
// partial states per split in its workspace).
static const char *run_kernel(device_run *out, const void *hidden_device, const void *weight_device,
                              const int32_t *targets_device, const head_case *c, int64_t offset, int splits, int kind,
                              int block_rows, int scalar_type, int dump) {
    int64_t rows = c->rows - offset;
    size_t workspace_bytes = cuda_lm_head_workspace_bytes(rows, kind == HEAD_PINGPONG ? 2 * splits : splits);
    double *surprisal = NULL, *entropy = NULL;
    int64_t *rank = NULL;
    float *logits = NULL;
    void *workspace = NULL;
    const char *failure = NULL;
    cudaError_t status = cudaMalloc((void **)&surprisal, (size_t)rows * 8);
    if (status == cudaSuccess) status = cudaMalloc((void **)&entropy, (size_t)rows * 8);
    if (status == cudaSuccess) status = cudaMalloc((void **)&rank, (size_t)rows * 8);
    if (status == cudaSuccess) status = cudaMalloc(&workspace, workspace_bytes);
    if (status == cudaSuccess && dump) status = cudaMalloc((void **)&logits, (size_t)rows * (size_t)c->vocab * 4);
    // 0xff bytes: NaN doubles and rank −1, which rows left alone must still hold.
    if (status == cudaSuccess) status = cudaMemset(surprisal, 0xff, (size_t)rows * 8);
    if (status == cudaSuccess) status = cudaMemset(entropy, 0xff, (size_t)rows * 8);
    if (status == cudaSuccess) status = cudaMemset(rank, 0xff, (size_t)rows * 8);
    if (status == cudaSuccess && dump) status = cudaMemset(logits, 0xff, (size_t)rows * (size_t)c->vocab * 4);
    if (status == cudaSuccess) {
        size_t element = 2;
        const void *hidden_rows = (const char *)hidden_device + offset * c->dim * element;
        const int32_t *targets_rows = targets_device + offset;
        int launched = kind == HEAD_MMA ? cuda_lm_head_statistics(surprisal, entropy, rank, hidden_rows, weight_device,
                                                                  targets_rows, rows, c->dim, c->vocab, splits,
                                                                  block_rows, workspace, logits, scalar_type, NULL)
                       : kind == HEAD_WGMMA
                           ? cuda_lm_head_wgmma_statistics(surprisal, entropy, rank, hidden_rows, weight_device,
                                                           targets_rows, rows, c->dim, c->vocab, splits, workspace,
                                                           logits, scalar_type, NULL)
                           : cuda_lm_head_pingpong_statistics(surprisal, entropy, rank, hidden_rows, weight_device,
                                                              targets_rows, rows, c->dim, c->vocab, splits, workspace,
                                                              logits, scalar_type, NULL);
        if (launched != 0) failure = launched < 0 ? "the launcher refused the shape" : cudaGetErrorString((cudaError_t)launched);
    }
    if (status == cudaSuccess && !failure) status = cudaDeviceSynchronize();
    *out = (device_run){malloc((size_t)rows * 8), malloc((size_t)rows * 8), malloc((size_t)rows * 8),
                        dump ? malloc((size_t)rows * (size_t)c->vocab * 4) : NULL, malloc((size_t)rows * 4)};
    if (status == cudaSuccess && !failure) status = cudaMemcpy(out->surprisal, surprisal, (size_t)rows * 8, cudaMemcpyDeviceToHost);
    if (status == cudaSuccess && !failure) status = cudaMemcpy(out->entropy, entropy, (size_t)rows * 8, cudaMemcpyDeviceToHost);
    if (status == cudaSuccess && !failure) status = cudaMemcpy(out->rank, rank, (size_t)rows * 8, cudaMemcpyDeviceToHost);
    if (status == cudaSuccess && !failure && dump)
        status = cudaMemcpy(out->logits, logits, (size_t)rows * (size_t)c->vocab * 4, cudaMemcpyDeviceToHost);
    // The workspace ends with the target logits [rows] (cuda_kernels.h).
    if (status == cudaSuccess && !failure)
        status = cudaMemcpy(out->target_logits, (char *)workspace + workspace_bytes - (size_t)rows * 4, (size_t)rows * 4,
                            cudaMemcpyDeviceToHost);
    if (status != cudaSuccess && !failure) failure = cudaGetErrorString(status);
    cudaFree(surprisal), cudaFree(entropy), cudaFree(rank), cudaFree(workspace), cudaFree(logits);
    return failure;
}

static void run_free(device_run *r) {
    free(r->surprisal), free(r->entropy), free(r->rank), free(r->logits), free(r->target_logits);
}

// Uploads values (host float, exact in both types) as the scalar type.
static const char *upload_scalar(void **out, const float *values, int64_t count, int scalar_type) {
    float *staging = NULL;
    *out = NULL;
    cudaError_t status = cudaMalloc((void **)&staging, (size_t)count * 4);
    if (status == cudaSuccess) status = cudaMalloc(out, (size_t)count * 2);
    if (status == cudaSuccess) status = cudaMemcpy(staging, values, (size_t)count * 4, cudaMemcpyHostToDevice);
    if (status == cudaSuccess && cuda_convert_from_float(*out, staging, count, scalar_type, NULL) != 0)
        status = cudaErrorUnknown;
    if (status == cudaSuccess) status = cudaDeviceSynchronize();
    cudaFree(staging);
    return status == cudaSuccess ? NULL : cudaGetErrorString(status);
}

// kind: HEAD_MMA (also run with 256-row blocks), HEAD_WGMMA or HEAD_PINGPONG (the Hopper
// kernels; the ping-pong head cuts the vocabulary at pairs of tiles, so it takes at most
// ⌈tiles/2⌉ splits: a case asking for more gets that many).
static void check_case(const head_case *c, int scalar_type, int kind, const float *hidden, const float *weight,
                       const int32_t *targets, const double *reference_logits) {
    char name[300];
    const char *type = scalar_type == CUDA_SCALAR_FP16 ? "fp16" : "bf16";
    int splits = c->splits ? c->splits : cuda_lm_head_splits(c->vocab);
    int pairs = ((c->vocab + 127) / 128 + 1) / 2;
    if (kind == HEAD_PINGPONG && splits > pairs) splits = pairs;
    snprintf(name, sizeof name, WHERE "lm head%s %s, %s: %lld rows, d %d, V %d, %d split(s)", head_names[kind],
             c->label, type, (long long)c->rows, c->dim, c->vocab, splits);
    void *hidden_device = NULL, *weight_device = NULL;
    int32_t *targets_device = NULL;
    const char *failure = upload_scalar(&hidden_device, hidden, c->rows * c->dim, scalar_type);
    if (!failure) failure = upload_scalar(&weight_device, weight, (int64_t)c->vocab * c->dim, scalar_type);
    if (!failure && (cudaMalloc((void **)&targets_device, (size_t)c->rows * 4) != cudaSuccess ||
                     cudaMemcpy(targets_device, targets, (size_t)c->rows * 4, cudaMemcpyHostToDevice) != cudaSuccess))
        failure = "uploading the targets failed";
    device_run dumped = {0}, plain = {0}, shifted = {0}, wide = {0};
    int64_t offset = c->rows > 5 ? 5 : 0;
    const void *h = hidden_device, *w = weight_device;
    if (!failure) failure = run_kernel(&dumped, h, w, targets_device, c, 0, splits, kind, 128, scalar_type, 1);
    if (!failure) failure = run_kernel(&plain, h, w, targets_device, c, 0, splits, kind, 128, scalar_type, 0);
    if (!failure) failure = run_kernel(&shifted, h, w, targets_device, c, offset, splits, kind, 128, scalar_type, 0);
    if (!failure && kind == HEAD_MMA)
        failure = run_kernel(&wide, h, w, targets_device, c, 0, splits, kind, 256, scalar_type, 0);
    if (!failure && kind == HEAD_PINGPONG) {  // "wide": the same launch on 2 persistent blocks (emulated)
        set_emulated_processors(2);
        failure = run_kernel(&wide, h, w, targets_device, c, 0, splits, kind, 128, scalar_type, 0);
        set_emulated_processors(0);
    }

    double worst_logit = 0, worst_surprisal = 0, worst_entropy = 0;
    int64_t rank_mismatch = 0, self_mismatch = 0, target_mismatch = 0, plain_mismatch = 0, shifted_mismatch = 0,
            wide_mismatch = 0, untouched_wrong = 0, checked = 0;
    for (int64_t r = 0; r < c->rows && !failure; r++) {
        const double *z = reference_logits + r * c->vocab;
        const float *own = dumped.logits + r * c->vocab;
        for (int v = 0; v < c->vocab; v++) {
            double error = fabs((double)own[v] - z[v]);
            if (!(error <= worst_logit)) worst_logit = isnan(error) ? INFINITY : error;
        }
        int y = targets[r];
        if (y < 0) {  // left alone: the 0xff fill (NaN, NaN, −1) in every run
            untouched_wrong += !isnan(dumped.surprisal[r]) || !isnan(dumped.entropy[r]) || dumped.rank[r] != -1;
            continue;
        }
        double max = -INFINITY;
        int64_t above = 0, own_above = 0;
        for (int v = 0; v < c->vocab; v++) {
            if (z[v] > max) max = z[v];
            above += z[v] > z[y];
            own_above += own[v] > dumped.target_logits[r];
        }
        double sum = 0, weighted = 0;
        for (int v = 0; v < c->vocab; v++) {
            double e = exp(z[v] - max);
            sum += e;
            weighted += e * (z[v] - max);
        }
        double surprisal = max + log(sum) - z[y], entropy = log(sum) - weighted / sum;
        double ds = fabs(dumped.surprisal[r] - surprisal), de = fabs(dumped.entropy[r] - entropy);
        if (!(ds <= worst_surprisal)) worst_surprisal = isnan(ds) ? INFINITY : ds;
        if (!(de <= worst_entropy)) worst_entropy = isnan(de) ? INFINITY : de;
        rank_mismatch += dumped.rank[r] != above;
        self_mismatch += dumped.rank[r] != own_above;
        target_mismatch += memcmp(&dumped.target_logits[r], &own[y], 4) != 0;
        plain_mismatch += dumped.surprisal[r] != plain.surprisal[r] || dumped.entropy[r] != plain.entropy[r] ||
                          dumped.rank[r] != plain.rank[r];
        if (kind != HEAD_WGMMA)
            wide_mismatch += memcmp(&plain.surprisal[r], &wide.surprisal[r], 8) != 0 ||
                             memcmp(&plain.entropy[r], &wide.entropy[r], 8) != 0 || plain.rank[r] != wide.rank[r];
        if (r >= offset)
            shifted_mismatch += memcmp(&plain.surprisal[r], &shifted.surprisal[r - offset], 8) != 0 ||
                                memcmp(&plain.entropy[r], &shifted.entropy[r - offset], 8) != 0 ||
                                plain.rank[r] != shifted.rank[r - offset];
        checked++;
    }
    // fp32 accumulation over V terms, folded per tile of 16 then across at most 32 tiles.
    double tolerance = 1e-5 + 1e-6 * log((double)c->vocab);
    if (!failure && worst_logit != 0)
        failure = "a logit differs from the exact value";
    if (!failure && (worst_surprisal > tolerance || worst_entropy > tolerance))
        failure = "surprisal or entropy is outside the fp32 tolerance";
    if (!failure && (rank_mismatch || self_mismatch || target_mismatch)) failure = "a rank or a target logit differs";
    if (!failure && (plain_mismatch || shifted_mismatch || wide_mismatch))
        failure = "the bits depend on the test mode, the row's place or the block's rows";
    if (!failure && untouched_wrong) failure = "a row with target -1 was written";
    CHECK(name, failure == NULL,
          "%s: |dlogit| %.3g, |dsup| %.3g, |dentr| %.3g (tolerance %.2g); rank differs from the exact count at %lld, "
          "from the count over its own logits at %lld; target logit not its own at %lld; test mode vs production %lld, "
          "offset %lld rows %lld, 256-row blocks or 2 blocks %lld; target -1 rows written %lld; %lld rows checked",
          failure ? failure : "", worst_logit, worst_surprisal, worst_entropy, tolerance, (long long)rank_mismatch,
          (long long)self_mismatch, (long long)target_mismatch, (long long)plain_mismatch, (long long)offset,
          (long long)shifted_mismatch, (long long)wide_mismatch, (long long)untouched_wrong, (long long)checked);
    if (failure == NULL)
        printf("  %s: |dsup| %.2g, |dentr| %.2g over %lld rows; logits and ranks exact\n", name, worst_surprisal,
               worst_entropy, (long long)checked);
    run_free(&dumped), run_free(&plain), run_free(&shifted), run_free(&wide);
    cudaFree(hidden_device), cudaFree(weight_device), cudaFree(targets_device);
}

static void check_shape(const head_case *c, int scalars_from, int scalars_to) {
    uint64_t state = (uint64_t)c->dim * 131 + (uint64_t)c->vocab;
    float *hidden = malloc((size_t)(c->rows * c->dim) * 4), *weight = malloc((size_t)c->vocab * (size_t)c->dim * 4);
    int32_t *targets = malloc((size_t)c->rows * 4);
    double *logits = malloc((size_t)c->rows * (size_t)c->vocab * 8);
    for (int64_t i = 0; i < c->rows * c->dim; i++) hidden[i] = (float)((int)(next_random(&state) % 129) - 64) / 64.0f;
    for (int64_t i = 0; i < (int64_t)c->vocab * c->dim; i++)
        weight[i] = (float)((int)(next_random(&state) % 129) - 64) / 64.0f;
    for (int64_t r = 0; r < c->rows; r++)
        targets[r] = c->skipped_every && r % c->skipped_every == c->skipped_every - 1 ? -1
                                                                                      : (int32_t)(next_random(&state) % (uint64_t)c->vocab);
    if (c->rows > 2) targets[1] = c->vocab - 1;  // the last vocabulary row, in the last (partial) tile
    for (int64_t r = 0; r < c->rows; r++)        // exact in double: the reference logits
        for (int v = 0; v < c->vocab; v++) {
            double dot = 0;
            const float *h = hidden + r * c->dim, *w = weight + (int64_t)v * c->dim;
            for (int k = 0; k < c->dim; k++) dot += (double)h[k] * w[k];
            logits[r * c->vocab + v] = dot;
        }
    for (int scalar = scalars_from; scalar <= scalars_to; scalar++) {
        check_case(c, scalar, HEAD_MMA, hidden, weight, targets, logits);
        if (cuda_wgmma_available()) check_case(c, scalar, HEAD_WGMMA, hidden, weight, targets, logits);
        if (cuda_wgmma_available() && cuda_tensor_maps_available())
            check_case(c, scalar, HEAD_PINGPONG, hidden, weight, targets, logits);
    }
    free(hidden), free(weight), free(targets), free(logits);
}

int main(void) {
    int devices = 0;
    if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
        SKIP("cuda lm head", "no CUDA device is available");
        return 0;
    }
    if (!cuda_wgmma_available())
        SKIP("cuda lm head, wgmma kernel", "the device is not compute capability 9.x or this build has no sm_90a code");
    static const head_case cases[] = {
        {"fixture-shaped", 300, 64, 1024, 0, 7},
        {"ragged (V, d and rows off the tiles)", 77, 136, 1000, 3, 0},
        {"one tile per split, the last partial", 77, 136, 1000, 8, 0},
        // 7 tiles in 2 splits (4 + 3): the ping-pong head's warpgroup 0 takes the last tile of
        // a split and the first of the next unit in a row.
        {"an odd tile count", 300, 136, 830, 2, 4},
        {"one row", 1, 64, 1024, 0, 0},
        {"two splits by default", 130, 128, 8192, 0, 5},
        {"Pythia-410m-shaped d", 40, 1024, 4096, 0, 0},
        // d 768: the wgmma kernel keeps A in steps of 32 (steps of 64 at d ≤ 640 above).
        {"Pythia-160m-shaped d", 130, 768, 1000, 0, 2},
        // d 1024: the wgmma kernel streams A (too large to keep); 130 rows reach both warpgroups.
        {"d 1024, rows of both warpgroups", 130, 1024, 1000, 0, 3},
        {"Pythia-70m-shaped", 130, 512, 50304, 0, 11},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
#ifdef MEMPROF_CUDA_EMULATED
        // 2·10¹⁰ emulated products (about 6 minutes here): on a GPU, or with MEMPROF_EMULATE_ALL=1.
        const char *all = getenv("MEMPROF_EMULATE_ALL");
        if (cases[i].vocab > 10000 && !(all && strcmp(all, "1") == 0)) {
            SKIP(WHERE "lm head Pythia-70m-shaped", "too slow under the CPU emulator (run on a GPU, or set "
                 "MEMPROF_EMULATE_ALL=1)");
            continue;
        }
#endif
        check_shape(&cases[i], CUDA_SCALAR_FP16, CUDA_SCALAR_BF16);
    }
    printf("cuda lm head: default splits for V = 50304: %d\n", cuda_lm_head_splits(50304));
    // The automatic LM head's choice: the wgmma kernel where A stays resident in steps of 64
    // (128 rows × d × 2 bytes + 64 KB of stages within the 227 KB a block may have).
    if (cuda_wgmma_available())
        CHECK(WHERE "lm head: wgmma head preferred at d 512 and 640, not at 648, 768, 2048 or 20",
              cuda_lm_head_wgmma_preferred(512) && cuda_lm_head_wgmma_preferred(640) &&
                  !cuda_lm_head_wgmma_preferred(648) && !cuda_lm_head_wgmma_preferred(768) &&
                  !cuda_lm_head_wgmma_preferred(2048) && !cuda_lm_head_wgmma_preferred(20),
              "preferred(512, 640, 648, 768, 2048, 20) = %d %d %d %d %d %d", cuda_lm_head_wgmma_preferred(512),
              cuda_lm_head_wgmma_preferred(640), cuda_lm_head_wgmma_preferred(648), cuda_lm_head_wgmma_preferred(768),
              cuda_lm_head_wgmma_preferred(2048), cuda_lm_head_wgmma_preferred(20));
    else
        CHECK(WHERE "lm head: no wgmma head preferred without wgmma", !cuda_lm_head_wgmma_preferred(512),
              "preferred(512) = %d", cuda_lm_head_wgmma_preferred(512));
    return test_failures ? 1 : 0;
}
#else
int main(void) {
    SKIP("cuda lm head", "no CUDA backend compiled in (built with CUDA=0)");
    return test_failures;
}
#endif
