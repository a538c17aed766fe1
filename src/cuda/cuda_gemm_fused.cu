// cuda_gemm_fused.cu — GEMMs with the passes around them as their epilogues (sm_90a: TMA
// copies, wgmma products), where cuBLASLt has no such epilogue:
//   - the MLP's up projection with its bias and the erf GELU (MEMPROF_UP_GEMM):
//     out = gelu_erf(in · Wᵀ + bias), so the [N, ff] activations are written once, already
//     activated, where cuBLASLt (whose GELU epilogue is the tanh form) writes them and a
//     separate pass reads and rewrites them (0.33 µs of 5.2 per token at 1.4b on an H100,
//     docs/performance.md);
//   - the attention's dense projection and the MLP's down projection as one GEMM over the
//     concatenated k (MEMPROF_RESIDUAL_GEMM): residual += [attention | hidden] · [W_dense |
//     W_down]ᵀ + bias, so the fp32 residual is read and written once per layer, not twice,
//     and the small dense product runs inside the long one.
// Both are correct on an H100 but slower there than cuBLASLt at every Pythia size (1.09–1.63×
// the steps they replace: docs/performance.md, the thirteenth session), so the automatic
// settings do not use them; they stay as settings for other GPUs and for the next attempt.
//
// Shapes: A [rows, K] (two parts, each K-major with its own map: attention [rows, d] and
// hidden [rows, ff]; the GELU GEMM has one), W [N, K] likewise (nn.Linear's [out, in]), in
// the scalar type; K and N multiples of 8 (TMA's 16-byte row pitch); fp32 accumulation. GELU:
// bias [N] scalar, out [rows, N] scalar, rounded once. Residual: bias [N] fp32 (both layer
// biases summed), out [rows, N] fp32, read and written.
//
// A block (384 threads, one per SM) is persistent over output tiles, taken in groups of 16
// row tiles with the column tile slowest within a group, so that the blocks in flight share
// A's and W's rows in L2:
//   - warpgroup 2 copies: one thread issues, per k step of 64, the TMA boxes of A [128 × 64]
//     and W [columns × 64] (128-byte swizzle: a row's 64 values are one atom row) into a free
//     stage and counts their bytes on the stage's `full` mbarrier, running ahead across tiles
//     (40 registers, setmaxnreg).
//   - warpgroups 0 and 1 (232 registers, 128 fp32 accumulators each) wait on `full`, issue
//     each step's products, keep one step in flight and release the stage before it on its
//     `empty` mbarrier (every multiplying thread arrives); then the epilogue (GELU: bias,
//     GELU, two values per 32-bit store; residual: two fp32 values read, added to and
//     written back). Two schedules (MEMPROF_UP_GEMM; the residual GEMM, whose epilogue is
//     short, runs the cooperative one):
//       cooperative (`fused-gelu`): tiles of 128 × 256, both warpgroups on each (rows 0–63
//       and 64–127, one m64n256k16 per k16), 4 stages of 48 KB; the epilogue (≈ 30
//       instructions an element, the erf's polynomial most of them) leaves the tensor cores
//       idle while both warpgroups run it.
//       ping-pong (`fused-gelu-pingpong`): tiles of 128 × 128, each warpgroup its own (two
//       m64n128k16 per k16), alternate tiles; 6 stages of 32 KB. The warpgroups take turns
//       for the main loop (named barriers 1 and 2), so one's epilogue runs beside the other's
//       products; the turn also keeps a warpgroup from waiting on a stage more than one
//       phase ahead, which the parity waits could not tell apart. 1.5× the L2 reads per
//       flop of the cooperative tiles.
// Rows, columns and k past the ends arrive from TMA as zeros; stores are masked. Each output
// is one thread's accumulator over k in ascending steps whatever the schedule's tile order,
// so the bits depend neither on the batch size nor on the schedule.
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <type_traits>

#include "cuda/cuda_barrier.cuh"
#include "cuda/cuda_common.cuh"
#include "cuda/cuda_kernels.h"
#include "cuda/cuda_tensor_map.h"
#include "cuda/cuda_tma_pipeline.cuh"
#include "cuda/cuda_wgmma.cuh"

// (No anonymous namespace: the CPU emulator's `extern __shared__` must name its global buffer.)
enum {
    TILE_ROWS = 128,
    STEP_K = PIPELINE_STEP_K,  // k per stage: 128 bytes of a row, one 128-byte swizzle atom row
    THREADS = 384,
    GROUP_ROW_TILES = 16,
    COPY_REGISTERS = 40,  // 40·128 + 232·256 ≤ the SM's 65,536
    MULTIPLY_REGISTERS = 232,
};

enum { EPILOGUE_GELU = 0, EPILOGUE_RESIDUAL = 1 };

template <bool PINGPONG> struct gemm_schedule {
    static constexpr bool pingpong = PINGPONG;
    static constexpr int columns = PINGPONG ? 128 : 256;  // N of a tile and of each product
    static constexpr int products = PINGPONG ? 2 : 1;     // m64 products per k16 per warpgroup
    typedef tma_pipeline_shape<PINGPONG ? 6 : 4, TILE_ROWS, columns> pipeline;
    static constexpr unsigned releasers = PINGPONG ? 128 : 256;  // arrivals that free a stage
};

// The tile's (row tile, column tile) for schedule index t.
static __device__ __forceinline__ void tile_position(int &row_tile, int &column_tile, int t, int row_tiles,
                                                     int column_tiles) {
    int group_tiles = GROUP_ROW_TILES * column_tiles, group = t / group_tiles, first = group * GROUP_ROW_TILES;
    int group_rows = min(row_tiles - first, (int)GROUP_ROW_TILES), within = t - group * group_tiles;
    row_tile = first + within % group_rows;
    column_tile = within / group_rows;
}

// Two floats rounded to nearest into one 32-bit pair (one conversion instruction for both).
template <typename scalar> struct scalar_pair;
template <> struct scalar_pair<__half> {
    typedef __half2 type;
    static __device__ __forceinline__ type round(float x, float y) { return __floats2half2_rn(x, y); }
};
template <> struct scalar_pair<__nv_bfloat16> {
    typedef __nv_bfloat162 type;
    static __device__ __forceinline__ type round(float x, float y) { return __floats2bfloat162_rn(x, y); }
};

// out rows first_row + 16·warp + g (+ 8) × columns first_column + 8j + 2q (+ 1) from one
// m64nN accumulator (cuda_wgmma.cuh's D layout): bias, GELU, one rounding.
template <typename scalar, int N>
static __device__ __forceinline__ void store_activated(scalar *out, const scalar *bias, const float (&acc)[N / 2],
                                                       int64_t first_row, int first_column, int64_t rows, int columns) {
    typedef typename scalar_pair<scalar>::type pair;
    const int warp = (threadIdx.x >> 5) & 3, lane = threadIdx.x & 31, g = lane >> 2, q = lane & 3;
    const int64_t row = first_row + warp * 16 + g;
#pragma unroll
    for (int j = 0; j < N / 8; j++) {
        int column = first_column + 8 * j + 2 * q;
        if (column >= columns) continue;  // columns is a multiple of 8: a pair is all in or all out
        float bias0 = to_float(bias[column]), bias1 = to_float(bias[column + 1]);
#pragma unroll
        for (int half = 0; half < 2; half++) {
            int64_t r = row + 8 * half;
            if (r >= rows) continue;
            *(pair *)(out + r * columns + column) = scalar_pair<scalar>::round(gelu_erf(acc[4 * j + 2 * half] + bias0),
                                                                              gelu_erf(acc[4 * j + 2 * half + 1] + bias1));
        }
    }
}

// residual rows first_row + 16·warp + g (+ 8) × columns first_column + 8j + 2q (+ 1) +=
// one m64nN accumulator + bias (fp32).
template <int N>
static __device__ __forceinline__ void accumulate_residual(float *residual, const float *bias, const float (&acc)[N / 2],
                                                           int64_t first_row, int first_column, int64_t rows,
                                                           int columns) {
    const int warp = (threadIdx.x >> 5) & 3, lane = threadIdx.x & 31, g = lane >> 2, q = lane & 3;
    const int64_t row = first_row + warp * 16 + g;
#pragma unroll
    for (int j = 0; j < N / 8; j++) {
        int column = first_column + 8 * j + 2 * q;
        if (column >= columns) continue;
        float2 b = *(const float2 *)(bias + column);
#pragma unroll
        for (int half = 0; half < 2; half++) {
            int64_t r = row + 8 * half;
            if (r >= rows) continue;
            float2 *at = (float2 *)(residual + r * columns + column), value = *at;
            value.x += acc[4 * j + 2 * half] + b.x;
            value.y += acc[4 * j + 2 * half + 1] + b.y;
            *at = value;
        }
    }
}

// k steps [0, first_steps) read A and W through the first maps, [first_steps, first_steps +
// second_steps) through the second (the GELU GEMM: second_steps = 0).
template <typename scalar, bool PINGPONG, int EPILOGUE>
__global__ void __launch_bounds__(THREADS, 1)
gemm_fused_kernel(void *out, const void *bias, int64_t rows, int columns, int first_steps, int second_steps,
                  int row_tiles, int column_tiles, const __grid_constant__ CUtensorMap a_map,
                  const __grid_constant__ CUtensorMap b_map, const __grid_constant__ CUtensorMap a_second_map,
                  const __grid_constant__ CUtensorMap b_second_map) {
    using schedule = gemm_schedule<PINGPONG>;
    using pipeline_shape = typename schedule::pipeline;
    constexpr int N = schedule::columns, PRODUCTS = schedule::products;
    extern __shared__ __align__(128) unsigned char shared[];
    const tma_pipeline pipeline = tma_pipeline_start<pipeline_shape>(shared, schedule::releasers);
    // The block's tiles: local index i is tile blockIdx.x + i·gridDim.x; its k step k is the
    // block's step i·k_steps + k (every warpgroup counts the same way).
    const int tiles = row_tiles * column_tiles, k_steps = first_steps + second_steps;
    const int local_tiles = blockIdx.x < tiles ? (tiles - 1 - blockIdx.x) / gridDim.x + 1 : 0;
    const int group = threadIdx.x >> 7;

    if (group == 2) {
        register_limit_decrease<COPY_REGISTERS>();
        if (threadIdx.x != 256) return;
        for (int i = 0, step = 0; i < local_tiles; i++) {
            int row_tile, column_tile;
            tile_position(row_tile, column_tile, blockIdx.x + i * gridDim.x, row_tiles, column_tiles);
            for (int k = 0; k < k_steps; k++, step++) {
                const bool second = k >= first_steps;
                tma_pipeline_load<pipeline_shape>(pipeline, step, second ? &a_second_map : &a_map, row_tile * TILE_ROWS,
                                                  second ? &b_second_map : &b_map, column_tile * N,
                                                  (second ? k - first_steps : k) * STEP_K);
            }
        }
        return;
    }

    register_limit_increase<MULTIPLY_REGISTERS>();
    // Ping-pong turns: warpgroup g runs a main loop after bar.sync on 1 + g, which opens once
    // the other has arrived there after issuing its own main loop's last products (their
    // stages' earlier phases have landed: the parity waits stay within one phase); warpgroup 1
    // arrives once up front (0 goes first), and no one arrives after the block's last tile.
    const int my_turn = 1 + group, other_turn = 2 - group;
    if (PINGPONG && group == 1) named_barrier_arrive<256>(other_turn);
    float acc[PRODUCTS][N / 2];
    for (int i = PINGPONG ? group : 0; i < local_tiles; i += PINGPONG ? 2 : 1) {
        int row_tile, column_tile;
        tile_position(row_tile, column_tile, blockIdx.x + i * gridDim.x, row_tiles, column_tiles);
        if (PINGPONG) named_barrier_sync<256>(my_turn);
        tma_pipeline_multiply<scalar, pipeline_shape, PRODUCTS>(acc, pipeline, i * k_steps, k_steps,
                                                                PINGPONG ? 0 : group * 64,
                                                                PINGPONG && i + 1 < local_tiles ? other_turn : 0);
        const int64_t first_row = (int64_t)row_tile * TILE_ROWS + (PINGPONG ? 0 : group * 64);
#pragma unroll
        for (int p = 0; p < PRODUCTS; p++) {
            if (EPILOGUE == EPILOGUE_GELU)
                store_activated<scalar, N>((scalar *)out, (const scalar *)bias, acc[p], first_row + p * 64,
                                           column_tile * N, rows, columns);
            else
                accumulate_residual<N>((float *)out, (const float *)bias, acc[p], first_row + p * 64, column_tile * N,
                                       rows, columns);
        }
    }
}

// The two parts' k extents (second_dim 0: none) and maps; a part that is not whole steps of
// 64 is padded with TMA's zeros, so the parts never share a step.
template <typename scalar, bool PINGPONG, int EPILOGUE>
static int launch(void *out, const void *bias, const void *in, const void *weight, int in_dim, const void *second_in,
                  const void *second_weight, int second_dim, int64_t rows, int out_dim, cuda_stream stream) {
    using schedule = gemm_schedule<PINGPONG>;
    int device = 0, limit = 0, processors = 0;
    cudaGetDevice(&device);
    cudaDeviceGetAttribute(&limit, cudaDevAttrMaxSharedMemoryPerBlockOptin, device);
    cudaDeviceGetAttribute(&processors, cudaDevAttrMultiProcessorCount, device);
    if ((size_t)limit < schedule::pipeline::shared_bytes || processors <= 0) return -1;
    cudaError_t opted = cudaFuncSetAttribute(gemm_fused_kernel<scalar, PINGPONG, EPILOGUE>,
                                             cudaFuncAttributeMaxDynamicSharedMemorySize, (int)schedule::pipeline::shared_bytes);
    if (opted != cudaSuccess) return (int)opted;
    const int bfloat = std::is_same<scalar, __nv_bfloat16>::value;
    CUtensorMap maps[4];  // A, W, then the second part's (the first's again where there is none)
    memset(maps, 0, sizeof maps);
    int mapped = 0;
    for (int part = 0; part < 2 && mapped == 0; part++) {
        const void *a = part && second_dim ? second_in : in, *b = part && second_dim ? second_weight : weight;
        uint64_t k = (uint64_t)(part && second_dim ? second_dim : in_dim);
        mapped = tensor_map_2d(&maps[2 * part], a, bfloat, k, (uint64_t)rows, k * 2, STEP_K, TILE_ROWS, PIPELINE_SWIZZLE);
        if (mapped == 0)
            mapped = tensor_map_2d(&maps[2 * part + 1], b, bfloat, k, (uint64_t)out_dim, k * 2, STEP_K,
                                   schedule::columns, PIPELINE_SWIZZLE);
    }
    if (mapped != 0) return mapped;
    int64_t row_tiles = (rows + TILE_ROWS - 1) / TILE_ROWS;
    int column_tiles = (out_dim + schedule::columns - 1) / schedule::columns;
    if (row_tiles * column_tiles > INT32_MAX) return -1;
    int tiles = (int)(row_tiles * column_tiles), blocks = tiles < processors ? tiles : processors;
    gemm_fused_kernel<scalar, PINGPONG, EPILOGUE><<<blocks, THREADS, schedule::pipeline::shared_bytes, stream>>>(
        out, bias, rows, out_dim, (in_dim + STEP_K - 1) / STEP_K, (second_dim + STEP_K - 1) / STEP_K, (int)row_tiles,
        column_tiles, maps[0], maps[1], maps[2], maps[3]);
    return LAUNCH_STATUS();
}

// Where the kernels apply: wgmma and the tensor-map encoder, k and N multiples of 8, operands
// 16-byte aligned (TMA), outputs aligned for their pair stores.
static int covered(int out_dim, const int *dims, const void *const *operands, int count, const void *out, int out_align) {
    if (!cuda_wgmma_available() || !cuda_tensor_maps_available()) return 0;
    if (out_dim <= 0 || out_dim % 8 != 0 || (uintptr_t)out % (uintptr_t)out_align != 0) return 0;
    for (int i = 0; i < count; i++)
        if (dims[i] <= 0 || dims[i] % 8 != 0 || (uintptr_t)operands[2 * i] % 16 != 0 ||
            (uintptr_t)operands[2 * i + 1] % 16 != 0)
            return 0;
    return 1;
}

extern "C" int cuda_gemm_gelu_forward(void *out, const void *in, const void *weight, const void *bias, int64_t rows,
                                      int in_dim, int out_dim, int pingpong, int scalar_type, cuda_stream stream) {
    const void *operands[2] = {in, weight};
    if (!covered(out_dim, &in_dim, operands, 1, out, 4)) return -1;
    if (rows == 0) return 0;
    if (scalar_type == CUDA_SCALAR_FP16)
        return pingpong ? launch<__half, true, EPILOGUE_GELU>(out, bias, in, weight, in_dim, NULL, NULL, 0, rows, out_dim, stream)
                        : launch<__half, false, EPILOGUE_GELU>(out, bias, in, weight, in_dim, NULL, NULL, 0, rows, out_dim, stream);
    return pingpong ? launch<__nv_bfloat16, true, EPILOGUE_GELU>(out, bias, in, weight, in_dim, NULL, NULL, 0, rows, out_dim, stream)
                    : launch<__nv_bfloat16, false, EPILOGUE_GELU>(out, bias, in, weight, in_dim, NULL, NULL, 0, rows, out_dim, stream);
}

extern "C" int cuda_gemm_residual_forward(float *residual, const void *attention, const void *dense_weight,
                                          const void *hidden, const void *down_weight, const float *bias, int64_t rows,
                                          int dim, int hidden_dim, int scalar_type, cuda_stream stream) {
    const int dims[2] = {dim, hidden_dim};
    const void *operands[4] = {attention, dense_weight, hidden, down_weight};
    if (!covered(dim, dims, operands, 2, residual, 8)) return -1;
    if (rows == 0) return 0;
    if (scalar_type == CUDA_SCALAR_FP16)
        return launch<__half, false, EPILOGUE_RESIDUAL>(residual, bias, attention, dense_weight, dim, hidden, down_weight,
                                                        hidden_dim, rows, dim, stream);
    return launch<__nv_bfloat16, false, EPILOGUE_RESIDUAL>(residual, bias, attention, dense_weight, dim, hidden,
                                                           down_weight, hidden_dim, rows, dim, stream);
}
