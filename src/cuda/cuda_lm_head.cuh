// cuda_lm_head.cuh — what the fused LM head's two implementations share (cuda_lm_head.cu on
// mma.sync, cuda_lm_head_wgmma.cu on Hopper's wgmma): the vocabulary's tiling and splits, the
// per-block partial state, the fold of a row's logits into a running state, and the kernel
// that merges the splits into the statistics. The workspace (cuda_lm_head_workspace_bytes):
// partials [splits, rows], then the target logits [rows] fp32.
#ifndef MEMPROF_CUDA_LM_HEAD_CUH
#define MEMPROF_CUDA_LM_HEAD_CUH

#include <math.h>
#include <stdint.h>

#include "cuda/cuda_common.cuh"
#include "cuda/cuda_mma.cuh"

enum {
    HEAD_VOCAB = 128,          // vocabulary rows per tile
    HEAD_TILES_PER_SPLIT = 32, // a split: about this many tiles (the split count depends on V only)
};

typedef struct head_partial {  // one block's state for one row
    double sum, weighted;
    float max;
    int32_t count;
} head_partial;

// Folds one row's 2·PAIRS values of this lane (columns first_column + 8j and + 8j + 1, j <
// PAIRS) into its state: max m, s = Σ e^{z−m}, w = Σ e^{z−m}(z − m) (summed per tile first,
// so s and w grow by few large adds), and the count of values strictly above the target's.
template <bool FULL, int PAIRS>
__device__ __forceinline__ void fold_row(float values[PAIRS][2], int first_column, int vocab, float target, float &m,
                                         float &s, float &w, int &count) {
    float tile_max = -INFINITY;
    int above = 0;
#pragma unroll
    for (int j = 0; j < PAIRS; j++)
#pragma unroll
        for (int e = 0; e < 2; e++) {
            if (!FULL && first_column + j * 8 + e >= vocab) continue;
            tile_max = fmaxf(tile_max, values[j][e]);
            above += values[j][e] > target;
        }
    raise_maximum(tile_max, m, s, w);
    float tile_sum = 0.0f, tile_weighted = 0.0f;
#pragma unroll
    for (int j = 0; j < PAIRS; j++)
#pragma unroll
        for (int e = 0; e < 2; e++) {
            if (!FULL && first_column + j * 8 + e >= vocab) continue;
            float shifted = values[j][e] - m, p = fast_exp2(shifted * 1.4426950408889634f);  // e^(z − m)
            tile_sum += p;
            tile_weighted += p * shifted;
        }
    s += tile_sum;
    w += tile_weighted;
    count += above;
}

// fold_row for a tile's values of one row (full: the tile lies wholly inside the vocabulary,
// so no column needs its bound checked); with DUMP (the tests' mode) the values are also
// written to logits_out [rows, V].
template <bool DUMP, int PAIRS>
__device__ __forceinline__ void fold_tile_row(float values[PAIRS][2], bool full, int first_column, int vocab,
                                              int64_t row, int64_t rows, float *logits_out, float target, float &m,
                                              float &s, float &w, int &count) {
    if (full) fold_row<true, PAIRS>(values, first_column, vocab, target, m, s, w, count);
    else fold_row<false, PAIRS>(values, first_column, vocab, target, m, s, w, count);
    if (DUMP) {
#pragma unroll
        for (int j = 0; j < PAIRS; j++)
#pragma unroll
            for (int e = 0; e < 2; e++)
                if (row < rows && first_column + j * 8 + e < vocab)
                    logits_out[row * vocab + first_column + j * 8 + e] = values[j][e];
    }
}

// The state of a quad's 4 lanes (the same row, different columns), merged in a fixed
// symmetric order: every lane ends with the same state.
__device__ __forceinline__ softmax_state merge_quad(softmax_state state, int &count) {
#pragma unroll
    for (int offset = 1; offset <= 2; offset <<= 1) {
        softmax_state other = {__shfl_xor_sync(0xffffffffu, state.max, offset),
                               __shfl_xor_sync(0xffffffffu, state.sum, offset),
                               __shfl_xor_sync(0xffffffffu, state.weighted, offset)};
        count += __shfl_xor_sync(0xffffffffu, count, offset);
        state = merge_states(state, other);
    }
    return state;
}

// Per row: the splits' states merged in split order, then the statistics (as cuda_statistics.cu).
// (A template so that each kernel file may instantiate it.)
template <int unused = 0>
__global__ void lm_head_merge_kernel(double *surprisal, double *entropy, int64_t *rank, const head_partial *partials,
                                     const float *target_logits, const int32_t *targets, int64_t rows, int splits) {
    int64_t row = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (row >= rows || targets[row] < 0) return;
    head_partial first = partials[row];
    softmax_state state = {first.max, first.sum, first.weighted};
    long long count = first.count;
    for (int split = 1; split < splits; split++) {
        head_partial p = partials[(int64_t)split * rows + row];
        state = merge_states(state, (softmax_state){p.max, p.sum, p.weighted});
        count += p.count;
    }
    double log_sum = log(state.sum);
    surprisal[row] = (double)state.max + log_sum - (double)target_logits[row];
    entropy[row] = log_sum - state.weighted / state.sum;
    rank[row] = count;
}

// The workspace's two parts.
static inline head_partial *head_partials(void *workspace) { return (head_partial *)workspace; }
static inline float *head_target_logits(void *workspace, int64_t rows, int splits) {
    size_t partial_bytes = ((size_t)rows * (size_t)splits * sizeof(head_partial) + 255) & ~(size_t)255;
    return (float *)((char *)workspace + partial_bytes);
}

#endif
