// cuda_emulator.cc — the fibers, barriers and deferred copies behind cuda_emulator.h (the
// CUDA runtime calls around them: cuda_runtime_emulated.cc).
//
// Ordering check (shared memory between copies and wgmma): every thread keeps a vector
// clock; __syncthreads, named barriers and mbarriers carry them from the threads that arrive
// to the threads that pass (release / acquire), warp-level collectives do not. A cp.async or
// TMA copy landing in shared memory, or an ordinary store that products will read
// (shared_store_for_products), records its writer and the writer's epoch (a TMA copy
// then releases into its mbarrier, as its completion does); a wgmma product
// that reads that memory must have been issued by a thread that had acquired that epoch (else
// the product may read the memory before the copy's data), and a copy that lands where a
// product read must come from a thread that had acquired the reader's epoch at the product's
// wait (else it may overwrite what the product still reads). Either is reported and the
// process exits, as on the hardware it would be a race that happens to work or not.
// Proxy fences: stores and cp.async copies are the generic proxy's writes, wgmma's reads the
// async proxy's; the writer's fence.proxy.async (shared_async_fence) must come between its
// write and the release that orders it before the product, else the product may read stale
// bytes though every barrier is in place. So a product that reads a generic write whose
// writer had not fenced it by the epoch the product's issuer acquired is reported too (TMA
// copies are the async proxy's own: no fence); and so is a product issued with no
// wgmma_fence since its thread's start or last wgmma_wait (wgmma_issue).
//
// Fibers: each thread of a block gets a stack and a ucontext for its first start; after that
// switches are _setjmp/_longjmp (no signal-mask system call per switch). A thread waiting at
// a barrier yields to the scheduler, which resumes the threads round robin; when a full
// round passes with every live thread waiting and no barrier opened, the kernel has a
// barrier some threads never reach: reported, and the process exits.
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <deque>
#include <map>
#include <mutex>
#include <vector>

#include "cuda_emulator.h"
#include "cuda/cuda_barrier.cuh"
#include "cuda/cuda_kernels.h"
#include "cuda/cuda_tma.cuh"
#include "cuda/cuda_wgmma.cuh"

namespace emu {

enum { STACK_BYTES = 256 << 10, SHARED_CAPACITY = 256 << 10 };

struct copy_request {
    void *destination;
    const void *source;
    bool valid;
};

typedef std::vector<uint32_t> vector_clock;  // an epoch per thread of the block

struct barrier {
    unsigned expected = 0, arrived = 0, generation = 0;
    bool orders_memory = false;            // carries vector clocks (not the warp-level ones)
    vector_clock arriving, released;       // the open generation's join; the last one's
};

// The last cp.async that landed in a 16-byte chunk of shared memory, and the last wgmma read.
// A write by the generic proxy (an ordinary store, cp.async) needs its writer's
// fence.proxy.async after it before the tensor cores (the async proxy) read it: fence_epoch
// is the writer's epoch at that fence (0: not fenced yet); a TMA copy is the async proxy's.
struct chunk_access {
    unsigned writer = 0, reader = 0;
    uint32_t write_epoch = 0, read_epoch = 0;  // 0: none
    bool generic = false;
    uint32_t fence_epoch = 0;
};

// An mbarrier: arrivals per phase, arrivals still due in this one, phases completed.
struct mbarrier_state {
    unsigned count = 0, pending = 0, phases = 0;
    long long bytes_due = 0;  // bytes this phase still expects (expect_tx − complete_tx)
    vector_clock arriving, released;  // the open phase's join; the last completed one's
};

struct exchange_area {
    uint64_t words[32][8];
};

struct thread_context {
    ucontext_t start;
    jmp_buf resume;
    char *stack = nullptr;
    bool started = false, done = false;
    uint3 index;
    unsigned linear = 0;
    std::vector<copy_request> open_group;
    std::deque<std::vector<copy_request>> committed;
    std::vector<wgmma_request> wgmma_open;
    std::deque<std::vector<wgmma_request>> wgmma_committed;
    std::deque<vector_clock> wgmma_issue_clocks;  // this thread's clock when each group was committed
    vector_clock clock;
    std::vector<size_t> unfenced;  // chunks this thread wrote by the generic proxy since its last fence
    bool wgmma_fenced = false;     // a wgmma_fence since the thread's start or its last wgmma_wait
};

struct block_state {
    std::vector<thread_context> threads;
    std::vector<barrier> warp_barriers;
    std::vector<exchange_area> warp_exchange;
    // Warpgroups (128 threads): a barrier each, and each thread's oldest wgmma group at a wait.
    std::vector<barrier> warpgroup_barriers;
    std::vector<std::vector<const std::vector<wgmma_request> *>> warpgroup_groups;
    barrier block_barrier;
    barrier named_barriers[16];                     // bar.sync / bar.arrive ids (0 unused: block_barrier)
    std::map<uint32_t, mbarrier_state> mbarriers;  // by shared-memory offset
    std::vector<unsigned> warpgroup_registers;     // setmaxnreg's limit per warpgroup (0: never set)
    std::vector<chunk_access> chunks;              // by shared-memory offset / 16
    size_t shared_size = 0;
    uint3 block_index;
    dim3 block_dimension, grid_dimension;
    block_body body = nullptr;
    void *closure = nullptr;
    unsigned progress = 0;  // barriers opened and threads finished: the deadlock check
};

static block_state *block_now;
static thread_context *thread_now;
static jmp_buf scheduler;

}  // namespace emu

// The shared memory of the block that runs (`extern __shared__` in the kernels).
alignas(128) unsigned char shared_bytes[emu::SHARED_CAPACITY];
alignas(128) unsigned char shared[emu::SHARED_CAPACITY];
alignas(128) float shared_memory[emu::SHARED_CAPACITY / 4];

namespace emu {

const uint3 &thread_index() { return thread_now->index; }
const uint3 &block_index() { return block_now->block_index; }
const dim3 &block_dimension() { return block_now->block_dimension; }
const dim3 &grid_dimension() { return block_now->grid_dimension; }
unsigned lane() { return thread_now->linear % 32; }
uint64_t (&warp_words())[32][8] { return block_now->warp_exchange[thread_now->linear / 32].words; }

const float *value_table(int bfloat) {
    static float *tables[2];
    if (tables[bfloat] == nullptr) {
        float *table = (float *)malloc(65536 * sizeof(float));
        for (uint32_t bits = 0; bits < 65536; bits++) {
            if (bfloat) {
                uint32_t wide = bits << 16;
                memcpy(&table[bits], &wide, 4);
            } else {
                __half_raw raw;
                raw.x = (unsigned short)bits;
                table[bits] = __half2float(__half(raw));
            }
        }
        tables[bfloat] = table;
    }
    return tables[bfloat];
}

static void yield() {
    if (!_setjmp(thread_now->resume)) _longjmp(scheduler, 1);
}

// Release: this thread's clock joins `into`, then its own epoch moves on. Acquire: the clock
// a synchronisation object released joins this thread's.
static void join(vector_clock &into, const vector_clock &from) {
    if (into.size() < from.size()) into.resize(from.size(), 0);
    for (size_t i = 0; i < from.size(); i++)
        if (from[i] > into[i]) into[i] = from[i];
}
static void release_into(vector_clock &into) {
    join(into, thread_now->clock);
    thread_now->clock[thread_now->linear]++;
}
static void acquire_from(const vector_clock &from) { join(thread_now->clock, from); }

// A generation of an ordering barrier opens: what its arrivals released becomes what its
// waiters acquire.
static void open_generation(barrier &b) {
    b.arrived = 0;
    b.generation++;
    block_now->progress++;
    if (b.orders_memory) {
        b.released.swap(b.arriving);
        b.arriving.assign(b.released.size(), 0);
    }
}

static void wait_at(barrier &b) {
    unsigned generation = b.generation;
    if (b.orders_memory) release_into(b.arriving);
    if (++b.arrived == b.expected) {
        open_generation(b);
        if (b.orders_memory) acquire_from(b.released);
        return;
    }
    while (b.generation == generation) yield();
    if (b.orders_memory) acquire_from(b.released);
}
void block_barrier() { wait_at(block_now->block_barrier); }
void warp_barrier() { wait_at(block_now->warp_barriers[thread_now->linear / 32]); }

void async_copy(void *destination, const void *source, bool valid) {
    thread_now->open_group.push_back(copy_request{destination, source, valid});
}
void async_commit() {
    thread_now->committed.push_back(std::move(thread_now->open_group));
    thread_now->open_group.clear();
}
static chunk_access *chunk_at(const void *pointer);
[[noreturn]] static void barrier_fail(const char *what);

// The ordering check of a copy landing in the 16-byte chunk at destination, by the calling
// thread (file header); `generic`: a write of the generic proxy (cp.async, an ordinary store),
// which needs the writer's shared_async_fence() before products read it.
static void record_copy_write(const void *destination, const char *copy, bool generic) {
    if (chunk_access *chunk = chunk_at(destination)) {
        if (chunk->read_epoch != 0 && thread_now->clock[chunk->reader] < chunk->read_epoch) {
            char what[240];
            snprintf(what, sizeof what, "%s lands where a wgmma product of thread %u may still read (no barrier "
                     "orders that product's wait before this copy)", copy, chunk->reader);
            barrier_fail(what);
        }
        chunk->writer = thread_now->linear;
        chunk->write_epoch = thread_now->clock[thread_now->linear];
        chunk->generic = generic;
        chunk->fence_epoch = 0;
        if (generic) thread_now->unfenced.push_back((size_t)(chunk - block_now->chunks.data()));
    }
}

// fence.proxy.async: this thread's generic writes so far become visible to the async proxy,
// for the products of threads that acquire this epoch of it (or a later one).
void shared_async_fence() {
    for (size_t index : thread_now->unfenced) {
        chunk_access &chunk = block_now->chunks[index];
        if (chunk.generic && chunk.writer == thread_now->linear && chunk.fence_epoch == 0)
            chunk.fence_epoch = thread_now->clock[thread_now->linear];
    }
    thread_now->unfenced.clear();
}

void record_shared_store(const void *at, size_t bytes) {
    uintptr_t first = (uintptr_t)at & ~(uintptr_t)15, last = ((uintptr_t)at + bytes - 1) & ~(uintptr_t)15;
    for (uintptr_t chunk = first; chunk <= last; chunk += 16)
        record_copy_write((const void *)chunk, "a store to shared memory", true);
}

void async_wait(int pending) {
    while ((int)thread_now->committed.size() > pending) {
        for (const copy_request &r : thread_now->committed.front()) {
            if (r.valid) memcpy(r.destination, r.source, 16);
            else memset(r.destination, 0, 16);
            record_copy_write(r.destination, "a cp.async", true);
        }
        thread_now->committed.pop_front();
    }
}

[[noreturn]] static void barrier_fail(const char *what) {
    fprintf(stderr, "cuda emulator: block (%u, %u, %u), thread %u: %s\n", block_now->block_index.x,
            block_now->block_index.y, block_now->block_index.z, thread_now->linear, what);
    exit(3);
}

// The access record of the 16-byte chunk of the block's shared memory at `pointer` (any of
// the three windows), or NULL outside them.
static chunk_access *chunk_at(const void *pointer) {
    const unsigned char *p = (const unsigned char *)pointer;
    for (unsigned char *window : {shared, shared_bytes, (unsigned char *)shared_memory})
        if (p >= window && p < window + block_now->shared_size) return &block_now->chunks[(size_t)(p - window) / 16];
    return nullptr;
}

// mbarriers and named barriers: see tests/emulator/cuda/cuda_barrier.cuh.
static mbarrier_state &mbarrier_at(const void *barrier) {
    auto found = block_now->mbarriers.find(shared_window_address(barrier));
    if (found == block_now->mbarriers.end()) barrier_fail("an mbarrier used before mbarrier.init");
    return found->second;
}
void mbarrier_init(const void *barrier, unsigned count) {
    if (count == 0) barrier_fail("mbarrier.init with an arrival count of 0");
    mbarrier_state &state = block_now->mbarriers[shared_window_address(barrier)];
    state.count = state.pending = count;
    state.phases = 0;
    state.arriving.assign(block_now->threads.size(), 0);
    state.released.assign(block_now->threads.size(), 0);
}
// A phase completes once its arrivals have come and the bytes it expects have landed.
static void complete_if_due(mbarrier_state &state) {
    if (state.pending != 0 || state.bytes_due != 0) return;
    state.pending = state.count;
    state.phases++;
    state.released.swap(state.arriving);
    state.arriving.assign(state.released.size(), 0);
    block_now->progress++;
}
void mbarrier_arrive(const void *barrier) {
    mbarrier_state &state = mbarrier_at(barrier);
    release_into(state.arriving);
    if (state.pending == 0) barrier_fail("an mbarrier arrival past its phase's count (the phase waits for bytes)");
    state.pending--;
    complete_if_due(state);
}
void mbarrier_arrive_expect_bytes(const void *barrier, uint32_t bytes) {
    // The hardware's transaction count holds at most 2^20 − 1 bytes a phase.
    if (mbarrier_at(barrier).bytes_due + bytes > (1 << 20) - 1)
        barrier_fail("an mbarrier phase expecting more bytes than its transaction count holds (2^20 - 1)");
    mbarrier_at(barrier).bytes_due += bytes;
    mbarrier_arrive(barrier);
}

// A TMA box copy (cuda_tma.cuh, emulated): the map's fields as the emulated encoder stored
// them (cuda_runtime_emulated.cc).
void tma_load_2d(void *destination, const CUtensorMap *map, int column, int row, const void *barrier) {
    const uint64_t *field = map->opaque;
    if (device().major != 9) barrier_fail("a TMA copy on a device without it (compute capability not 9.x)");
    if (field[7] != 0x6d656d70726f66ULL) barrier_fail("a TMA copy with a tensor map the emulated encoder did not make");
    const char *base = (const char *)(uintptr_t)field[0];
    uint64_t columns = field[1], rows = field[2], row_bytes = field[3], box_columns = field[4], box_rows = field[5];
    unsigned width = (unsigned)field[6];
    uint32_t offset = shared_window_address(destination);
    if (offset % (8 * width) != 0) barrier_fail("a swizzled TMA box whose shared-memory start is not atom-aligned");
    if (offset + box_rows * width > block_now->shared_size) barrier_fail("a TMA box past the block's shared memory");
    unsigned char *window = (unsigned char *)destination - offset;
    for (uint64_t r = 0; r < box_rows; r++)
        for (uint64_t c = 0; c < box_columns * 2 / 16; c++) {
            uint32_t at = offset + (uint32_t)(r * width + c * 16);
            at ^= ((at >> 7) & (width / 16 - 1)) << 4;  // the address swizzle (cuda_common.cuh)
            int64_t source_row = (int64_t)row + (int64_t)r, source_column = (int64_t)column + (int64_t)c * 8;
            bool inside = source_row >= 0 && (uint64_t)source_row < rows && source_column >= 0 &&
                          (uint64_t)source_column + 8 <= columns;
            if (!inside && source_column < (int64_t)columns && (uint64_t)source_column + 8 > columns)
                barrier_fail("a TMA box chunk that straddles the tensor's last column (not emulated)");
            if (inside) memcpy(window + at, base + (uint64_t)source_row * row_bytes + (uint64_t)source_column * 2, 16);
            else memset(window + at, 0, 16);
            record_copy_write(window + at, "a TMA copy", false);
        }
    mbarrier_state &state = mbarrier_at(barrier);
    release_into(state.arriving);  // consumers that wait for this phase see the box
    state.bytes_due -= (long long)(box_columns * box_rows * 2);
    complete_if_due(state);
}
void mbarrier_wait(const void *barrier, unsigned parity) {
    mbarrier_state &state = mbarrier_at(barrier);
    while ((state.phases & 1) == (parity & 1)) yield();
    acquire_from(state.released);
}
void named_barrier(int id, unsigned count, bool wait) {
    if (id < 1 || id > 15) barrier_fail("a named barrier id outside 1 … 15");
    if (count == 0 || count % 32 != 0 || count > block_now->threads.size())
        barrier_fail("a named barrier's thread count that is not a multiple of 32 within the block");
    barrier &b = block_now->named_barriers[id];
    if (b.arrived == 0) b.expected = count;
    else if (b.expected != count) barrier_fail("a named barrier used with two thread counts at once");
    if (wait) {
        wait_at(b);
    } else {
        release_into(b.arriving);
        if (++b.arrived == b.expected) open_generation(b);
    }
}

// setmaxnreg: the warpgroup's new limit (.sync.aligned: every thread of it, the same value).
void register_limit(unsigned registers) { block_now->warpgroup_registers[thread_now->linear / 128] = registers; }

// At the block's end: the warpgroups' last limits (those that set none keep the launch's
// allocation, at most 65,536 / threads) must fit the SM's register file, else an increase
// waits on the hardware for registers no warpgroup will free.
static void check_register_limits(const block_state &b) {
    unsigned threads = (unsigned)b.threads.size(), initial = 65536 / threads / 8 * 8, total = 0;
    for (unsigned limit : b.warpgroup_registers) total += 128 * (limit != 0 ? limit : initial);
    if (total > 65536) {
        fprintf(stderr, "cuda emulator: block (%u, %u, %u): setmaxnreg limits of %u registers in all (128 a "
                "warpgroup's thread each), more than an SM's 65,536\n", b.block_index.x, b.block_index.y,
                b.block_index.z, total);
        exit(3);
    }
}

// wgmma: see tests/emulator/cuda/cuda_wgmma.cuh.
static unsigned char *shared_window = shared;  // the extern __shared__ array the kernel uses

uint32_t shared_window_address(const void *pointer) {
    const unsigned char *p = (const unsigned char *)pointer;
    for (unsigned char *window : {shared, shared_bytes, (unsigned char *)shared_memory})
        if (p >= window && p < window + SHARED_CAPACITY) {
            shared_window = window;
            return (uint32_t)(p - window);
        }
    fprintf(stderr, "cuda emulator: a wgmma descriptor for an address outside shared memory\n");
    exit(3);
}

[[noreturn]] static void wgmma_fail(const char *what);

// wgmma.fence orders the thread's earlier register accesses before the products it issues
// next. A product issued with no fence since the thread's start or its last wait (after
// which a kernel reads and writes accumulators and A registers: the softmax, a rescale, P
// packed) is reported: on the hardware it may read those registers before the writes.
void wgmma_fence() { thread_now->wgmma_fenced = true; }
void wgmma_issue(const wgmma_request &request) {
    if (device().major != 9) wgmma_fail("a wgmma product on a device without it (compute capability not 9.x)");
    if (!thread_now->wgmma_fenced)
        wgmma_fail("a wgmma product issued without a wgmma_fence() (wgmma.fence) since the thread's start or its "
                   "last wgmma_wait");
    thread_now->wgmma_open.push_back(request);
}
void wgmma_commit() {
    thread_now->wgmma_committed.push_back(std::move(thread_now->wgmma_open));
    thread_now->wgmma_open.clear();
    thread_now->wgmma_issue_clocks.push_back(thread_now->clock);
}

[[noreturn]] static void wgmma_fail(const char *what);

// The ordering check of one operand element read (file header): the product being computed
// was issued with the clock *issue_clock_now.
static const vector_clock *issue_clock_now;
static void check_operand_read(size_t byte) {
    chunk_access &chunk = block_now->chunks[byte / 16];
    if (chunk.write_epoch != 0 && (*issue_clock_now)[chunk.writer] < chunk.write_epoch) {
        char what[280];
        snprintf(what, sizeof what, "a wgmma product reads shared memory that a copy or store by thread %u "
                 "(cp.async, TMA or shared_store_for_products) wrote, issued before any barrier ordered that "
                 "write before it", chunk.writer);
        wgmma_fail(what);
    }
    if (chunk.generic && (chunk.fence_epoch == 0 || (*issue_clock_now)[chunk.writer] < chunk.fence_epoch)) {
        char what[280];
        snprintf(what, sizeof what, "a wgmma product reads shared memory that thread %u wrote by the generic proxy "
                 "(an ordinary store or cp.async) without a shared_async_fence() (fence.proxy.async) between that "
                 "write and the barrier that ordered it before the product", chunk.writer);
        wgmma_fail(what);
    }
    chunk.reader = thread_now->linear;
    chunk.read_epoch = thread_now->clock[thread_now->linear];
}

[[noreturn]] static void wgmma_fail(const char *what) {
    fprintf(stderr, "cuda emulator: wgmma in block (%u, %u, %u), thread %u: %s\n", block_now->block_index.x,
            block_now->block_index.y, block_now->block_index.z, thread_now->linear, what);
    exit(3);
}

// The element (mn, k) of a 16-bit operand that a descriptor describes: the no-swizzle layout,
// or a swizzled one (layout type 1, 2, 3: W = 128, 64, 32 bytes), whose byte offset is then
// permuted as the hardware's address swizzle does (src/cuda/cuda_wgmma.cuh).
static double descriptor_element(uint64_t descriptor, int mn, int k, bool mn_major, int bfloat) {
    if ((descriptor >> 49 & 7) != 0) wgmma_fail("a descriptor with a base offset");
    size_t start = (size_t)(descriptor & 0x3FFF) << 4, leading = (size_t)(descriptor >> 16 & 0x3FFF) << 4,
           stride = (size_t)(descriptor >> 32 & 0x3FFF) << 4;
    size_t type = descriptor >> 62, width = type == 0 ? 0 : type == 1 ? 128 : type == 2 ? 64 : 32, byte;
    if (width == 0) {
        byte = mn_major ? start + (mn % 8) * 2 + (mn / 8) * stride + (k % 8) * 16 + (k / 8) * leading
                        : start + (mn % 8) * 16 + (mn / 8) * stride + (k % 8) * 2 + (k / 8) * leading;
    } else {
        // The layouts hold only where the start lies in an atom's first row (else the base
        // offset field is needed) and a K-major k16 step stays within one atom row.
        if ((start & (8 * width - 1)) >= width) wgmma_fail("a swizzled descriptor that starts past an atom's first row");
        if (!mn_major && start % width + 32 > width) wgmma_fail("a K-major k16 step across a swizzle atom row");
        size_t elements = width / 2;
        byte = mn_major ? start + (mn % elements) * 2 + (mn / elements) * leading + (k % 8) * width + (k / 8) * stride
                        : start + (mn % 8) * width + (mn / 8) * stride + k * 2;
        byte ^= ((byte >> 7) & (width / 16 - 1)) << 4;
    }
    if (byte + 2 > block_now->shared_size) wgmma_fail("an operand element past the block's shared memory");
    check_operand_read(byte);
    uint16_t bits;
    memcpy(&bits, shared_window + byte, 2);
    return value_table(bfloat)[bits];
}

// This thread's D elements of request `index` of the group every thread of the warpgroup
// published in `groups`.
static void wgmma_compute(const std::vector<const std::vector<wgmma_request> *> &groups, size_t index, unsigned slot) {
    const wgmma_request &r = (*groups[slot])[index];
    unsigned warp = slot / 32, lane = slot % 32, g = lane / 4, q = lane % 4;
    double a[2][16], b[64][16];  // this thread's rows g, g + 8 and its n/4 columns
    for (int k = 0; k < 16; k++)
        for (int h = 0; h < 2; h++) {
            int row = (int)(16 * warp + g + 8 * h);
            if (r.a_registers != nullptr) {
                unsigned source = 32 * warp + 4 * (g % 8) + (k % 8) / 2;
                uint32_t word = (*groups[source])[index].a_registers[h + 2 * (k >= 8)];
                a[h][k] = value_table(r.bfloat)[(uint16_t)(word >> (16 * (k % 2)))];
            } else {
                a[h][k] = descriptor_element(r.a_descriptor, row, k, false, r.bfloat);
            }
        }
    for (int c = 0; c < r.n / 4; c++)
        for (int k = 0; k < 16; k++)
            b[c][k] = descriptor_element(r.b_descriptor, (c / 2) * 8 + 2 * (int)q + c % 2, k, r.transposed_b, r.bfloat);
    for (int i = 0; i < r.n / 2; i++) {  // d[4j + e]: row g + 8·(e/2), column 8j + 2q + e%2
        int h = (i >> 1) & 1, c = (i >> 2) * 2 + (i & 1);
        double sum = 0;
        for (int k = 0; k < 16; k++) sum += a[h][k] * b[c][k];
        r.d[i] = (float)((r.accumulate ? (double)r.d[i] : 0.0) + sum);
    }
}

void wgmma_wait(int pending) {
    thread_now->wgmma_fenced = false;
    while ((int)thread_now->wgmma_committed.size() > pending) {
        if (block_now->threads.size() % 128 != 0) wgmma_fail("a block that is not whole warpgroups");
        unsigned group = thread_now->linear / 128, slot = thread_now->linear % 128;
        std::vector<const std::vector<wgmma_request> *> &groups = block_now->warpgroup_groups[group];
        const std::vector<wgmma_request> &mine = thread_now->wgmma_committed.front();
        groups[slot] = &mine;
        wait_at(block_now->warpgroup_barriers[group]);
        for (unsigned other = 0; other < 128; other++) {  // .aligned: the same products in every thread
            const std::vector<wgmma_request> &theirs = *groups[other];
            if (theirs.size() != mine.size()) wgmma_fail("threads of a warpgroup committed different products");
            for (size_t i = 0; i < mine.size(); i++)
                if (theirs[i].n != mine[i].n || theirs[i].b_descriptor != mine[i].b_descriptor ||
                    (theirs[i].a_registers == nullptr) != (mine[i].a_registers == nullptr) ||
                    (mine[i].a_registers == nullptr && theirs[i].a_descriptor != mine[i].a_descriptor) ||
                    theirs[i].accumulate != mine[i].accumulate || theirs[i].transposed_b != mine[i].transposed_b)
                    wgmma_fail("threads of a warpgroup issued different products");
        }
        issue_clock_now = &thread_now->wgmma_issue_clocks.front();
        for (size_t i = 0; i < mine.size(); i++) wgmma_compute(groups, i, slot);
        wait_at(block_now->warpgroup_barriers[group]);  // every thread has read the others' A registers
        thread_now->wgmma_committed.pop_front();
        thread_now->wgmma_issue_clocks.pop_front();
    }
}

static void thread_start() {
    block_now->body(block_now->closure);
    thread_now->done = true;
    block_now->progress++;
    _longjmp(scheduler, 1);
}

// MEMPROF_EMULATOR_ORDER=reverse resumes a block's threads from the last to the first: a
// thread then runs to its next barrier before the lower-numbered ones, so a read of shared
// memory that some other thread writes without a barrier between them shows (as poison or a
// stale value) in one order or the other. MEMPROF_EMULATOR_ORDER=shuffle:SEED resumes them
// in an order drawn afresh every round (from SEED and the block's index: reproducible), for
// races among three or more threads that neither fixed order exposes.
enum resume_order { FORWARD, REVERSE, SHUFFLE };
static resume_order order_setting(uint64_t *seed) {
    static uint64_t shuffle_seed = 0;
    static const resume_order order = [] {
        const char *value = getenv("MEMPROF_EMULATOR_ORDER");
        if (value != nullptr && strcmp(value, "reverse") == 0) return REVERSE;
        if (value != nullptr && strncmp(value, "shuffle:", 8) == 0) {
            shuffle_seed = strtoull(value + 8, nullptr, 10);
            return SHUFFLE;
        }
        return FORWARD;
    }();
    *seed = shuffle_seed;
    return order;
}

static void run_block(block_state &b) {
    unsigned count = (unsigned)b.threads.size(), live = count;
    unsigned idle_rounds = 0, last_progress = b.progress;
    uint64_t state;
    const resume_order order = order_setting(&state);
    state = (state + 1) * 0x9E3779B97F4A7C15ULL ^ ((uint64_t)b.block_index.x << 40 ^ (uint64_t)b.block_index.y << 20 ^
                                                   b.block_index.z);
    std::vector<unsigned> sequence(count);
    for (unsigned n = 0; n < count; n++) sequence[n] = order == REVERSE ? count - 1 - n : n;
    while (live > 0) {
        if (order == SHUFFLE)
            for (unsigned n = count - 1; n > 0; n--) {  // Fisher–Yates, xorshift64
                state ^= state << 13, state ^= state >> 7, state ^= state << 17;
                unsigned other = (unsigned)(state % (n + 1));
                unsigned swap = sequence[n];
                sequence[n] = sequence[other], sequence[other] = swap;
            }
        for (unsigned n = 0; n < count; n++) {
            thread_context &t = b.threads[sequence[n]];
            if (t.done) continue;
            thread_now = &t;
            if (!_setjmp(scheduler)) {
                if (!t.started) {
                    t.started = true;
                    setcontext(&t.start);
                }
                _longjmp(t.resume, 1);
            }
            if (t.done) live--;
        }
        if (b.progress != last_progress) last_progress = b.progress, idle_rounds = 0;
        else if (live > 0 && ++idle_rounds > 2) {
            fprintf(stderr, "cuda emulator: deadlock in block (%u, %u, %u): %u threads wait at a barrier that the "
                    "others never reach\n", b.block_index.x, b.block_index.y, b.block_index.z, live);
            exit(3);
        }
    }
    for (thread_context &t : b.threads)
        if (!t.open_group.empty() || !t.committed.empty()) {
            // Copies never waited for land at the end of the kernel on a GPU; nothing reads them here.
            t.open_group.clear(), t.committed.clear();
        }
    for (int id = 1; id < 16; id++)
        if (b.named_barriers[id].arrived != 0) {
            fprintf(stderr, "cuda emulator: block (%u, %u, %u) ended with %u arrivals at named barrier %d that no "
                    "bar.sync took\n", b.block_index.x, b.block_index.y, b.block_index.z, b.named_barriers[id].arrived, id);
            exit(3);
        }
    b.mbarriers.clear();
    if (b.threads.size() % 128 == 0) check_register_limits(b);
    for (thread_context &t : b.threads)
        if (!t.wgmma_open.empty() || !t.wgmma_committed.empty()) {
            fprintf(stderr, "cuda emulator: a kernel ended with wgmma products never waited for\n");
            exit(3);
        }
}

const device_profile &device() {
    static const device_profile profile = [] {
        static const device_profile known[] = {
            {"h100", "H100", 9, 0, 132, SHARED_LIMIT},
            {"a100", "A100", 8, 0, 108, 163 << 10},
            {"l40s", "L40S", 8, 9, 142, 99 << 10},
            {"v100", "V100", 7, 0, 80, 96 << 10},
        };
        const char *name = getenv("MEMPROF_EMULATED_DEVICE");
        if (name == nullptr || *name == 0) return known[0];
        for (const device_profile &p : known)
            if (strcmp(p.key, name) == 0) return p;
        fprintf(stderr, "cuda emulator: MEMPROF_EMULATED_DEVICE=%s: not h100, a100, l40s or v100\n", name);
        exit(3);
    }();
    return profile;
}

void run_grid(dim3 grid, dim3 block, size_t shared_size, block_body body, void *closure) {
    // One grid at a time in the process: the fibers' state and the shared-memory window are
    // global, and a program may launch from several host threads (the sweep's prefetch
    // thread uploads the next checkpoint while the main thread scores).
    static std::mutex grid_lock;
    std::lock_guard<std::mutex> one_grid(grid_lock);
    unsigned count = block.x * block.y * block.z;
    if (shared_size > (size_t)device().shared_limit || count == 0 || count > 1024) {
        fprintf(stderr, "cuda emulator: a launch of %u threads with %zu bytes of shared memory (at most 1024 and %d: "
                "the %s's limits)\n", count, shared_size, device().shared_limit, device().name);
        exit(3);
    }
    block_state b;
    b.threads.resize(count);
    b.warp_barriers.resize((count + 31) / 32);
    b.warp_exchange.resize((count + 31) / 32);
    for (unsigned w = 0; w < b.warp_barriers.size(); w++)
        b.warp_barriers[w].expected = w + 1 < b.warp_barriers.size() || count % 32 == 0 ? 32 : count % 32;
    b.warpgroup_barriers.resize((count + 127) / 128);
    b.warpgroup_groups.assign((count + 127) / 128, std::vector<const std::vector<wgmma_request> *>(128));
    b.warpgroup_registers.assign((count + 127) / 128, 0);
    for (barrier &w : b.warpgroup_barriers) w.expected = 128;
    b.shared_size = shared_size;
    b.block_barrier.expected = count;
    b.block_barrier.orders_memory = true;
    b.block_dimension = block, b.grid_dimension = grid;
    b.body = body, b.closure = closure;
    for (thread_context &t : b.threads) t.stack = (char *)malloc(STACK_BYTES);
    block_now = &b;
    for (unsigned z = 0; z < grid.z; z++)
        for (unsigned y = 0; y < grid.y; y++)
            for (unsigned x = 0; x < grid.x; x++) {
                b.block_index = uint3{x, y, z};
                b.warpgroup_registers.assign(b.warpgroup_registers.size(), 0);
                memset(shared_bytes, 0xff, shared_size);  // poison: fp16/bf16 NaN, reads before writes show
                memset(shared, 0xff, shared_size);
                memset(shared_memory, 0xff, shared_size);
                // The ordering check starts afresh: own epochs 1, nothing released or accessed.
                b.chunks.assign(shared_size / 16 + 1, chunk_access());
                for (barrier *ordering : {&b.block_barrier}) {
                    ordering->arriving.assign(count, 0);
                    ordering->released.assign(count, 0);
                }
                for (barrier &named : b.named_barriers) {
                    named.orders_memory = true;
                    named.arriving.assign(count, 0);
                    named.released.assign(count, 0);
                }
                for (unsigned i = 0; i < count; i++) {
                    thread_context &t = b.threads[i];
                    t.clock.assign(count, 0);
                    t.clock[i] = 1;
                    t.wgmma_issue_clocks.clear();
                    t.unfenced.clear();
                    t.wgmma_fenced = false;
                    t.started = t.done = false;
                    t.linear = i;
                    t.index = uint3{i % block.x, i / block.x % block.y, i / (block.x * block.y)};
                    getcontext(&t.start);
                    t.start.uc_stack.ss_sp = t.stack;
                    t.start.uc_stack.ss_size = STACK_BYTES;
                    t.start.uc_link = nullptr;
                    makecontext(&t.start, thread_start, 0);
                }
                run_block(b);
            }
    for (thread_context &t : b.threads) free(t.stack);
    block_now = nullptr;
    thread_now = nullptr;
}

}  // namespace emu

extern "C" {
// cuda_kernels.h's conversion, for tests whose kernels come without cuda_layers.cu (weak: the
// emulated cuda_layers.cu's own takes its place where linked): round to nearest even, as there.
__attribute__((weak)) int cuda_convert_from_float(void *destination, const float *source, int64_t count, int scalar_type, cuda_stream) {
    uint16_t *out = (uint16_t *)destination;
    for (int64_t i = 0; i < count; i++) {
        if (scalar_type == 0) {
            __half_raw raw = __half_raw(__float2half_rn(source[i]));
            out[i] = raw.x;
        } else {
            __nv_bfloat16_raw raw = __nv_bfloat16_raw(__float2bfloat16_rn(source[i]));
            out[i] = raw.x;
        }
    }
    return 0;
}
}
