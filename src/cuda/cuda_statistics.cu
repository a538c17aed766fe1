// cuda_statistics.cu — the paper's statistics from an fp32 logits buffer [rows, V] that the
// LM-head GEMM just wrote (Liger-style chunking: [T, V] logits never exist in full).
//
// One warp per row and ONE read of the row: 512 online softmax states per row
// (m, S = Σ exp(z − m), W = Σ exp(z − m)(z − m)), 16 a lane, and the count of logits strictly
// above the target's; states merge as m' = max(m1, m2), S' = Σ Sᵢ·e^{mᵢ−m'},
// W' = Σ e^{mᵢ−m'}(Wᵢ + (mᵢ − m')·Sᵢ), in a fixed tree (deterministic). The rank is counted
// on the very values the GEMM produced, the target's included: exact for those logits.
//   surprisal = m + log S − z_y      entropy = log S − W / S      rank = count
// Then, whichever LM head made them, the per-sequence sums of those statistics
// (cuda_sequence_sums), so that a batch sends [S, 4] values back to the host, not [N, 3].
#include <math.h>

#include "cuda/cuda_common.cuh"
#include "cuda/cuda_kernels.h"

enum {
    STATISTICS_WIDTH = 512,  // partial states per row: the row is read with this stride, then merged
    STATISTICS_LANE_STATES = STATISTICS_WIDTH / 32,  // the states a lane holds (lane + 32·j)
    STATISTICS_WARPS = 8,    // rows per block, one a warp (16 in the blocks beside a GEMM)
    STATISTICS_GROUP = 8,    // float4 loads a lane has in flight before it folds them
};

// One warp per row: lane l holds the states of partial sums t = l + 32·j (j < 16) and folds
// element i of the row into state t = i mod 512, in order of i, then the 512 states merge in
// a binary tree (t with t + 256, …, t with t + 1): the first four levels within a lane, the
// last five across lanes by shuffles. No block barrier: a block's rows (and an SM's 16) are
// read and reduced independently, so loads stay in flight while other rows merge.
__device__ __forceinline__ void row_statistics(double *surprisal, double *entropy, int64_t *rank, const float *logits,
                                               const int32_t *targets, int64_t row, int vocab, int lane) {
    int target = targets[row];
    if (target < 0) return;  // the whole warp: the last token of a sequence predicts nothing
    const float *z = logits + row * (int64_t)vocab;
    float target_logit = z[target];

    // Per state, an online softmax in fp32 (≈ V / 512 terms). Rows are read as float4 where
    // the row start is 16-byte aligned (V a multiple of 4, as every Pythia vocabulary is);
    // the maximum moves once per 4 values, not once per value.
    float m[STATISTICS_LANE_STATES], s[STATISTICS_LANE_STATES], w[STATISTICS_LANE_STATES];
#pragma unroll
    for (int j = 0; j < STATISTICS_LANE_STATES; j++) m[j] = -INFINITY, s[j] = 0.0f, w[j] = 0.0f;
    long long count = 0;
    int vectors = (vocab % 4 == 0) ? vocab / 4 : 0;
    const float4 *z4 = (const float4 *)z;
    for (int base = 0; base < vectors; base += STATISTICS_WIDTH) {
#pragma unroll
        for (int group = 0; group < STATISTICS_LANE_STATES; group += STATISTICS_GROUP) {
            float4 x[STATISTICS_GROUP];
#pragma unroll
            for (int u = 0; u < STATISTICS_GROUP; u++) {
                int i = base + lane + 32 * (group + u);
                if (i < vectors) x[u] = z4[i];
            }
#pragma unroll
            for (int u = 0; u < STATISTICS_GROUP; u++) {
                const int j = group + u;
                if (base + lane + 32 * j >= vectors) continue;
                count += (x[u].x > target_logit) + (x[u].y > target_logit) + (x[u].z > target_logit) +
                         (x[u].w > target_logit);
                raise_maximum(fmaxf(fmaxf(x[u].x, x[u].y), fmaxf(x[u].z, x[u].w)), m[j], s[j], w[j]);
                fold_value(x[u].x, m[j], s[j], w[j]);
                fold_value(x[u].y, m[j], s[j], w[j]);
                fold_value(x[u].z, m[j], s[j], w[j]);
                fold_value(x[u].w, m[j], s[j], w[j]);
            }
        }
    }
    for (int base = vectors * 4; base < vocab; base += STATISTICS_WIDTH) {
#pragma unroll
        for (int j = 0; j < STATISTICS_LANE_STATES; j++) {
            int v = base + lane + 32 * j;
            if (v >= vocab) continue;
            float x = z[v];
            count += x > target_logit;
            raise_maximum(x, m[j], s[j], w[j]);
            fold_value(x, m[j], s[j], w[j]);
        }
    }

    // The tree in double: states t and t + half for half = 256 … 32 are a lane's j and
    // j + half/32; for half = 16 … 1, lane l's state 0 and lane l + half's.
    softmax_state state[STATISTICS_LANE_STATES];
#pragma unroll
    for (int j = 0; j < STATISTICS_LANE_STATES; j++) state[j] = (softmax_state){m[j], (double)s[j], (double)w[j]};
#pragma unroll
    for (int half = STATISTICS_LANE_STATES / 2; half > 0; half >>= 1)
#pragma unroll
        for (int j = 0; j < half; j++) state[j] = merge_states(state[j], state[j + half]);
    softmax_state all = state[0];
    for (int half = 16; half > 0; half >>= 1) {
        softmax_state other;
        other.max = __shfl_down_sync(0xffffffffu, all.max, half);
        other.sum = __shfl_down_sync(0xffffffffu, all.sum, half);
        other.weighted = __shfl_down_sync(0xffffffffu, all.weighted, half);
        if (lane < half) all = merge_states(all, other);
    }
    long long total = warp_sum(count);
    if (lane == 0) {
        double log_sum = log(all.sum);
        surprisal[row] = (double)all.max + log_sum - (double)target_logit;
        entropy[row] = log_sum - all.weighted / all.sum;
        rank[row] = total;
    }
}

// Warp w of the grid takes rows w, w + the grid's warps, …: one row each when the grid has a
// warp per row, several when it has fewer (cuda_row_statistics' `blocks`). WARPS a block: 8
// with a warp per row (122 registers, two blocks an SM), or 16 for the blocks beside a GEMM,
// each of which fills an SM's registers alone (128 a thread, 64 bytes spilled), so that N
// blocks hold N SMs.
template <int WARPS>
__global__ void __launch_bounds__(WARPS * 32)
    row_statistics_kernel(double *surprisal, double *entropy, int64_t *rank, const float *logits,
                          const int32_t *targets, int64_t rows, int vocab) {
    const int lane = threadIdx.x & 31;
    int64_t row = (int64_t)blockIdx.x * WARPS + (threadIdx.x >> 5);
    if constexpr (WARPS == STATISTICS_WARPS) {  // a warp per row: no loop to keep registers for
        if (row < rows) row_statistics(surprisal, entropy, rank, logits, targets, row, vocab, lane);
    } else {
        for (; row < rows; row += (int64_t)gridDim.x * WARPS)
            row_statistics(surprisal, entropy, rank, logits, targets, row, vocab, lane);
    }
}

extern "C" int cuda_row_statistics(double *surprisal, double *entropy, int64_t *rank, const float *logits,
                                   const int32_t *targets, int64_t rows, int vocab, int blocks, cuda_stream stream) {
    if (rows == 0) return 0;
    if (blocks > 0) {
        row_statistics_kernel<2 * STATISTICS_WARPS><<<(unsigned)blocks, 2 * STATISTICS_WARPS * 32, 0, stream>>>(
            surprisal, entropy, rank, logits, targets, rows, vocab);
        return LAUNCH_STATUS();
    }
    int64_t grid = (rows + STATISTICS_WARPS - 1) / STATISTICS_WARPS;
    row_statistics_kernel<STATISTICS_WARPS><<<(unsigned)grid, STATISTICS_WARPS * 32, 0, stream>>>(
        surprisal, entropy, rank, logits, targets, rows, vocab);
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
