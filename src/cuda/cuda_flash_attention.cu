// cuda_flash_attention.cu — causal attention on tensor cores (WMMA), FlashAttention-2 style:
// a block owns 64 query rows of one (sequence, head); 4 warps own 16 rows each; keys stream
// through shared memory 64 at a time; softmax is online in fp32, P is rounded to the input
// type for the P·V product (as FlashAttention does), the output accumulates in fp32.
//
// Shapes: qkv [N, 3d] (per head [q|k|v], HD each), out [N, d]; HD ∈ {32, 64, 80, 96, 128, 256}.
// Shared memory per block: Q, K, V tiles [64, HD] scalar; S [4][16][64] fp32; P [4][16][64]
// scalar; O [4][16][HD] fp32 — 104 KB at HD = 128, 184 KB at HD = 256 (opt-in above 48 KB).
// Other head dims, or a device with less shared memory, use the exact warp kernel
// (cuda_attention.cu).
#include <mma.h>

#include <math.h>

#include "cuda/cuda_common.cuh"
#include "cuda/cuda_kernels.h"

using namespace nvcuda;

enum { TILE = 64, ROWS_PER_WARP = 16, FLASH_WARPS = 4 };

template <typename scalar, int HD> struct flash_layout {
    static constexpr size_t q = 0;
    static constexpr size_t k = q + (size_t)TILE * HD * sizeof(scalar);
    static constexpr size_t v = k + (size_t)TILE * HD * sizeof(scalar);
    static constexpr size_t s = v + (size_t)TILE * HD * sizeof(scalar);
    static constexpr size_t p = s + (size_t)FLASH_WARPS * ROWS_PER_WARP * TILE * sizeof(float);
    static constexpr size_t o = p + (size_t)FLASH_WARPS * ROWS_PER_WARP * TILE * sizeof(scalar);
    static constexpr size_t bytes = o + (size_t)FLASH_WARPS * ROWS_PER_WARP * HD * sizeof(float);
};

// Copies `rows` rows of HD scalars (16-byte vectors) starting at row `first` of one role
// (0 q, 1 k, 2 v) into a [TILE, HD] tile; rows past `valid` are zero.
template <typename scalar, int HD>
__device__ void load_tile(scalar *tile, const scalar *head_base, int64_t row_width, int first, int valid) {
    constexpr int vectors_per_row = HD * (int)sizeof(scalar) / 16;
    for (int i = threadIdx.x; i < TILE * vectors_per_row; i += blockDim.x) {
        int row = i / vectors_per_row, column = i % vectors_per_row;
        uint4 value = make_uint4(0, 0, 0, 0);
        if (first + row < valid) value = ((const uint4 *)(head_base + (int64_t)(first + row) * row_width))[column];
        ((uint4 *)(tile + row * HD))[column] = value;
    }
}

template <typename scalar, int HD>
__global__ void __launch_bounds__(FLASH_WARPS * 32)
flash_attention_kernel(scalar *out, const scalar *qkv, const int32_t *starts, const int32_t *lengths, int heads,
                       float scale) {
    using layout = flash_layout<scalar, HD>;
    extern __shared__ __align__(128) unsigned char shared[];  // WMMA pointers need 32-byte alignment
    scalar *q_tile = (scalar *)(shared + layout::q);
    scalar *k_tile = (scalar *)(shared + layout::k);
    scalar *v_tile = (scalar *)(shared + layout::v);
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    float *s_warp = (float *)(shared + layout::s) + warp * ROWS_PER_WARP * TILE;
    scalar *p_warp = (scalar *)(shared + layout::p) + warp * ROWS_PER_WARP * TILE;
    float *o_warp = (float *)(shared + layout::o) + warp * ROWS_PER_WARP * HD;

    int sequence = blockIdx.z, head = blockIdx.y;
    int start = starts[sequence], length = lengths[sequence];
    int first_query = blockIdx.x * TILE;
    if (first_query >= length) return;  // uniform for the block
    int64_t row_width = 3LL * heads * HD;
    const scalar *head_base = qkv + (int64_t)start * row_width + (int64_t)head * 3 * HD;
    int last_key = min(first_query + TILE - 1, length - 1);

    load_tile<scalar, HD>(q_tile, head_base, row_width, first_query, length);
    for (int i = lane; i < ROWS_PER_WARP * HD; i += 32) o_warp[i] = 0.0f;
    // Two lanes per query row: lane/2 is the row, lane%2 the half of the 64 key columns.
    int my_row = lane >> 1, my_half = lane & 1;
    int query = first_query + warp * ROWS_PER_WARP + my_row;
    float running_max = -INFINITY, running_sum = 0.0f;
    int warp_first_query = first_query + warp * ROWS_PER_WARP;

    for (int first_key = 0; first_key <= last_key; first_key += TILE) {
        __syncthreads();  // the previous K/V tiles are consumed
        load_tile<scalar, HD>(k_tile, head_base + HD, row_width, first_key, last_key + 1);
        load_tile<scalar, HD>(v_tile, head_base + 2 * HD, row_width, first_key, last_key + 1);
        __syncthreads();
        if (warp_first_query >= length || first_key > warp_first_query + ROWS_PER_WARP - 1) continue;

        // S = Q_w · Kᵀ (16 × 64), fp32 accumulation.
        for (int n = 0; n < TILE / 16; n++) {
            wmma::fragment<wmma::accumulator, 16, 16, 16, float> scores;
            wmma::fill_fragment(scores, 0.0f);
            for (int kk = 0; kk < HD / 16; kk++) {
                wmma::fragment<wmma::matrix_a, 16, 16, 16, scalar, wmma::row_major> a;
                wmma::fragment<wmma::matrix_b, 16, 16, 16, scalar, wmma::col_major> b;
                wmma::load_matrix_sync(a, q_tile + warp * ROWS_PER_WARP * HD + kk * 16, HD);
                wmma::load_matrix_sync(b, k_tile + n * 16 * HD + kk * 16, HD);
                wmma::mma_sync(scores, a, b, scores);
            }
            wmma::store_matrix_sync(s_warp + n * 16, scores, TILE, wmma::mem_row_major);
        }
        __syncwarp();

        // Online softmax for this lane's half row.
        float *s_row = s_warp + my_row * TILE;
        float tile_max = -INFINITY;
        for (int c = my_half * 32; c < my_half * 32 + 32; c++) {
            int key = first_key + c;
            if (query < length && key <= query) tile_max = fmaxf(tile_max, s_row[c] * scale);
        }
        tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, 1));
        float new_max = fmaxf(running_max, tile_max);
        float row_sum = 0.0f;
        scalar *p_row = p_warp + my_row * TILE;
        for (int c = my_half * 32; c < my_half * 32 + 32; c++) {
            int key = first_key + c;
            float p = (query < length && key <= query) ? expf(s_row[c] * scale - new_max) : 0.0f;
            row_sum += p;
            p_row[c] = from_float<scalar>(p);
        }
        row_sum += __shfl_xor_sync(0xffffffffu, row_sum, 1);
        float correction = new_max == -INFINITY ? 1.0f : expf(running_max - new_max);
        running_sum = running_sum * correction + row_sum;
        running_max = new_max;
        float *o_row = o_warp + my_row * HD;
        for (int c = my_half; c < HD; c += 2) o_row[c] *= correction;
        __syncwarp();

        // O += P · V (16 × HD), accumulated in the fp32 tile in shared memory.
        for (int n = 0; n < HD / 16; n++) {
            wmma::fragment<wmma::accumulator, 16, 16, 16, float> output;
            wmma::load_matrix_sync(output, o_warp + n * 16, HD, wmma::mem_row_major);
            for (int kk = 0; kk < TILE / 16; kk++) {
                wmma::fragment<wmma::matrix_a, 16, 16, 16, scalar, wmma::row_major> a;
                wmma::fragment<wmma::matrix_b, 16, 16, 16, scalar, wmma::row_major> b;
                wmma::load_matrix_sync(a, p_warp + kk * 16, TILE);
                wmma::load_matrix_sync(b, v_tile + kk * 16 * HD + n * 16, HD);
                wmma::mma_sync(output, a, b, output);
            }
            wmma::store_matrix_sync(o_warp + n * 16, output, HD, wmma::mem_row_major);
        }
        __syncwarp();
    }
    if (query < length) {
        scalar *destination = out + (int64_t)(start + query) * heads * HD + (int64_t)head * HD;
        const float *o_row = o_warp + my_row * HD;
        float inverse = 1.0f / running_sum;
        for (int c = my_half; c < HD; c += 2) destination[c] = from_float<scalar>(o_row[c] * inverse);
    }
}

template <typename scalar, int HD>
static int launch_flash(void *out, const void *qkv, const int32_t *starts, const int32_t *lengths, int sequences,
                        int max_length, int heads, cuda_stream stream) {
    size_t bytes = flash_layout<scalar, HD>::bytes;
    int device = 0, limit = 0;
    cudaGetDevice(&device);
    cudaDeviceGetAttribute(&limit, cudaDevAttrMaxSharedMemoryPerBlockOptin, device);
    if ((size_t)limit < bytes) return -1;  // caller falls back to the warp kernel
    cudaError_t status = cudaFuncSetAttribute(flash_attention_kernel<scalar, HD>,
                                              cudaFuncAttributeMaxDynamicSharedMemorySize, (int)bytes);
    if (status != cudaSuccess) return (int)status;
    dim3 grid((unsigned)((max_length + TILE - 1) / TILE), (unsigned)heads, (unsigned)sequences);
    flash_attention_kernel<scalar, HD><<<grid, FLASH_WARPS * 32, bytes, stream>>>(
        (scalar *)out, (const scalar *)qkv, starts, lengths, heads, (float)(1.0 / sqrt((double)HD)));
    return LAUNCH_STATUS();
}

template <typename scalar>
static int dispatch(void *out, const void *qkv, const int32_t *starts, const int32_t *lengths, int sequences,
                    int max_length, int heads, int head_dim, cuda_stream stream) {
    switch (head_dim) {
    case 32: return launch_flash<scalar, 32>(out, qkv, starts, lengths, sequences, max_length, heads, stream);
    case 64: return launch_flash<scalar, 64>(out, qkv, starts, lengths, sequences, max_length, heads, stream);
    case 80: return launch_flash<scalar, 80>(out, qkv, starts, lengths, sequences, max_length, heads, stream);
    case 96: return launch_flash<scalar, 96>(out, qkv, starts, lengths, sequences, max_length, heads, stream);
    case 128: return launch_flash<scalar, 128>(out, qkv, starts, lengths, sequences, max_length, heads, stream);
    case 256: return launch_flash<scalar, 256>(out, qkv, starts, lengths, sequences, max_length, heads, stream);
    default: return -1;
    }
}

// Returns -1 when this head dim or device is not covered (use cuda_attention_forward).
extern "C" int cuda_flash_attention_forward(void *out, const void *qkv, const int32_t *starts, const int32_t *lengths,
                                            int sequences, int max_length, int heads, int head_dim, int scalar_type,
                                            cuda_stream stream) {
    if (sequences == 0 || max_length == 0) return 0;
    if (scalar_type == CUDA_SCALAR_FP16)
        return dispatch<__half>(out, qkv, starts, lengths, sequences, max_length, heads, head_dim, stream);
    return dispatch<__nv_bfloat16>(out, qkv, starts, lengths, sequences, max_length, heads, head_dim, stream);
}
