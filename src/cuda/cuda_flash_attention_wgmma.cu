// cuda_flash_attention_wgmma.cu — causal attention on Hopper's warpgroup products (wgmma,
// sm_90a): the same online-softmax algorithm as cuda_flash_attention.cu, but each warpgroup
// (4 warps) owns 64 query rows and multiplies them by a whole K or V tile per instruction,
// with both operands of S = Q·Kᵀ and the V operand of O += P·V read by the tensor cores
// straight from shared memory: no ldmatrix traffic, and products of 64 × KEYS × 16 instead of
// 16 × 8 × 16. P stays in registers (an S accumulator is the A operand layout: cuda_wgmma.cuh).
//
// Shapes: qkv [N, 3d] (per head [q|k|v], HD each), out [N, d]; HD ∈ {32, 64, 80, 96, 128, 256}.
// A block: 2 warpgroups = 128 query rows of one (sequence, head), 256 threads; K and V tiles of
// KEYS keys (128, or 64 at HD = 256 for registers), in 2 or 3 stages filled with cp.async.
// (The small-blocks form, MEMPROF_ATTENTION=wgmma-64: 1 warpgroup = 64 rows, 64-key tiles.)
// Shared memory: every tile swizzled (cuda_common.cuh, swizzled_chunk_offset) with the widest
// swizzle that divides a row of HD elements: 128 bytes at HD = 64, 128, 256, 64 at 32 and 96,
// 32 at 80. A row's chunks are copied by consecutive threads, so a warp reads whole rows (256
// bytes at HD = 128: whole L2 lines) and each quarter-warp stores 128 contiguous bytes. Q and
// K are K-major operands (SBO = 8 rows = 8·W; a k16 step is 32 bytes along an atom row, then
// the next atom column); V, read as an MN-major B (n = head dim, k = key), is stored the same
// way: LBO = one atom column (KEYS·W), SBO = 8 keys (8·W), a k16 step 16 rows on.
// Bytes: (64·groups + 2·stages·KEYS)·HD·2 + 1 KB (the tiles start on a 1024-byte boundary, as
// the swizzle's address bits need); the pipelined form: 113 KB at HD = 64, 225 KB at HD = 128
// (3 stages), 193 KB at HD = 256 (2); the serial form (2 stages): 81 KB at HD = 64; the
// small-blocks form (3 stages): 57 KB at HD = 64, 113 KB at 128 (two blocks per SM), 225 KB
// at 256.
//
// Registers per thread at HD = 128: S 64, O 64, P 32 (fp32, fp32, packed pairs; the
// pipelined form holds two P); half the S and P with 64-key tiles. Two forms (`overlap`): the
// pipelined one overlaps a warpgroup's softmax with its own previous P·V product; the serial
// one waits for each product, leaving the overlap to the block's other warpgroup and (at
// HD ≤ 64, where its registers and shared memory allow two blocks per SM) the SM's other block.
#include <math.h>
#include <stdint.h>

#include "cuda/cuda_common.cuh"
#include "cuda/cuda_kernels.h"
#include "cuda/cuda_attention_wgmma.cuh"
#include "cuda/cuda_wgmma.cuh"

// The kernel's forms: products pipelined or waited for in turn (overlap), and warpgroups per
// block (GROUPS: 2, as FlashAttention-3's two consumers; or 1, 64-row blocks whose two or
// three per SM run out of step with each other, so one block's softmax meets another's
// products without a schedule between them, at twice the K/V reads per query row).
template <bool OVERLAP, int GROUPS> struct attention_form {
    static constexpr bool overlap = OVERLAP;
    static constexpr int groups = GROUPS;
};
typedef attention_form<true, 2> pipelined_form;      // MEMPROF_ATTENTION=wgmma
typedef attention_form<false, 2> serial_form;        // wgmma-serial
typedef attention_form<true, 1> small_blocks_form;   // wgmma-64

template <int HD, int GROUPS> struct wgmma_attention_shape {
    // Keys per K/V tile (the S product's N): 128 with two warpgroups (64 at HD = 256, for
    // registers), 64 with one (the tiles of two or three blocks per SM must fit).
    static constexpr int keys = GROUPS == 2 && HD <= 128 ? 128 : 64;
    static constexpr int groups = GROUPS;  // warpgroups per block, 64 rows each
    static constexpr int threads = groups * 128;
    static constexpr int query_rows = groups * 64;
    static constexpr size_t q_bytes = (size_t)query_rows * HD * 2;
    static constexpr size_t tile_bytes = (size_t)keys * HD * 2;  // one K or V tile
    static constexpr size_t bytes(int stages) {  // alignment slack, Q, K × stages, V × stages
        return 1024 + q_bytes + 2 * (size_t)stages * tile_bytes;
    }
    // K and V stages: 2 in the serial form; 3 in the pipelined ones where they fit an H100's
    // 227 KB per block (all but two warpgroups at HD = 256), so that copies are queued two key
    // tiles ahead of their use.
    static constexpr int pipelined_stages = bytes(3) <= 227 * 1024 ? 3 : 2;
    static constexpr int swizzle = swizzle_width<HD>::value;  // W, bytes per atom row
};

// overlap = false: per key tile, S = Q·Kᵀ, wait, softmax, O += P·V, wait: the tensor cores
// idle during a warpgroup's softmax unless another warpgroup fills them.
// overlap = true (FlashAttention-3's intra-warpgroup pipelining): iteration j issues S_j and
// then O += P_{j−1}·V_{j−1}, and computes the softmax of S_j while the latter runs; O is
// rescaled by S_j's correction once it lands. K_{j+2} and V_{j+1} load during iteration j
// (V one tile behind K) into the third stage of each (K_{j+1}, V_j with two stages, at
// HD = 256); P needs two register sets.
// S = Q·K_tileᵀ with nothing else in flight, waited for.
template <typename scalar, int HD, int KEYS, int QR>
__device__ __forceinline__ void compute_scores(float (&s)[KEYS / 2], uint64_t q_descriptor, const char *k_tile) {
    uint64_t k_descriptor = key_descriptor<KEYS, swizzle_width<HD>::value>(k_tile);
    clear_scores(s);
    wgmma_fence_operands(k_descriptor);
    wgmma_fence();
    issue_scores<scalar, HD, KEYS, QR>(s, q_descriptor, k_descriptor);
    wgmma_wait<0>();
    wgmma_fence_operands(s);
}

// At HD ≤ 64 the serial form's registers and shared memory fit two blocks per SM: kept so.
template <typename scalar, int HD, typename form>
__global__ void __launch_bounds__(wgmma_attention_shape<HD, form::groups>::threads,
                                  form::groups == 1 || (HD <= 64 && !form::overlap) ? 2 : 1)
flash_attention_wgmma_kernel(scalar *out, int64_t out_stride, const scalar *qkv, const int32_t *starts,
                             const int32_t *lengths, int heads, int query_tiles, float scale_log2) {
    constexpr bool overlap = form::overlap;
    using shape = wgmma_attention_shape<HD, form::groups>;
    constexpr int KEYS = shape::keys, QR = shape::query_rows, STAGES = overlap ? shape::pipelined_stages : 2;
    extern __shared__ __align__(128) unsigned char shared[];
    char *q_tile = (char *)shared + ((1024 - (shared_address(shared) & 1023)) & 1023);  // 1024-byte aligned
    char *k_tiles = q_tile + shape::q_bytes;              // [STAGES] tiles
    char *v_tiles = k_tiles + STAGES * shape::tile_bytes;  // [STAGES] tiles

    const attention_block block = attention_block_rows(starts, lengths, query_tiles, QR);
    const int head = block.head, start = block.start, length = block.length, first_query = block.first_query;
    if (first_query >= length) return;  // uniform for the block
    int64_t row_bytes = 3LL * heads * HD * (int64_t)sizeof(scalar);
    const char *head_base = attention_head_base<scalar, HD>(qkv, block, heads);
    const char *k_base = head_base + HD * sizeof(scalar), *v_base = head_base + 2 * HD * sizeof(scalar);
    int last_query = min(first_query + QR, length) - 1;
    const int key_tiles = last_query / KEYS + 1;  // keys 0 … the block's last query

    int group = threadIdx.x >> 7, warp = (threadIdx.x >> 5) & 3, lane = threadIdx.x & 31, g = lane >> 2, q = lane & 3;
    int group_first_query = first_query + group * 64;
    int query0 = group_first_query + warp * 16 + g;  // this thread's rows: query0 and query0 + 8
    // Key tiles this warpgroup multiplies in the serial loop: those that start at or before
    // its last row that is written (uniform for the warpgroup, as every wgmma must be); none
    // where all its rows are past the sequence's end.
    const int group_tiles =
        group_first_query < length ? (min(group_first_query + 64, length) - 1) / KEYS + 1 : 0;

    float o[HD / 2];
#pragma unroll
    for (int i = 0; i < HD / 2; i++) o[i] = 0.0f;
    float row_max[2] = {-INFINITY, -INFINITY}, row_sum[2] = {0.0f, 0.0f};
    // This warpgroup's 64 rows of Q: the group's first row is 64 rows (8 atoms) in.
    constexpr int W = shape::swizzle;
    const uint64_t q_descriptor = wgmma_swizzled_descriptor<W>(q_tile + group * 64 * W, QR * W, 8 * W);
    load_swizzled_tile_async<HD, QR, shape::threads>(q_tile, head_base, row_bytes, first_query, length, (int)threadIdx.x);
    load_swizzled_tile_async<HD, KEYS, shape::threads>(k_tiles, k_base, row_bytes, 0, length, (int)threadIdx.x);

    if constexpr (!overlap) {
        load_swizzled_tile_async<HD, KEYS, shape::threads>(v_tiles, v_base, row_bytes, 0, length, (int)threadIdx.x);
        copy_async_commit();
        for (int kt = 0; kt < key_tiles; kt++) {
            int stage = kt & 1;
            if (kt + 1 < key_tiles) {  // the next K/V tiles, into the stage the last iteration freed
                load_swizzled_tile_async<HD, KEYS, shape::threads>(k_tiles + (stage ^ 1) * shape::tile_bytes, k_base,
                                                                  row_bytes, (kt + 1) * KEYS, length, (int)threadIdx.x);
                load_swizzled_tile_async<HD, KEYS, shape::threads>(v_tiles + (stage ^ 1) * shape::tile_bytes, v_base,
                                                                  row_bytes, (kt + 1) * KEYS, length, (int)threadIdx.x);
            }
            copy_async_commit();
            copy_async_wait<1>();  // everything but the group just queued has landed
            shared_async_fence();  // ... and is visible to the tensor cores
            __syncthreads();
            if (kt < group_tiles) {
                float s[KEYS / 2], correction[2];
                uint32_t p[KEYS / 16][4];
                compute_scores<scalar, HD, KEYS, QR>(s, q_descriptor, k_tiles + stage * shape::tile_bytes);
                softmax_tile<scalar, KEYS>(p, correction, s, row_max, row_sum, kt * KEYS,
                                           kt * KEYS + KEYS - 1 > group_first_query, query0, q, scale_log2);
                rescale_output<HD>(o, correction);
                uint64_t v_descriptor = value_descriptor<KEYS, shape::swizzle>(v_tiles + stage * shape::tile_bytes);
                wgmma_fence_operands(o);
                wgmma_fence_operands(v_descriptor);
                wgmma_fence();
                issue_values<scalar, HD, KEYS>(o, p, v_descriptor);
                wgmma_wait<0>();
                wgmma_fence_operands(o);
            }
            __syncthreads();  // this stage is consumed: the next iteration may refill it
        }
    } else {
        // Both warpgroups run every key tile here (a tile wholly after a warpgroup's rows,
        // possible only at HD = 256, is all masked: P = 0 and correction 1 change no bit), so
        // that whether a product is issued depends on the loop alone: ptxas serialises wgmma
        // under branches it cannot prove uniform.
        // Groups queued ahead of iteration 0: (Q, K_0), and with three stages (K_1, V_0).
        constexpr int AHEAD = STAGES - 1;  // K tiles queued ahead of the one in use
        copy_async_commit();
        if constexpr (STAGES == 3) {
            if (1 < key_tiles)
                load_swizzled_tile_async<HD, KEYS, shape::threads>(k_tiles + shape::tile_bytes, k_base, row_bytes, KEYS,
                                                                   length, (int)threadIdx.x);
            load_swizzled_tile_async<HD, KEYS, shape::threads>(v_tiles, v_base, row_bytes, 0, length, (int)threadIdx.x);
            copy_async_commit();
        }
        float s[KEYS / 2], correction[2];
        // P_j for even and for odd j: P_{j−1} is read by the P·V product in flight while P_j
        // is made, in other registers (a copy between them would let ptxas merge the two,
        // write P_j inside the product's pipeline stage and serialise it).
        uint32_t p_even[KEYS / 16][4], p_odd[KEYS / 16][4];
        uint64_t k_descriptor, v_descriptor;
        // Iteration j: K_j and V_{j−1} (queued AHEAD − 1 iterations before) have landed;
        // queue K_{j+AHEAD} and V_{j+AHEAD−1} into the stages S_{j−1} and P_{j−2}·V_{j−2} (done
        // before the barrier) used. One group per call, so the wait leaves the newest
        // AHEAD − 1 groups in flight.
        auto next_tiles = [&](int j) {
            copy_async_wait<AHEAD - 1>();
            shared_async_fence();
            __syncthreads();
            if (j + AHEAD < key_tiles)
                load_swizzled_tile_async<HD, KEYS, shape::threads>(k_tiles + ((j + AHEAD) % STAGES) * shape::tile_bytes,
                                                                   k_base, row_bytes, (j + AHEAD) * KEYS, length, (int)threadIdx.x);
            if (j + AHEAD - 1 < key_tiles)
                load_swizzled_tile_async<HD, KEYS, shape::threads>(v_tiles + ((j + AHEAD - 1) % STAGES) * shape::tile_bytes,
                                                                   v_base, row_bytes, (j + AHEAD - 1) * KEYS, length, (int)threadIdx.x);
            copy_async_commit();
        };
        // 0 < j < key_tiles: S_j, and P_{j−1}·V_{j−1} behind it while S_j's softmax runs.
        auto step = [&](int j, const uint32_t (&p_previous)[KEYS / 16][4], uint32_t (&p)[KEYS / 16][4]) {
            next_tiles(j);
            k_descriptor = key_descriptor<KEYS, shape::swizzle>(k_tiles + (j % STAGES) * shape::tile_bytes);
            v_descriptor = value_descriptor<KEYS, shape::swizzle>(v_tiles + ((j - 1) % STAGES) * shape::tile_bytes);
            clear_scores(s);
            wgmma_fence_operands(o);
            wgmma_fence_operands(k_descriptor);
            wgmma_fence_operands(v_descriptor);
            wgmma_fence();
            issue_scores<scalar, HD, KEYS, QR>(s, q_descriptor, k_descriptor);
            issue_values<scalar, HD, KEYS>(o, p_previous, v_descriptor);
            wgmma_wait<1>();  // S_j has landed; P_{j−1}·V_{j−1} may still run
            wgmma_fence_operands(s);
            softmax_tile<scalar, KEYS>(p, correction, s, row_max, row_sum, j * KEYS,
                                       j * KEYS + KEYS - 1 > group_first_query, query0, q, scale_log2);
            wgmma_wait<0>();
            wgmma_fence_operands(o);
            rescale_output<HD>(o, correction);
        };
        // The last tile's P·V, once its V has landed.
        auto last_values = [&](const uint32_t (&p_last)[KEYS / 16][4]) {
            next_tiles(key_tiles);
            v_descriptor = value_descriptor<KEYS, shape::swizzle>(v_tiles + ((key_tiles - 1) % STAGES) * shape::tile_bytes);
            wgmma_fence_operands(o);
            wgmma_fence_operands(v_descriptor);
            wgmma_fence();
            issue_values<scalar, HD, KEYS>(o, p_last, v_descriptor);
            wgmma_wait<0>();
            wgmma_fence_operands(o);
        };

        next_tiles(0);
        compute_scores<scalar, HD, KEYS, QR>(s, q_descriptor, k_tiles);
        softmax_tile<scalar, KEYS>(p_even, correction, s, row_max, row_sum, 0, true, query0, q, scale_log2);  // O is 0
        pipelined_key_loop(key_tiles, step, last_values, p_even, p_odd);
    }

    store_output_rows<scalar, HD>(out, o, row_sum, start, query0, length, out_stride, head, q);
}

template <typename scalar, int HD, typename form>
static int launch_wgmma(void *out, int out_stride, const void *qkv, const int32_t *starts, const int32_t *lengths,
                        int sequences, int max_length, int heads, cuda_stream stream) {
    using shape = wgmma_attention_shape<HD, form::groups>;
    constexpr size_t bytes = shape::bytes(form::overlap ? shape::pipelined_stages : 2);
    int opted = shared_memory_opt_in(flash_attention_wgmma_kernel<scalar, HD, form>, bytes);
    if (opted != 0) return opted;
    int query_tiles = (max_length + shape::query_rows - 1) / shape::query_rows;
    dim3 grid((unsigned)heads, (unsigned)query_tiles, (unsigned)sequences);
    flash_attention_wgmma_kernel<scalar, HD, form><<<grid, shape::threads, bytes, stream>>>(
        (scalar *)out, (int64_t)out_stride, (const scalar *)qkv, starts, lengths, heads, query_tiles,
        (float)(M_LOG2E / sqrt((double)HD)));
    return LAUNCH_STATUS();
}

template <typename scalar, typename form>
static int dispatch(void *out, int out_stride, const void *qkv, const int32_t *starts, const int32_t *lengths,
                    int sequences, int max_length, int heads, int head_dim, cuda_stream stream) {
    return for_head_dim(head_dim, [&](auto hd) {
        return launch_wgmma<scalar, decltype(hd)::value, form>(out, out_stride, qkv, starts, lengths, sequences,
                                                               max_length, heads, stream);
    });
}

template <typename form>
static int forward(void *out, int out_stride, const void *qkv, const int32_t *starts, const int32_t *lengths,
                   int sequences, int max_length, int heads, int head_dim, int scalar_type, cuda_stream stream) {
    if (!cuda_wgmma_available()) return -1;
    if (sequences == 0 || max_length == 0) return 0;
    if (scalar_type == CUDA_SCALAR_FP16)
        return dispatch<__half, form>(out, out_stride, qkv, starts, lengths, sequences, max_length, heads, head_dim,
                                      stream);
    return dispatch<__nv_bfloat16, form>(out, out_stride, qkv, starts, lengths, sequences, max_length, heads, head_dim,
                                         stream);
}

// Each returns -1 when this head dim, build or device is not covered (use the mma.sync kernel).
extern "C" int cuda_flash_attention_wgmma_forward(void *out, int out_stride, const void *qkv, const int32_t *starts,
                                                  const int32_t *lengths, int sequences, int max_length, int heads,
                                                  int head_dim, int scalar_type, cuda_stream stream) {
    return forward<pipelined_form>(out, out_stride, qkv, starts, lengths, sequences, max_length, heads, head_dim,
                                   scalar_type, stream);
}
extern "C" int cuda_flash_attention_wgmma_serial_forward(void *out, int out_stride, const void *qkv,
                                                         const int32_t *starts, const int32_t *lengths, int sequences,
                                                         int max_length, int heads, int head_dim, int scalar_type,
                                                         cuda_stream stream) {
    return forward<serial_form>(out, out_stride, qkv, starts, lengths, sequences, max_length, heads, head_dim,
                                scalar_type, stream);
}
extern "C" int cuda_flash_attention_wgmma_small_blocks_forward(void *out, int out_stride, const void *qkv,
                                                               const int32_t *starts, const int32_t *lengths,
                                                               int sequences, int max_length, int heads, int head_dim,
                                                               int scalar_type, cuda_stream stream) {
    return forward<small_blocks_form>(out, out_stride, qkv, starts, lengths, sequences, max_length, heads, head_dim,
                                      scalar_type, stream);
}
