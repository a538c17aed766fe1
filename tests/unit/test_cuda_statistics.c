// test_cuda_statistics.c — the chunked LM head's statistics kernel (cuda_row_statistics: one
// warp per logits row, online softmax states merged in a fixed tree) against the statistics
// computed here in double from the same fp32 logits. Logits are multiples of 1/64 in
// [−16, 16], so many tie with the target's: the rank (count strictly above) must be exact;
// surprisal and entropy are held to fp32-accumulation tolerances. Vocabularies of 50304
// (Pythia, float4 reads) and 1001 (the scalar tail); a row whose target is −1 is left alone.
// Once with a warp per row and once with one 16-warp block taking the rows in turn (9 and 40
// rows: some warps take 1 row, others 2 or 3, or none): the same bits. Also the per-sequence
// sums of those statistics (cuda_sequence_sums), bit for bit.
// Needs a GPU: reports SKIP without one. Built with tests/emulator instead
// (test_cuda_statistics_emulated), the same checks run the kernel's source on the CPU.
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "test_kernels.h"

#ifdef MEMPROF_CUDA
#include <cuda_runtime_api.h>

#include "cuda/cuda_kernels.h"

static void check_vocabulary(int vocab, int rows) {
    char name[200];
    snprintf(name, sizeof name, WHERE "row statistics, V %d, %d rows", vocab, rows);
    uint64_t state = (uint64_t)vocab;
    float *logits = malloc((size_t)rows * (size_t)vocab * 4);
    int32_t *targets = malloc((size_t)rows * 4);
    double *surprisal = malloc((size_t)rows * 8), *entropy = malloc((size_t)rows * 8);
    int64_t *rank = malloc((size_t)rows * 8);
    for (int64_t i = 0; i < (int64_t)rows * vocab; i++) logits[i] = (float)((int)(next_random(&state) % 2049) - 1024) / 64.0f;
    for (int r = 0; r < rows; r++) targets[r] = (int32_t)(next_random(&state) % (uint64_t)vocab);
    targets[rows / 2] = -1;         // nothing to predict: left alone
    targets[1] = vocab - 1;         // the last logit, in the scalar tail where V % 4 ≠ 0
    logits[(size_t)2 * vocab + targets[2]] = 20.0f;  // a row whose target is the maximum: rank 0

    float *logits_device = NULL;
    int32_t *targets_device = NULL;
    double *surprisal_device = NULL, *entropy_device = NULL;
    int64_t *rank_device = NULL;
    const char *failure = NULL;
    cudaError_t status = cudaMalloc((void **)&logits_device, (size_t)rows * (size_t)vocab * 4);
    if (status == cudaSuccess) status = cudaMalloc((void **)&targets_device, (size_t)rows * 4);
    if (status == cudaSuccess) status = cudaMalloc((void **)&surprisal_device, (size_t)rows * 8);
    if (status == cudaSuccess) status = cudaMalloc((void **)&entropy_device, (size_t)rows * 8);
    if (status == cudaSuccess) status = cudaMalloc((void **)&rank_device, (size_t)rows * 8);
    if (status == cudaSuccess)
        status = cudaMemcpy(logits_device, logits, (size_t)rows * (size_t)vocab * 4, cudaMemcpyHostToDevice);
    if (status == cudaSuccess) status = cudaMemcpy(targets_device, targets, (size_t)rows * 4, cudaMemcpyHostToDevice);
    // 0xff bytes: NaN and rank −1, which the skipped row must still hold.
    if (status == cudaSuccess) status = cudaMemset(surprisal_device, 0xff, (size_t)rows * 8);
    if (status == cudaSuccess) status = cudaMemset(entropy_device, 0xff, (size_t)rows * 8);
    if (status == cudaSuccess) status = cudaMemset(rank_device, 0xff, (size_t)rows * 8);
    if (status == cudaSuccess) {
        int launched = cuda_row_statistics(surprisal_device, entropy_device, rank_device, logits_device, targets_device,
                                           rows, vocab, 0, NULL);
        if (launched != 0) failure = cudaGetErrorString((cudaError_t)launched);
    }
    // The same rows again by 1 block of 16 warps taking rows in turn (the grid beside a GEMM):
    // the same bits, the skipped row still untouched.
    double *surprisal_per_row = malloc((size_t)rows * 8), *entropy_per_row = malloc((size_t)rows * 8);
    int64_t *rank_per_row = malloc((size_t)rows * 8);
    if (status == cudaSuccess && !failure) status = cudaDeviceSynchronize();
    if (status == cudaSuccess && !failure)
        status = cudaMemcpy(surprisal_per_row, surprisal_device, (size_t)rows * 8, cudaMemcpyDeviceToHost);
    if (status == cudaSuccess && !failure)
        status = cudaMemcpy(entropy_per_row, entropy_device, (size_t)rows * 8, cudaMemcpyDeviceToHost);
    if (status == cudaSuccess && !failure) status = cudaMemcpy(rank_per_row, rank_device, (size_t)rows * 8, cudaMemcpyDeviceToHost);
    if (status == cudaSuccess && !failure) status = cudaMemset(surprisal_device, 0xff, (size_t)rows * 8);
    if (status == cudaSuccess && !failure) status = cudaMemset(entropy_device, 0xff, (size_t)rows * 8);
    if (status == cudaSuccess && !failure) status = cudaMemset(rank_device, 0xff, (size_t)rows * 8);
    if (status == cudaSuccess && !failure) {
        int launched = cuda_row_statistics(surprisal_device, entropy_device, rank_device, logits_device, targets_device,
                                           rows, vocab, 1, NULL);
        if (launched != 0) failure = cudaGetErrorString((cudaError_t)launched);
    }
    if (status == cudaSuccess && !failure) status = cudaDeviceSynchronize();
    if (status == cudaSuccess && !failure)
        status = cudaMemcpy(surprisal, surprisal_device, (size_t)rows * 8, cudaMemcpyDeviceToHost);
    if (status == cudaSuccess && !failure) status = cudaMemcpy(entropy, entropy_device, (size_t)rows * 8, cudaMemcpyDeviceToHost);
    if (status == cudaSuccess && !failure) status = cudaMemcpy(rank, rank_device, (size_t)rows * 8, cudaMemcpyDeviceToHost);
    if (status != cudaSuccess && !failure) failure = cudaGetErrorString(status);

    double worst_surprisal = 0, worst_entropy = 0;
    int64_t rank_mismatch = 0, untouched_wrong = 0;
    for (int r = 0; r < rows && !failure; r++) {
        if (targets[r] < 0) {
            untouched_wrong += !isnan(surprisal[r]) || !isnan(entropy[r]) || rank[r] != -1;
            continue;
        }
        const float *z = logits + (size_t)r * vocab;
        double max = -INFINITY, sum = 0, weighted = 0, target = z[targets[r]];
        int64_t above = 0;
        for (int v = 0; v < vocab; v++) {
            if (z[v] > max) max = z[v];
            above += z[v] > target;
        }
        for (int v = 0; v < vocab; v++) {
            double e = exp(z[v] - max);
            sum += e;
            weighted += e * (z[v] - max);
        }
        double ds = fabs(surprisal[r] - (max + log(sum) - target)), de = fabs(entropy[r] - (log(sum) - weighted / sum));
        if (!(ds <= worst_surprisal)) worst_surprisal = isnan(ds) ? INFINITY : ds;
        if (!(de <= worst_entropy)) worst_entropy = isnan(de) ? INFINITY : de;
        rank_mismatch += rank[r] != above;
    }
    int64_t grid_differs = 0;
    for (int r = 0; r < rows && !failure; r++)
        grid_differs += memcmp(&surprisal[r], &surprisal_per_row[r], 8) != 0 ||
                        memcmp(&entropy[r], &entropy_per_row[r], 8) != 0 || rank[r] != rank_per_row[r];
    free(surprisal_per_row), free(entropy_per_row), free(rank_per_row);
    double tolerance = 1e-5;
    if (!failure && (worst_surprisal > tolerance || worst_entropy > tolerance))
        failure = "surprisal or entropy is outside the fp32 tolerance";
    if (!failure && rank_mismatch) failure = "a rank differs from the exact count";
    if (!failure && untouched_wrong) failure = "a row with target -1 was written";
    if (!failure && grid_differs) failure = "one 16-warp block over the rows gives other bits than a warp per row";
    CHECK(name, failure == NULL, "%s: |dsup| %.3g, |dentr| %.3g (tolerance %.1g), ranks wrong %lld, target -1 written %lld",
          failure ? failure : "", worst_surprisal, worst_entropy, tolerance, (long long)rank_mismatch,
          (long long)untouched_wrong);
    if (failure == NULL) printf("  %s: |dsup| %.2g, |dentr| %.2g; ranks exact\n", name, worst_surprisal, worst_entropy);
    cudaFree(logits_device), cudaFree(targets_device), cudaFree(surprisal_device), cudaFree(entropy_device),
        cudaFree(rank_device);
    free(logits), free(targets), free(surprisal), free(entropy), free(rank);
}

// cuda_sequence_sums against the same sums taken here in position order: bit for bit.
static void check_sequence_sums(void) {
    char name[200];
    snprintf(name, sizeof name, WHERE "sequence sums, 70 sequences of 1 to 2048 predictions");
    enum { SEQUENCES = 70 };
    // Each sequence's predictions are followed by one position that belongs to none (the
    // sums must stop at predictions[s]).
    int32_t starts[SEQUENCES], lengths[SEQUENCES], predictions[SEQUENCES];
    uint64_t state = 99;
    int64_t tokens = 0;
    for (int s = 0; s < SEQUENCES; s++) {
        lengths[s] = s == 0 ? 2049 : s == 1 ? 2 : 2 + (int32_t)(next_random(&state) % 300);
        predictions[s] = lengths[s] - 1;
        starts[s] = (int32_t)tokens;
        tokens += lengths[s];
    }
    double *surprisal = malloc((size_t)tokens * 8), *entropy = malloc((size_t)tokens * 8);
    int64_t *rank = malloc((size_t)tokens * 8);
    for (int64_t t = 0; t < tokens; t++) {
        surprisal[t] = (double)next_random(&state) / 3e7;  // values whose sums round differently by order
        entropy[t] = (double)next_random(&state) / 7e8;
        rank[t] = next_random(&state) % 3 == 0 ? 0 : (int64_t)(next_random(&state) % 50304);
    }
    double *sums = malloc(SEQUENCES * 24), *sums_device = NULL, *surprisal_device = NULL, *entropy_device = NULL;
    int64_t correct[SEQUENCES], *correct_device = NULL, *rank_device = NULL;
    int32_t *starts_device = NULL, *predictions_device = NULL;
    cudaError_t status = cudaMalloc((void **)&sums_device, SEQUENCES * 24);
    if (status == cudaSuccess) status = cudaMalloc((void **)&correct_device, SEQUENCES * 8);
    if (status == cudaSuccess) status = cudaMalloc((void **)&surprisal_device, (size_t)tokens * 8);
    if (status == cudaSuccess) status = cudaMalloc((void **)&entropy_device, (size_t)tokens * 8);
    if (status == cudaSuccess) status = cudaMalloc((void **)&rank_device, (size_t)tokens * 8);
    if (status == cudaSuccess) status = cudaMalloc((void **)&starts_device, SEQUENCES * 4);
    if (status == cudaSuccess) status = cudaMalloc((void **)&predictions_device, SEQUENCES * 4);
    if (status == cudaSuccess) status = cudaMemcpy(surprisal_device, surprisal, (size_t)tokens * 8, cudaMemcpyHostToDevice);
    if (status == cudaSuccess) status = cudaMemcpy(entropy_device, entropy, (size_t)tokens * 8, cudaMemcpyHostToDevice);
    if (status == cudaSuccess) status = cudaMemcpy(rank_device, rank, (size_t)tokens * 8, cudaMemcpyHostToDevice);
    if (status == cudaSuccess) status = cudaMemcpy(starts_device, starts, SEQUENCES * 4, cudaMemcpyHostToDevice);
    if (status == cudaSuccess) status = cudaMemcpy(predictions_device, predictions, SEQUENCES * 4, cudaMemcpyHostToDevice);
    if (status == cudaSuccess)
        status = (cudaError_t)cuda_sequence_sums(sums_device, correct_device, surprisal_device, entropy_device,
                                                 rank_device, starts_device, predictions_device, SEQUENCES, NULL);
    if (status == cudaSuccess) status = cudaDeviceSynchronize();
    if (status == cudaSuccess) status = cudaMemcpy(sums, sums_device, SEQUENCES * 24, cudaMemcpyDeviceToHost);
    if (status == cudaSuccess) status = cudaMemcpy(correct, correct_device, SEQUENCES * 8, cudaMemcpyDeviceToHost);
    int differing = 0;
    for (int s = 0; s < SEQUENCES && status == cudaSuccess; s++) {
        double expected[3] = {0, 0, 0};
        int64_t hits = 0;
        for (int64_t p = starts[s]; p < starts[s] + predictions[s]; p++) {
            expected[0] += surprisal[p], expected[1] += entropy[p], expected[2] += (double)rank[p];
            hits += rank[p] == 0;
        }
        differing += memcmp(expected, &sums[3 * s], sizeof expected) != 0 || hits != correct[s];
    }
    CHECK(name, status == cudaSuccess && differing == 0, "%s, %d sequences differ",
          status == cudaSuccess ? "ran" : cudaGetErrorString(status), differing);
    cudaFree(sums_device), cudaFree(correct_device), cudaFree(surprisal_device), cudaFree(entropy_device),
        cudaFree(rank_device), cudaFree(starts_device), cudaFree(predictions_device);
    free(sums), free(surprisal), free(entropy), free(rank);
}

int main(void) {
    int devices = 0;
    if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
        SKIP("cuda row statistics", "no CUDA device is available");
        return 0;
    }
    check_vocabulary(50304, 9);
    check_vocabulary(1001, 40);
    check_sequence_sums();
    return test_failures ? 1 : 0;
}
#else
int main(void) {
    SKIP("cuda row statistics", "no CUDA backend compiled in (built with CUDA=0)");
    return test_failures;
}
#endif
