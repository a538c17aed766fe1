// cuda_flash_attention.cu — causal attention on tensor cores, FlashAttention-2 style, with
// the accumulators in registers: a block owns 64·M query rows of one (sequence, head) and each
// of its 4 warps owns M m16 row tiles (M = 2, or 1 at head dims 96 and 256: see flash_shape);
// K and V stream through shared memory KEYS = 64 keys at a time (32 where the device's shared
// memory per block is too small for 64: below), double buffered with cp.async; S = Q·Kᵀ and
// O += P·V are mma.sync m16n8k16 products (fp32 accumulation) whose fragments come from ldmatrix; the softmax is online in fp32 (base 2:
// the scale carries log2 e), and P is rounded to the input type for the P·V product, as
// FlashAttention does. The S accumulator layout of two adjacent 8-key tiles is the A
// operand layout of the P·V product, so P never leaves the registers.
//
// Shapes: qkv [N, 3d] (per head [q|k|v], HD each), out [N, d]; HD ∈ {32, 64, 80, 96, 128, 256}.
// Shared memory per block: Q [64·M, HD+8] and two stages of K and V [64, HD+8] in the input
// type (the 8-element pad keeps ldmatrix free of bank conflicts): 54 KB at HD = 64, 102 KB at
// HD = 128, 165 KB at HD = 256 (opt-in above 48 KB). That is over an A100's 163 KB per block
// at HD = 256 and over the 99 KB of compute capability 8.6/8.9 cards (A6000, L40S, RTX
// 3090/4090) at HD = 128: there K and V come 32 keys a tile (68 KB at 128, 99 KB at 256),
// so that those head dims do not fall back to the warp kernel. Other head dims use the exact
// warp kernel (cuda_attention.cu).
//
// Fragment layouts and the mma, ldmatrix and cp.async helpers: cuda_mma.cuh.
#include <math.h>
#include <stdint.h>

#include "cuda/cuda_common.cuh"
#include "cuda/cuda_kernels.h"
#include "cuda/cuda_mma.cuh"

template <int HD, int KEYS = 64> struct flash_shape {
    static constexpr int keys = KEYS;  // keys per K/V tile: 64, or 32 (less shared memory)
    // Each warp owns m_tiles m16 row tiles, so every K and V fragment it reads from shared
    // memory feeds m_tiles products: with one tile per warp the kernel was bound by shared
    // memory reads (docs/performance.md). Two tiles need ~2× the accumulator registers, so
    // head dims 96 (spills) and 256 keep one.
    static constexpr int m_tiles = (HD <= 128 && HD != 96) ? 2 : 1;
    // Q's fragments stay in registers for the whole key loop where they fit (32 registers at
    // HD = 64): a fifth fewer ldmatrix per key tile. Above that they are re-read per tile.
    static constexpr bool q_in_registers = HD <= 64;
    static constexpr int warps = 4;
    static constexpr int threads = warps * 32;
    static constexpr int warp_rows = 16 * m_tiles;                   // query rows per warp
    static constexpr int query_rows = warps * warp_rows;              // query rows per block
    static constexpr int stride = HD + 8;                            // elements per shared row
    static constexpr size_t tile_elements = (size_t)KEYS * stride;   // one K or V tile
    static constexpr size_t q_elements = (size_t)query_rows * stride;
    static constexpr size_t bytes = (q_elements + 4 * tile_elements) * 2;  // Q, K×2, V×2
};

// Queues rows [first, first + rows) of one role into a padded [rows, HD+8] tile; rows at or
// past `length` are zero-filled (the source must still be a valid address: row 0 is used).
template <int HD, int rows>
__device__ __forceinline__ void load_tile_async(void *tile, const char *role_base, int64_t row_bytes, int first, int length) {
    constexpr int vectors = HD / 8;  // 16-byte vectors per row
    for (int i = threadIdx.x; i < rows * vectors; i += flash_shape<HD>::threads) {
        int row = i / vectors, column = i % vectors;
        bool valid = first + row < length;
        const char *source = role_base + (valid ? (int64_t)(first + row) * row_bytes : 0) + column * 16;
        copy_async_16((char *)tile + ((size_t)row * flash_shape<HD>::stride + column * 8) * 2, source, valid);
    }
}

template <typename scalar, int HD, int KEYS>
__global__ void __launch_bounds__(flash_shape<HD, KEYS>::threads)
flash_attention_kernel(scalar *out, int64_t out_stride, const scalar *qkv, const int32_t *starts,
                       const int32_t *lengths, int heads, int query_tiles, float scale_log2) {
    using shape = flash_shape<HD, KEYS>;
    constexpr int TILE = KEYS, NT = KEYS / 8;  // keys per tile; its n8 tiles of S
    constexpr int stride = shape::stride;
    extern __shared__ __align__(128) unsigned char shared[];
    scalar *q_tile = (scalar *)shared;
    scalar *k_tiles = q_tile + shape::q_elements;         // [2][KEYS][stride]
    scalar *v_tiles = k_tiles + 2 * shape::tile_elements;  // [2][KEYS][stride]

    // Grid (heads, query tiles, sequences): cuda_kernels.h, "block order".
    int head = blockIdx.x, sequence = blockIdx.z, tile = query_tiles - 1 - (int)blockIdx.y;
    int start = starts[sequence], length = lengths[sequence];
    int first_query = tile * shape::query_rows;
    if (first_query >= length) return;  // uniform for the block
    int64_t row_bytes = 3LL * heads * HD * (int64_t)sizeof(scalar);
    const char *head_base = (const char *)(qkv + (int64_t)start * 3 * heads * HD + (int64_t)head * 3 * HD);
    // Keys 0 … the block's last query (the causal mask ends every row there; rows at or past
    // the sequence's end are not written, so they need no keys of their own).
    const int key_tiles = (min(first_query + shape::query_rows, length) - 1) / TILE + 1;

    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
    // Where lane's ldmatrix row of Q's A fragment (m tile m, k step kk) is in shared memory.
    auto q_fragment_address = [&](int m, int kk) {
        return q_tile + (warp * shape::warp_rows + m * 16 + (lane & 7) + ((lane >> 3) & 1) * 8) * stride + kk * 16 +
               (lane >> 4) * 8;
    };
    load_tile_async<HD, shape::query_rows>(q_tile, head_base, row_bytes, first_query, length);
    load_tile_async<HD, TILE>(k_tiles, head_base + HD * sizeof(scalar), row_bytes, 0, length);
    load_tile_async<HD, TILE>(v_tiles, head_base + 2 * HD * sizeof(scalar), row_bytes, 0, length);
    copy_async_commit();

    constexpr int M = shape::m_tiles;
    float o[M][HD / 8][4];
#pragma unroll
    for (int m = 0; m < M; m++)
#pragma unroll
        for (int n = 0; n < HD / 8; n++) o[m][n][0] = o[m][n][1] = o[m][n][2] = o[m][n][3] = 0.0f;
    float row_max[M][2], row_sum[M][2];
#pragma unroll
    for (int m = 0; m < M; m++) row_max[m][0] = row_max[m][1] = -INFINITY, row_sum[m][0] = row_sum[m][1] = 0.0f;
    // Q's A fragments, read once from shared memory when they fit in registers (HD ≤ 64).
    uint32_t q_fragments[shape::q_in_registers ? M : 1][shape::q_in_registers ? HD / 16 : 1][4];
    int warp_first_query = first_query + warp * shape::warp_rows;
    // The last row of this warp's that is written: a warp wholly past the end (-1 here, when
    // the end falls in an earlier warp's rows) multiplies nothing.
    int warp_last_query = warp_first_query < length ? min(warp_first_query + shape::warp_rows, length) - 1 : -1;
    int query0 = warp_first_query + g;  // this lane's rows: query0 + 16·m and query0 + 16·m + 8

    for (int kt = 0; kt < key_tiles; kt++) {
        int stage = kt & 1;
        if (kt + 1 < key_tiles) {  // the next K/V tiles, into the stage the last iteration freed
            load_tile_async<HD, TILE>(k_tiles + (stage ^ 1) * shape::tile_elements, head_base + HD * sizeof(scalar),
                                      row_bytes, (kt + 1) * TILE, length);
            load_tile_async<HD, TILE>(v_tiles + (stage ^ 1) * shape::tile_elements,
                                      head_base + 2 * HD * sizeof(scalar), row_bytes, (kt + 1) * TILE, length);
        }
        copy_async_commit();
        copy_async_wait<1>();  // everything but the group just queued has landed
        __syncthreads();
        if constexpr (shape::q_in_registers) {
            if (kt == 0) {  // Q landed with the first K/V tiles
#pragma unroll
                for (int m = 0; m < M; m++)
#pragma unroll
                    for (int kk = 0; kk < HD / 16; kk++) load_matrix_x4(q_fragments[m][kk], q_fragment_address(m, kk));
            }
        }
        const scalar *k_tile = k_tiles + stage * shape::tile_elements;
        const scalar *v_tile = v_tiles + stage * shape::tile_elements;
        // A warp whose rows all come before this tile's first key has nothing to add. (Its
        // first m tile may still be wholly masked on the diagonal: exact, as every row has
        // seen key 0 in tile 0, so its maximum is finite and the masked P are 0.)
        if (kt * TILE <= warp_last_query) {
            // S = Q·Kᵀ for this warp's rows × KEYS keys: NT key tiles of 8 per m tile.
            float s[M][NT][4];
#pragma unroll
            for (int m = 0; m < M; m++)
#pragma unroll
                for (int j = 0; j < NT; j++) s[m][j][0] = s[m][j][1] = s[m][j][2] = s[m][j][3] = 0.0f;
#pragma unroll
            for (int kk = 0; kk < HD / 16; kk++) {
                uint32_t a[M][4];
#pragma unroll
                for (int m = 0; m < M; m++) {
                    if constexpr (shape::q_in_registers) {
#pragma unroll
                        for (int i = 0; i < 4; i++) a[m][i] = q_fragments[m][kk][i];
                    } else {
                        load_matrix_x4(a[m], q_fragment_address(m, kk));
                    }
                }
#pragma unroll
                for (int j = 0; j < NT; j += 2) {
                    uint32_t b[4];
                    load_matrix_x4(b, k_tile + (j * 8 + (lane & 7) + (lane >> 4) * 8) * stride + kk * 16 + ((lane >> 3) & 1) * 8);
#pragma unroll
                    for (int m = 0; m < M; m++) {
                        mma_16x8x16<scalar>(s[m][j], a[m], b[0], b[1]);
                        mma_16x8x16<scalar>(s[m][j + 1], a[m], b[2], b[3]);
                    }
                }
            }

            // Online softmax in base 2 on the raw scores: the maximum is taken before scaling
            // (the scale is positive) and each P is one FFMA and one MUFU.EX2,
            // p = 2^(s·c − max·c) with c = log2 e / √HD. Only tiles that reach past this
            // warp's first row mask keys after the query.
            bool diagonal = kt * TILE + TILE - 1 > warp_first_query;
#pragma unroll
            for (int m = 0; m < M; m++) {
                float tile_max[2] = {-INFINITY, -INFINITY};
                if (diagonal) {  // warp-uniform: tiles before the diagonal run no mask arithmetic
#pragma unroll
                    for (int j = 0; j < NT; j++)
#pragma unroll
                        for (int e = 0; e < 4; e++) {
                            if (kt * TILE + j * 8 + 2 * t + (e & 1) > query0 + m * 16 + (e >> 1) * 8) s[m][j][e] = -INFINITY;
                            tile_max[e >> 1] = fmaxf(tile_max[e >> 1], s[m][j][e]);
                        }
                } else {
#pragma unroll
                    for (int j = 0; j < NT; j++)
#pragma unroll
                        for (int e = 0; e < 4; e++) tile_max[e >> 1] = fmaxf(tile_max[e >> 1], s[m][j][e]);
                }
                float correction[2], scaled_max[2];
#pragma unroll
                for (int r = 0; r < 2; r++) {
                    tile_max[r] = fmaxf(tile_max[r], __shfl_xor_sync(0xffffffffu, tile_max[r], 1));
                    tile_max[r] = fmaxf(tile_max[r], __shfl_xor_sync(0xffffffffu, tile_max[r], 2));
                    float new_max = fmaxf(row_max[m][r], tile_max[r]);
                    correction[r] = new_max == -INFINITY ? 1.0f : fast_exp2((row_max[m][r] - new_max) * scale_log2);
                    row_max[m][r] = new_max;
                    scaled_max[r] = new_max == -INFINITY ? 0.0f : new_max * scale_log2;
                }
                float tile_sum[2] = {0.0f, 0.0f};
#pragma unroll
                for (int j = 0; j < NT; j++) {
#pragma unroll
                    for (int e = 0; e < 4; e++) {
                        float p = fast_exp2(fmaf(s[m][j][e], scale_log2, -scaled_max[e >> 1]));
                        s[m][j][e] = p;
                        tile_sum[e >> 1] += p;
                    }
                }
#pragma unroll
                for (int r = 0; r < 2; r++) row_sum[m][r] = row_sum[m][r] * correction[r] + tile_sum[r];  // lane-partial sums
                // Once the rows' maxima settle, every correction is exactly 1: the warp then skips
                // the HD/2 multiplications per lane that would change no bit of O.
                if (__any_sync(0xffffffffu, correction[0] != 1.0f || correction[1] != 1.0f)) {
#pragma unroll
                    for (int n = 0; n < HD / 8; n++) {
                        o[m][n][0] *= correction[0], o[m][n][1] *= correction[0];
                        o[m][n][2] *= correction[1], o[m][n][3] *= correction[1];
                    }
                }
            }

            // O += P·V: P's A fragments are S's accumulators of key tiles 2kk and 2kk+1.
#pragma unroll
            for (int kk = 0; kk < TILE / 16; kk++) {
                uint32_t a[M][4];
#pragma unroll
                for (int m = 0; m < M; m++) {
                    a[m][0] = pack_pair<scalar>(s[m][2 * kk][0], s[m][2 * kk][1]);
                    a[m][1] = pack_pair<scalar>(s[m][2 * kk][2], s[m][2 * kk][3]);
                    a[m][2] = pack_pair<scalar>(s[m][2 * kk + 1][0], s[m][2 * kk + 1][1]);
                    a[m][3] = pack_pair<scalar>(s[m][2 * kk + 1][2], s[m][2 * kk + 1][3]);
                }
#pragma unroll
                for (int n = 0; n < HD / 8; n += 2) {
                    uint32_t b[4];
                    load_matrix_x4_transposed(b, v_tile + (kk * 16 + (lane & 7) + ((lane >> 3) & 1) * 8) * stride + n * 8 +
                                                     (lane >> 4) * 8);
#pragma unroll
                    for (int m = 0; m < M; m++) {
                        mma_16x8x16<scalar>(o[m][n], a[m], b[0], b[1]);
                        mma_16x8x16<scalar>(o[m][n + 1], a[m], b[2], b[3]);
                    }
                }
            }
        }
        __syncthreads();  // this stage is consumed: the next iteration may refill it
    }

#pragma unroll
    for (int m = 0; m < M; m++) {
#pragma unroll
        for (int r = 0; r < 2; r++) {
            float sum = row_sum[m][r];
            sum += __shfl_xor_sync(0xffffffffu, sum, 1);
            sum += __shfl_xor_sync(0xffffffffu, sum, 2);
            int query = query0 + m * 16 + r * 8;
            if (query >= length) continue;
            float inverse = 1.0f / sum;
            uint32_t *destination =
                (uint32_t *)(out + (int64_t)(start + query) * out_stride + (int64_t)head * HD + 2 * t);
#pragma unroll
            for (int n = 0; n < HD / 8; n++)
                destination[n * 4] = pack_pair<scalar>(o[m][n][2 * r] * inverse, o[m][n][2 * r + 1] * inverse);
        }
    }
}

template <typename scalar, int HD, int KEYS>
static int launch_flash_keys(void *out, int out_stride, const void *qkv, const int32_t *starts, const int32_t *lengths,
                             int sequences, int max_length, int heads, cuda_stream stream) {
    using shape = flash_shape<HD, KEYS>;
    cudaError_t status = cudaFuncSetAttribute(flash_attention_kernel<scalar, HD, KEYS>,
                                              cudaFuncAttributeMaxDynamicSharedMemorySize, (int)shape::bytes);
    if (status != cudaSuccess) return (int)status;
    int query_tiles = (max_length + shape::query_rows - 1) / shape::query_rows;
    dim3 grid((unsigned)heads, (unsigned)query_tiles, (unsigned)sequences);
    flash_attention_kernel<scalar, HD, KEYS><<<grid, shape::threads, shape::bytes, stream>>>(
        (scalar *)out, (int64_t)out_stride, (const scalar *)qkv, starts, lengths, heads, query_tiles,
        (float)(M_LOG2E / sqrt((double)HD)));
    return LAUNCH_STATUS();
}

// The tiles cuda_flash_attention_keys picks for the device, or keys = 32: the 32-key tiles
// whatever the device (where they are built: the tests); -1 where neither is built or fits.
template <typename scalar, int HD>
static int launch_flash(void *out, int out_stride, const void *qkv, const int32_t *starts, const int32_t *lengths,
                        int sequences, int max_length, int heads, int keys, cuda_stream stream) {
    if (keys != 32) keys = cuda_flash_attention_keys(HD);
    if (keys == 64)
        return launch_flash_keys<scalar, HD, 64>(out, out_stride, qkv, starts, lengths, sequences, max_length, heads,
                                                 stream);
    if constexpr (HD == 128 || HD == 256) {  // the head dims whose 64-key tiles some GPU cannot hold
        if (keys == 32)
            return launch_flash_keys<scalar, HD, 32>(out, out_stride, qkv, starts, lengths, sequences, max_length,
                                                     heads, stream);
    }
    return -1;  // caller falls back to the warp kernel
}

template <typename scalar>
static int dispatch(void *out, int out_stride, const void *qkv, const int32_t *starts, const int32_t *lengths,
                    int sequences, int max_length, int heads, int head_dim, int keys, cuda_stream stream) {
    switch (head_dim) {
    case 32: return launch_flash<scalar, 32>(out, out_stride, qkv, starts, lengths, sequences, max_length, heads, keys, stream);
    case 64: return launch_flash<scalar, 64>(out, out_stride, qkv, starts, lengths, sequences, max_length, heads, keys, stream);
    case 80: return launch_flash<scalar, 80>(out, out_stride, qkv, starts, lengths, sequences, max_length, heads, keys, stream);
    case 96: return launch_flash<scalar, 96>(out, out_stride, qkv, starts, lengths, sequences, max_length, heads, keys, stream);
    case 128: return launch_flash<scalar, 128>(out, out_stride, qkv, starts, lengths, sequences, max_length, heads, keys, stream);
    case 256: return launch_flash<scalar, 256>(out, out_stride, qkv, starts, lengths, sequences, max_length, heads, keys, stream);
    default: return -1;
    }
}

static int flash_forward(void *out, int out_stride, const void *qkv, const int32_t *starts, const int32_t *lengths,
                         int sequences, int max_length, int heads, int head_dim, int scalar_type, int keys,
                         cuda_stream stream) {
    if (sequences == 0 || max_length == 0) return 0;
    if (scalar_type == CUDA_SCALAR_FP16)
        return dispatch<__half>(out, out_stride, qkv, starts, lengths, sequences, max_length, heads, head_dim, keys,
                                stream);
    return dispatch<__nv_bfloat16>(out, out_stride, qkv, starts, lengths, sequences, max_length, heads, head_dim, keys,
                                   stream);
}

// Returns -1 when this head dim or device is not covered (use cuda_attention_forward).
extern "C" int cuda_flash_attention_forward(void *out, int out_stride, const void *qkv, const int32_t *starts,
                                            const int32_t *lengths, int sequences, int max_length, int heads,
                                            int head_dim, int scalar_type, cuda_stream stream) {
    return flash_forward(out, out_stride, qkv, starts, lengths, sequences, max_length, heads, head_dim, scalar_type, 0,
                         stream);
}

// 64-key tiles where the device's shared memory per block holds them, else 32-key tiles at the
// head dims that need them on some GPU (128: 8.6/8.9 cards; 256: an A100 too), else 0.
extern "C" int cuda_flash_attention_keys(int head_dim) {
    int device = 0, limit = 0;
    cudaGetDevice(&device);
    cudaDeviceGetAttribute(&limit, cudaDevAttrMaxSharedMemoryPerBlockOptin, device);
    size_t wide = 0, narrow = 0;
    switch (head_dim) {
    case 32: wide = flash_shape<32, 64>::bytes; break;
    case 64: wide = flash_shape<64, 64>::bytes; break;
    case 80: wide = flash_shape<80, 64>::bytes; break;
    case 96: wide = flash_shape<96, 64>::bytes; break;
    case 128: wide = flash_shape<128, 64>::bytes, narrow = flash_shape<128, 32>::bytes; break;
    case 256: wide = flash_shape<256, 64>::bytes, narrow = flash_shape<256, 32>::bytes; break;
    default: return 0;
    }
    return (size_t)limit >= wide ? 64 : narrow && (size_t)limit >= narrow ? 32 : 0;
}

extern "C" int cuda_flash_attention_keys32_forward(void *out, int out_stride, const void *qkv, const int32_t *starts,
                                                   const int32_t *lengths, int sequences, int max_length, int heads,
                                                   int head_dim, int scalar_type, cuda_stream stream) {
    return flash_forward(out, out_stride, qkv, starts, lengths, sequences, max_length, heads, head_dim, scalar_type, 32,
                         stream);
}
