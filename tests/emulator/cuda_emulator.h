// cuda_emulator.h — runs the project's hand-written CUDA kernels on the CPU, so that their
// index arithmetic, pipelines and reductions are tested where no GPU is (this machine, CI).
// Force-included (g++ -include) before a kernel file that the Makefile has rewritten: each
// `kernel<<<config>>>(args)` becomes `emu::launcher([](auto &&...a) { kernel(a...); }, config)(args)`.
//
// Model: a block's threads are fibers of one OS thread, scheduled cooperatively; they switch
// only at __syncthreads() and at warp collectives (__shfl_xor_sync, __shfl_down_sync and the ldmatrix / mma
// stand-ins of tests/emulator/cuda/cuda_mma.cuh, found before src/cuda's by the include
// path), which are barriers of the block or of the warp. Blocks run one after another.
// cp.async copies are deferred until the cp.async.wait_group that must see them, so a read
// of a stage before its wait sees the poison the shared memory was filled with. A barrier
// that not every thread reaches is reported as a deadlock. Shared memory: only `extern
// __shared__` buffers are shared (a static __shared__ array would be per thread here).
//
// The semantics of ldmatrix and mma.sync follow the PTX ISA's fragment layouts; the
// attention kernel, validated on H100s, passes against double precision under the
// emulator too (tests/emulator/emulated_test_cuda_attention), which checks that reading.
#ifndef MEMPROF_CUDA_EMULATOR_H
#define MEMPROF_CUDA_EMULATOR_H

#define cudaGetLastError emu_cudaGetLastError
#define cudaFuncSetAttribute emu_cudaFuncSetAttribute
#include <cuda_runtime.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#define __launch_bounds__(...)

// What a kernel file asks of the runtime around a launch (both succeed here).
template <typename T> cudaError_t emu_cudaFuncSetAttribute(T *, enum cudaFuncAttribute, int) { return cudaSuccess; }

namespace emu {
// An H100's largest opt-in shared memory per block (227 KB), so that a launch the hardware
// would refuse fails here too.
enum { SHARED_LIMIT = 227 << 10 };
// The emulated device as the launchers see it: an H100 unless MEMPROF_EMULATED_DEVICE names
// another, so that the paths of GPUs without Hopper's instructions or its shared memory run
// here too: `a100` (compute capability 8.0, 108 SMs, 163 KB of shared memory per block) or
// `l40s` (8.9, 142 SMs, 99 KB: the compute capability 8.6/8.9 cards' limit), or `v100` (7.0,
// which the backend refuses). Another value is reported and the process exits. On a device other than 9.x a wgmma product or a TMA copy
// is reported too (the hardware has no such instruction).
struct device_profile {
    const char *key, *name;  // MEMPROF_EMULATED_DEVICE's value; the device's name
    int major, minor, processors, shared_limit;
};
const device_profile &device();
struct thread_context;
const uint3 &thread_index();
const uint3 &block_index();
const dim3 &block_dimension();
const dim3 &grid_dimension();
void block_barrier();
void warp_barrier();
unsigned lane();
// The calling warp's exchange area for collectives: 32 lanes × 8 words.
uint64_t (&warp_words())[32][8];

typedef void (*block_body)(void *closure);
// Runs body(closure) for every thread of every block of the grid.
void run_grid(dim3 grid, dim3 block, size_t shared_bytes, block_body body, void *closure);

// `kernel` is a generic lambda that calls the kernel by name (so that a kernel template's
// arguments are deduced from the call's, as in `k<<<c>>>(a)`).
template <typename Kernel> struct launch {
    Kernel kernel;
    dim3 grid, block;
    size_t shared_bytes;
    template <typename... Arguments> void operator()(Arguments &&...arguments) const {
        auto call = [&]() { kernel(arguments...); };
        run_grid(grid, block, shared_bytes, [](void *closure) { (*(decltype(call) *)closure)(); }, &call);
    }
};
template <typename Kernel>
launch<Kernel> launcher(Kernel kernel, dim3 grid, dim3 block, size_t shared_bytes = 0, cudaStream_t stream = 0) {
    (void)stream;
    return launch<Kernel>{kernel, grid, block, shared_bytes};
}
}  // namespace emu

#define threadIdx (emu::thread_index())
#define blockIdx (emu::block_index())
#define blockDim (emu::block_dimension())
#define gridDim (emu::grid_dimension())

inline void __syncthreads() { emu::block_barrier(); }
// Device math the host library lacks.
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
// CUDA's integer min and max (device built-ins).
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }

namespace emu {
// The value lane `source` of the calling warp holds (all 32 lanes take part).
template <typename T> T shuffle(T value, unsigned source) {
    static_assert(sizeof(T) <= 8, "shuffle of at most 8 bytes");
    uint64_t word = 0;
    __builtin_memcpy(&word, &value, sizeof(T));
    warp_words()[lane()][0] = word;
    warp_barrier();
    word = warp_words()[source % 32][0];
    warp_barrier();
    T out;
    __builtin_memcpy(&out, &word, sizeof(T));
    return out;
}
}  // namespace emu

inline int __any_sync(unsigned, int predicate) {
    int any = 0;
    for (unsigned source = 0; source < 32; source++) any |= emu::shuffle(predicate != 0, source);
    return any;
}
template <typename T> T __shfl_xor_sync(unsigned, T value, int lane_mask) {
    return emu::shuffle(value, emu::lane() ^ (unsigned)lane_mask);
}
template <typename T> T __shfl_sync(unsigned, T value, int source_lane) {
    return emu::shuffle(value, (unsigned)source_lane);
}
// Lanes past the warp's end keep their own value, as on the GPU.
template <typename T> T __shfl_down_sync(unsigned, T value, unsigned delta) {
    unsigned source = emu::lane() + delta;
    return emu::shuffle(value, source < 32 ? source : emu::lane());
}

#endif
