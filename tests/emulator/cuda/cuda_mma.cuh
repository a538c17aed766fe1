// cuda_mma.cuh, emulated — the same functions as src/cuda/cuda_mma.cuh for the CPU
// emulator (tests/emulator/cuda_emulator.h), written from the PTX ISA's definitions:
//   ldmatrix .m8n8.x4 .b16: lanes 8i … 8i+7 give the row addresses of matrix i; lane l
//     receives, in register i, row l/4, elements 2(l%4) and 2(l%4)+1 (the lower in the low
//     half); with .trans it receives column l/4, rows 2(l%4) and 2(l%4)+1.
//   mma.m16n8k16 .row.col, lane l = 4g + t: A a0 (row g, k 2t..2t+1), a1 (row g+8), a2 (row
//     g, k 2t+8..), a3 (row g+8, k 2t+8..); B b0 (k 2t..2t+1, column g), b1 (k 2t+8..);
//     C c0, c1 (row g, columns 2t, 2t+1), c2, c3 (row g+8).
// The products of two fp16 or bf16 values are exact in double; each output element is
// c + (Σ of its 16 products in double, k ascending), rounded once to float.
// cp.async copies are queued per thread and done when a wait needs them.
#ifndef MEMPROF_CUDA_MMA_CUH
#define MEMPROF_CUDA_MMA_CUH

#include <stdint.h>
#include <string.h>

#include "cuda/cuda_common.cuh"

namespace emu {
void async_copy(void *destination, const void *source, bool valid);
void async_commit();
void async_wait(int pending);
// Every 16-bit pattern's value, fp16 then bf16 (built once: the products need fast decoding).
const float *value_table(int bfloat);
inline float half_to_float(uint16_t bits, __half *) { return value_table(0)[bits]; }
inline float half_to_float(uint16_t bits, __nv_bfloat16 *) { return value_table(1)[bits]; }
// The byte offset of a pointer into the block's shared memory (its shared-window address).
uint32_t shared_window_address(const void *pointer);
}  // namespace emu

__device__ __forceinline__ uint32_t shared_address(const void *pointer) { return emu::shared_window_address(pointer); }

__device__ __forceinline__ void copy_async_16(void *destination, const void *source, bool valid) {
    emu::async_copy(destination, source, valid);
}
__device__ __forceinline__ void copy_async_commit() { emu::async_commit(); }
template <int pending> __device__ __forceinline__ void copy_async_wait() { emu::async_wait(pending); }

namespace emu {
inline void load_matrix(uint32_t r[4], const void *pointer, bool transposed) {
    unsigned me = lane();
    warp_words()[me][0] = (uint64_t)(uintptr_t)pointer;
    warp_barrier();
    for (int i = 0; i < 4; i++) {
        uint16_t low, high;
        if (!transposed) {
            const uint16_t *row = (const uint16_t *)(uintptr_t)warp_words()[8 * i + me / 4][0];
            low = row[2 * (me % 4)], high = row[2 * (me % 4) + 1];
        } else {
            const uint16_t *row0 = (const uint16_t *)(uintptr_t)warp_words()[8 * i + 2 * (me % 4)][0];
            const uint16_t *row1 = (const uint16_t *)(uintptr_t)warp_words()[8 * i + 2 * (me % 4) + 1][0];
            low = row0[me / 4], high = row1[me / 4];
        }
        r[i] = (uint32_t)low | (uint32_t)high << 16;
    }
    warp_barrier();
}
}  // namespace emu

__device__ __forceinline__ void load_matrix_x4(uint32_t r[4], const void *pointer) { emu::load_matrix(r, pointer, false); }
__device__ __forceinline__ void load_matrix_x4_transposed(uint32_t r[4], const void *pointer) {
    emu::load_matrix(r, pointer, true);
}

// 2^x, results below 2⁻¹²⁶ flushed to 0 (ex2.approx.ftz).
__device__ __forceinline__ float fast_exp2(float x) {
    float y = exp2f(x);
    return y < 1.17549435e-38f ? 0.0f : y;
}

// c += a·b for one m16n8k16 tile.
template <typename scalar>
__device__ __forceinline__ void mma_16x8x16(float c[4], const uint32_t a[4], uint32_t b0, uint32_t b1) {
    unsigned me = emu::lane();
    uint64_t(&words)[32][8] = emu::warp_words();
    for (int i = 0; i < 4; i++) words[me][i] = a[i];
    words[me][4] = b0, words[me][5] = b1;
    emu::warp_barrier();
    // One 16-bit element of a lane's register.
    auto element = [&](unsigned from, int reg, int half) {
        return (double)emu::half_to_float((uint16_t)(words[from][reg] >> (16 * half)), (scalar *)nullptr);
    };
    unsigned g = me / 4, t = me % 4;
    double a_rows[2][16], b_columns[2][16];
    for (unsigned k = 0; k < 16; k++)
        for (unsigned i = 0; i < 2; i++) {
            // A (row, k): lane 4·(row % 8) + (k % 8) / 2, register (row ≥ 8) + 2·(k ≥ 8), half k % 2.
            a_rows[i][k] = element(4 * g + (k % 8) / 2, (int)i + 2 * (k >= 8), k % 2);
            // B (k, column): lane 4·column + (k % 8) / 2, register 4 + (k ≥ 8), half k % 2.
            b_columns[i][k] = element(4 * (2 * t + i) + (k % 8) / 2, 4 + (k >= 8), k % 2);
        }
    float out[4];
    for (int e = 0; e < 4; e++) {  // row g + 8·(e / 2), column 2t + e % 2
        double sum = 0;
        for (unsigned k = 0; k < 16; k++) sum += a_rows[e >> 1][k] * b_columns[e & 1][k];
        out[e] = (float)((double)c[e] + sum);
    }
    emu::warp_barrier();
    for (int e = 0; e < 4; e++) c[e] = out[e];
}

// Two floats rounded to the input type in one 32-bit register (the lower column in the low half).
template <typename scalar> __device__ __forceinline__ uint32_t pack_pair(float low, float high);
template <> __device__ __forceinline__ uint32_t pack_pair<__half>(float low, float high) {
    __half_raw a = __half_raw(__float2half_rn(low)), b = __half_raw(__float2half_rn(high));
    return (uint32_t)a.x | (uint32_t)b.x << 16;
}
template <> __device__ __forceinline__ uint32_t pack_pair<__nv_bfloat16>(float low, float high) {
    __nv_bfloat16_raw a = __nv_bfloat16_raw(__float2bfloat16_rn(low)), b = __nv_bfloat16_raw(__float2bfloat16_rn(high));
    return (uint32_t)a.x | (uint32_t)b.x << 16;
}

#endif
