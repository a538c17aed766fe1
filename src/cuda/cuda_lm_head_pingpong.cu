// cuda_lm_head_pingpong.cu — the fused LM head + statistics (as cuda_lm_head.cu) as a
// persistent ping-pong GEMM (sm_90a: TMA copies and wgmma products through
// cuda_tma_pipeline.cuh, the schedule of cuda_gemm_fused.cu's `fused-gelu-pingpong`) whose
// epilogue folds each logits tile into per-row running softmax states. The [rows, V] logits
// never exist, and one warpgroup's fold runs while the other's products keep the tensor
// cores busy — where the chunked head writes fp32 logits and reads them back, and the other
// fused heads fold with the tensor cores idle.
//
// Shapes: hidden [rows, d], W [V, d] in the scalar type, d a multiple of 8 (TMA's 16-byte
// row pitch); targets [rows]; outputs [rows] as cuda_row_statistics'. Workspace: partials
// [2·splits, rows] (one state per split and multiplying warpgroup), then the target logits
// [rows] fp32 (cuda_lm_head_workspace_bytes(rows, 2·splits)).
//
// Work unit (split s, row tile r): 128 hidden rows × the split's run of vocabulary tiles of
// 128 (W's rows). The tiles are cut into splits at even indices (pairs of tiles shared out
// as evenly as cuda_lm_head.cu shares tiles), so tile t of any split is warpgroup t % 2's:
// each output's arithmetic depends on V and the split count only, not on the batch or the
// grid. Units are taken split fastest (u = r·splits + s), block b taking u = b, b + grid, …
// (as the other fused heads' blocks): the ≈ 132/splits row tiles in flight re-read their
// hidden rows from L2 for every tile (≈ 2 MB), and each W tile is read by that many blocks at
// about the same time, so W comes from memory once per ≈ 1,300 rows (≈ 0.4 TB/s at 500
// TFLOP/s). Split-major units would keep 132 row tiles' hidden rows live instead (26 MB at
// 160m, 35 MB at 410m, re-read every few µs): more than L2 holds beside W.
// A block (384 threads, one per SM): warpgroup 2 copies (one thread: per k step of 64, TMA
// boxes of hidden [128 × 64] and W [128 × 64] into 6 stages of 32 KB); warpgroups 0 and 1
// multiply their tiles (two m64n128k16 per k16: 128 fp32 accumulators a thread, rows 16w + g
// (+ 8, + 64, + 72), columns 8j + 2q (+ 1)) and fold each into their 4 rows' states (max,
// Σe, Σe·(z − m), count above the target's logit); at the end of a unit each writes its
// states (the quad's 4 lanes merged) as partial 2s + g. Turns: a warpgroup starts a tile's
// main loop only after the other issued its last tile's final products (named barriers 1 and
// 2, one arrival per hand-over), so exactly one main loop runs at a time and the other
// warpgroup's fold overlaps it; where a split has an odd tile count warpgroup 0 takes two
// tiles in a row, without a hand-over.
//
// Rank exactness: the target logits come first from cuda_lm_head_wgmma.cu's target pass
// (cuda_lm_head_wgmma_target_logits: W's rows of the targets as the B tile, the same
// m64n128k16 products over the same k16 chunks in ascending order from an accumulate-nothing
// start, so bit for bit the logit this kernel computes for the target's column).
// tests/unit/test_cuda_lm_head.c checks it on the logits this kernel writes in its DUMP mode.
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <type_traits>

#include "cuda/cuda_common.cuh"
#include "cuda/cuda_kernels.h"
#include "cuda/cuda_lm_head.cuh"
#include "cuda/cuda_tensor_map.h"
#include "cuda/cuda_tma_pipeline.cuh"
#include "cuda/cuda_wgmma.cuh"

enum {
    PINGPONG_HEAD_ROWS = 128,
    PINGPONG_HEAD_THREADS = 384,
    PINGPONG_COPY_REGISTERS = 40,  // 40·128 + 232·256 ≤ the SM's 65,536
    PINGPONG_MULTIPLY_REGISTERS = 232,
};
typedef tma_pipeline_shape<6, PINGPONG_HEAD_ROWS, HEAD_VOCAB> pingpong_head_pipeline;

// Split s's vocabulary tiles [*begin, *end): pairs of tiles shared out evenly.
static __host__ __device__ __forceinline__ void split_tiles(int &begin, int &end, int split, int splits, int tiles) {
    const int pairs = (tiles + 1) / 2;
    begin = 2 * (int)((int64_t)split * pairs / splits);
    end = min(2 * (int)((int64_t)(split + 1) * pairs / splits), tiles);
}

// A warpgroup's running states for its 4 rows (index 2p + h: row 64p + 16w + g + 8h).
struct row_states {
    float target[4], max[4], sum[4], weighted[4];
    int count[4];
};

template <bool DUMP>
static __device__ __forceinline__ void fold_tile(row_states &state, const float (&acc)[2][HEAD_VOCAB / 2], int tile,
                                                 int64_t first_row, int64_t rows, int vocab, float *logits_out) {
    const int warp = (threadIdx.x >> 5) & 3, lane = threadIdx.x & 31, g = lane >> 2, q = lane & 3;
    const int first_column = tile * HEAD_VOCAB + 2 * q;
    const bool full = (tile + 1) * HEAD_VOCAB <= vocab;
#pragma unroll
    for (int p = 0; p < 2; p++)
#pragma unroll
        for (int h = 0; h < 2; h++) {
            const int i = 2 * p + h;
            float values[HEAD_VOCAB / 8][2];
#pragma unroll
            for (int j = 0; j < HEAD_VOCAB / 8; j++)
                values[j][0] = acc[p][4 * j + 2 * h], values[j][1] = acc[p][4 * j + 2 * h + 1];
            fold_tile_row<DUMP, HEAD_VOCAB / 8>(values, full, first_column, vocab,
                                                first_row + 64 * p + 16 * warp + g + 8 * h, rows, logits_out,
                                                state.target[i], state.max[i], state.sum[i], state.weighted[i],
                                                state.count[i]);
        }
}

template <typename scalar, bool DUMP>
__global__ void __launch_bounds__(PINGPONG_HEAD_THREADS, 1)
lm_head_pingpong_kernel(head_partial *partials, const float *target_logits, float *logits_out, int64_t rows,
                        int k_steps, int vocab, int splits, int row_tiles, const __grid_constant__ CUtensorMap hidden_map,
                        const __grid_constant__ CUtensorMap weight_map) {
    using shape = pingpong_head_pipeline;
    extern __shared__ __align__(128) unsigned char shared[];
    const tma_pipeline pipeline = tma_pipeline_start<shape>(shared, 128);  // one warpgroup releases a stage
    const int tiles = (vocab + HEAD_VOCAB - 1) / HEAD_VOCAB, units = row_tiles * splits;
    const int group = threadIdx.x >> 7;

    if (group == 2) {
        register_limit_decrease<PINGPONG_COPY_REGISTERS>();
        if (threadIdx.x != 256) return;
        int step = 0;
        for (int unit = blockIdx.x; unit < units; unit += gridDim.x) {
            const int split = unit % splits, row = (unit / splits) * PINGPONG_HEAD_ROWS;
            int begin, end;
            split_tiles(begin, end, split, splits, tiles);
            for (int tile = begin; tile < end; tile++)
                for (int k = 0; k < k_steps; k++, step++)
                    tma_pipeline_load<shape>(pipeline, step, &hidden_map, row, &weight_map, tile * HEAD_VOCAB,
                                             k * PIPELINE_STEP_K);
        }
        return;
    }

    register_limit_increase<PINGPONG_MULTIPLY_REGISTERS>();
    const int warp = (threadIdx.x >> 5) & 3, lane = threadIdx.x & 31, g = lane >> 2, q = lane & 3;
    const int my_turn = 1 + group, other_turn = 2 - group;
    float acc[2][HEAD_VOCAB / 2];
    row_states state;
    int step = 0, previous_owner = -1;  // the owner of the block's previous tile (−1: none yet)
    for (int unit = blockIdx.x; unit < units; unit += gridDim.x) {
        const int split = unit % splits;
        const int64_t first_row = (int64_t)(unit / splits) * PINGPONG_HEAD_ROWS;
        int begin, end;
        split_tiles(begin, end, split, splits, tiles);
#pragma unroll
        for (int i = 0; i < 4; i++) {
            int64_t row = first_row + 64 * (i >> 1) + 16 * warp + g + 8 * (i & 1);
            state.target[i] = row < rows ? target_logits[row] : 0.0f;
            state.max[i] = -INFINITY, state.sum[i] = 0.0f, state.weighted[i] = 0.0f, state.count[i] = 0;
        }
        const bool last_unit = unit + (int)gridDim.x >= units;
        for (int tile = begin; tile < end; tile++, step += k_steps) {
            const int owner = tile & 1;  // begin is even
            const int next_owner = tile + 1 < end ? (tile + 1) & 1 : last_unit ? -1 : 0;
            const int previous = previous_owner;
            previous_owner = owner;
            if (owner != group) continue;
            if (previous >= 0 && previous != group) named_barrier_sync<256>(my_turn);
            tma_pipeline_multiply<scalar, shape, 2>(acc, pipeline, step, k_steps, 0,
                                                    next_owner >= 0 && next_owner != group ? other_turn : 0);
            fold_tile<DUMP>(state, acc, tile, first_row, rows, vocab, logits_out);
        }
        // This warpgroup's partial for the unit (the empty state where it had no tile).
#pragma unroll
        for (int i = 0; i < 4; i++) {
            int count = state.count[i];
            softmax_state merged =
                merge_quad({state.max[i], (double)state.sum[i], (double)state.weighted[i]}, count);
            int64_t row = first_row + 64 * (i >> 1) + 16 * warp + g + 8 * (i & 1);
            if (q == 0 && row < rows)
                partials[(int64_t)(2 * split + group) * rows + row] =
                    (head_partial){merged.sum, merged.weighted, merged.max, count};
        }
    }
}

template <typename scalar, bool DUMP>
static int launch_pingpong(head_partial *partials, const float *target_logits, float *logits_out, const void *hidden,
                           const void *weight, int64_t rows, int dim, int vocab, int splits, cuda_stream stream) {
    using shape = pingpong_head_pipeline;
    int device = 0, limit = 0, processors = 0;
    cudaGetDevice(&device);
    cudaDeviceGetAttribute(&limit, cudaDevAttrMaxSharedMemoryPerBlockOptin, device);
    cudaDeviceGetAttribute(&processors, cudaDevAttrMultiProcessorCount, device);
    if ((size_t)limit < shape::shared_bytes || processors <= 0) return -1;
    cudaError_t opted = cudaFuncSetAttribute(lm_head_pingpong_kernel<scalar, DUMP>,
                                             cudaFuncAttributeMaxDynamicSharedMemorySize, (int)shape::shared_bytes);
    if (opted != cudaSuccess) return (int)opted;
    const int bfloat = std::is_same<scalar, __nv_bfloat16>::value;
    CUtensorMap hidden_map, weight_map;
    memset(&hidden_map, 0, sizeof hidden_map);
    memset(&weight_map, 0, sizeof weight_map);
    int mapped = tensor_map_2d(&hidden_map, hidden, bfloat, (uint64_t)dim, (uint64_t)rows, (uint64_t)dim * 2,
                               PIPELINE_STEP_K, PINGPONG_HEAD_ROWS, PIPELINE_SWIZZLE);
    if (mapped == 0)
        mapped = tensor_map_2d(&weight_map, weight, bfloat, (uint64_t)dim, (uint64_t)vocab, (uint64_t)dim * 2,
                               PIPELINE_STEP_K, HEAD_VOCAB, PIPELINE_SWIZZLE);
    if (mapped != 0) return mapped;
    int64_t row_tiles = (rows + PINGPONG_HEAD_ROWS - 1) / PINGPONG_HEAD_ROWS;
    if (row_tiles * splits > INT32_MAX) return -1;
    int units = (int)(row_tiles * splits), blocks = units < processors ? units : processors;
    lm_head_pingpong_kernel<scalar, DUMP><<<blocks, PINGPONG_HEAD_THREADS, shape::shared_bytes, stream>>>(
        partials, target_logits, logits_out, rows, (dim + PIPELINE_STEP_K - 1) / PIPELINE_STEP_K, vocab, splits,
        (int)row_tiles, hidden_map, weight_map);
    return LAUNCH_STATUS();
}

template <typename scalar>
static int run_pingpong(double *surprisal, double *entropy, int64_t *rank, const void *hidden, const void *weight,
                        const int32_t *targets, int64_t rows, int dim, int vocab, int splits, void *workspace,
                        float *logits_out, int scalar_type, cuda_stream stream) {
    head_partial *partials = head_partials(workspace);
    float *target_logits = head_target_logits(workspace, rows, 2 * splits);
    int status = cuda_lm_head_wgmma_target_logits(target_logits, hidden, weight, targets, rows, dim, scalar_type, stream);
    if (status != 0) return status;
    status = logits_out ? launch_pingpong<scalar, true>(partials, target_logits, logits_out, hidden, weight, rows, dim,
                                                        vocab, splits, stream)
                        : launch_pingpong<scalar, false>(partials, target_logits, NULL, hidden, weight, rows, dim,
                                                         vocab, splits, stream);
    if (status != 0) return status;
    lm_head_merge_kernel<<<(unsigned)((rows + 255) / 256), 256, 0, stream>>>(surprisal, entropy, rank, partials,
                                                                            target_logits, targets, rows, 2 * splits);
    return LAUNCH_STATUS();
}

extern "C" int cuda_lm_head_pingpong_statistics(double *surprisal, double *entropy, int64_t *rank, const void *hidden,
                                                const void *weight, const int32_t *targets, int64_t rows, int dim,
                                                int vocab, int splits, void *workspace, float *logits_out,
                                                int scalar_type, cuda_stream stream) {
    if (!cuda_wgmma_available() || !cuda_tensor_maps_available()) return -1;
    const int tiles = (vocab + HEAD_VOCAB - 1) / HEAD_VOCAB;
    if (dim <= 0 || dim % 8 != 0 || vocab <= 0 || splits < 1 || splits > (tiles + 1) / 2) return -1;
    if ((uintptr_t)hidden % 16 != 0 || (uintptr_t)weight % 16 != 0) return -1;
    if (rows == 0) return 0;
    if (scalar_type == CUDA_SCALAR_FP16)
        return run_pingpong<__half>(surprisal, entropy, rank, hidden, weight, targets, rows, dim, vocab, splits,
                                    workspace, logits_out, scalar_type, stream);
    return run_pingpong<__nv_bfloat16>(surprisal, entropy, rank, hidden, weight, targets, rows, dim, vocab, splits,
                                       workspace, logits_out, scalar_type, stream);
}
