// cuda_upload.c — checkpoint tensors to device weight slots in the checkpoint's own bytes.
//
// Each tensor's stored bytes (F16, BF16 or F32, little-endian and contiguous: safetensors
// spans are exact and pickle.c accepts only C-contiguous views) stream through a ring of
// pinned host chunks: the host copies piece k+1 out of the mmap while the DMA of piece k
// runs, an event per chunk saying when it may be refilled. A piece whose dtype is the
// compute type is DMAed straight into its slot; any other lands in a device staging chunk
// and one kernel converts it into the slot (cuda_convert_weights: exact widening to fp32,
// then the same round-to-nearest-even intrinsic as the fp32 reference path).
//
// Half the bytes of the old path (fp32 on the host, then fp32 over PCIe) and no
// single-threaded host conversion: the mmap copy is split over a few threads, since page
// faults on the mapping, not memcpy, bound one thread.
#include <cuda_runtime_api.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cuda/cuda_internal.h"
#include "cuda/cuda_kernels.h"
#include "memprof/clock.h"

enum { MAX_COPY_THREADS = 8 };
static const size_t PARALLEL_COPY_MIN = (size_t)4 << 20;  // smaller pieces: one memcpy

typedef struct copy_slice {
    char *destination;
    const char *source;
    size_t bytes;
} copy_slice;

static void *copy_slice_run(void *argument) {
    copy_slice *slice = argument;
    memcpy(slice->destination, slice->source, slice->bytes);
    return NULL;
}

// memcpy split into `threads` slices; the calling thread copies the last one. A thread that
// cannot be started leaves its slice to the caller.
static void parallel_copy(void *destination, const void *source, size_t bytes, int threads) {
    if (threads <= 1 || bytes < PARALLEL_COPY_MIN) {
        memcpy(destination, source, bytes);
        return;
    }
    copy_slice slices[MAX_COPY_THREADS];
    pthread_t workers[MAX_COPY_THREADS];
    int started[MAX_COPY_THREADS] = {0};
    size_t each = (bytes / (size_t)threads + 4095) & ~(size_t)4095;  // whole pages per slice
    for (int i = 0; i < threads; i++) {
        size_t begin = (size_t)i * each < bytes ? (size_t)i * each : bytes;
        size_t end = begin + each < bytes ? begin + each : bytes;
        slices[i] = (copy_slice){(char *)destination + begin, (const char *)source + begin, end - begin};
    }
    for (int i = 0; i < threads - 1; i++) started[i] = pthread_create(&workers[i], NULL, copy_slice_run, &slices[i]) == 0;
    copy_slice_run(&slices[threads - 1]);
    for (int i = 0; i < threads - 1; i++) {
        if (started[i]) pthread_join(workers[i], NULL);
        else copy_slice_run(&slices[i]);
    }
}

static int source_type_of(tensor_dtype dtype) {
    switch (dtype) {
    case TENSOR_F16: return CUDA_SOURCE_F16;
    case TENSOR_BF16: return CUDA_SOURCE_BF16;
    case TENSOR_F32: return CUDA_SOURCE_F32;
    default: return -1;
    }
}

void cuda_upload_release(cuda_upload *upload) {
    if (upload->stream) cudaStreamSynchronize((cudaStream_t)upload->stream);  // no DMA may still read a chunk
    for (int k = 0; k < CUDA_UPLOAD_CHUNKS; k++) {
        if (upload->pinned[k]) cudaFreeHost(upload->pinned[k]);
        if (upload->staging[k]) cudaFree(upload->staging[k]);
        if (upload->done[k]) cudaEventDestroy((cudaEvent_t)upload->done[k]);
        upload->pinned[k] = upload->staging[k] = upload->done[k] = NULL;
    }
}

int cuda_upload_begin(cuda_upload *upload, void *stream, int scalar_type, size_t chunk_bytes, memprof_error *err) {
    memset(upload, 0, sizeof *upload);
    upload->stream = stream;
    upload->scalar_type = scalar_type;
    if (chunk_bytes == 0) chunk_bytes = CUDA_UPLOAD_CHUNK_BYTES;
    upload->chunk_bytes = (chunk_bytes + 255) & ~(size_t)255;  // whole elements of every dtype, aligned kernels
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    upload->copy_threads = cores < 2 ? 1 : cores / 2 > MAX_COPY_THREADS ? MAX_COPY_THREADS : (int)(cores / 2);
    upload->started = clock_seconds();
    for (int k = 0; k < CUDA_UPLOAD_CHUNKS; k++) {
        cudaEvent_t event;
        if (cudaHostAlloc(&upload->pinned[k], upload->chunk_bytes, cudaHostAllocDefault) != cudaSuccess) {
            upload->pinned[k] = NULL;
            cuda_upload_release(upload);
            return error_set(err, MEMPROF_ERR, "cuda backend: cannot pin %zu MB of host memory for the weight upload",
                             upload->chunk_bytes >> 20);
        }
        // The staging chunks are allocated when a tensor first needs converting.
        if (cudaEventCreateWithFlags(&event, cudaEventDisableTiming) != cudaSuccess) {
            cuda_upload_release(upload);
            return error_set(err, MEMPROF_ERR, "cuda backend: cannot create an upload event");
        }
        upload->done[k] = event;
    }
    return 0;
}

// width 0: the tensor packed into destination; else its rows of width elements into rows
// stride elements apart (each piece whole rows: one 2-D copy or one conversion a piece).
static int upload_pieces(cuda_upload *upload, void *destination, int64_t width, int64_t stride,
                         const tensor_view *tensor, memprof_error *err) {
    int source_type = source_type_of(tensor->dtype);
    size_t element_bytes = tensor_dtype_size(tensor->dtype);
    // The same refusals as tensor_read_f32, the fp32 path this replaces.
    if (source_type < 0)
        return error_set(err, MEMPROF_ERR_UNSUPPORTED, "%s: dtype %s cannot be read as float32", tensor->name,
                         tensor_dtype_name(tensor->dtype));
    if (tensor->numel < 0 || (size_t)tensor->numel * element_bytes != tensor->nbytes)
        return error_set(err, MEMPROF_ERR, "%s: byte size %zu does not match %lld elements", tensor->name,
                         tensor->nbytes, (long long)tensor->numel);
    size_t row_bytes = width > 0 ? (size_t)width * element_bytes : element_bytes, piece_limit = upload->chunk_bytes;
    if (width > 0) {
        if (tensor->numel % width != 0 || stride < width)
            return error_set(err, MEMPROF_ERR, "%s: %lld elements are not rows of %lld", tensor->name,
                             (long long)tensor->numel, (long long)width);
        piece_limit = upload->chunk_bytes / row_bytes * row_bytes;
        if (piece_limit == 0)
            return error_set(err, MEMPROF_ERR, "cuda backend: %s: a row of %zu bytes exceeds the upload's "
                             "%zu-byte chunks", tensor->name, row_bytes, upload->chunk_bytes);
    }
    int identity = (source_type == CUDA_SOURCE_F16 && upload->scalar_type == CUDA_SCALAR_FP16) ||
                   (source_type == CUDA_SOURCE_BF16 && upload->scalar_type == CUDA_SCALAR_BF16);
    cudaStream_t stream = (cudaStream_t)upload->stream;
    const char *source = tensor->data;
    for (size_t offset = 0; offset < tensor->nbytes;) {
        size_t piece = tensor->nbytes - offset < piece_limit ? tensor->nbytes - offset : piece_limit;
        int k = upload->next;
        upload->next = (k + 1) % CUDA_UPLOAD_CHUNKS;
        // The DMA (and conversion) that last used chunk k must be done before it is refilled.
        cudaError_t waited = cudaEventSynchronize((cudaEvent_t)upload->done[k]);
        if (waited != cudaSuccess)
            return error_set(err, MEMPROF_ERR, "cuda backend: %s: an earlier weight upload failed: %s", tensor->name,
                             cudaGetErrorString(waited));
        if (!identity && upload->staging[k] == NULL && cudaMalloc(&upload->staging[k], upload->chunk_bytes) != cudaSuccess) {
            upload->staging[k] = NULL;
            return error_set(err, MEMPROF_ERR, "cuda backend: cannot allocate %zu MB of device staging for the upload",
                             upload->chunk_bytes >> 20);
        }
        parallel_copy(upload->pinned[k], source + offset, piece, upload->copy_threads);
        int64_t first = (int64_t)(offset / element_bytes), count = (int64_t)(piece / element_bytes);
        int64_t rows = width > 0 ? count / width : 0;
        size_t first_slot = width > 0 ? (size_t)(first / width * stride) : (size_t)first;
        char *slot = (char *)destination + first_slot * 2;  // compute types are 2 bytes
        void *target = identity ? (void *)slot : upload->staging[k];
        cudaError_t copied = identity && width > 0
                                 ? cudaMemcpy2DAsync(slot, (size_t)stride * 2, upload->pinned[k], row_bytes, row_bytes,
                                                     (size_t)rows, cudaMemcpyHostToDevice, stream)
                                 : cudaMemcpyAsync(target, upload->pinned[k], piece, cudaMemcpyHostToDevice, stream);
        if (copied != cudaSuccess)
            return error_set(err, MEMPROF_ERR, "cuda backend: %s: copy to the device failed", tensor->name);
        if (!identity) {
            (void)cudaGetLastError();  // a benign error left by a library call would read as a launch failure
            int converted = width > 0 ? cuda_convert_weights_rows(slot, stride, upload->staging[k], rows, width,
                                                                  source_type, upload->scalar_type, stream)
                                      : cuda_convert_weights(slot, upload->staging[k], count, source_type,
                                                             upload->scalar_type, stream);
            if (converted != 0) return error_set(err, MEMPROF_ERR, "cuda backend: converting %s failed", tensor->name);
        }
        if (cudaEventRecord((cudaEvent_t)upload->done[k], stream) != cudaSuccess)
            return error_set(err, MEMPROF_ERR, "cuda backend: %s: cannot record the upload event", tensor->name);
        offset += piece;
        upload->bytes += piece;
    }
    return 0;
}

int cuda_upload_tensor(cuda_upload *upload, void *destination, const tensor_view *tensor, memprof_error *err) {
    return upload_pieces(upload, destination, 0, 0, tensor, err);
}

int cuda_upload_tensor_rows(cuda_upload *upload, void *destination, int64_t width, int64_t stride,
                            const tensor_view *tensor, memprof_error *err) {
    if (width <= 0) return error_set(err, MEMPROF_ERR, "%s: rows of %lld elements", tensor->name, (long long)width);
    return upload_pieces(upload, destination, width, stride, tensor, err);
}

int cuda_upload_finish(cuda_upload *upload, memprof_error *err) {
    cudaError_t status = cudaStreamSynchronize((cudaStream_t)upload->stream);
    upload->seconds = clock_seconds() - upload->started;
    cuda_upload_release(upload);
    if (status != cudaSuccess)
        return error_set(err, MEMPROF_ERR, "cuda backend: weight upload failed: %s", cudaGetErrorString(status));
    return 0;
}

int cuda_upload_tensor_reference(void *destination, const tensor_view *tensor, int scalar_type, void *stream,
                                 memprof_error *err) {
    size_t count = tensor->numel > 0 ? (size_t)tensor->numel : 0;
    float *host = malloc(count ? count * sizeof(float) : 1), *staging = NULL;
    if (host == NULL) return error_set(err, MEMPROF_ERR_NOMEM, "cuda backend: out of host memory");
    int status = tensor_read_f32(host, tensor, err);
    if (status == 0 && cudaMalloc((void **)&staging, count * sizeof(float) + 1) != cudaSuccess)
        status = error_set(err, MEMPROF_ERR, "cuda backend: cannot allocate the reference staging buffer");
    if (status == 0 && cudaMemcpy(staging, host, count * sizeof(float), cudaMemcpyHostToDevice) != cudaSuccess)
        status = error_set(err, MEMPROF_ERR, "cuda backend: %s: copy to the device failed", tensor->name);
    if (status == 0 && (cuda_convert_from_float(destination, staging, (int64_t)count, scalar_type, stream) != 0 ||
                        cudaStreamSynchronize((cudaStream_t)stream) != cudaSuccess))
        status = error_set(err, MEMPROF_ERR, "cuda backend: converting %s failed", tensor->name);
    cudaFree(staging);
    free(host);
    return status;
}
