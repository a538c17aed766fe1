// cuda_statistics.cu — the paper's statistics from an fp32 logits buffer [rows, V] that the
// LM-head GEMM just wrote (Liger-style chunking: [T, V] logits never exist in full).
//
// One block per row and ONE read of the row: each thread keeps an online softmax state
// (m, S = Σ exp(z − m), W = Σ exp(z − m)(z − m)) and the count of logits strictly above
// the target's; states merge as m' = max(m1, m2), S' = Σ Sᵢ·e^{mᵢ−m'},
// W' = Σ e^{mᵢ−m'}(Wᵢ + (mᵢ − m')·Sᵢ), in a fixed tree (deterministic). The rank is counted
// on the very values the GEMM produced, the target's included: exact for those logits.
//   surprisal = m + log S − z_y      entropy = log S − W / S      rank = count
// Then, whichever LM head made them, the per-sequence sums of those statistics
// (cuda_sequence_sums), so that a batch sends [S, 4] values back to the host, not [N, 3].
#include <math.h>

#include "cuda/cuda_common.cuh"
#include "cuda/cuda_kernels.h"

enum { STATISTICS_THREADS = 512 };

__global__ void row_statistics_kernel(double *surprisal, double *entropy, int64_t *rank, const float *logits,
                                      const int32_t *targets, int vocab) {
    __shared__ softmax_state shared_states[STATISTICS_THREADS];
    __shared__ long long shared_count[32];
    int64_t row = blockIdx.x;
    int target = targets[row];
    if (target < 0) return;  // uniform: the last token of a sequence predicts nothing
    const float *z = logits + row * (int64_t)vocab;
    float target_logit = z[target];

    // Thread-local online softmax in fp32 (≈ V / 512 terms), then double across threads.
    // Rows are read as float4 where the row start is 16-byte aligned (V a multiple of 4, as
    // every Pythia vocabulary is); the maximum moves once per 4 values, not once per value.
    float m = -INFINITY, s = 0.0f, w = 0.0f;
    long long count = 0;
    int vectors = (vocab % 4 == 0) ? vocab / 4 : 0;
    const float4 *z4 = (const float4 *)z;
    for (int i = threadIdx.x; i < vectors; i += blockDim.x) {
        float4 x = z4[i];
        count += (x.x > target_logit) + (x.y > target_logit) + (x.z > target_logit) + (x.w > target_logit);
        raise_maximum(fmaxf(fmaxf(x.x, x.y), fmaxf(x.z, x.w)), m, s, w);
        fold_value(x.x, m, s, w);
        fold_value(x.y, m, s, w);
        fold_value(x.z, m, s, w);
        fold_value(x.w, m, s, w);
    }
    for (int v = vectors * 4 + threadIdx.x; v < vocab; v += blockDim.x) {
        float x = z[v];
        count += x > target_logit;
        raise_maximum(x, m, s, w);
        fold_value(x, m, s, w);
    }
    softmax_state state = {m, (double)s, (double)w};
    shared_states[threadIdx.x] = state;
    __syncthreads();
    for (int stride = blockDim.x / 2; stride > 0; stride >>= 1) {
        if (threadIdx.x < stride)
            shared_states[threadIdx.x] = merge_states(shared_states[threadIdx.x], shared_states[threadIdx.x + stride]);
        __syncthreads();
    }
    long long total = block_sum(count, shared_count);
    if (threadIdx.x == 0) {
        softmax_state all = shared_states[0];
        double log_sum = log(all.sum);
        surprisal[row] = (double)all.max + log_sum - (double)target_logit;
        entropy[row] = log_sum - all.weighted / all.sum;
        rank[row] = total;
    }
}

extern "C" int cuda_row_statistics(double *surprisal, double *entropy, int64_t *rank, const float *logits,
                                   const int32_t *targets, int64_t rows, int vocab, cuda_stream stream) {
    if (rows == 0) return 0;
    row_statistics_kernel<<<(unsigned)rows, STATISTICS_THREADS, 0, stream>>>(surprisal, entropy, rank, logits, targets,
                                                                           vocab);
    return LAUNCH_STATUS();
}

// One thread per sequence: three dependent double sums of ~2k terms each, in position order
// — a parallel reduction would change the bits.
__global__ void sequence_sums_kernel(double *sums, int64_t *correct, const double *surprisal, const double *entropy,
                                     const int64_t *rank, const int32_t *starts, const int32_t *counts,
                                     int sequences) {
    int s = blockIdx.x * blockDim.x + threadIdx.x;
    if (s >= sequences) return;
    int64_t first = starts[s], predictions = counts[s];
    double sum_surprisal = 0.0, sum_entropy = 0.0, sum_rank = 0.0;
    int64_t hits = 0;
    // Unrolled by 8, so that 8 positions' loads can be in flight before their adds (which
    // stay in position order) rather than one memory latency per position.
#pragma unroll 8
    for (int64_t p = first; p < first + predictions; p++) {
        sum_surprisal += surprisal[p];
        sum_entropy += entropy[p];
        sum_rank += (double)rank[p];
        hits += rank[p] == 0;
    }
    sums[3 * s] = sum_surprisal, sums[3 * s + 1] = sum_entropy, sums[3 * s + 2] = sum_rank;
    correct[s] = hits;
}

extern "C" int cuda_sequence_sums(double *sums, int64_t *correct, const double *surprisal, const double *entropy,
                                  const int64_t *rank, const int32_t *starts, const int32_t *predictions, int sequences,
                                  cuda_stream stream) {
    if (sequences == 0) return 0;
    sequence_sums_kernel<<<(unsigned)((sequences + 63) / 64), 64, 0, stream>>>(sums, correct, surprisal, entropy, rank,
                                                                           starts, predictions, sequences);
    return LAUNCH_STATUS();
}
