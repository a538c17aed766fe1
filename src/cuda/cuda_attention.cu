// cuda_attention.cu — causal attention, one warp per query row, online softmax in fp32.
//
// Shapes: qkv [N, 3d] scalar (per head [q|k|v], hd each), out [N, d] scalar (head-major);
// sequences lie end to end (starts/lengths). Grid (ceil(max_len / WARPS), heads, sequences),
// WARPS warps per block; keys stream through shared memory 32 at a time:
//   K tile, V tile [32, hd] scalar; q [WARPS, hd] fp32.
// Lane j scores key j of a tile; each lane accumulates head dims lane, lane + 32, ...
// This is the exact, simple kernel: any head dim up to 256 (DIMS_PER_LANE = ceil(hd/32)).
#include <math.h>

#include "cuda/cuda_common.cuh"
#include "cuda/cuda_kernels.h"

enum { WARPS = 4, KEY_TILE = 32 };

template <typename scalar, int DIMS_PER_LANE>
__global__ void attention_kernel(scalar *out, int64_t out_stride, const scalar *qkv, const int32_t *starts,
                                 const int32_t *lengths, int heads, int head_dim, float scale) {
    extern __shared__ float shared_memory[];
    float *q_shared = shared_memory;                                     // [WARPS, hd]
    scalar *k_shared = (scalar *)(q_shared + WARPS * head_dim);          // [KEY_TILE, hd]
    scalar *v_shared = k_shared + KEY_TILE * head_dim;                   // [KEY_TILE, hd]

    int sequence = blockIdx.z, head = blockIdx.y;
    int start = starts[sequence], length = lengths[sequence];
    int first_query = blockIdx.x * WARPS;
    if (first_query >= length) return;  // uniform for the whole block
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    int query = first_query + warp;
    bool active = query < length;
    int last_query = min(first_query + WARPS - 1, length - 1);
    int64_t row_width = 3LL * heads * head_dim;
    const scalar *base = qkv + (int64_t)start * row_width + (int64_t)head * 3 * head_dim;

    if (active)
        for (int i = lane; i < head_dim; i += 32) q_shared[warp * head_dim + i] = to_float(base[query * row_width + i]);

    float running_max = -INFINITY, running_sum = 0.0f;
    float accumulator[DIMS_PER_LANE];
    for (int r = 0; r < DIMS_PER_LANE; r++) accumulator[r] = 0.0f;

    for (int tile = 0; tile <= last_query; tile += KEY_TILE) {
        __syncthreads();  // the previous tile is consumed (and q is visible)
        for (int i = threadIdx.x; i < KEY_TILE * head_dim; i += blockDim.x) {
            int key = tile + i / head_dim, dim = i % head_dim;
            if (key <= last_query) {
                k_shared[i] = base[key * row_width + head_dim + dim];
                v_shared[i] = base[key * row_width + 2 * head_dim + dim];
            }
        }
        __syncthreads();
        if (!active || tile > query) continue;  // uniform within the warp

        int key = tile + lane;
        float score = -INFINITY;
        if (key <= query) {
            float dot = 0.0f;
            for (int i = 0; i < head_dim; i++) dot += q_shared[warp * head_dim + i] * to_float(k_shared[lane * head_dim + i]);
            score = dot * scale;
        }
        float new_max = fmaxf(running_max, warp_max(score));  // finite: key `tile` ≤ query
        float p = key <= query ? expf(score - new_max) : 0.0f;
        float correction = expf(running_max - new_max);        // 0 on the first tile
        running_sum = running_sum * correction + warp_sum(p);
        for (int r = 0; r < DIMS_PER_LANE; r++) accumulator[r] *= correction;
        for (int j = 0; j < KEY_TILE; j++) {
            float pj = __shfl_sync(0xffffffffu, p, j);
            if (pj == 0.0f) continue;  // masked or unloaded key: never touch its (stale) row
            for (int r = 0; r < DIMS_PER_LANE; r++) {
                int dim = lane + 32 * r;
                if (dim < head_dim) accumulator[r] += pj * to_float(v_shared[j * head_dim + dim]);
            }
        }
        running_max = new_max;
    }
    if (active) {
        scalar *destination = out + (int64_t)(start + query) * out_stride + (int64_t)head * head_dim;
        for (int r = 0; r < DIMS_PER_LANE; r++) {
            int dim = lane + 32 * r;
            if (dim < head_dim) destination[dim] = from_float<scalar>(accumulator[r] / running_sum);
        }
    }
}

template <typename scalar, int DIMS_PER_LANE>
static int launch(void *out, int out_stride, const void *qkv, const int32_t *starts, const int32_t *lengths,
                  int sequences, int max_length, int heads, int head_dim, cuda_stream stream) {
    dim3 grid((unsigned)((max_length + WARPS - 1) / WARPS), (unsigned)heads, (unsigned)sequences);
    size_t shared = (size_t)WARPS * head_dim * sizeof(float) + 2 * (size_t)KEY_TILE * head_dim * sizeof(scalar);
    float scale = (float)(1.0 / sqrt((double)head_dim));
    attention_kernel<scalar, DIMS_PER_LANE><<<grid, WARPS * 32, shared, stream>>>(
        (scalar *)out, (int64_t)out_stride, (const scalar *)qkv, starts, lengths, heads, head_dim, scale);
    return LAUNCH_STATUS();
}

template <typename scalar>
static int launch_for_head_dim(void *out, int out_stride, const void *qkv, const int32_t *starts,
                               const int32_t *lengths, int sequences, int max_length, int heads, int head_dim,
                               cuda_stream stream) {
    int per_lane = (head_dim + 31) / 32;
    switch (per_lane) {
    case 1:
        return launch<scalar, 1>(out, out_stride, qkv, starts, lengths, sequences, max_length, heads, head_dim, stream);
    case 2:
        return launch<scalar, 2>(out, out_stride, qkv, starts, lengths, sequences, max_length, heads, head_dim, stream);
    case 3:
        return launch<scalar, 3>(out, out_stride, qkv, starts, lengths, sequences, max_length, heads, head_dim, stream);
    case 4:
        return launch<scalar, 4>(out, out_stride, qkv, starts, lengths, sequences, max_length, heads, head_dim, stream);
    case 5: case 6: case 7: case 8:
        return launch<scalar, 8>(out, out_stride, qkv, starts, lengths, sequences, max_length, heads, head_dim, stream);
    default: return (int)cudaErrorInvalidValue;  // head dims above 256 are not supported
    }
}

extern "C" int cuda_attention_forward(void *out, int out_stride, const void *qkv, const int32_t *starts,
                                      const int32_t *lengths, int sequences, int max_length, int heads, int head_dim,
                                      int scalar_type, cuda_stream stream) {
    if (sequences == 0 || max_length == 0) return 0;
    if (scalar_type == CUDA_SCALAR_FP16)
        return launch_for_head_dim<__half>(out, out_stride, qkv, starts, lengths, sequences, max_length, heads,
                                           head_dim, stream);
    return launch_for_head_dim<__nv_bfloat16>(out, out_stride, qkv, starts, lengths, sequences, max_length, heads,
                                              head_dim, stream);
}
