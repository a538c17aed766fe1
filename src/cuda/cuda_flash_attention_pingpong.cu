// cuda_flash_attention_pingpong.cu — the wgmma attention (cuda_flash_attention_wgmma.cu, its
// pipelined form: the same products in the same order, so the same bits) with a block's
// warpgroups specialised, as FlashAttention-3 does, so that no __syncthreads() ties the two
// multiplying warpgroups together at every key tile:
//   - warpgroup 2 copies: Q with the first K/V tile, then each K/V tile into a free stage of
//     3 (2 at head dim 256), announcing it on the stage's `full` mbarrier once its copies
//     have landed; it runs on 24 registers (setmaxnreg), the others on 240. Two copy engines
//     (`TMA`): its 128 threads' cp.async (MEMPROF_ATTENTION=wgmma-pingpong), or one thread's
//     TMA box copies, whose bytes the mbarrier counts (wgmma-tma; cuda_tma.cuh). The boxes
//     are whole rows of the qkv buffer, so rows past a sequence's end hold the next
//     sequence's (finite) values where cp.async zero-fills them; those keys are masked and
//     their P are 0, so the products and the bits are the same.
//     With the rotary folded in (MEMPROF_ROTARY=attention, TMA only), the boxes land on a
//     `landed` mbarrier instead, and the warpgroup's warps 1–3 rotate the first rot dims of
//     each landed K tile from the second on in shared memory — the rotary pass's arithmetic
//     (rotate_pairs), so the same bits — before announcing it on `full`; Q's rows and the
//     first K tile's are rotated by the multiplying warpgroups themselves, whose registers
//     let the tables' loads go out before the copies land (a block's start is on the
//     critical path: one block per SM). q and k are read from memory once, where the rotary
//     pass reads and writes them before this kernel reads them. Positions are the rows'
//     indices in their sequence (the backend's positions).
//   - warpgroups 0 and 1 (and 2 at HD ≤ 64; 64 query rows each) wait on `full`, multiply,
//     and release a stage on its `empty` mbarrier once their products have read it. They take
//     turns to issue their products (named barriers 1, 2 (, 3), warpgroup 0 first), so one
//     warpgroup's products run on the tensor cores while the others compute their softmax,
//     where with a shared barrier all reach their softmax at the same time and the tensor
//     cores idle. At HD ≤ 64 a warpgroup's softmax of a 128-key tile takes about as long as
//     its products (64 exponentials a thread against 2 MFLOP), so two warpgroups cannot keep
//     the tensor cores busy: three do (FlashAttention-3's 192-row blocks there), within 160
//     registers a thread by keeping one P buffer (below).
// Per warpgroup, iteration j issues S_j = Q·K_jᵀ and O += P_{j−1}·V_{j−1}, then computes
// S_j's softmax while the latter runs (the pipelined form's schedule); P_j is packed into a
// second buffer at once, or, with three warpgroups, into the same buffer once P_{j−1}·V_{j−1}
// is done (the same values either way).
//
// Shapes: qkv [N, 3d] (per head [q|k|v], HD each), out [N, d]; HD ∈ {32, 64, 80, 96, 128, 256};
// 384 threads (512 at HD ≤ 64); K/V tiles of 128 keys (64 at HD = 256). Shared memory: 1 KB
// alignment slack, Q [64·warpgroups, HD], K and V × stages [keys, HD] (swizzled, as the
// wgmma form), 3 mbarriers per stage: 121 KB at HD = 64, 225 KB at 128 (3 stages), 193 KB
// at 256 (2 stages). Rotary tables cos, sin [positions, rot/2] fp32 (cuda_rotary_prepare).
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <type_traits>

#include "cuda/cuda_attention_wgmma.cuh"
#include "cuda/cuda_barrier.cuh"
#include "cuda/cuda_common.cuh"
#include "cuda/cuda_kernels.h"
#include "cuda/cuda_tensor_map.h"
#include "cuda/cuda_tma.cuh"
#include "cuda/cuda_wgmma.cuh"

template <int HD> struct pingpong_attention_shape {
    static constexpr int keys = HD <= 128 ? 128 : 64;  // the S product's N (64 at HD = 256, for registers)
    // Multiplying warpgroups, 64 query rows each: three at HD ≤ 64, where a warpgroup's
    // softmax takes about as long as its products, so that two others' products can cover it
    // (registers allow it there with one P buffer: P_j packed once P_{j−1}·V_{j−1} is done).
    static constexpr int consumers = HD <= 64 ? 3 : 2;
    static constexpr bool single_p = consumers == 3;
    static constexpr int threads = (consumers + 1) * 128;
    static constexpr int query_rows = consumers * 64;
    static constexpr size_t q_bytes = (size_t)query_rows * HD * 2;
    static constexpr size_t tile_bytes = (size_t)keys * HD * 2;  // one K or V tile
    static constexpr size_t bytes(int stages) {  // alignment slack, Q, K × stages, V × stages, barriers
        return 1024 + q_bytes + 2 * (size_t)stages * tile_bytes + 3 * (size_t)stages * 8;
    }
    static constexpr int stages = bytes(3) <= 227 * 1024 ? 3 : 2;
    static constexpr int swizzle = swizzle_width<HD>::value;
    // TMA box rows: Q's rows (64·consumers) and K/V's in whole boxes.
    static constexpr int box_rows = consumers == 3 ? 64 : keys;
    // Registers per thread after setmaxnreg: 24·128 + 240·256 (or 160·384) ≤ the SM's 65,536;
    // with the rotary, the copying warpgroup's warps rotate too: 32·128 + 160·384 and
    // 48·128 + 232·256 = 65,536 (ptxas: no spills in the multiplying roles at 160 and 232).
    static constexpr int copy_registers = 24, rotating_copy_registers = consumers == 3 ? 32 : 48;
    static constexpr int multiply_registers = consumers == 3 ? 160 : 240;
    static constexpr int rotating_multiply_registers = consumers == 3 ? 160 : 232;  // 48·128 + 232·256 = 65,536
};

// The copying warpgroup's warps 1–3 rotate (warp 0's first thread issues the copies).
enum { ROTATORS = 96 };
// Named barrier 4: the multiplying warpgroups, once they have rotated Q and the first K tile
// (1 … 3 are their turns).
enum { ROTATED_BARRIER = 4 };

// Byte offset of element e of row `row` in a swizzled tile of `rows` rows (cuda_common.cuh).
template <int W> __device__ __forceinline__ uint32_t swizzled_element_offset(int row, int e, int rows) {
    return swizzled_chunk_offset<W>(row, e / 8, rows) + (uint32_t)(e % 8) * 2;
}

// Rows [0, rows) of a swizzled tile of tile_rows rows whose row r is position first_position + r.
struct rotary_region {
    char *tile;
    int tile_rows, first_position, rows;
};

// Rotates the first 2·half dims of the rows of REGIONS regions, as thread `thread` of
// `threads`: item n (VEC pairs; a region's rows × half/VEC columns, the regions in turn) is
// thread n % threads's, BATCH items at a time, their tables' loads issued together and, in the
// first batch, before the wait for the copies (`landed`, phase `parity`), which every thread
// passes once, items or not. VEC divides half, so an item's VEC values lie in one 16-byte
// chunk (contiguous after the swizzle). Ends with the writes fenced for the tensor cores'
// (async) proxy.
template <typename scalar, int W, int VEC, int BATCH, int REGIONS>
__device__ __forceinline__ void rotate_regions_by(const rotary_region (&regions)[REGIONS], uint64_t *landed,
                                                  unsigned parity, const float *cos_table, const float *sin_table,
                                                  int half, int thread, int threads) {
    typedef scalar_vector<scalar, VEC> pair_vector;
    const int columns = half / VEC;
    int items[REGIONS], total = 0;
#pragma unroll
    for (int r = 0; r < REGIONS; r++) {
        items[r] = max(min(regions[r].rows, regions[r].tile_rows), 0) * columns;
        total += items[r];
    }
    bool waited = false;
    for (int first = thread; first < total || !waited; first += BATCH * threads) {
        float_vector<VEC> c[BATCH], s[BATCH];
        pair_vector *x[BATCH], *y[BATCH];  // an item's first and second values (NULL: no item)
#pragma unroll
        for (int b = 0; b < BATCH; b++) {
            int item = first + b * threads, r = 0;
            x[b] = y[b] = NULL;
            if (item >= total) continue;
#pragma unroll
            for (int k = 0; k + 1 < REGIONS; k++)
                if (r == k && item >= items[k]) item -= items[k], r = k + 1;
            rotary_region region = regions[0];  // regions[r], with constant indices (registers, not a local array)
#pragma unroll
            for (int k = 1; k < REGIONS; k++)
                if (r == k) region = regions[k];
            const int row = item / columns, i = (item - row * columns) * VEC;
            const int table = (region.first_position + row) * half + i;
            c[b] = *(const float_vector<VEC> *)(cos_table + table);
            s[b] = *(const float_vector<VEC> *)(sin_table + table);
            x[b] = (pair_vector *)(region.tile + swizzled_element_offset<W>(row, i, region.tile_rows));
            y[b] = (pair_vector *)(region.tile + swizzled_element_offset<W>(row, i + half, region.tile_rows));
        }
        if (!waited) mbarrier_wait(landed, parity), waited = true;
#pragma unroll
        for (int b = 0; b < BATCH; b++) {
            if (x[b] == NULL) continue;
            pair_vector first_values = *x[b], second_values = *y[b];
            rotate_pairs<scalar, VEC>(first_values, second_values, c[b], s[b]);
            shared_store_for_products(x[b], first_values);
            shared_store_for_products(y[b], second_values);
        }
    }
    shared_async_fence();
}

// rotate_regions_by with VEC the widest of 4, 2, 1 that divides half.
template <typename scalar, int W, int BATCH, int REGIONS>
__device__ __forceinline__ void rotate_regions(const rotary_region (&regions)[REGIONS], uint64_t *landed,
                                               unsigned parity, const float *cos_table, const float *sin_table,
                                               int half, int thread, int threads) {
    if (half % 4 == 0)
        rotate_regions_by<scalar, W, 4, BATCH>(regions, landed, parity, cos_table, sin_table, half, thread, threads);
    else if (half % 2 == 0)
        rotate_regions_by<scalar, W, 2, BATCH>(regions, landed, parity, cos_table, sin_table, half, thread, threads);
    else
        rotate_regions_by<scalar, W, 1, BATCH>(regions, landed, parity, cos_table, sin_table, half, thread, threads);
}

// rows [row0, row0 + ROWS) × columns [column0, column0 + HD) of the map into a swizzled tile
// (cuda_common.cuh): one box (KEYS rows × one atom column of W bytes) at a time.
template <int HD, int ROWS, int KEYS, int W>
__device__ __forceinline__ void tma_load_rows(char *tile, const CUtensorMap *map, int column0, int row0, uint64_t *barrier) {
#pragma unroll
    for (int c = 0; c < HD * 2 / W; c++)
#pragma unroll
        for (int b = 0; b < ROWS / KEYS; b++)
            tma_load_2d(tile + c * ROWS * W + b * KEYS * W, map, column0 + c * (W / 2), row0 + b * KEYS, barrier);
}

template <typename scalar, int HD, bool TMA, int FMA_EVERY, bool ROTARY>
__global__ void __launch_bounds__(pingpong_attention_shape<HD>::threads, 1)
flash_attention_pingpong_kernel(scalar *out, int64_t out_stride, const scalar *qkv, const int32_t *starts,
                                const int32_t *lengths, int heads, int query_tiles, float scale_log2,
                                const __grid_constant__ CUtensorMap qkv_map, const float *cos_table,
                                const float *sin_table, int rotary_half) {
    static_assert(!ROTARY || TMA, "the rotary is folded into the TMA form only");
    using shape = pingpong_attention_shape<HD>;
    constexpr int KEYS = shape::keys, QR = shape::query_rows, STAGES = shape::stages, W = shape::swizzle;
    extern __shared__ __align__(128) unsigned char shared[];
    char *q_tile = (char *)shared + ((1024 - (shared_address(shared) & 1023)) & 1023);  // 1024-byte aligned
    char *k_tiles = q_tile + shape::q_bytes;               // [STAGES] tiles
    char *v_tiles = k_tiles + STAGES * shape::tile_bytes;  // [STAGES] tiles
    uint64_t *full = (uint64_t *)(v_tiles + STAGES * shape::tile_bytes);  // [STAGES]: a stage's tiles landed
    uint64_t *empty = full + STAGES;                                      // [STAGES]: both consumers read it
    uint64_t *landed = ROTARY ? empty + STAGES : full;  // [STAGES]: where the TMA's bytes are counted

    const attention_block block = attention_block_rows(starts, lengths, query_tiles, QR);
    const int head = block.head, start = block.start, length = block.length, first_query = block.first_query;
    if (first_query >= length) return;  // uniform for the block
    int64_t row_bytes = 3LL * heads * HD * (int64_t)sizeof(scalar);
    const char *head_base = attention_head_base<scalar, HD>(qkv, block, heads);
    const int key_tiles = (min(first_query + QR, length) - 1) / KEYS + 1;  // keys 0 … the block's last query

    if (threadIdx.x == 0) {
        for (int stage = 0; stage < STAGES; stage++) {
            // The TMA thread, every rotating thread, or every copying thread.
            mbarrier_init(&full[stage], ROTARY ? ROTATORS : TMA ? 1 : 128);
            mbarrier_init(&empty[stage], shape::consumers * 128);  // every multiplying thread, once read
            if (ROTARY) mbarrier_init(&landed[stage], 1);           // the TMA thread
        }
    }
    __syncthreads();  // the last barrier of the whole block: the roles part here
    int group = threadIdx.x >> 7;

    if (group == shape::consumers) {
        // Tile t goes into stage t % STAGES once the consumers released tile t − STAGES there
        // (the (t/STAGES)-th phase of `empty`). With 3 stages the copies of two tiles are in
        // flight (tile t − 1 is announced after tile t's copies are queued); with 2, one (each
        // announced before the next wait, which would otherwise wait on it).
        register_limit_decrease<ROTARY ? shape::rotating_copy_registers : shape::copy_registers>();
        int thread = threadIdx.x - shape::consumers * 128;
        if constexpr (TMA) {
            // One thread: per tile, the bytes to expect, then the boxes (Q's with tile 0).
            if (thread == 0) {
                int column = head * 3 * HD;
                for (int t = 0; t < key_tiles; t++) {
                    int stage = t % STAGES;
                    if (t >= STAGES) mbarrier_wait(&empty[stage], (unsigned)(t / STAGES - 1) & 1);
                    mbarrier_arrive_expect_bytes(&landed[stage], (uint32_t)(2 * shape::tile_bytes + (t == 0 ? shape::q_bytes : 0)));
                    constexpr int BOX = shape::box_rows;
                    if (t == 0) tma_load_rows<HD, QR, BOX, W>(q_tile, &qkv_map, column, start + first_query, &landed[0]);
                    tma_load_rows<HD, KEYS, BOX, W>(k_tiles + stage * shape::tile_bytes, &qkv_map, column + HD,
                                                    start + t * KEYS, &landed[stage]);
                    tma_load_rows<HD, KEYS, BOX, W>(v_tiles + stage * shape::tile_bytes, &qkv_map, column + 2 * HD,
                                                    start + t * KEYS, &landed[stage]);
                }
            } else if (ROTARY && thread >= 32) {
                // Tiles 1, 2, …: each K tile once landed, rotated, announced on `full`. Tile 0
                // (with Q) is the multiplying warpgroups' (below): its phase of `full` is
                // completed here at once. Tile t + STAGES cannot land before the consumers
                // released tile t, which needs this tile's announcement, so a `landed` phase is
                // never missed.
                mbarrier_arrive(&full[0]);
                for (int t = 1; t < key_tiles; t++) {
                    const int stage = t % STAGES;
                    const rotary_region k_tile[1] = {
                        {k_tiles + stage * shape::tile_bytes, KEYS, t * KEYS, length - t * KEYS}};
                    rotate_regions<scalar, W, 1>(k_tile, &landed[stage], (unsigned)(t / STAGES) & 1, cos_table,
                                                 sin_table, rotary_half, thread - 32, ROTATORS);
                    mbarrier_arrive(&full[stage]);
                }
            }
            return;
        }
        constexpr int LAG = STAGES >= 3 ? 1 : 0;
        const char *k_base = head_base + HD * sizeof(scalar), *v_base = head_base + 2 * HD * sizeof(scalar);
        for (int t = 0; t < key_tiles; t++) {
            int stage = t % STAGES;
            if (t >= STAGES) mbarrier_wait(&empty[stage], (unsigned)(t / STAGES - 1) & 1);
            if (t == 0)
                load_swizzled_tile_async<HD, QR, 128>(q_tile, head_base, row_bytes, first_query, length, thread);
            load_swizzled_tile_async<HD, KEYS, 128>(k_tiles + stage * shape::tile_bytes, k_base, row_bytes, t * KEYS,
                                                    length, thread);
            load_swizzled_tile_async<HD, KEYS, 128>(v_tiles + stage * shape::tile_bytes, v_base, row_bytes, t * KEYS,
                                                    length, thread);
            copy_async_commit();
            if (t >= LAG) {
                copy_async_wait<LAG>();
                shared_async_fence();  // visible to the tensor cores' reads
                mbarrier_arrive(&full[(t - LAG) % STAGES]);
            }
        }
        if (LAG > 0) {
            copy_async_wait<0>();
            shared_async_fence();
            mbarrier_arrive(&full[(key_tiles - 1) % STAGES]);
        }
        return;
    }

    register_limit_increase<ROTARY ? shape::rotating_multiply_registers : shape::multiply_registers>();
    int warp = (threadIdx.x >> 5) & 3, lane = threadIdx.x & 31, g = lane >> 2, q = lane & 3;
    int group_first_query = first_query + group * 64;
    int query0 = group_first_query + warp * 16 + g;  // this thread's rows: query0 and query0 + 8
    // Turns, in the order 0, 1, (2,) 0, …: a warpgroup issues its products after bar.sync on
    // its own id (1 + group), which opens once the warpgroup before it has arrived there after
    // issuing its own. Each issues key_tiles + 1 times; the last warpgroup arrives once up
    // front (0 goes first) and not after its last issue, so every id sees as many arrivals as
    // waits.
    constexpr int LAST = shape::consumers - 1;
    const int my_turn = 1 + group, next_turn = 1 + (group == LAST ? 0 : group + 1);
    if (group == LAST) named_barrier_arrive<256>(next_turn);

    float o[HD / 2];
#pragma unroll
    for (int i = 0; i < HD / 2; i++) o[i] = 0.0f;
    float row_max[2] = {-INFINITY, -INFINITY}, row_sum[2] = {0.0f, 0.0f};
    // This warpgroup's 64 rows of Q: the group's first row is 64 rows (8 atoms) in.
    const uint64_t q_descriptor = wgmma_swizzled_descriptor<W>(q_tile + group * 64 * W, QR * W, 8 * W);
    float s[KEYS / 2], correction[2];
    // P_j for even and odd j (the pipelined form's reason: one is read by the product in
    // flight); with one buffer (single_p), P_j is packed once that product is done.
    uint32_t p_even[KEYS / 16][4], p_odd[shape::single_p ? 1 : KEYS / 16][4];
    uint64_t k_descriptor, v_descriptor;

    // Tile 0 (Q landed with it): S_0 alone; O is still 0. With the rotary, the multiplying
    // warpgroups rotate Q's rows and K_0's themselves (4 items a thread at a time, the tables'
    // loads issued before the copies land, so that a block's start waits for about one round
    // trip to L2 more than the copies), then meet (ROTATED_BARRIER).
    if constexpr (ROTARY) {
        const rotary_region first_tiles[2] = {{q_tile, QR, first_query, length - first_query},
                                              {k_tiles, KEYS, 0, length}};
        rotate_regions<scalar, W, 4>(first_tiles, &landed[0], 0, cos_table, sin_table, rotary_half, threadIdx.x,
                                     shape::consumers * 128);
        named_barrier_sync<shape::consumers * 128>(ROTATED_BARRIER);
    } else {
        mbarrier_wait(&full[0], 0);
    }
    k_descriptor = key_descriptor<KEYS, W>(k_tiles);
    clear_scores(s);
    wgmma_fence_operands(k_descriptor);
    named_barrier_sync<256>(my_turn);
    wgmma_fence();
    issue_scores<scalar, HD, KEYS, QR>(s, q_descriptor, k_descriptor);
    named_barrier_arrive<256>(next_turn);
    wgmma_wait<0>();
    wgmma_fence_operands(s);
    softmax_tile<scalar, KEYS, FMA_EVERY>(p_even, correction, s, row_max, row_sum, 0, true, query0, q, scale_log2);

    // 0 < j < key_tiles: S_j, and P_{j−1}·V_{j−1} behind it while S_j's softmax runs.
    auto step = [&](int j, const uint32_t (&p_previous)[KEYS / 16][4], uint32_t (&p)[KEYS / 16][4]) {
        mbarrier_wait(&full[j % STAGES], (unsigned)(j / STAGES) & 1);
        k_descriptor = key_descriptor<KEYS, W>(k_tiles + (j % STAGES) * shape::tile_bytes);
        v_descriptor = value_descriptor<KEYS, W>(v_tiles + ((j - 1) % STAGES) * shape::tile_bytes);
        clear_scores(s);
        wgmma_fence_operands(o);
        wgmma_fence_operands(k_descriptor);
        wgmma_fence_operands(v_descriptor);
        named_barrier_sync<256>(my_turn);
        wgmma_fence();
        issue_scores<scalar, HD, KEYS, QR>(s, q_descriptor, k_descriptor);
        issue_values<scalar, HD, KEYS>(o, p_previous, v_descriptor);
        named_barrier_arrive<256>(next_turn);
        wgmma_wait<1>();  // S_j has landed; P_{j−1}·V_{j−1} may still run
        wgmma_fence_operands(s);
        softmax_probabilities<KEYS, FMA_EVERY>(correction, s, row_max, row_sum, j * KEYS,
                                               j * KEYS + KEYS - 1 > group_first_query, query0, q, scale_log2);
        if constexpr (!shape::single_p) pack_probabilities<scalar, KEYS>(p, s);
        wgmma_wait<0>();
        wgmma_fence_operands(o);
        if constexpr (shape::single_p) pack_probabilities<scalar, KEYS>(p, s);  // p held P_{j−1}, read until now
        mbarrier_arrive(&empty[(j - 1) % STAGES]);  // K_{j−1} and V_{j−1} are read
        rescale_output<HD>(o, correction);
    };
    // The last tile's P·V (its V landed with its K).
    auto last_values = [&](const uint32_t (&p_last)[KEYS / 16][4]) {
        v_descriptor = value_descriptor<KEYS, W>(v_tiles + ((key_tiles - 1) % STAGES) * shape::tile_bytes);
        wgmma_fence_operands(o);
        wgmma_fence_operands(v_descriptor);
        named_barrier_sync<256>(my_turn);
        wgmma_fence();
        issue_values<scalar, HD, KEYS>(o, p_last, v_descriptor);
        if (group != LAST) named_barrier_arrive<256>(next_turn);
        wgmma_wait<0>();
        wgmma_fence_operands(o);
    };

    if constexpr (shape::single_p) {
        for (int j = 1; j < key_tiles; j++) step(j, p_even, p_even);
        last_values(p_even);
    } else {
        pipelined_key_loop(key_tiles, step, last_values, p_even, p_odd);
    }
    store_output_rows<scalar, HD>(out, o, row_sum, start, query0, length, out_stride, head, q);
}

// tokens: the rows of qkv (TMA's tensor extent: rows past it arrive as zeros); 0 for cp.async.
template <typename scalar, int HD, bool TMA, int FMA_EVERY, bool ROTARY>
static int launch_pingpong(void *out, int out_stride, const void *qkv, const int32_t *starts, const int32_t *lengths,
                           int sequences, int max_length, int heads, int64_t tokens, const float *cos_table,
                           const float *sin_table, int rotary_dims, cuda_stream stream) {
    using shape = pingpong_attention_shape<HD>;
    constexpr size_t bytes = shape::bytes(shape::stages);
    if (ROTARY && (rotary_dims < 2 || rotary_dims % 2 != 0 || rotary_dims > HD)) return -1;
    int opted = shared_memory_opt_in(flash_attention_pingpong_kernel<scalar, HD, TMA, FMA_EVERY, ROTARY>, bytes);
    if (opted != 0) return opted;
    CUtensorMap qkv_map;
    memset(&qkv_map, 0, sizeof qkv_map);
    if (TMA) {
        int mapped = tensor_map_2d(&qkv_map, qkv, std::is_same<scalar, __nv_bfloat16>::value, 3ULL * heads * HD,
                                   (uint64_t)tokens, 3ULL * heads * HD * sizeof(scalar), shape::swizzle / 2,
                                   shape::box_rows, shape::swizzle);
        if (mapped != 0) return mapped;
    }
    int query_tiles = (max_length + shape::query_rows - 1) / shape::query_rows;
    dim3 grid((unsigned)heads, (unsigned)query_tiles, (unsigned)sequences);
    flash_attention_pingpong_kernel<scalar, HD, TMA, FMA_EVERY, ROTARY><<<grid, shape::threads, bytes, stream>>>(
        (scalar *)out, (int64_t)out_stride, (const scalar *)qkv, starts, lengths, heads, query_tiles,
        (float)(M_LOG2E / sqrt((double)HD)), qkv_map, cos_table, sin_table, rotary_dims / 2);
    return LAUNCH_STATUS();
}

// The rotary tables and rot: only with ROTARY (else NULL, NULL, 0).
struct rotary_tables {
    const float *cos_table, *sin_table;
    int rotary_dims;
};

template <typename scalar, bool TMA, int FMA_EVERY, bool ROTARY>
static int dispatch(void *out, int out_stride, const void *qkv, const int32_t *starts, const int32_t *lengths,
                    int sequences, int max_length, int heads, int head_dim, int64_t tokens, rotary_tables rotary,
                    cuda_stream stream) {
    return for_head_dim(head_dim, [&](auto hd) {
        return launch_pingpong<scalar, decltype(hd)::value, TMA, FMA_EVERY, ROTARY>(
            out, out_stride, qkv, starts, lengths, sequences, max_length, heads, tokens, rotary.cos_table,
            rotary.sin_table, rotary.rotary_dims, stream);
    });
}

template <bool TMA, int FMA_EVERY = 0, bool ROTARY = false>
static int forward(void *out, int out_stride, const void *qkv, const int32_t *starts, const int32_t *lengths,
                   int sequences, int max_length, int heads, int head_dim, int scalar_type, int64_t tokens,
                   cuda_stream stream, rotary_tables rotary = rotary_tables{NULL, NULL, 0}) {
    if (!cuda_wgmma_available()) return -1;
    if (sequences == 0 || max_length == 0) return 0;
    if (scalar_type == CUDA_SCALAR_FP16)
        return dispatch<__half, TMA, FMA_EVERY, ROTARY>(out, out_stride, qkv, starts, lengths, sequences, max_length,
                                                        heads, head_dim, tokens, rotary, stream);
    return dispatch<__nv_bfloat16, TMA, FMA_EVERY, ROTARY>(out, out_stride, qkv, starts, lengths, sequences, max_length,
                                                           heads, head_dim, tokens, rotary, stream);
}

// Each returns -1 when this head dim, build or device is not covered (use the mma.sync kernel).
extern "C" int cuda_flash_attention_wgmma_pingpong_forward(void *out, int out_stride, const void *qkv,
                                                           const int32_t *starts, const int32_t *lengths, int sequences,
                                                           int max_length, int heads, int head_dim, int scalar_type,
                                                           cuda_stream stream) {
    return forward<false>(out, out_stride, qkv, starts, lengths, sequences, max_length, heads, head_dim, scalar_type, 0,
                          stream);
}
extern "C" int cuda_flash_attention_wgmma_tma_forward(void *out, int out_stride, const void *qkv, const int32_t *starts,
                                                      const int32_t *lengths, int sequences, int max_length, int heads,
                                                      int head_dim, int scalar_type, int64_t tokens,
                                                      cuda_stream stream) {
    return forward<true>(out, out_stride, qkv, starts, lengths, sequences, max_length, heads, head_dim, scalar_type,
                         tokens, stream);
}

extern "C" int cuda_flash_attention_wgmma_tma_rotary_forward(void *out, int out_stride, const void *qkv,
                                                             const int32_t *starts, const int32_t *lengths,
                                                             int sequences, int max_length, int heads, int head_dim,
                                                             int scalar_type, int64_t tokens, const float *cos_table,
                                                             const float *sin_table, int rotary_dims,
                                                             cuda_stream stream) {
    if (rotary_dims < 2 || rotary_dims % 2 != 0 || rotary_dims > head_dim) return -1;
    return forward<true, 0, true>(out, out_stride, qkv, starts, lengths, sequences, max_length, heads, head_dim,
                                  scalar_type, tokens, stream, rotary_tables{cos_table, sin_table, rotary_dims});
}

extern "C" int cuda_flash_attention_wgmma_tma_fma_forward(void *out, int out_stride, const void *qkv,
                                                          const int32_t *starts, const int32_t *lengths, int sequences,
                                                          int max_length, int heads, int head_dim, int scalar_type,
                                                          int fma_every, int64_t tokens, cuda_stream stream) {
    if (fma_every == 4)
        return forward<true, 4>(out, out_stride, qkv, starts, lengths, sequences, max_length, heads, head_dim,
                                scalar_type, tokens, stream);
    if (fma_every == 2)
        return forward<true, 2>(out, out_stride, qkv, starts, lengths, sequences, max_length, heads, head_dim,
                                scalar_type, tokens, stream);
    return -1;
}

// polynomial_exp2 over count values: the tests hold it to its stated error against exp2 in
// double across the softmax's range.
template <typename T> __global__ void polynomial_exp2_kernel(T *out, const T *in, int64_t count) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < count; i += (int64_t)gridDim.x * blockDim.x)
        out[i] = polynomial_exp2(in[i]);
}

extern "C" int cuda_polynomial_exp2(float *out, const float *in, int64_t count, cuda_stream stream) {
    if (count == 0) return 0;
    int64_t blocks = (count + 255) / 256;
    polynomial_exp2_kernel<float><<<(unsigned)(blocks < 4096 ? blocks : 4096), 256, 0, stream>>>(out, in, count);
    return LAUNCH_STATUS();
}

extern "C" int cuda_attention_tma_preferred(int head_dim) {
    // A driver without the tensor-map encoder (it came with CUDA 12.0) keeps mma.sync.
    return cuda_wgmma_available() && (head_dim == 64 || head_dim == 80 || head_dim == 128 || head_dim == 256) &&
           cuda_tensor_maps_available();
}
