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

// A tensor of rows [rows, width] into rows `stride` apart (cuda_upload_tensor_rows: the joined
// residual GEMM's dense | down), after a packed tensor so that it starts mid-ring: each row
// the reference's bits, the columns between rows untouched.
static void check_tensor_rows(tensor_dtype dtype, int scalar_type, size_t chunk_bytes, int64_t rows, int64_t width,
                              int64_t stride) {
    char name[200];
    snprintf(name, sizeof name, "upload %s -> %s, %lld rows of %lld into rows %lld apart, chunks of %zu bytes",
             tensor_dtype_name(dtype), scalar_type == CUDA_SCALAR_FP16 ? "fp16" : "bf16", (long long)rows,
             (long long)width, (long long)stride, chunk_bytes);
    int64_t count = rows * width, lead = 1001;
    size_t element = tensor_dtype_size(dtype), out_bytes = (size_t)(rows * stride) * 2;
    uint8_t *host = malloc((size_t)(count + lead) * element + 1), *back = malloc(out_bytes);
    uint8_t *expected = malloc((size_t)count * 2);
    void *device = NULL, *reference = NULL, *leading = NULL;
    cudaStream_t stream = NULL;
    memprof_error err = {0};
    int ok = host && back && expected && cudaStreamCreate(&stream) == cudaSuccess &&
             cudaMalloc(&device, out_bytes) == cudaSuccess && cudaMalloc(&reference, (size_t)count * 2) == cudaSuccess &&
             cudaMalloc(&leading, (size_t)lead * 2) == cudaSuccess && cudaMemset(device, 0xab, out_bytes) == cudaSuccess;
    if (!ok) {
        CHECK(name, 0, "setup failed");
        goto done;
    }
    uint8_t *data = host + 1 + (size_t)lead * element;  // odd address, as inside an mmap
    fill_source(host + 1, dtype, lead, 3);
    fill_source(data, dtype, count, 29);
    tensor_view first = {.dtype = dtype, .ndim = 1, .shape = {lead}, .numel = lead, .data = host + 1,
                         .nbytes = (size_t)lead * element, .name = "leading"};
    tensor_view tensor = {.dtype = dtype, .ndim = 2, .shape = {rows, width}, .numel = count, .data = data,
                          .nbytes = (size_t)count * element, .name = "rows"};
    cuda_upload upload;
    int status = cuda_upload_begin(&upload, stream, scalar_type, chunk_bytes, &err);
    if (status == 0) status = cuda_upload_tensor(&upload, leading, &first, &err);
    if (status == 0) status = cuda_upload_tensor_rows(&upload, device, width, stride, &tensor, &err);
    if (status == 0) status = cuda_upload_finish(&upload, &err);
    else cuda_upload_release(&upload);
    if (status == 0) status = cuda_upload_tensor_reference(reference, &tensor, scalar_type, stream, &err);
    if (status != 0) {
        CHECK(name, 0, "%s", err.message);
        goto done;
    }
    if (cudaMemcpy(back, device, out_bytes, cudaMemcpyDeviceToHost) != cudaSuccess ||
        cudaMemcpy(expected, reference, (size_t)count * 2, cudaMemcpyDeviceToHost) != cudaSuccess) {
        CHECK(name, 0, "copy back failed");
        goto done;
    }
    int64_t differing = 0, touched = 0;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t i = 0; i < stride; i++) {
            const uint8_t *got = back + 2 * (r * stride + i);
            if (i < width) differing += memcmp(got, expected + 2 * (r * width + i), 2) != 0;
            else touched += got[0] != 0xab || got[1] != 0xab;
        }
    CHECK(name, differing == 0 && touched == 0, "%lld values differ, %lld between the rows changed",
          (long long)differing, (long long)touched);
done:
    cudaFree(device), cudaFree(reference), cudaFree(leading);
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

// The device bytes at a (joined model) and b (packed) equal: rows of row_bytes, a_stride and
// b_stride bytes apart (0: packed). 1 when they are.
static int device_rows_equal(const void *a, size_t a_stride, const void *b, size_t b_stride, size_t rows,
                             size_t row_bytes) {
    if (a_stride == 0) a_stride = row_bytes;  // one packed run
    if (b_stride == 0) b_stride = row_bytes;
    uint8_t *x = malloc(rows * row_bytes + 1), *y = malloc(rows * row_bytes + 1);
    int equal = x && y &&
                cudaMemcpy2D(x, row_bytes, a, a_stride, row_bytes, rows, cudaMemcpyDeviceToHost) == cudaSuccess &&
                cudaMemcpy2D(y, row_bytes, b, b_stride, row_bytes, rows, cudaMemcpyDeviceToHost) == cudaSuccess &&
                memcmp(x, y, rows * row_bytes) == 0;
    free(x), free(y);
    return equal;
}

// A random checkpoint loaded with MEMPROF_RESIDUAL_GEMM=joined and without: every weight the
// same bits, the dense and down weights as rows d + ff apart (dense first) in the joined one.
static void check_joined_model(const char *size, tensor_dtype dtype, compute_precision precision) {
    char name[200];
    snprintf(name, sizeof name, "model %s %s loaded as %s in the joined layout: every weight the packed layout's",
             size, tensor_dtype_name(dtype), precision == PRECISION_BF16 ? "bf16" : "fp16");
    memprof_error err = {0};
    model_config config;
    checkpoint *ckpt = NULL;
    cuda_model *joined = NULL, *packed = NULL;
    backend_options options = {.precision = precision};
    int status = pythia_size_config(&config, size, &err);
    if (status == 0) status = checkpoint_create_random(&ckpt, &config, dtype, 7, &err);
    if (status == 0) status = cuda_model_load(&packed, ckpt, &options, &err);
    setenv("MEMPROF_RESIDUAL_GEMM", "joined", 1);
    if (status == 0) status = cuda_model_load(&joined, ckpt, &options, &err);
    unsetenv("MEMPROF_RESIDUAL_GEMM");
    const char *wrong = NULL;
    if (status == 0 && joined->residual_gemm != RESIDUAL_GEMM_JOINED) wrong = "the joined model is not joined";
    size_t d = (size_t)config.hidden_size, ff = (size_t)config.intermediate_size, joined_row = (d + ff) * 2;
    for (int64_t l = 0; status == 0 && !wrong && l < config.num_hidden_layers; l++) {
        const cuda_layer_weights *j = &joined->layers[l], *p = &packed->layers[l];
        if ((char *)j->down_weight != (char *)j->dense_weight + d * 2) wrong = "down is not beside dense";
        else if (!device_rows_equal(j->dense_weight, joined_row, p->dense_weight, d * 2, d, d * 2)) wrong = "dense differs";
        else if (!device_rows_equal(j->down_weight, joined_row, p->down_weight, ff * 2, d, ff * 2)) wrong = "down differs";
        else if (!device_rows_equal(j->qkv_weight, 0, p->qkv_weight, 0, 1, 3 * d * d * 2) ||
                 !device_rows_equal(j->up_weight, 0, p->up_weight, 0, 1, ff * d * 2) ||
                 !device_rows_equal(j->up_bias, 0, p->up_bias, 0, 1, ff * 2) ||
                 !device_rows_equal(j->down_bias, 0, p->down_bias, 0, 1, d * 2) ||
                 !device_rows_equal(j->ln2_weight, 0, p->ln2_weight, 0, 1, d * 2))
            wrong = "a weight beside them differs";
    }
    if (status == 0 && !wrong &&
        !device_rows_equal(joined->embed_out, 0, packed->embed_out, 0, 1, (size_t)config.vocab_size * d * 2))
        wrong = "embed_out differs";
    if (status == 0 && !wrong && joined->weight_bytes > packed->weight_bytes) wrong = "the joined layout takes more bytes";
    CHECK(name, status == 0 && !wrong, "%s", status ? err.message : wrong);
    cuda_model_free(joined);
    cuda_model_free(packed);
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
    // Rows into a wider block: the identity dtype (2-D copies) and the converted ones, rows
    // split over pieces of a few rows (chunks of 4096 bytes) and in one piece.
    for (int s = 0; s < 3; s++)
        for (int scalar = CUDA_SCALAR_FP16; scalar <= CUDA_SCALAR_BF16; scalar++) {
            check_tensor_rows(sources[s], scalar, 4096, 97, 328, 328 + 72);
            check_tensor_rows(sources[s], scalar, 0, 97, 328, 328 + 72);
        }
    // A row wider than a chunk is refused with the tensor's name.
    {
        cuda_upload upload;
        memprof_error err = {0};
        uint16_t row[2048] = {0};
        tensor_view wide = {.dtype = TENSOR_F16, .ndim = 2, .shape = {1, 2048}, .numel = 2048, .data = row,
                            .nbytes = sizeof row, .name = "wide"};
        void *device = NULL;
        int refused = cudaMalloc(&device, 2 * 4096) == cudaSuccess &&
                      cuda_upload_begin(&upload, NULL, CUDA_SCALAR_FP16, 1024, &err) == 0 &&
                      cuda_upload_tensor_rows(&upload, device, 2048, 4096, &wide, &err) != 0 &&
                      strstr(err.message, "wide: a row of 4096 bytes exceeds") != NULL;
        cuda_upload_release(&upload);
        cudaFree(device);
        CHECK("upload: a row wider than the upload's chunks is refused, naming the tensor", refused, "%s", err.message);
    }
    check_model("14m", TENSOR_F16, PRECISION_FP16);
    check_model("14m", TENSOR_F16, PRECISION_BF16);
    check_model("14m", TENSOR_F32, PRECISION_FP16);
    check_model("14m", TENSOR_F32, PRECISION_BF16);
    // The joined residual GEMM's layout (dense | down side by side): the same weights, each
    // in its rows, through the same upload (checked against the packed model's bytes).
    check_joined_model("14m", TENSOR_F16, PRECISION_FP16);
    check_joined_model("14m", TENSOR_F32, PRECISION_BF16);
    return test_failures ? 1 : 0;
}
#else
int main(void) {
    SKIP("cuda upload", "no CUDA backend compiled in (built with CUDA=0)");
    return test_failures;
}
#endif
