// cuda_statistics.cu — the paper's statistics from an fp32 logits buffer [rows, V] that the
// LM-head GEMM just wrote (Liger-style chunking: [T, V] logits never exist in full).
//
// One block per row, two passes: the max m, then S = Σ exp(z − m), Tz = Σ exp(z − m)(z − m)
// and count = #{v : z_v > z_y}. The rank is counted on the very values the GEMM produced,
// the target's included, so it is exact for those logits (no separately computed z_y).
// Per-thread partials are fp32 (≈ V / 512 terms each), the block reduction is double.
#include <math.h>

#include "cuda/cuda_common.cuh"
#include "cuda/cuda_kernels.h"

enum { STATISTICS_THREADS = 512 };

__global__ void row_statistics_kernel(double *surprisal, double *entropy, int64_t *rank, const float *logits,
                                      const int32_t *targets, int vocab) {
    __shared__ float shared_max[32];
    __shared__ double shared_sum[32];
    __shared__ long long shared_count[32];
    int64_t row = blockIdx.x;
    int target = targets[row];
    if (target < 0) return;  // uniform: the last token of a sequence predicts nothing
    const float *z = logits + row * (int64_t)vocab;
    float target_logit = z[target];

    float local_max = -INFINITY;
    for (int v = threadIdx.x; v < vocab; v += blockDim.x) local_max = fmaxf(local_max, z[v]);
    float max = block_max(local_max, shared_max);

    float local_sum = 0.0f, local_weighted = 0.0f;
    long long local_count = 0;
    for (int v = threadIdx.x; v < vocab; v += blockDim.x) {
        float shifted = z[v] - max;
        float e = expf(shifted);
        local_sum += e;
        local_weighted += e * shifted;
        local_count += z[v] > target_logit;
    }
    double sum = block_sum((double)local_sum, shared_sum);
    double weighted = block_sum((double)local_weighted, shared_sum);
    long long count = block_sum(local_count, shared_count);
    if (threadIdx.x == 0) {
        double log_sum = log(sum);
        surprisal[row] = (double)max + log_sum - (double)target_logit;
        entropy[row] = log_sum - weighted / sum;
        rank[row] = count;
    }
}

extern "C" int cuda_row_statistics(double *surprisal, double *entropy, int64_t *rank, const float *logits,
                                   const int32_t *targets, int64_t rows, int vocab, cuda_stream stream) {
    if (rows == 0) return 0;
    row_statistics_kernel<<<(unsigned)rows, STATISTICS_THREADS, 0, stream>>>(surprisal, entropy, rank, logits, targets,
                                                                           vocab);
    return LAUNCH_STATUS();
}
