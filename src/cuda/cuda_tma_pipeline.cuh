// cuda_tma_pipeline.cuh — the multistage TMA → wgmma pipeline of the persistent,
// warp-specialised GEMM kernels (cuda_gemm_fused.cu, cuda_lm_head_pingpong.cu; sm_90a).
//
// A stage holds one k step of 64 of both operands: A's box [A_ROWS × 64] then B's box
// [B_ROWS × 64], each row's 64 values one 128-byte swizzle atom row (K-major). One copying
// thread fills stages and counts their bytes on the stage's `full` mbarrier; multiplying
// warpgroups wait on `full`, issue the step's products, keep one step in flight and release
// the stage before it on its `empty` mbarrier. Step s — the block's s-th k step over all its
// tiles, counted the same way in every role — uses stage s % STAGES in that stage's
// (s / STAGES)-th phase.
#ifndef MEMPROF_CUDA_TMA_PIPELINE_CUH
#define MEMPROF_CUDA_TMA_PIPELINE_CUH

#include <stdint.h>

#include "cuda/cuda_barrier.cuh"
#include "cuda/cuda_tma.cuh"
#include "cuda/cuda_wgmma.cuh"

enum { PIPELINE_STEP_K = 64, PIPELINE_SWIZZLE = 128 };

template <int STAGES, int A_ROWS, int B_ROWS> struct tma_pipeline_shape {
    static constexpr int stages = STAGES, a_rows = A_ROWS, b_rows = B_ROWS;
    static constexpr size_t a_bytes = (size_t)A_ROWS * PIPELINE_STEP_K * 2, b_bytes = (size_t)B_ROWS * PIPELINE_STEP_K * 2;
    static constexpr size_t stage_bytes = a_bytes + b_bytes;
    // 1024-byte alignment slack, the stages, a full and an empty barrier per stage.
    static constexpr size_t shared_bytes = 1024 + STAGES * stage_bytes + 2 * STAGES * 8;
};

typedef struct tma_pipeline {
    char *stages;     // 1024-byte aligned
    uint64_t *full;   // [STAGES]: a stage's boxes landed
    uint64_t *empty;  // [STAGES]: its products are done
} tma_pipeline;

// The pipeline in the block's dynamic shared memory; thread 0 initialises the barriers
// (`releasers`: the arrivals that free a stage) and the block meets once after it.
template <typename shape>
__device__ __forceinline__ tma_pipeline tma_pipeline_start(unsigned char *shared, unsigned releasers) {
    tma_pipeline p;
    p.stages = (char *)shared + ((1024 - (shared_address(shared) & 1023)) & 1023);
    p.full = (uint64_t *)(p.stages + shape::stages * shape::stage_bytes);
    p.empty = p.full + shape::stages;
    if (threadIdx.x == 0) {
        for (int stage = 0; stage < shape::stages; stage++) {
            mbarrier_init(&p.full[stage], 1);  // the copying thread's expect-bytes arrival
            mbarrier_init(&p.empty[stage], releasers);
        }
    }
    __syncthreads();  // the last barrier of the whole block: the roles part after it
    return p;
}

// The copying thread: step `step` (A's box at (column, a_row), B's at (column, b_row)) into
// its stage once the products of step − STAGES released it (that stage's previous phase).
template <typename shape>
__device__ __forceinline__ void tma_pipeline_load(const tma_pipeline &p, int step, const CUtensorMap *a_map, int a_row,
                                                  const CUtensorMap *b_map, int b_row, int column) {
    const int stage = step % shape::stages;
    if (step >= shape::stages) mbarrier_wait(&p.empty[stage], (unsigned)(step / shape::stages - 1) & 1);
    char *a_tile = p.stages + stage * shape::stage_bytes, *b_tile = a_tile + shape::a_bytes;
    mbarrier_arrive_expect_bytes(&p.full[stage], (uint32_t)shape::stage_bytes);
    tma_load_2d(a_tile, a_map, column, a_row, &p.full[stage]);
    tma_load_2d(b_tile, b_map, column, b_row, &p.full[stage]);
}

// A multiplying warpgroup's main loop for one tile: k_steps steps from `first_step`, PRODUCTS
// m64nN products per k16 (product p reads A's rows a_row + 64p, N = B_ROWS), acc overwritten
// by the first. pass_turn > 0: arrives at that named barrier (256 threads) once the last
// step's products are issued, so that the other warpgroup's products queue behind them and
// the tensor cores never drain (ping-pong). Returns with every product done and every stage
// it used released. Each output is one chain of k16 products in ascending k from an
// accumulate-nothing start, whatever the tile order or schedule.
template <typename scalar, typename shape, int PRODUCTS>
__device__ __forceinline__ void tma_pipeline_multiply(float (&acc)[PRODUCTS][shape::b_rows / 2], const tma_pipeline &p,
                                                      int first_step, int k_steps, int a_row, int pass_turn) {
    constexpr int N = shape::b_rows, W = PIPELINE_SWIZZLE;
    for (int k = 0, step = first_step; k < k_steps; k++, step++) {
        const int stage = step % shape::stages;
        mbarrier_wait(&p.full[stage], (unsigned)(step / shape::stages) & 1);
        char *a_tile = p.stages + stage * shape::stage_bytes, *b_tile = a_tile + shape::a_bytes;
        // 64·PRODUCTS rows of A from a_row (8-row atoms), one atom column; B's N rows likewise.
        uint64_t a_descriptor = wgmma_swizzled_descriptor<W>(a_tile + a_row * W, shape::a_rows * W, 8 * W);
        uint64_t b_descriptor = wgmma_swizzled_descriptor<W>(b_tile, N * W, 8 * W);
#pragma unroll
        for (int product = 0; product < PRODUCTS; product++) wgmma_fence_operands(acc[product]);
        wgmma_fence_operands(a_descriptor);
        wgmma_fence_operands(b_descriptor);
        wgmma_fence();
#pragma unroll
        for (int kk = 0; kk < PIPELINE_STEP_K / 16; kk++)
#pragma unroll
            for (int product = 0; product < PRODUCTS; product++)
                wgmma_ss<scalar, N>(acc[product],
                                    a_descriptor + (uint64_t)(product * 64 * W >> 4) +
                                        wgmma_k_major_step<W>(kk, shape::a_rows),
                                    b_descriptor + wgmma_k_major_step<W>(kk, N), k > 0 || kk > 0);
        wgmma_commit();
        if (pass_turn > 0 && k == k_steps - 1) named_barrier_arrive<256>(pass_turn);
        wgmma_wait<1>();  // the previous step's products are done: its stage is free
        if (k > 0) mbarrier_arrive(&p.empty[(step - 1) % shape::stages]);
    }
    wgmma_wait<0>();
#pragma unroll
    for (int product = 0; product < PRODUCTS; product++) wgmma_fence_operands(acc[product]);
    mbarrier_arrive(&p.empty[(first_step + k_steps - 1) % shape::stages]);
}

#endif
