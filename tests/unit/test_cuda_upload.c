// test_cuda_upload.c — the weight upload in stored bytes (cuda_upload.c) gives bit for bit
// what the fp32 path it replaced gives (cuda_upload_tensor_reference): every source dtype
// (F16, BF16, F32) into fp16 and bf16, from unaligned host data, in chunks small enough to
// split tensors and wrap the ring, and whole models loaded from random checkpoints.
// Needs a GPU: reports SKIP (never PASS) without one.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "memprof/backend.h"
#include "memprof/checkpoint.h"
#include "test.h"

#ifdef MEMPROF_CUDA
#include <cuda_runtime_api.h>

#include "cuda/cuda_internal.h"
#include "cuda/cuda_kernels.h"

static uint64_t next_random(uint64_t *state) {
    *state = *state * 6364136223846793005ull + 1442695040888963407ull;
    return *state >> 16;
}

// count elements of dtype with random bit patterns, NaNs excluded (the reference path
// canonicalises NaN payloads, the identity copy keeps them: documented in docs/design.md),
// and a few chosen values: ±0, ±inf, fp16 subnormals, values that overflow fp16, ties.
static void fill_source(uint8_t *bytes, tensor_dtype dtype, int64_t count, uint64_t seed) {
    uint64_t state = seed;
    for (int64_t i = 0; i < count; i++) {
        if (dtype == TENSOR_F32) {
            static const uint32_t chosen[] = {0x00000000u, 0x80000000u, 0x7f800000u, 0xff800000u, 0x33800000u,
                                              0x387fc000u, 0x477ff000u, 0x477fefffu, 0x47800000u, 0x3f801000u,
                                              0x3f803000u, 0x3f808000u, 0x3f818000u, 0x00000001u};
            uint32_t bits = (uint32_t)next_random(&state);
            if (i < (int64_t)(sizeof chosen / sizeof chosen[0])) bits = chosen[i];
            if ((bits & 0x7f800000u) == 0x7f800000u && (bits & 0x007fffffu) != 0) bits &= 0xff800000u;  // NaN → inf
            memcpy(bytes + 4 * i, &bits, 4);
        } else {
            uint16_t bits = (uint16_t)next_random(&state);
            uint16_t exponent = dtype == TENSOR_F16 ? 0x7c00u : 0x7f80u;
            if ((bits & exponent) == exponent && (bits & (uint16_t)~(exponent | 0x8000u)) != 0) bits &= (uint16_t)(0x8000u | exponent);
            memcpy(bytes + 2 * i, &bits, 2);
        }
    }
}

static int no_device(void) {
    int devices = 0;
    return cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0;
}

// One tensor of each dtype through the upload (two of them back to back, so the second
// starts mid-ring) and through the reference; the device bytes must agree.
static void check_tensor(tensor_dtype dtype, int scalar_type, size_t chunk_bytes, int64_t count) {
    char name[200];
    snprintf(name, sizeof name, "upload %s -> %s, %lld elements, chunks of %zu bytes", tensor_dtype_name(dtype),
             scalar_type == CUDA_SCALAR_FP16 ? "fp16" : "bf16", (long long)count, chunk_bytes);
    size_t element = tensor_dtype_size(dtype), out_bytes = (size_t)count * 2;
    uint8_t *host = malloc((size_t)count * element * 2 + 1), *back = malloc(out_bytes * 2), *expected = malloc(out_bytes * 2);
    void *device = NULL, *reference = NULL;
    cudaStream_t stream = NULL;
    memprof_error err = {0};
    int ok = host && back && expected && cudaStreamCreate(&stream) == cudaSuccess &&
             cudaMalloc(&device, out_bytes * 2) == cudaSuccess && cudaMalloc(&reference, out_bytes * 2) == cudaSuccess;
    if (!ok) {
        CHECK(name, 0, "setup failed");
        goto done;
    }
    tensor_view tensors[2];
    for (int t = 0; t < 2; t++) {
        uint8_t *data = host + 1 + (size_t)t * (size_t)count * element;  // odd address, as inside an mmap
        fill_source(data, dtype, count, 17 + (uint64_t)t);
        tensors[t] = (tensor_view){.dtype = dtype, .ndim = 1, .shape = {count}, .numel = count, .data = data,
                                   .nbytes = (size_t)count * element};
        snprintf(tensors[t].name, sizeof tensors[t].name, "tensor %d", t);
    }
    cuda_upload upload;
    int status = cuda_upload_begin(&upload, stream, scalar_type, chunk_bytes, &err);
    for (int t = 0; status == 0 && t < 2; t++)
        status = cuda_upload_tensor(&upload, (char *)device + (size_t)t * out_bytes, &tensors[t], &err);
    if (status == 0) status = cuda_upload_finish(&upload, &err);
    else cuda_upload_release(&upload);
    for (int t = 0; status == 0 && t < 2; t++)
        status = cuda_upload_tensor_reference((char *)reference + (size_t)t * out_bytes, &tensors[t], scalar_type,
                                              stream, &err);
    if (status != 0) {
        CHECK(name, 0, "%s", err.message);
        goto done;
    }
    if (cudaMemcpy(back, device, out_bytes * 2, cudaMemcpyDeviceToHost) != cudaSuccess ||
        cudaMemcpy(expected, reference, out_bytes * 2, cudaMemcpyDeviceToHost) != cudaSuccess) {
        CHECK(name, 0, "copy back failed");
        goto done;
    }
    int64_t first_difference = -1;
    for (int64_t i = 0; i < 2 * count && first_difference < 0; i++)
        if (memcmp(back + 2 * i, expected + 2 * i, 2) != 0) first_difference = i;
    CHECK(name, first_difference < 0 && upload.bytes == 2 * tensors[0].nbytes,
          "element %lld differs (of %lld); %zu bytes moved", (long long)first_difference, (long long)(2 * count),
          upload.bytes);
done:
    cudaFree(device);
    cudaFree(reference);
    if (stream) cudaStreamDestroy(stream);
    free(host), free(back), free(expected);
}

// A whole random checkpoint through cuda_model_load and, tensor by tensor, through the
// reference into a second model of the same layout: every slot equal.
static void check_model(const char *size, tensor_dtype dtype, compute_precision precision) {
    char name[200];
    snprintf(name, sizeof name, "model %s %s loaded as %s: every weight as the fp32 path gives it", size,
             tensor_dtype_name(dtype), precision == PRECISION_BF16 ? "bf16" : "fp16");
    memprof_error err = {0};
    model_config config;
    checkpoint *ckpt = NULL;
    cuda_model *loaded = NULL, *reference = NULL;
    uint8_t *a = NULL, *b = NULL;
    backend_options options = {.precision = precision};
    int status = pythia_size_config(&config, size, &err);
    if (status == 0) status = checkpoint_create_random(&ckpt, &config, dtype, 5, &err);
    if (status == 0) status = cuda_model_load(&loaded, ckpt, &options, &err);
    if (status == 0) status = cuda_model_allocate(&reference, &config, dtype, &options, &err);
    if (status != 0) {
        CHECK(name, 0, "%s", err.message);
        goto done;
    }
    // The weights in layout order (neox_weight_at, as cuda_model.c walks it), each at the
    // 256-byte aligned offset the layout gives it: both models' bytes there must be equal.
    int64_t mismatched = -1;
    size_t offset = 0;
    for (int64_t i = 0; i < neox_weight_count(&config) && status == 0 && mismatched < 0; i++) {
        neox_weight w;
        neox_weight_at(&w, &config, i);
        size_t bytes = (size_t)w.numel * 2;
        const tensor_view *tensor = checkpoint_tensor(ckpt, w.name);
        status = tensor ? cuda_upload_tensor_reference((char *)reference->weights + offset, tensor,
                                                       reference->scalar_type, reference->stream, &err)
                        : error_set(&err, MEMPROF_ERR, "%s missing", w.name);
        free(a), free(b);
        a = malloc(bytes), b = malloc(bytes);
        cudaError_t copied = cudaSuccess;
        if (status == 0 && a && b) copied = cudaMemcpy(a, (char *)loaded->weights + offset, bytes, cudaMemcpyDeviceToHost);
        if (status == 0 && a && b && copied == cudaSuccess)
            copied = cudaMemcpy(b, (char *)reference->weights + offset, bytes, cudaMemcpyDeviceToHost);
        if (status == 0 && (!a || !b || copied != cudaSuccess))
            status = error_set(&err, MEMPROF_ERR, "%s: copy back of %zu bytes at offset %zu failed: %s", w.name, bytes,
                               offset, a && b ? cudaGetErrorString(copied) : "out of host memory");
        if (status == 0 && memcmp(a, b, bytes) != 0) {
            mismatched = i;
            snprintf(err.message, sizeof err.message, "%s differs", w.name);
        }
        offset += (bytes + 255) & ~(size_t)255;
    }
    if (status == 0 && mismatched < 0 && offset != loaded->weight_bytes)
        status = error_set(&err, MEMPROF_ERR, "the inventory covers %zu bytes, the layout %zu", offset, loaded->weight_bytes);
    CHECK(name, status == 0 && mismatched < 0 && loaded->load_bytes > 0, "%s", err.message);
done:
    free(a), free(b);
    cuda_model_free(loaded);
    cuda_model_free(reference);
    checkpoint_close(ckpt);
}

int main(void) {
    if (no_device()) {
        SKIP("cuda upload", "no CUDA device is available");
        return 0;
    }
    static const tensor_dtype sources[] = {TENSOR_F16, TENSOR_BF16, TENSOR_F32};
    for (int s = 0; s < 3; s++) {
        for (int scalar = CUDA_SCALAR_FP16; scalar <= CUDA_SCALAR_BF16; scalar++) {
            check_tensor(sources[s], scalar, 4096, 100003);  // 25+ pieces per tensor, the ring wraps mid-tensor
            check_tensor(sources[s], scalar, 0, 100003);     // the default chunk: one piece each
        }
    }
    check_tensor(TENSOR_F16, CUDA_SCALAR_FP16, 256, 1);  // one element
    check_model("14m", TENSOR_F16, PRECISION_FP16);
    check_model("14m", TENSOR_F16, PRECISION_BF16);
    check_model("14m", TENSOR_F32, PRECISION_FP16);
    check_model("14m", TENSOR_F32, PRECISION_BF16);
    return test_failures ? 1 : 0;
}
#else
int main(void) {
    SKIP("cuda upload", "no CUDA backend compiled in (built with CUDA=0)");
    return test_failures;
}
#endif
