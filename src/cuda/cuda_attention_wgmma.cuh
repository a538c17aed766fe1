// cuda_attention_wgmma.cuh — the pieces the wgmma attention kernels share
// (cuda_flash_attention_wgmma.cu: the pipelined, serial and 64-row forms;
// cuda_flash_attention_pingpong.cu: the warp-specialised form): swizzled K/V/Q tile copies,
// the online softmax of one S tile, the O rescale, the S = Q·Kᵀ and O += P·V product
// sequences and the K and V descriptors. Layouts: cuda_flash_attention_wgmma.cu's header.
#ifndef MEMPROF_CUDA_ATTENTION_WGMMA_CUH
#define MEMPROF_CUDA_ATTENTION_WGMMA_CUH

#include <math.h>
#include <stdint.h>
#include <string.h>

#include <type_traits>

#include "cuda/cuda_common.cuh"
#include "cuda/cuda_wgmma.cuh"

// Which rows a block owns. Grid (heads, query tiles, sequences): cuda_kernels.h, "block
// order" (a sequence's heads together, longest query tiles first).
struct attention_block {
    int head, start, length, first_query;  // start: the sequence's first row of qkv and out
};
__device__ __forceinline__ attention_block attention_block_rows(const int32_t *starts, const int32_t *lengths,
                                                                int query_tiles, int query_rows) {
    int sequence = blockIdx.z, tile = query_tiles - 1 - (int)blockIdx.y;
    return attention_block{(int)blockIdx.x, starts[sequence], lengths[sequence], tile * query_rows};
}
// The first qkv element of this (sequence, head): its q, then k at +HD, v at +2·HD.
template <typename scalar, int HD>
__device__ __forceinline__ const char *attention_head_base(const scalar *qkv, const attention_block &b, int heads) {
    return (const char *)(qkv + (int64_t)b.start * 3 * heads * HD + (int64_t)b.head * 3 * HD);
}

// Queues rows [first, first + rows) of one role into a swizzled tile, as thread `thread` of
// `threads` copying ones; rows at or past `length` are zero-filled (the source must still be
// a valid address: row 0 is used).
template <int HD, int rows, int threads>
__device__ __forceinline__ void load_swizzled_tile_async(char *tile, const char *role_base, int64_t row_bytes, int first,
                                                         int length, int thread) {
    constexpr int chunks = HD / 8;  // 16-byte chunks per row
    for (int i = thread; i < rows * chunks; i += threads) {
        int row = i / chunks, chunk = i % chunks;
        bool valid = first + row < length;
        const char *source = role_base + (valid ? (int64_t)(first + row) * row_bytes : 0) + chunk * 16;
        copy_async_16(tile + swizzled_chunk_offset<swizzle_width<HD>::value>(row, chunk, rows), source, valid);
    }
}

// 2^x on the FMA units, for x ≤ 0 (a softmax exponent): round x to n, 2^(x − n) by a
// degree-5 polynomial on [−½, ½] with p(0) = 1 exactly (relative error ≤ 2.2e-7 in fp32
// arithmetic, against MUFU.EX2's ≈ 2⁻²²; coefficients fitted for this file by weighted least
// squares on the relative error, Lawson's iteration), n added to the exponent field; 0 below
// 2⁻¹²⁶, as ex2.approx.ftz flushes.
// 12 instructions (9 on the FMA pipe) where MUFU.EX2 is one issue but 8 cycles of its quarter
// of the SM's 16 special-function units per warp: at head dim 64 a key tile's 64 exponentials
// a thread keep those units as busy as its products keep the tensor cores, so moving some to
// the FMA pipe can shorten the softmax that the other warpgroup's products must cover.
__device__ __forceinline__ float polynomial_exp2(float x) {
    const float round_shift = 12582912.0f;  // 1.5·2²³: x + this has round(x) in its low mantissa bits
    float shifted = x + round_shift;
    float fraction = x - (shifted - round_shift);
    float p = fmaf(fmaf(fmaf(fmaf(fmaf(1.326472731307149e-3f, fraction, 9.671512991189957e-3f), fraction,
                                   5.550733581185341e-2f), fraction, 2.4022242426872253e-1f),
                        fraction, 6.931470036506653e-1f), fraction, 1.0f);
    int32_t p_bits, n_bits;
    memcpy(&p_bits, &p, 4);
    memcpy(&n_bits, &shifted, 4);
    p_bits += (int32_t)((uint32_t)n_bits << 23);  // the low bits of n_bits are n (two's complement)
    float y;
    memcpy(&y, &p_bits, 4);
    return x < -126.0f ? 0.0f : y;  // also −∞ (a masked key), and NaN-free: selected away
}

// The online softmax of one S tile in this thread's two rows (query0, query0 + 8): masks the
// keys after the query on a diagonal tile, moves the running maximum, turns S into P in
// place (fp32; pack_probabilities makes the A operand of P·V) and returns the factor O and
// the running sum must be scaled by. s[4j + e] is row query0 + 8·(e/2), key first_key + 8j +
// 2q + e%2; p = 2^(s·c − max·c) with c = log2 e / √HD, one FFMA and one MUFU.EX2 each, or,
// for one pair in every FMA_EVERY (0: none), polynomial_exp2 instead.
template <int KEYS, int FMA_EVERY = 0>
__device__ __forceinline__ void softmax_probabilities(float (&correction)[2], float (&s)[KEYS / 2], float (&row_max)[2],
                                                      float (&row_sum)[2], int first_key, bool diagonal, int query0,
                                                      int q, float scale_log2) {
    // Each row's maximum in four partial maxima (then joined): four short dependency chains
    // instead of one of KEYS/4 — the warpgroup's softmax waits on it before anything else,
    // with little else for its warps to issue. The maximum is the same in any order.
    float partial_max[2][4];
#pragma unroll
    for (int r = 0; r < 2; r++)
#pragma unroll
        for (int k = 0; k < 4; k++) partial_max[r][k] = -INFINITY;
    if (diagonal) {  // uniform for the warpgroup: tiles before the diagonal run no mask arithmetic
#pragma unroll
        for (int i = 0; i < KEYS / 2; i++) {
            int key = first_key + (i >> 2) * 8 + 2 * q + (i & 1), row = query0 + ((i >> 1) & 1) * 8;
            if (key > row) s[i] = -INFINITY;
            partial_max[(i >> 1) & 1][(i >> 2) & 3] = fmaxf(partial_max[(i >> 1) & 1][(i >> 2) & 3], s[i]);
        }
    } else {
#pragma unroll
        for (int i = 0; i < KEYS / 2; i++)
            partial_max[(i >> 1) & 1][(i >> 2) & 3] = fmaxf(partial_max[(i >> 1) & 1][(i >> 2) & 3], s[i]);
    }
    float tile_max[2], scaled_max[2];
#pragma unroll
    for (int r = 0; r < 2; r++) {
        tile_max[r] = fmaxf(fmaxf(partial_max[r][0], partial_max[r][1]), fmaxf(partial_max[r][2], partial_max[r][3]));
        tile_max[r] = fmaxf(tile_max[r], __shfl_xor_sync(0xffffffffu, tile_max[r], 1));
        tile_max[r] = fmaxf(tile_max[r], __shfl_xor_sync(0xffffffffu, tile_max[r], 2));
        float new_max = fmaxf(row_max[r], tile_max[r]);
        correction[r] = new_max == -INFINITY ? 1.0f : fast_exp2((row_max[r] - new_max) * scale_log2);
        row_max[r] = new_max;
        scaled_max[r] = new_max == -INFINITY ? 0.0f : new_max * scale_log2;
    }
    float tile_sum[2] = {0.0f, 0.0f};
    constexpr int every = FMA_EVERY > 0 ? FMA_EVERY : 1;
#pragma unroll
    for (int i = 0; i < KEYS / 2; i += 2) {
        int r = (i >> 1) & 1;
        float p0, p1;
        if (FMA_EVERY > 0 && (i / 2) % every == every - 1) {
            p0 = polynomial_exp2(fmaf(s[i], scale_log2, -scaled_max[r]));
            p1 = polynomial_exp2(fmaf(s[i + 1], scale_log2, -scaled_max[r]));
        } else {
            p0 = fast_exp2(fmaf(s[i], scale_log2, -scaled_max[r]));
            p1 = fast_exp2(fmaf(s[i + 1], scale_log2, -scaled_max[r]));
        }
        tile_sum[r] += p0 + p1;
        s[i] = p0, s[i + 1] = p1;
    }
#pragma unroll
    for (int r = 0; r < 2; r++) row_sum[r] = row_sum[r] * correction[r] + tile_sum[r];  // lane-partial sums
}

// P (fp32, in s) packed as the A operand of P·V: key block kk holds s[8kk … 8kk+7].
template <typename scalar, int KEYS>
__device__ __forceinline__ void pack_probabilities(uint32_t (&p)[KEYS / 16][4], const float (&s)[KEYS / 2]) {
#pragma unroll
    for (int i = 0; i < KEYS / 2; i += 2) p[i >> 3][(i >> 1) & 3] = pack_pair<scalar>(s[i], s[i + 1]);
}

// Both: the softmax of one S tile, packed into p.
template <typename scalar, int KEYS, int FMA_EVERY = 0>
__device__ __forceinline__ void softmax_tile(uint32_t (&p)[KEYS / 16][4], float (&correction)[2], float (&s)[KEYS / 2],
                                             float (&row_max)[2], float (&row_sum)[2], int first_key, bool diagonal,
                                             int query0, int q, float scale_log2) {
    softmax_probabilities<KEYS, FMA_EVERY>(correction, s, row_max, row_sum, first_key, diagonal, query0, q, scale_log2);
    pack_probabilities<scalar, KEYS>(p, s);
}

// O *= correction per row; skipped by a warp whose corrections are all exactly 1 (once the
// rows' maxima settle), which would change no bit.
template <int HD> __device__ __forceinline__ void rescale_output(float (&o)[HD / 2], const float (&correction)[2]) {
    if (__any_sync(0xffffffffu, correction[0] != 1.0f || correction[1] != 1.0f)) {
#pragma unroll
        for (int i = 0; i < HD / 2; i++) o[i] *= correction[(i >> 1) & 1];
    }
}

// Their callers issue the products of one pipeline stage after a single wgmma_fence()
// that follows every ordinary write of their input registers (s cleared, O rescaled, P
// packed): a register write inside the stage makes ptxas serialise the products.
// S = Q·Kᵀ for the warpgroup's 64 rows × KEYS keys: HD/16 products, k16 steps as wgmma_k_major_step.
template <typename scalar, int HD, int KEYS, int QR>
__device__ __forceinline__ void issue_scores(float (&s)[KEYS / 2], uint64_t q_descriptor, uint64_t k_descriptor) {
    constexpr int W = swizzle_width<HD>::value;
#pragma unroll
    for (int kk = 0; kk < HD / 16; kk++)
        wgmma_ss<scalar, KEYS>(s, q_descriptor + wgmma_k_major_step<W>(kk, QR),
                               k_descriptor + wgmma_k_major_step<W>(kk, KEYS), kk > 0);
    wgmma_commit();
}

// O += P·V: KEYS/16 products of 64 × HD × 16; V is the MN-major B (k = key): a k16 step is
// 16 key rows (16·W bytes) on.
template <typename scalar, int HD, int KEYS>
__device__ __forceinline__ void issue_values(float (&o)[HD / 2], const uint32_t (&p)[KEYS / 16][4], uint64_t v_descriptor) {
    constexpr int W = swizzle_width<HD>::value;
#pragma unroll
    for (int kk = 0; kk < KEYS / 16; kk++)
        wgmma_rs_transposed_b<scalar, HD>(o, p[kk], v_descriptor + (uint64_t)(kk * 16 * W / 16), 1);
    wgmma_commit();
}

// Descriptors of a K tile and of a V tile (cuda_flash_attention_wgmma.cu: swizzled layout, W
// bytes per atom row).
template <int KEYS, int W> __device__ __forceinline__ uint64_t key_descriptor(const char *k_tile) {
    return wgmma_swizzled_descriptor<W>(k_tile, KEYS * W, 8 * W);
}
template <int KEYS, int W> __device__ __forceinline__ uint64_t value_descriptor(const char *v_tile) {
    return wgmma_swizzled_descriptor<W>(v_tile, KEYS * W, 8 * W);
}

// s = 0 (the first product overwrites it anyway; this keeps it defined) and the fences.
template <int count> __device__ __forceinline__ void clear_scores(float (&s)[count]) {
#pragma unroll
    for (int i = 0; i < count; i++) s[i] = 0.0f;
    wgmma_fence_operands(s);
}

// out rows query0 and query0 + 8 of this (sequence, head) = O / (the row's sum over its four
// lanes), rows at or past the sequence's end left unwritten; out's rows out_stride apart.
template <typename scalar, int HD>
__device__ __forceinline__ void store_output_rows(scalar *out, const float (&o)[HD / 2], const float (&row_sum)[2],
                                                  int64_t start, int query0, int length, int64_t out_stride, int head,
                                                  int q) {
#pragma unroll
    for (int r = 0; r < 2; r++) {
        float sum = row_sum[r];
        sum += __shfl_xor_sync(0xffffffffu, sum, 1);
        sum += __shfl_xor_sync(0xffffffffu, sum, 2);
        int query = query0 + r * 8;
        if (query >= length) continue;
        float inverse = 1.0f / sum;
        uint32_t *destination = (uint32_t *)(out + (start + query) * out_stride + (int64_t)head * HD + 2 * q);
#pragma unroll
        for (int j = 0; j < HD / 8; j++)
            destination[j * 4] = pack_pair<scalar>(o[4 * j + 2 * r] * inverse, o[4 * j + 2 * r + 1] * inverse);
    }
}

// The pipelined key loop: step(j, P_{j−1}, P_j) for j = 1 … key_tiles − 1, the P registers
// alternating (P_0 is p_even, made before), then last_values(P_{key_tiles−1}).
template <typename Step, typename Last, typename P>
__device__ __forceinline__ void pipelined_key_loop(int key_tiles, Step &step, Last &last_values, P &p_even, P &p_odd) {
    int j = 1;
    for (; j + 1 < key_tiles; j += 2) {
        step(j, p_even, p_odd);
        step(j + 1, p_odd, p_even);
    }
    if (j < key_tiles) {  // an even number of tiles: the last one is odd
        step(j, p_even, p_odd);
        last_values(p_odd);
    } else {
        last_values(p_even);
    }
}

// Host side of the launchers. launch(std::integral_constant<int, HD>()) for the Pythia head
// dims the kernels are built for; −1 for the others.
template <typename Launch> static inline int for_head_dim(int head_dim, Launch &&launch) {
    switch (head_dim) {
    case 32: return launch(std::integral_constant<int, 32>());
    case 64: return launch(std::integral_constant<int, 64>());
    case 80: return launch(std::integral_constant<int, 80>());
    case 96: return launch(std::integral_constant<int, 96>());
    case 128: return launch(std::integral_constant<int, 128>());
    case 256: return launch(std::integral_constant<int, 256>());
    default: return -1;
    }
}
// Opts kernel in to `bytes` of dynamic shared memory: 0, −1 where the device offers less per
// block (the caller falls back to another kernel), or the runtime's error.
template <typename Kernel> static inline int shared_memory_opt_in(Kernel kernel, size_t bytes) {
    int device = 0, limit = 0;
    cudaGetDevice(&device);
    cudaDeviceGetAttribute(&limit, cudaDevAttrMaxSharedMemoryPerBlockOptin, device);
    if ((size_t)limit < bytes) return -1;
    return (int)cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)bytes);
}

#endif
