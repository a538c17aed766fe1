// cuda_runtime_emulated.cc — the CUDA runtime calls of the backend (src/cuda) and of the
// kernel tests, on host memory, for builds against the CPU emulator (cuda_emulator.h).
//
// One emulated device, an H100 as the launchers see it (compute capability 9.0, 132 SMs,
// 227 KB of opt-in shared memory per block), or the one MEMPROF_EMULATED_DEVICE names
// (emu::device(): an A100 or a compute capability 8.9 card). Everything runs synchronously on the calling
// thread: a stream or an event is only a handle; an event records the wall-clock time, so
// that elapsed times (the profile, GEMM tuning) are real CPU times. Device allocations are
// host allocations filled with 0xff bytes (NaN in every float type, so unwritten outputs
// show), counted against the device's memory: MEMPROF_EMULATED_GPU_MB megabytes (default
// 768: the planner's 512 MB of headroom plus room for small models' batches, kept small
// because every allocation is filled), which is what cudaMemGetInfo reports.
#include <cuda.h>
#include <cuda_runtime_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mutex>
#include <unordered_map>

#include "cuda_emulator.h"

namespace {
struct device_memory {
    std::mutex lock;
    std::unordered_map<void *, size_t> allocations;
    size_t used = 0;
};
device_memory &memory() {
    static device_memory state;
    return state;
}

size_t device_bytes() {
    const char *value = getenv("MEMPROF_EMULATED_GPU_MB");
    long megabytes = value && *value ? strtol(value, nullptr, 10) : 768;
    return (size_t)(megabytes > 0 ? megabytes : 768) << 20;
}

double seconds_now() {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

// A stream or event handle: a heap object whose only state is an event's recorded time.
struct handle {
    double recorded = -1.0;
};
}  // namespace

extern "C" {
cudaError_t emu_cudaGetLastError(void) { return cudaSuccess; }
cudaError_t emu_cudaFuncSetAttribute(const void *, enum cudaFuncAttribute, int) { return cudaSuccess; }
// The same for the backend's C files, which call the runtime by its own names.
#undef cudaGetLastError
cudaError_t cudaGetLastError(void) { return cudaSuccess; }
cudaError_t cudaPeekAtLastError(void) { return cudaSuccess; }
const char *cudaGetErrorString(cudaError_t error) { return error == cudaSuccess ? "no error" : "emulated CUDA error"; }

cudaError_t cudaGetDeviceCount(int *count) {
    *count = 1;
    return cudaSuccess;
}
cudaError_t cudaGetDevice(int *device) {
    *device = 0;
    return cudaSuccess;
}
cudaError_t cudaSetDevice(int device) { return device == 0 ? cudaSuccess : cudaErrorInvalidDevice; }
cudaError_t cudaDeviceSynchronize(void) { return cudaSuccess; }
// The device's SM count (an H100's 132), or MEMPROF_EMULATED_PROCESSORS: fewer, so that a
// persistent kernel's blocks each take several tiles of a problem small enough to emulate.
static int processor_count() {
    const char *value = getenv("MEMPROF_EMULATED_PROCESSORS");
    int count = value ? atoi(value) : 0;
    return count > 0 ? count : emu::device().processors;
}
cudaError_t cudaDeviceGetAttribute(int *value, enum cudaDeviceAttr attribute, int) {
    // What the launchers ask about.
    *value = attribute == cudaDevAttrMaxSharedMemoryPerBlockOptin ? emu::device().shared_limit
             : attribute == cudaDevAttrMultiProcessorCount       ? processor_count()
             : attribute == cudaDevAttrComputeCapabilityMajor    ? emu::device().major
             : attribute == cudaDevAttrComputeCapabilityMinor    ? emu::device().minor
                                                                 : 0;
    return cudaSuccess;
}
cudaError_t cudaGetDeviceProperties(struct cudaDeviceProp *properties, int device) {
    if (device != 0) return cudaErrorInvalidDevice;
    memset(properties, 0, sizeof *properties);
    snprintf(properties->name, sizeof properties->name, "emulated %s (CPU)", emu::device().name);
    properties->totalGlobalMem = device_bytes();
    properties->major = emu::device().major;
    properties->minor = emu::device().minor;
    properties->multiProcessorCount = processor_count();
    properties->sharedMemPerBlockOptin = (size_t)emu::device().shared_limit;
    properties->warpSize = 32;
    properties->maxThreadsPerBlock = 1024;
    return cudaSuccess;
}

cudaError_t cudaMalloc(void **pointer, size_t bytes) {
    device_memory &m = memory();
    std::lock_guard<std::mutex> guard(m.lock);
    *pointer = nullptr;
    if (m.used + bytes > device_bytes()) return cudaErrorMemoryAllocation;
    *pointer = malloc(bytes ? bytes : 1);
    if (*pointer == nullptr) return cudaErrorMemoryAllocation;
    memset(*pointer, 0xff, bytes);
    m.allocations[*pointer] = bytes;
    m.used += bytes;
    return cudaSuccess;
}
cudaError_t cudaFree(void *pointer) {
    if (pointer == nullptr) return cudaSuccess;
    device_memory &m = memory();
    std::lock_guard<std::mutex> guard(m.lock);
    auto found = m.allocations.find(pointer);
    if (found == m.allocations.end()) return cudaErrorInvalidValue;
    m.used -= found->second;
    m.allocations.erase(found);
    free(pointer);
    return cudaSuccess;
}
cudaError_t cudaMemGetInfo(size_t *free_bytes, size_t *total_bytes) {
    device_memory &m = memory();
    std::lock_guard<std::mutex> guard(m.lock);
    *total_bytes = device_bytes();
    *free_bytes = *total_bytes - m.used;
    return cudaSuccess;
}
cudaError_t cudaPointerGetAttributes(struct cudaPointerAttributes *attributes, const void *pointer) {
    device_memory &m = memory();
    std::lock_guard<std::mutex> guard(m.lock);
    memset(attributes, 0, sizeof *attributes);
    bool on_device = m.allocations.count((void *)pointer) != 0;
    attributes->type = on_device ? cudaMemoryTypeDevice : cudaMemoryTypeUnregistered;
    attributes->device = 0;
    attributes->devicePointer = on_device ? (void *)pointer : nullptr;
    attributes->hostPointer = on_device ? nullptr : (void *)pointer;
    return cudaSuccess;
}
cudaError_t cudaHostAlloc(void **pointer, size_t bytes, unsigned int) {
    *pointer = malloc(bytes ? bytes : 1);
    return *pointer ? cudaSuccess : cudaErrorMemoryAllocation;
}
cudaError_t cudaFreeHost(void *pointer) {
    free(pointer);
    return cudaSuccess;
}

cudaError_t cudaMemcpy(void *destination, const void *source, size_t bytes, enum cudaMemcpyKind) {
    memmove(destination, source, bytes);
    return cudaSuccess;
}
cudaError_t cudaMemcpyAsync(void *destination, const void *source, size_t bytes, enum cudaMemcpyKind, cudaStream_t) {
    memmove(destination, source, bytes);
    return cudaSuccess;
}
// height rows of width bytes, pitches apart on each side (the runtime's refusals: a width
// wider than either pitch).
cudaError_t cudaMemcpy2D(void *destination, size_t destination_pitch, const void *source, size_t source_pitch,
                         size_t width, size_t height, enum cudaMemcpyKind kind) {
    return cudaMemcpy2DAsync(destination, destination_pitch, source, source_pitch, width, height, kind, NULL);
}
cudaError_t cudaMemcpy2DAsync(void *destination, size_t destination_pitch, const void *source, size_t source_pitch,
                              size_t width, size_t height, enum cudaMemcpyKind, cudaStream_t) {
    if (width > destination_pitch || width > source_pitch) return cudaErrorInvalidPitchValue;
    for (size_t row = 0; row < height; row++)
        memmove((char *)destination + row * destination_pitch, (const char *)source + row * source_pitch, width);
    return cudaSuccess;
}
cudaError_t cudaMemset(void *destination, int value, size_t bytes) {
    memset(destination, value, bytes);
    return cudaSuccess;
}
cudaError_t cudaMemsetAsync(void *destination, int value, size_t bytes, cudaStream_t) {
    memset(destination, value, bytes);
    return cudaSuccess;
}

cudaError_t cudaStreamCreate(cudaStream_t *stream) {
    *stream = (cudaStream_t) new handle;
    return cudaSuccess;
}
cudaError_t cudaStreamCreateWithFlags(cudaStream_t *stream, unsigned int) { return cudaStreamCreate(stream); }
// Kernels run as they are launched here, so priorities order nothing; an H100's range.
cudaError_t cudaStreamCreateWithPriority(cudaStream_t *stream, unsigned int, int) { return cudaStreamCreate(stream); }
cudaError_t cudaDeviceGetStreamPriorityRange(int *least, int *greatest) {
    if (least) *least = 0;
    if (greatest) *greatest = -5;
    return cudaSuccess;
}
cudaError_t cudaStreamQuery(cudaStream_t) { return cudaSuccess; }
cudaError_t cudaStreamDestroy(cudaStream_t stream) {
    delete (handle *)stream;
    return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }

cudaError_t cudaEventCreate(cudaEvent_t *event) {
    *event = (cudaEvent_t) new handle;
    return cudaSuccess;
}
cudaError_t cudaEventCreateWithFlags(cudaEvent_t *event, unsigned int) { return cudaEventCreate(event); }
cudaError_t cudaEventDestroy(cudaEvent_t event) {
    delete (handle *)event;
    return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t) {
    ((handle *)event)->recorded = seconds_now();
    return cudaSuccess;
}
// Launches run to completion when they are made, so every recorded event has happened.
cudaError_t cudaStreamWaitEvent(cudaStream_t, cudaEvent_t, unsigned int) { return cudaSuccess; }
cudaError_t cudaEventSynchronize(cudaEvent_t) { return cudaSuccess; }
cudaError_t cudaEventQuery(cudaEvent_t) { return cudaSuccess; }
cudaError_t cudaEventElapsedTime(float *milliseconds, cudaEvent_t start, cudaEvent_t stop) {
    const handle *a = (const handle *)start, *b = (const handle *)stop;
    if (a->recorded < 0.0 || b->recorded < 0.0) return cudaErrorInvalidResourceHandle;
    *milliseconds = (float)((b->recorded - a->recorded) * 1e3);
    return cudaSuccess;
}
}

// The tensor-map encoder (src/cuda/cuda_tensor_map.h), for the emulated TMA copies
// (tests/emulator/cuda/cuda_tma.cuh): checks what the driver's checks that matter here, and
// keeps the map's fields in its opaque words (the layout the emulated copy reads).
static CUresult emulated_tensor_map_encode(CUtensorMap *map, CUtensorMapDataType type, cuuint32_t rank, void *base,
                                           const cuuint64_t *dims, const cuuint64_t *strides, const cuuint32_t *box,
                                           const cuuint32_t *element_strides, CUtensorMapInterleave interleave,
                                           CUtensorMapSwizzle swizzle, CUtensorMapL2promotion, CUtensorMapFloatOOBfill fill) {
    if (type != CU_TENSOR_MAP_DATA_TYPE_FLOAT16 && type != CU_TENSOR_MAP_DATA_TYPE_BFLOAT16) return CUDA_ERROR_INVALID_VALUE;
    if (rank != 2 || interleave != CU_TENSOR_MAP_INTERLEAVE_NONE || fill != CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE)
        return CUDA_ERROR_INVALID_VALUE;
    if (element_strides[0] != 1 || element_strides[1] != 1) return CUDA_ERROR_INVALID_VALUE;
    if ((uintptr_t)base % 16 != 0 || strides[0] % 16 != 0 || strides[0] < dims[0] * 2) return CUDA_ERROR_INVALID_VALUE;
    int width = swizzle == CU_TENSOR_MAP_SWIZZLE_128B ? 128 : swizzle == CU_TENSOR_MAP_SWIZZLE_64B ? 64
                : swizzle == CU_TENSOR_MAP_SWIZZLE_32B ? 32 : 0;
    // With a swizzle the box's inner extent is at most the swizzle's span (here: exactly it).
    if (width == 0 || box[0] * 2 != (cuuint32_t)width || box[1] == 0 || box[1] > 256) return CUDA_ERROR_INVALID_VALUE;
    memset(map, 0, sizeof *map);
    map->opaque[0] = (cuuint64_t)(uintptr_t)base;
    map->opaque[1] = dims[0], map->opaque[2] = dims[1], map->opaque[3] = strides[0];
    map->opaque[4] = box[0], map->opaque[5] = box[1], map->opaque[6] = (cuuint64_t)width;
    map->opaque[7] = 0x6d656d70726f66ULL;  // marks a map this encoder made
    return CUDA_SUCCESS;
}

extern "C" cudaError_t cudaGetDriverEntryPointByVersion(const char *symbol, void **function, unsigned int, unsigned long long,
                                                        enum cudaDriverEntryPointQueryResult *found) {
    // MEMPROF_EMULATED_NO_TENSOR_MAPS=1: a driver without the encoder (what `auto` must survive).
    const char *absent = getenv("MEMPROF_EMULATED_NO_TENSOR_MAPS");
    bool known = strcmp(symbol, "cuTensorMapEncodeTiled") == 0 && !(absent && strcmp(absent, "1") == 0);
    *function = known ? (void *)emulated_tensor_map_encode : nullptr;
    if (found) *found = known ? cudaDriverEntryPointSuccess : cudaDriverEntryPointSymbolNotFound;
    return cudaSuccess;
}
