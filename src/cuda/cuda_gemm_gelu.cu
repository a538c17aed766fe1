// cuda_gemm_gelu.cu — the MLP's up projection with its bias and the erf GELU as the GEMM's
// epilogue (sm_90a: TMA copies, wgmma products): out = gelu_erf(in · Wᵀ + bias), so the
// [N, ff] activations are written once, already activated, where cuBLASLt (whose GELU
// epilogue is the tanh form) writes them and a separate pass reads and rewrites them
// (0.33 µs of 5.2 per token at 1.4b on an H100, docs/performance.md).
//
// Shapes: in [rows, K], W [N, K] (nn.Linear's [out, in]: both operands K-major), bias [N],
// out [rows, N], all in the scalar type; K and N multiples of 8 (TMA's 16-byte row pitch);
// fp32 accumulation, the bias added and GELU computed in fp32, rounded once.
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
//     `empty` mbarrier (every multiplying thread arrives); then the epilogue: bias, GELU,
//     two values per 32-bit store. Two schedules (MEMPROF_UP_GEMM):
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
#include "cuda/cuda_tma.cuh"
#include "cuda/cuda_wgmma.cuh"

// (No anonymous namespace: the CPU emulator's `extern __shared__` must name its global buffer.)
enum {
    TILE_ROWS = 128,
    STEP_K = 64,  // k per stage: 128 bytes of a row, one 128-byte swizzle atom row
    THREADS = 384,
    GROUP_ROW_TILES = 16,
    SWIZZLE = 128,
    COPY_REGISTERS = 40,  // 40·128 + 232·256 ≤ the SM's 65,536
    MULTIPLY_REGISTERS = 232,
};

template <bool PINGPONG> struct gemm_gelu_schedule {
    static constexpr bool pingpong = PINGPONG;
    static constexpr int columns = PINGPONG ? 128 : 256;  // N of a tile and of each product
    static constexpr int products = PINGPONG ? 2 : 1;     // m64 products per k16 per warpgroup
    static constexpr int stages = PINGPONG ? 6 : 4;
    static constexpr size_t a_bytes = (size_t)TILE_ROWS * STEP_K * 2, b_bytes = (size_t)columns * STEP_K * 2;
    static constexpr size_t stage_bytes = a_bytes + b_bytes;
    static constexpr size_t shared_bytes = 1024 + stages * stage_bytes + 2 * stages * 8;  // slack, stages, barriers
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

template <typename scalar, bool PINGPONG>
__global__ void __launch_bounds__(THREADS, 1)
gemm_gelu_kernel(scalar *out, const scalar *bias, int64_t rows, int columns, int k_steps, int row_tiles,
                 int column_tiles, const __grid_constant__ CUtensorMap a_map, const __grid_constant__ CUtensorMap b_map) {
    using schedule = gemm_gelu_schedule<PINGPONG>;
    constexpr int STAGES = schedule::stages, N = schedule::columns, PRODUCTS = schedule::products;
    extern __shared__ __align__(128) unsigned char shared[];
    char *stages = (char *)shared + ((1024 - (shared_address(shared) & 1023)) & 1023);  // 1024-byte aligned
    uint64_t *full = (uint64_t *)(stages + STAGES * schedule::stage_bytes);  // [STAGES]: a stage's boxes landed
    uint64_t *empty = full + STAGES;                                         // [STAGES]: its products are done
    // The block's tiles: local index i is tile blockIdx.x + i·gridDim.x; its k step k is the
    // block's step i·k_steps + k, in stage step % STAGES (every warpgroup counts the same way).
    const int tiles = row_tiles * column_tiles;
    const int local_tiles = blockIdx.x < tiles ? (tiles - 1 - blockIdx.x) / gridDim.x + 1 : 0;

    if (threadIdx.x == 0) {
        for (int stage = 0; stage < STAGES; stage++) {
            mbarrier_init(&full[stage], 1);  // the copying thread's expect-bytes arrival
            mbarrier_init(&empty[stage], schedule::releasers);
        }
    }
    __syncthreads();  // the last barrier of the whole block: the roles part here
    const int group = threadIdx.x >> 7;

    if (group == 2) {
        // Step s goes into stage s % STAGES once the products of step s − STAGES released it
        // (that stage's (s/STAGES)-th `empty` phase).
        register_limit_decrease<COPY_REGISTERS>();
        if (threadIdx.x != 256) return;
        for (int i = 0, step = 0; i < local_tiles; i++) {
            int row_tile, column_tile;
            tile_position(row_tile, column_tile, blockIdx.x + i * gridDim.x, row_tiles, column_tiles);
            for (int k = 0; k < k_steps; k++, step++) {
                int stage = step % STAGES;
                if (step >= STAGES) mbarrier_wait(&empty[stage], (unsigned)(step / STAGES - 1) & 1);
                char *a_tile = stages + stage * schedule::stage_bytes, *b_tile = a_tile + schedule::a_bytes;
                mbarrier_arrive_expect_bytes(&full[stage], (uint32_t)schedule::stage_bytes);
                tma_load_2d(a_tile, &a_map, k * STEP_K, row_tile * TILE_ROWS, &full[stage]);
                tma_load_2d(b_tile, &b_map, k * STEP_K, column_tile * N, &full[stage]);
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
        for (int k = 0, step = i * k_steps; k < k_steps; k++, step++) {
            int stage = step % STAGES;
            mbarrier_wait(&full[stage], (unsigned)(step / STAGES) & 1);
            char *a_tile = stages + stage * schedule::stage_bytes, *b_tile = a_tile + schedule::a_bytes;
            // Product p's 64 rows of A: 64·(p or the warpgroup) rows (8 atoms each) in; one atom column.
            uint64_t a_descriptor = wgmma_swizzled_descriptor<SWIZZLE>(a_tile + (PINGPONG ? 0 : group) * 64 * SWIZZLE,
                                                                       TILE_ROWS * SWIZZLE, 8 * SWIZZLE);
            uint64_t b_descriptor = wgmma_swizzled_descriptor<SWIZZLE>(b_tile, N * SWIZZLE, 8 * SWIZZLE);
#pragma unroll
            for (int p = 0; p < PRODUCTS; p++) wgmma_fence_operands(acc[p]);
            wgmma_fence_operands(a_descriptor);
            wgmma_fence_operands(b_descriptor);
            wgmma_fence();
#pragma unroll
            for (int kk = 0; kk < STEP_K / 16; kk++)
#pragma unroll
                for (int p = 0; p < PRODUCTS; p++)
                    wgmma_ss<scalar, N>(acc[p],
                                        a_descriptor + (uint64_t)(p * 64 * SWIZZLE >> 4) +
                                            wgmma_k_major_step<SWIZZLE>(kk, TILE_ROWS),
                                        b_descriptor + wgmma_k_major_step<SWIZZLE>(kk, N), k > 0 || kk > 0);
            wgmma_commit();
            // Ping-pong: the turn passes once the last step's products are issued, so that the
            // other warpgroup's products queue behind them and the tensor cores never drain.
            if (PINGPONG && k == k_steps - 1 && i + 1 < local_tiles) named_barrier_arrive<256>(other_turn);
            wgmma_wait<1>();  // the previous step's products are done: its stage is free
            if (k > 0) mbarrier_arrive(&empty[(step - 1) % STAGES]);
        }
        wgmma_wait<0>();
#pragma unroll
        for (int p = 0; p < PRODUCTS; p++) wgmma_fence_operands(acc[p]);
        mbarrier_arrive(&empty[(i * k_steps + k_steps - 1) % STAGES]);

        const int64_t first_row = (int64_t)row_tile * TILE_ROWS + (PINGPONG ? 0 : group * 64);
#pragma unroll
        for (int p = 0; p < PRODUCTS; p++)
            store_activated<scalar, N>(out, bias, acc[p], first_row + p * 64, column_tile * N, rows, columns);
    }
}

template <typename scalar, bool PINGPONG>
static int launch(void *out, const void *in, const void *weight, const void *bias, int64_t rows, int in_dim,
                  int out_dim, cuda_stream stream) {
    using schedule = gemm_gelu_schedule<PINGPONG>;
    int device = 0, limit = 0, processors = 0;
    cudaGetDevice(&device);
    cudaDeviceGetAttribute(&limit, cudaDevAttrMaxSharedMemoryPerBlockOptin, device);
    cudaDeviceGetAttribute(&processors, cudaDevAttrMultiProcessorCount, device);
    if ((size_t)limit < schedule::shared_bytes || processors <= 0) return -1;
    cudaError_t opted = cudaFuncSetAttribute(gemm_gelu_kernel<scalar, PINGPONG>,
                                             cudaFuncAttributeMaxDynamicSharedMemorySize, (int)schedule::shared_bytes);
    if (opted != cudaSuccess) return (int)opted;
    const int bfloat = std::is_same<scalar, __nv_bfloat16>::value;
    CUtensorMap a_map, b_map;
    memset(&a_map, 0, sizeof a_map), memset(&b_map, 0, sizeof b_map);
    int mapped = tensor_map_2d(&a_map, in, bfloat, (uint64_t)in_dim, (uint64_t)rows, (uint64_t)in_dim * 2, STEP_K,
                               TILE_ROWS, SWIZZLE);
    if (mapped == 0)
        mapped = tensor_map_2d(&b_map, weight, bfloat, (uint64_t)in_dim, (uint64_t)out_dim, (uint64_t)in_dim * 2, STEP_K,
                               schedule::columns, SWIZZLE);
    if (mapped != 0) return mapped;
    int64_t row_tiles = (rows + TILE_ROWS - 1) / TILE_ROWS;
    int column_tiles = (out_dim + schedule::columns - 1) / schedule::columns;
    if (row_tiles * column_tiles > INT32_MAX) return -1;
    int tiles = (int)(row_tiles * column_tiles), blocks = tiles < processors ? tiles : processors;
    gemm_gelu_kernel<scalar, PINGPONG><<<blocks, THREADS, schedule::shared_bytes, stream>>>(
        (scalar *)out, (const scalar *)bias, rows, out_dim, (in_dim + STEP_K - 1) / STEP_K, (int)row_tiles,
        column_tiles, a_map, b_map);
    return LAUNCH_STATUS();
}

template <typename scalar>
static int launch_schedule(void *out, const void *in, const void *weight, const void *bias, int64_t rows, int in_dim,
                           int out_dim, int pingpong, cuda_stream stream) {
    return pingpong ? launch<scalar, true>(out, in, weight, bias, rows, in_dim, out_dim, stream)
                    : launch<scalar, false>(out, in, weight, bias, rows, in_dim, out_dim, stream);
}

extern "C" int cuda_gemm_gelu_forward(void *out, const void *in, const void *weight, const void *bias, int64_t rows,
                                      int in_dim, int out_dim, int pingpong, int scalar_type, cuda_stream stream) {
    if (!cuda_wgmma_available() || !cuda_tensor_maps_available()) return -1;
    // TMA: 16-byte row pitches and base addresses; the epilogue: whole column pairs.
    if (in_dim <= 0 || out_dim <= 0 || in_dim % 8 != 0 || out_dim % 8 != 0 || ((uintptr_t)in | (uintptr_t)weight) % 16 != 0 ||
        (uintptr_t)out % 4 != 0)
        return -1;
    if (rows == 0) return 0;
    if (scalar_type == CUDA_SCALAR_FP16)
        return launch_schedule<__half>(out, in, weight, bias, rows, in_dim, out_dim, pingpong, stream);
    return launch_schedule<__nv_bfloat16>(out, in, weight, bias, rows, in_dim, out_dim, pingpong, stream);
}
