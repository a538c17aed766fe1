// cuda_lm_head_wgmma.cu — the fused LM head + statistics (as cuda_lm_head.cu) on Hopper's
// warpgroup products (wgmma, sm_90a): logits = hidden · Wᵀ a tile at a time, folded at once
// into per-row running softmax states; no logits buffer, no ldmatrix.
//
// Shapes: hidden [rows, d], W [V, d] in the scalar type, d a multiple of 8; targets [rows];
// outputs [rows] as cuda_row_statistics'. Workspace, splits and merge: cuda_lm_head.cuh.
//
// A block: 2 warpgroups (256 threads) own 128 rows and one split of the vocabulary; each
// warpgroup multiplies its 64 rows by a 128-row vocabulary tile with wgmma m64n128k16 (fp32
// accumulation, both operands from shared memory), d in steps of 32 through a 4-stage
// cp.async pipeline that keeps one step's products in flight while the next step's tiles
// land. A step's operand, [128 rows × K], is one swizzled atom column W = 2K bytes wide
// (cuda_common.cuh, swizzled_chunk_offset: 64-byte swizzle at K = 32, 128-byte at K = 64), so
// A and B are K-major with SBO = 8 rows = 8·W and a k16 step 32 bytes along the atom row; a
// warp copies whole K-wide pieces of rows (4 rows × 128 bytes at K = 64) and each
// quarter-warp stores 128 contiguous bytes. A thread holds 2 rows (16w + g, + 8) × 32
// columns of a tile and folds them into its rows' states; the 4 lanes of a quad merge at the
// end (merge_quad).
// Where the block's hidden rows fit in shared memory (d ≤ 768) they are loaded once and the
// stages hold W only; tiles then alternate between two accumulators, so that a tile is
// folded while the next one's first products run (head_layout, the kernel's RESIDENT path).
//
// Rank exactness as in cuda_lm_head.cu: a TARGETS launch runs the same products (same
// instruction shape, same k order, from the same accumulate-nothing start) with W's rows of
// the block's targets as the B tile and keeps the diagonal, bit for bit the target's logit
// as the tile holding it computes it. tests/unit/test_cuda_lm_head.c checks it on the logits
// the kernel computes (its DUMP mode).
#include <math.h>
#include <stdint.h>

#include "cuda/cuda_common.cuh"
#include "cuda/cuda_kernels.h"
#include "cuda/cuda_lm_head.cuh"
#include "cuda/cuda_wgmma.cuh"

enum {
    WGMMA_HEAD_ROWS = 128,    // rows per block: 2 warpgroups of 64
    WGMMA_HEAD_THREADS = 256,
    WGMMA_HEAD_STAGES = 4,
};

// Two ways to hold A (the block's 128 hidden rows). Streamed: each stage holds A's and B's
// step, so A is re-read from L2 for every vocabulary tile (64 flops per byte read). Resident:
// all of A is loaded once (128 × d, one [128 × K] operand per step, laid out as a stage's)
// and the stages hold B only (128 flops per byte), where it fits in shared memory: d ≤ 768
// (70m, 160m) on an H100.
// K, the d per pipeline step (K/16 k16 products): 32, or 64 where a resident A leaves room
// (d ≤ 640, d padded to whole steps: 70m). Steps of 64 halve the barriers and waits per
// product: a step of 32 is only ≈ 256 tensor-core cycles of the SM's two warpgroups, each
// behind a __syncthreads (+11% at 70m on an H100, docs/performance.md).
template <bool RESIDENT_A, int K> struct head_layout {
    static constexpr bool resident = RESIDENT_A;
    static constexpr int k = K;
    static constexpr int operand_bytes = 128 * K * 2;  // one operand of one step: [128 rows × K]
    static constexpr int swizzle = 2 * K;              // W: a step's K values of a row are one atom row
    static constexpr int stage_bytes = (RESIDENT_A ? 1 : 2) * operand_bytes;
    static constexpr int b_offset = RESIDENT_A ? 0 : operand_bytes;  // B within a stage
    __host__ __device__ static int k_steps(int dim) { return (dim + K - 1) / K; }
    static size_t shared_bytes(int dim) {  // 1024-byte alignment slack, [resident A] stages, then the diagonal
        return 1024 + (RESIDENT_A ? (size_t)k_steps(dim) * operand_bytes : 0) +
               (size_t)WGMMA_HEAD_STAGES * stage_bytes + WGMMA_HEAD_ROWS * sizeof(float);
    }
};
typedef head_layout<false, 32> streamed_layout;
typedef head_layout<true, 32> resident_layout;
typedef head_layout<true, 64> resident_wide_layout;

// Queues A's whole k range (resident A): 128 rows × (K/8)·k_steps chunks, consecutive
// threads along a row (whole lines read), each chunk into its step's operand.
template <typename scalar, typename layout>
__device__ __forceinline__ void queue_resident_rows(char *a_rows, const scalar *hidden, int64_t first_row, int64_t rows,
                                                    int dim, int k_steps) {
    constexpr int step_chunks = layout::k / 8;
    const int row_chunks = step_chunks * k_steps;
    for (int i = threadIdx.x; i < 128 * row_chunks; i += WGMMA_HEAD_THREADS) {
        int local = i / row_chunks, chunk = i % row_chunks, k = chunk * 8;
        int64_t row = first_row + local;
        bool valid = k < dim && row < rows;
        char *destination = a_rows + (size_t)(chunk / step_chunks) * layout::operand_bytes +
                            swizzled_chunk_offset<layout::swizzle>(local, chunk % step_chunks, 128);
        copy_async_16(destination, hidden + (valid ? row * dim + k : 0), valid);
    }
}

// Queues pipeline step (tile, k_step) — or the target rows' step when tile < 0 — into a
// stage: 128 rows × K/8 chunks of B (and of A when streamed), K/16 16-byte copies of each per
// thread; consecutive threads copy consecutive chunks of a row.
template <typename scalar, typename layout>
__device__ __forceinline__ void queue_head_step(char *stage, const scalar *hidden, const scalar *weight,
                                                const int32_t *targets, int64_t first_row, int64_t rows, int dim,
                                                int vocab, int tile, int k_step) {
    constexpr int step_chunks = layout::k / 8, rows_per_pass = WGMMA_HEAD_THREADS / step_chunks;
    const int chunk = threadIdx.x % step_chunks;
    const int k = k_step * layout::k + chunk * 8;
    const bool k_valid = k < dim;
#pragma unroll
    for (int pass = 0; pass < layout::k / 16; pass++) {
        int local = (int)threadIdx.x / step_chunks + pass * rows_per_pass;
        uint32_t offset = swizzled_chunk_offset<layout::swizzle>(local, chunk, 128);
        int64_t row = first_row + local;
        if constexpr (!layout::resident) {
            bool a_valid = k_valid && row < rows;
            copy_async_16(stage + offset, hidden + (a_valid ? row * dim + k : 0), a_valid);
        }
        int64_t source_row;
        if (tile < 0) source_row = row < rows ? targets[row] : -1;  // the target pass: B row i = W[target of row i]
        else source_row = (int64_t)tile * HEAD_VOCAB + local < vocab ? (int64_t)tile * HEAD_VOCAB + local : -1;
        bool b_valid = k_valid && source_row >= 0;
        copy_async_16(stage + layout::b_offset + offset, weight + (b_valid ? source_row * dim + k : 0), b_valid);
    }
}

// TARGETS: only the target pass, writing target_logits. Otherwise the split's tiles, writing
// partials [split, rows] (and, with DUMP, every logit into logits_out [rows, V]).
template <typename scalar, bool TARGETS, bool DUMP, typename layout>
__global__ void __launch_bounds__(WGMMA_HEAD_THREADS, layout::resident ? 1 : 2)
lm_head_wgmma_kernel(head_partial *partials, float *target_logits, float *logits_out, const scalar *hidden,
                     const scalar *weight, const int32_t *targets, int64_t rows, int dim, int vocab, int splits) {
    constexpr bool RESIDENT = layout::resident;
    extern __shared__ __align__(128) unsigned char shared_bytes[];
    const int k_steps = layout::k_steps(dim);
    char *a_rows = (char *)shared_bytes + ((1024 - (shared_address(shared_bytes) & 1023)) & 1023);  // resident A
    char *stages = a_rows + (RESIDENT ? (size_t)k_steps * layout::operand_bytes : 0);
    float *diagonal = (float *)(stages + WGMMA_HEAD_STAGES * layout::stage_bytes);

    // Block b: split b % splits of row tile b / splits (as cuda_lm_head.cu: the splits of a
    // few row tiles run side by side, their hidden rows stay in L2).
    const int64_t first_row = (int64_t)(blockIdx.x / splits) * WGMMA_HEAD_ROWS;
    const int split = (int)(blockIdx.x % splits);
    const int vocab_tiles = (vocab + HEAD_VOCAB - 1) / HEAD_VOCAB;
    const int tile_begin = TARGETS ? -1 : (int)((int64_t)split * vocab_tiles / splits);
    const int tile_end = TARGETS ? 0 : (int)((int64_t)(split + 1) * vocab_tiles / splits);
    const int total = (tile_end - tile_begin) * k_steps;

    const int group = threadIdx.x >> 7, warp = (threadIdx.x >> 5) & 3, lane = threadIdx.x & 31, g = lane >> 2,
              q = lane & 3;
    const int local_row0 = group * 64 + warp * 16 + g;  // this thread's rows: local_row0 and local_row0 + 8

    float target[2], run_max[2], run_sum[2], run_weighted[2];
    int run_count[2];
    if (!TARGETS) {
#pragma unroll
        for (int h = 0; h < 2; h++) {
            int64_t row = first_row + local_row0 + 8 * h;
            target[h] = row < rows ? target_logits[row] : 0.0f;
            run_max[h] = -INFINITY, run_sum[h] = 0.0f, run_weighted[h] = 0.0f, run_count[h] = 0;
        }
    }
    // Accumulators: d[4j + e] is row local_row0 + 8·(e/2), column 8j + 2q + e%2 of a tile. With
    // A resident (one block per SM, registers to spare) there are two: a tile's products run
    // in one while the previous tile, in the other, is folded.
    float acc[HEAD_VOCAB / 2], acc_other[RESIDENT ? HEAD_VOCAB / 2 : 1];
#pragma unroll
    for (int i = 0; i < HEAD_VOCAB / 2; i++) acc[i] = 0.0f;
#pragma unroll
    for (int i = 0; i < (RESIDENT ? HEAD_VOCAB / 2 : 1); i++) acc_other[i] = 0.0f;

    // Prologue: steps 0 and 1 in flight (with all of A, when resident, in step 0's group).
    // (queue_tile, queue_k) walk 2 steps ahead of `step`.
    if constexpr (RESIDENT) queue_resident_rows<scalar, layout>(a_rows, hidden, first_row, rows, dim, k_steps);
    int queue_tile = tile_begin, queue_k = 0;
#pragma unroll
    for (int s = 0; s < 2; s++) {
        if (s < total) {
            queue_head_step<scalar, layout>(stages + s * layout::stage_bytes, hidden, weight, targets, first_row,
                                              rows, dim, vocab, queue_tile, queue_k);
            if (++queue_k == k_steps) queue_k = 0, queue_tile++;
        }
        copy_async_commit();
    }

    int step = 0;
    // Issues step `step` (k step k_step of its tile) into `into`; returns with it in flight.
    auto issue_step = [&](float (&into)[HEAD_VOCAB / 2], int k_step) {
        // Step `step` has landed for every thread; the products of step − 2 are done in
        // every warpgroup (each waited for them in step − 1), so its stage may be refilled.
        copy_async_wait<1>();
        shared_async_fence();
        __syncthreads();
        if (step + 2 < total) {
            queue_head_step<scalar, layout>(stages + ((step + 2) % WGMMA_HEAD_STAGES) * layout::stage_bytes, hidden,
                                              weight, targets, first_row, rows, dim, vocab, queue_tile, queue_k);
            if (++queue_k == k_steps) queue_k = 0, queue_tile++;
        }
        copy_async_commit();
        const char *stage = stages + (step % WGMMA_HEAD_STAGES) * layout::stage_bytes;
        const char *a_step = RESIDENT ? a_rows + (size_t)k_step * layout::operand_bytes : stage;
        constexpr int W = layout::swizzle;
        uint64_t a_descriptor = wgmma_swizzled_descriptor<W>(a_step + group * 64 * W, 128 * W, 8 * W);
        uint64_t b_descriptor = wgmma_swizzled_descriptor<W>(stage + layout::b_offset, 128 * W, 8 * W);
        // (The accumulator is not fenced here: the previous step's products may still be
        // writing it, and products chained on one accumulator need no fence between them.)
        wgmma_fence_operands(a_descriptor);
        wgmma_fence_operands(b_descriptor);
        wgmma_fence();
#pragma unroll
        for (int kk = 0; kk < layout::k / 16; kk++)  // a k16 step is 32 bytes along the atom row
            wgmma_ss<scalar, HEAD_VOCAB>(into, a_descriptor + wgmma_k_major_step<W>(kk, 128),
                                         b_descriptor + wgmma_k_major_step<W>(kk, 128), k_step > 0 || kk > 0);
        wgmma_commit();
        step++;
    };
    // Folds a complete tile (or keeps its diagonal, in the target pass).
    auto fold_tile = [&](float (&values_of)[HEAD_VOCAB / 2], int tile) {
        wgmma_fence_operands(values_of);
        if constexpr (TARGETS) {
#pragma unroll
            for (int i = 0; i < HEAD_VOCAB / 2; i++) {
                int row = local_row0 + 8 * ((i >> 1) & 1), column = 8 * (i >> 2) + 2 * q + (i & 1);
                if (row == column) diagonal[row] = values_of[i];
            }
            __syncthreads();
            int64_t row = first_row + threadIdx.x;
            if (threadIdx.x < WGMMA_HEAD_ROWS && row < rows) target_logits[row] = diagonal[threadIdx.x];
        } else {
            int first_column = tile * HEAD_VOCAB + 2 * q;
            bool full = (tile + 1) * HEAD_VOCAB <= vocab;
#pragma unroll
            for (int h = 0; h < 2; h++) {
                float values[HEAD_VOCAB / 8][2];
#pragma unroll
                for (int j = 0; j < HEAD_VOCAB / 8; j++)
                    values[j][0] = values_of[4 * j + 2 * h], values[j][1] = values_of[4 * j + 2 * h + 1];
                fold_tile_row<DUMP, HEAD_VOCAB / 8>(values, full, first_column, vocab, first_row + local_row0 + 8 * h,
                                                    rows, logits_out, target[h], run_max[h], run_sum[h],
                                                    run_weighted[h], run_count[h]);
            }
        }
    };

    if constexpr (!RESIDENT) {
        // One accumulator: each tile's last products are waited for and folded before the
        // next tile starts (the SM's other block keeps the tensor cores busy meanwhile).
        for (int tile = tile_begin; tile < tile_end; tile++) {
            for (int k_step = 0; k_step < k_steps; k_step++) {
                issue_step(acc, k_step);
                if (k_step + 1 < k_steps) wgmma_wait<1>();  // step − 1's products are done; this step's may run
            }
            wgmma_wait<0>();
            fold_tile(acc, tile);
        }
    } else {
        // Two accumulators: tile t's first step is issued before tile t − 1 is folded. Tiles
        // alternate between acc (even) and acc_other (odd), unrolled by two so that neither
        // is indexed at run time.
        auto run_tile = [&](float (&into)[HEAD_VOCAB / 2], float (&previous)[HEAD_VOCAB / 2], int tile) {
            wgmma_wait<0>();  // the previous tile's last products have landed
            issue_step(into, 0);
            if (tile > tile_begin) fold_tile(previous, tile - 1);  // while this tile's first products run
            for (int k_step = 1; k_step < k_steps; k_step++) {
                issue_step(into, k_step);
                wgmma_wait<1>();  // step − 1's products are done; this step's may still run
            }
        };
        int tile = tile_begin;
        for (; tile + 1 < tile_end; tile += 2) {
            run_tile(acc, acc_other, tile);
            run_tile(acc_other, acc, tile + 1);
        }
        if (tile < tile_end) run_tile(acc, acc_other, tile);  // an odd count: the last tile is in acc
        wgmma_wait<0>();
        if ((tile_end - tile_begin) & 1) fold_tile(acc, tile_end - 1);
        else fold_tile(acc_other, tile_end - 1);
    }
    wgmma_wait<0>();  // (waited already: this tells ptxas so on every exit path)
    copy_async_wait<0>();

    // Merge: the 4 lanes of a quad hold one row's columns; lane 0 writes the block's state.
    if constexpr (!TARGETS) {
#pragma unroll
        for (int h = 0; h < 2; h++) {
            int count = run_count[h];
            softmax_state state = merge_quad({run_max[h], (double)run_sum[h], (double)run_weighted[h]}, count);
            int64_t row = first_row + local_row0 + 8 * h;
            if (q == 0 && row < rows)
                partials[(int64_t)split * rows + row] = (head_partial){state.sum, state.weighted, state.max, count};
        }
    }
}

template <typename scalar, bool TARGETS, bool DUMP, typename layout>
static int launch_head(int splits, head_partial *partials, float *target_logits, float *logits_out, const void *hidden,
                       const void *weight, const int32_t *targets, int64_t rows, int dim, int vocab, cuda_stream stream) {
    int64_t blocks = (rows + WGMMA_HEAD_ROWS - 1) / WGMMA_HEAD_ROWS * splits;
    if (blocks > INT32_MAX) return (int)cudaErrorInvalidConfiguration;
    size_t bytes = layout::shared_bytes(dim);
    cudaError_t status = cudaFuncSetAttribute(lm_head_wgmma_kernel<scalar, TARGETS, DUMP, layout>,
                                              cudaFuncAttributeMaxDynamicSharedMemorySize, (int)bytes);
    if (status != cudaSuccess) return (int)status;
    lm_head_wgmma_kernel<scalar, TARGETS, DUMP, layout><<<(unsigned)blocks, WGMMA_HEAD_THREADS, bytes, stream>>>(
        partials, target_logits, logits_out, (const scalar *)hidden, (const scalar *)weight, targets, rows, dim, vocab,
        splits);
    return LAUNCH_STATUS();
}

template <typename scalar, typename layout>
static int run_head(double *surprisal, double *entropy, int64_t *rank, const void *hidden, const void *weight,
                    const int32_t *targets, int64_t rows, int dim, int vocab, int splits, void *workspace,
                    float *logits_out, cuda_stream stream) {
    head_partial *partials = head_partials(workspace);
    float *target_logits = head_target_logits(workspace, rows, splits);
    int status = launch_head<scalar, true, false, layout>(1, partials, target_logits, NULL, hidden, weight, targets,
                                                            rows, dim, vocab, stream);
    if (status != 0) return status;
    status = logits_out ? launch_head<scalar, false, true, layout>(splits, partials, target_logits, logits_out, hidden,
                                                                     weight, targets, rows, dim, vocab, stream)
                        : launch_head<scalar, false, false, layout>(splits, partials, target_logits, NULL, hidden,
                                                                      weight, targets, rows, dim, vocab, stream);
    if (status != 0) return status;
    lm_head_merge_kernel<<<(unsigned)((rows + 255) / 256), 256, 0, stream>>>(surprisal, entropy, rank, partials,
                                                                            target_logits, targets, rows, splits);
    return LAUNCH_STATUS();
}

// A resident in steps of 64 (2), else of 32 (1), where it fits the device's shared memory per
// block; else streamed (0).
static int head_layout_for(int dim) {
    int device = 0, limit = 0;
    cudaGetDevice(&device);
    cudaDeviceGetAttribute(&limit, cudaDevAttrMaxSharedMemoryPerBlockOptin, device);
    return resident_wide_layout::shared_bytes(dim) <= (size_t)limit ? 2
           : resident_layout::shared_bytes(dim) <= (size_t)limit    ? 1
                                                                     : 0;
}

template <typename scalar>
static int run_head_layout(double *surprisal, double *entropy, int64_t *rank, const void *hidden, const void *weight,
                           const int32_t *targets, int64_t rows, int dim, int vocab, int splits, void *workspace,
                           float *logits_out, cuda_stream stream) {
    switch (head_layout_for(dim)) {
    case 2:
        return run_head<scalar, resident_wide_layout>(surprisal, entropy, rank, hidden, weight, targets, rows, dim,
                                                      vocab, splits, workspace, logits_out, stream);
    case 1:
        return run_head<scalar, resident_layout>(surprisal, entropy, rank, hidden, weight, targets, rows, dim, vocab,
                                                 splits, workspace, logits_out, stream);
    default:
        return run_head<scalar, streamed_layout>(surprisal, entropy, rank, hidden, weight, targets, rows, dim, vocab,
                                                 splits, workspace, logits_out, stream);
    }
}

// The target pass alone (for cuda_lm_head_pingpong.cu), in the layout run_head_layout picks.
template <typename scalar>
static int run_target_pass(float *target_logits, const void *hidden, const void *weight, const int32_t *targets,
                           int64_t rows, int dim, cuda_stream stream) {
    switch (head_layout_for(dim)) {
    case 2:
        return launch_head<scalar, true, false, resident_wide_layout>(1, NULL, target_logits, NULL, hidden, weight,
                                                                      targets, rows, dim, 0, stream);
    case 1:
        return launch_head<scalar, true, false, resident_layout>(1, NULL, target_logits, NULL, hidden, weight, targets,
                                                                 rows, dim, 0, stream);
    default:
        return launch_head<scalar, true, false, streamed_layout>(1, NULL, target_logits, NULL, hidden, weight, targets,
                                                                 rows, dim, 0, stream);
    }
}

extern "C" int cuda_lm_head_wgmma_target_logits(float *target_logits, const void *hidden, const void *weight,
                                                const int32_t *targets, int64_t rows, int dim, int scalar_type,
                                                cuda_stream stream) {
    if (!cuda_wgmma_available() || dim <= 0 || dim % 8 != 0) return -1;
    if (rows == 0) return 0;
    return scalar_type == CUDA_SCALAR_FP16
               ? run_target_pass<__half>(target_logits, hidden, weight, targets, rows, dim, stream)
               : run_target_pass<__nv_bfloat16>(target_logits, hidden, weight, targets, rows, dim, stream);
}

extern "C" int cuda_lm_head_wgmma_preferred(int dim) {
    if (!cuda_wgmma_available() || dim <= 0 || dim % 8 != 0) return 0;
    return head_layout_for(dim) == 2;
}

extern "C" int cuda_lm_head_wgmma_statistics(double *surprisal, double *entropy, int64_t *rank, const void *hidden,
                                             const void *weight, const int32_t *targets, int64_t rows, int dim,
                                             int vocab, int splits, void *workspace, float *logits_out,
                                             int scalar_type, cuda_stream stream) {
    if (!cuda_wgmma_available()) return -1;
    if (dim % 8 != 0 || splits < 1 || splits > (vocab + HEAD_VOCAB - 1) / HEAD_VOCAB) return -1;
    if (rows == 0) return 0;
    if (scalar_type == CUDA_SCALAR_FP16)
        return run_head_layout<__half>(surprisal, entropy, rank, hidden, weight, targets, rows, dim, vocab, splits,
                                       workspace, logits_out, stream);
    return run_head_layout<__nv_bfloat16>(surprisal, entropy, rank, hidden, weight, targets, rows, dim, vocab, splits,
                                          workspace, logits_out, stream);
}
