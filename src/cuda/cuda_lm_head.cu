// cuda_lm_head.cu — the LM head fused with the statistics: logits = hidden · Wᵀ are computed
// on tensor cores a tile at a time and folded at once into per-row running softmax states,
// so no logits buffer exists. (The chunked path writes each chunk's fp32 logits and reads
// them back, cuda_statistics.cu; at 70m that traffic is about half of the LM head's time.)
//
// Shapes: hidden [rows, d], W [V, d] in the scalar type, d a multiple of 8; targets [rows];
// outputs [rows] as cuda_row_statistics'. Workspace: partial states [splits, rows] and the
// target logits [rows] (cuda_lm_head_workspace_bytes).
//
// A block owns 128 (or 256) rows and one split of the vocabulary (a fixed run of about 32
// tiles of 128 vocabulary rows: the split depends on V only, so a row's arithmetic does not
// depend on the batch it is in); the grid is one dimension, split fastest. Per tile, the
// rows × 128 product runs over d in steps of 32 through a 4-stage cp.async pipeline; each of
// the 4 (or 8) warps computes a 64 × 64 piece with mma.sync m16n8k16 (fp32 accumulation),
// then folds its values into its lanes' running states: per
// row a lane holds the max m, S = Σ e^{z−m}, W = Σ e^{z−m}(z − m) (fp32, summed per tile
// first) and the count of logits strictly above the row's target logit. Lanes and warps
// merge in double (merge_states) in a fixed order; a second kernel merges the splits in
// split order and forms surprisal = m + log S − z_y, entropy = log S − W/S, rank = count.
//
// Rank exactness: a first launch (TARGETS mode, 128-row blocks) runs the same product with
// W's rows of the block's targets in place of a vocabulary tile (same k order, same instructions, from a
// zero accumulator) and keeps the diagonal: row i's target logit, bit for bit the value the
// tile holding that target computes, as an mma output element depends only on its row of A,
// its column of B and its accumulator. tests/unit/test_cuda_lm_head.c checks exactly that on
// the logits the kernel computes (written out in its DUMP mode, for the test only).
#include <math.h>
#include <stdint.h>

#include "cuda/cuda_common.cuh"
#include "cuda/cuda_kernels.h"
#include "cuda/cuda_lm_head.cuh"
#include "cuda/cuda_mma.cuh"

enum {
    HEAD_K = 32,              // d per pipeline step
    HEAD_STAGES = 4,          // pipeline depth
    HEAD_STRIDE = HEAD_K + 8, // shared row in elements: 80 bytes keeps ldmatrix free of bank conflicts
    HEAD_TARGET_ROWS = 128,   // rows per block of the target pass (its B tile holds one W row per row)
};

// A block of ROWS rows (128 or 256): ROWS / 64 × 2 warps of 64 × 64. 128-row blocks (4 warps,
// 80 KB of stages) run two per SM; 256-row blocks (8 warps, 120 KB) one, reading 3/4 as many
// bytes per product from L2 (87 flops per byte against 64). MEMPROF_LM_HEAD picks one.
template <int ROWS> struct head_shape {
    static constexpr int threads = ROWS / 64 * 2 * 32;
    static constexpr int rows_per_pass = threads / 4;  // rows a pass of 16-byte copies covers
    static constexpr int stage_elements = (ROWS + HEAD_VOCAB) * HEAD_STRIDE;
    // The pipeline's stages, then the target pass's diagonal [ROWS] fp32.
    static constexpr size_t stages_bytes = (size_t)HEAD_STAGES * stage_elements * 2;
    static constexpr size_t shared_bytes = stages_bytes + ROWS * sizeof(float);
    static constexpr int blocks_per_sm = ROWS == 128 ? 2 : 1;
};

// Queues pipeline step `step` (k step `k_step` of vocabulary tile `tile`, or of the target
// rows when tile < 0) into its stage. Thread i moves 16-byte vector i % 4 of rows
// i / 4 + j·rows_per_pass.
template <typename scalar, int ROWS>
__device__ __forceinline__ void queue_step(scalar *stage, const scalar *hidden, const scalar *weight,
                                           const int32_t *targets, int64_t first_row, int64_t rows, int dim, int vocab,
                                           int tile, int k_step) {
    int vector = threadIdx.x & 3, row_in_tile = threadIdx.x >> 2;
    int k = k_step * HEAD_K + vector * 8;
    bool k_valid = k < dim;
    int k_offset = k_valid ? k : 0;
    constexpr int pass = head_shape<ROWS>::rows_per_pass;
    scalar *a_tile = stage, *b_tile = stage + ROWS * HEAD_STRIDE;
#pragma unroll
    for (int j = 0; j < ROWS / pass; j++) {
        int local = row_in_tile + pass * j;
        int64_t row = first_row + local;
        bool valid = k_valid && row < rows;
        copy_async_16(a_tile + local * HEAD_STRIDE + vector * 8, hidden + (valid ? row * dim + k_offset : 0), valid);
    }
#pragma unroll
    for (int j = 0; j < HEAD_VOCAB / pass; j++) {
        int local = row_in_tile + pass * j;
        int64_t source_row;
        if (tile < 0) {  // the target pass: B row i = W[target of row i]
            int64_t row = first_row + local;
            source_row = row < rows ? targets[row] : -1;
        } else {
            source_row = (int64_t)tile * HEAD_VOCAB + local;
            if (source_row >= vocab) source_row = -1;
        }
        bool valid = k_valid && source_row >= 0;
        copy_async_16(b_tile + local * HEAD_STRIDE + vector * 8, weight + (valid ? source_row * dim + k_offset : 0),
                      valid);
    }
}

// TARGETS: only the target pass, writing target_logits. Otherwise the split's tiles, writing
// partials [split, rows] (and, with DUMP, every logit into logits_out [rows, V]).
template <typename scalar, int ROWS, bool TARGETS, bool DUMP>
__global__ void __launch_bounds__(head_shape<ROWS>::threads, head_shape<ROWS>::blocks_per_sm)
lm_head_kernel(head_partial *partials, float *target_logits, float *logits_out, const scalar *hidden,
               const scalar *weight, const int32_t *targets, int64_t rows, int dim, int vocab, int splits) {
    extern __shared__ __align__(128) unsigned char shared_bytes[];
    scalar *stages = (scalar *)shared_bytes;
    using shape = head_shape<ROWS>;
    static_assert(!TARGETS || ROWS == HEAD_TARGET_ROWS, "the target pass's B tile holds one W row per block row");
    float *diagonal = (float *)(shared_bytes + shape::stages_bytes);

    // Block b: split b % splits of row tile b / splits. The splits of a few row tiles run
    // side by side, so the hidden rows they re-read for every tile stay a few MB of L2, and
    // each W slice is read from memory about once per wave of row tiles.
    const int64_t first_row = (int64_t)(blockIdx.x / splits) * ROWS;
    const int split = (int)(blockIdx.x % splits);
    const int vocab_tiles = (vocab + HEAD_VOCAB - 1) / HEAD_VOCAB;
    const int tile_begin = TARGETS ? -1 : (int)((int64_t)split * vocab_tiles / splits);
    const int tile_end = TARGETS ? 0 : (int)((int64_t)(split + 1) * vocab_tiles / splits);
    const int k_steps = (dim + HEAD_K - 1) / HEAD_K;
    const int total = (tile_end - tile_begin) * k_steps;

    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
    const int warp_row = (warp >> 1) * 64, warp_column = (warp & 1) * 64;

    // This lane's 8 rows: warp_row + 16·mi + g + 8·h, state index 2·mi + h.
    float target[8], run_max[8], run_sum[8], run_weighted[8];
    int run_count[8];
    if (!TARGETS) {
#pragma unroll
        for (int r = 0; r < 8; r++) {
            int64_t row = first_row + warp_row + 16 * (r >> 1) + g + 8 * (r & 1);
            target[r] = row < rows ? target_logits[row] : 0.0f;
            run_max[r] = -INFINITY, run_sum[r] = 0.0f, run_weighted[r] = 0.0f, run_count[r] = 0;
        }
    }

    float acc[4][8][4];
#pragma unroll
    for (int mi = 0; mi < 4; mi++)
#pragma unroll
        for (int j = 0; j < 8; j++) acc[mi][j][0] = acc[mi][j][1] = acc[mi][j][2] = acc[mi][j][3] = 0.0f;

    // Prologue: the first STAGES − 1 steps in flight. (queue_tile, queue_k) walk ahead of
    // (tile, k_step) by STAGES − 1 steps.
    int queue_tile = tile_begin, queue_k = 0;
#pragma unroll
    for (int s = 0; s < HEAD_STAGES - 1; s++) {
        if (s < total) {
            queue_step<scalar, ROWS>(stages + s * shape::stage_elements, hidden, weight, targets, first_row, rows, dim, vocab,
                               queue_tile, queue_k);
            if (++queue_k == k_steps) queue_k = 0, queue_tile++;
        }
        copy_async_commit();
    }

    int tile = tile_begin, k_step = 0;
    for (int step = 0; step < total; step++) {
        copy_async_wait<HEAD_STAGES - 2>();  // step `step` has landed
        __syncthreads();                     // ... for every thread, and step − 1's stage is free
        if (step + HEAD_STAGES - 1 < total) {
            queue_step<scalar, ROWS>(stages + ((step + HEAD_STAGES - 1) % HEAD_STAGES) * shape::stage_elements, hidden, weight,
                               targets, first_row, rows, dim, vocab, queue_tile, queue_k);
            if (++queue_k == k_steps) queue_k = 0, queue_tile++;
        }
        copy_async_commit();

        const scalar *a_tile = stages + (step % HEAD_STAGES) * shape::stage_elements;
        const scalar *b_tile = a_tile + ROWS * HEAD_STRIDE;
#pragma unroll
        for (int kk = 0; kk < HEAD_K / 16; kk++) {
            uint32_t a[4][4];
#pragma unroll
            for (int mi = 0; mi < 4; mi++)
                load_matrix_x4(a[mi], a_tile + (warp_row + mi * 16 + (lane & 7) + ((lane >> 3) & 1) * 8) * HEAD_STRIDE +
                                          kk * 16 + (lane >> 4) * 8);
#pragma unroll
            for (int j = 0; j < 8; j += 2) {
                uint32_t b[4];
                load_matrix_x4(b, b_tile + (warp_column + j * 8 + (lane & 7) + (lane >> 4) * 8) * HEAD_STRIDE +
                                      kk * 16 + ((lane >> 3) & 1) * 8);
#pragma unroll
                for (int mi = 0; mi < 4; mi++) {
                    mma_16x8x16<scalar>(acc[mi][j], a[mi], b[0], b[1]);
                    mma_16x8x16<scalar>(acc[mi][j + 1], a[mi], b[2], b[3]);
                }
            }
        }

        if (++k_step < k_steps) continue;
        // The tile is complete: fold it (or keep its diagonal), then start the next from zero.
        if (TARGETS) {
            if ((warp >> 1) == (warp & 1)) {  // warps 0 and 3 hold the diagonal of the 128 × 128 product
#pragma unroll
                for (int mi = 0; mi < 4; mi++)
#pragma unroll
                    for (int j = 0; j < 8; j++)
#pragma unroll
                        for (int e = 0; e < 4; e++)
                            if (mi * 16 + g + (e >> 1) * 8 == j * 8 + 2 * t + (e & 1))
                                diagonal[warp_row + mi * 16 + g + (e >> 1) * 8] = acc[mi][j][e];
            }
            __syncthreads();
            int64_t row = first_row + threadIdx.x;  // threads == ROWS (128) in the target pass
            if (row < rows) target_logits[row] = diagonal[threadIdx.x];
        } else {
            int first_column = tile * HEAD_VOCAB + warp_column + 2 * t;
            bool full = (tile + 1) * HEAD_VOCAB <= vocab;
#pragma unroll
            for (int r = 0; r < 8; r++) {
                float values[8][2];
#pragma unroll
                for (int j = 0; j < 8; j++)
                    values[j][0] = acc[r >> 1][j][2 * (r & 1)], values[j][1] = acc[r >> 1][j][2 * (r & 1) + 1];
                if (full)
                    fold_row<true, 8>(values, first_column, vocab, target[r], run_max[r], run_sum[r], run_weighted[r],
                                   run_count[r]);
                else
                    fold_row<false, 8>(values, first_column, vocab, target[r], run_max[r], run_sum[r], run_weighted[r],
                                    run_count[r]);
                if (DUMP) {
                    int64_t row = first_row + warp_row + 16 * (r >> 1) + g + 8 * (r & 1);
#pragma unroll
                    for (int j = 0; j < 8; j++)
#pragma unroll
                        for (int e = 0; e < 2; e++)
                            if (row < rows && first_column + j * 8 + e < vocab)
                                logits_out[row * vocab + first_column + j * 8 + e] = values[j][e];
                }
            }
        }
#pragma unroll
        for (int mi = 0; mi < 4; mi++)
#pragma unroll
            for (int j = 0; j < 8; j++) acc[mi][j][0] = acc[mi][j][1] = acc[mi][j][2] = acc[mi][j][3] = 0.0f;
        k_step = 0;
        tile++;
    }
    if (TARGETS) return;

    // Merge: the 4 lanes of a quad (columns 2t, 2t+1), then the two warps of a row range
    // (vocabulary halves) through shared memory; the block's state goes to partials.
    copy_async_wait<0>();
    __syncthreads();  // the pipeline's shared memory is free for the exchange
    head_partial *exchange = (head_partial *)shared_bytes;  // [2 vocabulary halves][ROWS]
#pragma unroll
    for (int r = 0; r < 8; r++) {
        int count = run_count[r];
        softmax_state state = merge_quad({run_max[r], (double)run_sum[r], (double)run_weighted[r]}, count);
        int local = warp_row + 16 * (r >> 1) + g + 8 * (r & 1);
        if (t == 0) exchange[(warp & 1) * ROWS + local] = (head_partial){state.sum, state.weighted, state.max, count};
    }
    __syncthreads();
    if (threadIdx.x < ROWS && first_row + threadIdx.x < rows) {  // one thread per row (threads ≥ ROWS)
        head_partial left = exchange[threadIdx.x], right = exchange[ROWS + threadIdx.x];
        softmax_state merged = merge_states((softmax_state){left.max, left.sum, left.weighted},
                                            (softmax_state){right.max, right.sum, right.weighted});
        partials[(int64_t)split * rows + first_row + threadIdx.x] =
            (head_partial){merged.sum, merged.weighted, merged.max, left.count + right.count};
    }
}

extern "C" int cuda_lm_head_splits(int vocab) {
    int vocab_tiles = (vocab + HEAD_VOCAB - 1) / HEAD_VOCAB;
    return (vocab_tiles + HEAD_TILES_PER_SPLIT - 1) / HEAD_TILES_PER_SPLIT;
}

extern "C" size_t cuda_lm_head_shared_bytes(int block_rows) {
    return block_rows == 256 ? head_shape<256>::shared_bytes : head_shape<128>::shared_bytes;
}

extern "C" size_t cuda_lm_head_workspace_bytes(int64_t rows, int splits) {
    size_t partial_bytes = ((size_t)rows * (size_t)splits * sizeof(head_partial) + 255) & ~(size_t)255;
    return partial_bytes + (size_t)rows * sizeof(float);
}

template <typename scalar, int ROWS, bool TARGETS, bool DUMP>
static int launch_head(int splits, head_partial *partials, float *target_logits, float *logits_out, const void *hidden,
                       const void *weight, const int32_t *targets, int64_t rows, int dim, int vocab, cuda_stream stream) {
    using shape = head_shape<ROWS>;
    int64_t blocks = (rows + ROWS - 1) / ROWS * splits;
    if (blocks > INT32_MAX) return (int)cudaErrorInvalidConfiguration;
    cudaError_t status = cudaFuncSetAttribute(lm_head_kernel<scalar, ROWS, TARGETS, DUMP>,
                                              cudaFuncAttributeMaxDynamicSharedMemorySize, (int)shape::shared_bytes);
    if (status != cudaSuccess) return (int)status;
    lm_head_kernel<scalar, ROWS, TARGETS, DUMP><<<(unsigned)blocks, shape::threads, shape::shared_bytes, stream>>>(
        partials, target_logits, logits_out, (const scalar *)hidden, (const scalar *)weight, targets, rows, dim, vocab,
        splits);
    return LAUNCH_STATUS();
}

template <typename scalar, int ROWS>
static int run_head(double *surprisal, double *entropy, int64_t *rank, const void *hidden, const void *weight,
                    const int32_t *targets, int64_t rows, int dim, int vocab, int splits, void *workspace,
                    float *logits_out, cuda_stream stream) {
    head_partial *partials = head_partials(workspace);
    float *target_logits = head_target_logits(workspace, rows, splits);
    int status = launch_head<scalar, HEAD_TARGET_ROWS, true, false>(1, partials, target_logits, NULL, hidden, weight,
                                                                    targets, rows, dim, vocab, stream);
    if (status != 0) return status;
    status = logits_out ? launch_head<scalar, ROWS, false, true>(splits, partials, target_logits, logits_out, hidden,
                                                                 weight, targets, rows, dim, vocab, stream)
                        : launch_head<scalar, ROWS, false, false>(splits, partials, target_logits, NULL, hidden, weight,
                                                                  targets, rows, dim, vocab, stream);
    if (status != 0) return status;
    lm_head_merge_kernel<<<(unsigned)((rows + 255) / 256), 256, 0, stream>>>(surprisal, entropy, rank, partials,
                                                                            target_logits, targets, rows, splits);
    return LAUNCH_STATUS();
}

template <typename scalar>
static int run_head_rows(int block_rows, double *surprisal, double *entropy, int64_t *rank, const void *hidden,
                         const void *weight, const int32_t *targets, int64_t rows, int dim, int vocab, int splits,
                         void *workspace, float *logits_out, cuda_stream stream) {
    if (block_rows == 256)
        return run_head<scalar, 256>(surprisal, entropy, rank, hidden, weight, targets, rows, dim, vocab, splits,
                                     workspace, logits_out, stream);
    return run_head<scalar, 128>(surprisal, entropy, rank, hidden, weight, targets, rows, dim, vocab, splits,
                                 workspace, logits_out, stream);
}

extern "C" int cuda_lm_head_statistics(double *surprisal, double *entropy, int64_t *rank, const void *hidden,
                                       const void *weight, const int32_t *targets, int64_t rows, int dim, int vocab,
                                       int splits, int block_rows, void *workspace, float *logits_out,
                                       int scalar_type, cuda_stream stream) {
    if (dim % 8 != 0 || splits < 1 || splits > (vocab + HEAD_VOCAB - 1) / HEAD_VOCAB) return -1;
    if (block_rows != 128 && block_rows != 256) return -1;
    if (rows == 0) return 0;
    if (scalar_type == CUDA_SCALAR_FP16)
        return run_head_rows<__half>(block_rows, surprisal, entropy, rank, hidden, weight, targets, rows, dim, vocab,
                                     splits, workspace, logits_out, stream);
    return run_head_rows<__nv_bfloat16>(block_rows, surprisal, entropy, rank, hidden, weight, targets, rows, dim,
                                        vocab, splits, workspace, logits_out, stream);
}
