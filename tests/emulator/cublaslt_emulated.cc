// cublaslt_emulated.cc — the part of cuBLASLt that src/cuda/cuda_gemm.c uses, on the CPU, so
// that the whole CUDA backend runs under the emulator (cuda_runtime_emulated.cc): its
// layouts, leading dimensions, transposes, beta and bias epilogue are computed as cuBLASLt
// documents them, and a request outside what is emulated fails with NOT_SUPPORTED rather
// than computing something else.
//
// D = alpha · op(A) · op(B) + beta · C (+ bias[m] with CUBLASLT_EPILOGUE_BIAS), column-major:
// op(A) [m, k], op(B) [k, n], C and D [m, n]; inputs fp16, bf16 or fp32, fp32 compute, output
// rounded to nearest even; the bias has D's type. Each output element is one fp32 sum over k
// in order. "Algorithms" are ids 0 and 1, both the same computation (GEMM tuning times them).
#include <cublasLt.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <math.h>
#include <string.h>

#include <vector>

namespace {
struct matmul_description {
    cublasComputeType_t compute;
    cudaDataType_t scale;
    cublasOperation_t transpose_a = CUBLAS_OP_N, transpose_b = CUBLAS_OP_N;
    cublasLtEpilogue_t epilogue = CUBLASLT_EPILOGUE_DEFAULT;
    const void *bias = nullptr;
    int32_t processors = 0;  // the SM-count target: a GPU's grid; the CPU's result is the same
};
struct matrix_layout {
    cudaDataType_t type;
    uint64_t rows, cols;
    int64_t ld;
};
enum { ALGORITHMS = 2 };

float load(cudaDataType_t type, const void *base, size_t index) {
    if (type == CUDA_R_32F) return ((const float *)base)[index];
    if (type == CUDA_R_16F) return __half2float(((const __half *)base)[index]);
    return __bfloat162float(((const __nv_bfloat16 *)base)[index]);
}
void store(cudaDataType_t type, void *base, size_t index, float value) {
    if (type == CUDA_R_32F) ((float *)base)[index] = value;
    else if (type == CUDA_R_16F) ((__half *)base)[index] = __float2half_rn(value);
    else ((__nv_bfloat16 *)base)[index] = __float2bfloat16_rn(value);
}
bool supported_type(cudaDataType_t type) { return type == CUDA_R_32F || type == CUDA_R_16F || type == CUDA_R_16BF; }

// op(M) as a dense [outer][k] float array: outer = m for A, n for B (k contiguous, for dots).
std::vector<float> operand(const matrix_layout *layout, const void *data, bool transposed, uint64_t outer, uint64_t k) {
    std::vector<float> out(outer * k);
    for (uint64_t o = 0; o < outer; o++)
        for (uint64_t p = 0; p < k; p++)  // element (row, col) of the stored matrix is at col·ld + row
            out[o * k + p] = transposed ? load(layout->type, data, o * layout->ld + p)
                                        : load(layout->type, data, p * layout->ld + o);
    return out;
}

// What cublasLtMatmul would compute, or the reason it is not emulated.
cublasStatus_t shape_check(const matmul_description *d, const matrix_layout *a, const matrix_layout *b,
                           const matrix_layout *c, const matrix_layout *out) {
    if (d->compute != CUBLAS_COMPUTE_32F || d->scale != CUDA_R_32F) return CUBLAS_STATUS_NOT_SUPPORTED;
    if (d->epilogue != CUBLASLT_EPILOGUE_DEFAULT && d->epilogue != CUBLASLT_EPILOGUE_BIAS)
        return CUBLAS_STATUS_NOT_SUPPORTED;
    if (!supported_type(a->type) || !supported_type(b->type) || !supported_type(c->type) || !supported_type(out->type))
        return CUBLAS_STATUS_NOT_SUPPORTED;
    uint64_t m = d->transpose_a == CUBLAS_OP_N ? a->rows : a->cols, k = d->transpose_a == CUBLAS_OP_N ? a->cols : a->rows;
    uint64_t kb = d->transpose_b == CUBLAS_OP_N ? b->rows : b->cols, n = d->transpose_b == CUBLAS_OP_N ? b->cols : b->rows;
    if (k != kb || out->rows != m || out->cols != n || c->rows != m || c->cols != n || c->type != out->type)
        return CUBLAS_STATUS_INVALID_VALUE;
    if (a->ld < (int64_t)a->rows || b->ld < (int64_t)b->rows || out->ld < (int64_t)out->rows || c->ld < (int64_t)c->rows)
        return CUBLAS_STATUS_INVALID_VALUE;
    return CUBLAS_STATUS_SUCCESS;
}
}  // namespace

extern "C" {
cublasStatus_t cublasLtCreate(cublasLtHandle_t *handle) {
    static int the_handle;
    *handle = (cublasLtHandle_t)&the_handle;
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtDestroy(cublasLtHandle_t) { return CUBLAS_STATUS_SUCCESS; }
size_t cublasLtGetVersion(void) { return CUBLAS_VERSION; }

cublasStatus_t cublasLtMatmulDescCreate(cublasLtMatmulDesc_t *description, cublasComputeType_t compute,
                                        cudaDataType_t scale) {
    matmul_description *d = new matmul_description;
    d->compute = compute, d->scale = scale;
    *description = (cublasLtMatmulDesc_t)d;
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulDescDestroy(cublasLtMatmulDesc_t description) {
    delete (matmul_description *)description;
    return CUBLAS_STATUS_SUCCESS;
}
namespace {
cublasStatus_t copy_attribute(void *field, size_t field_bytes, const void *value, size_t bytes) {
    if (bytes != field_bytes) return CUBLAS_STATUS_INVALID_VALUE;
    memcpy(field, value, bytes);
    return CUBLAS_STATUS_SUCCESS;
}
}  // namespace
cublasStatus_t cublasLtMatmulDescSetAttribute(cublasLtMatmulDesc_t description, cublasLtMatmulDescAttributes_t attribute,
                                              const void *value, size_t bytes) {
    matmul_description *d = (matmul_description *)description;
    switch (attribute) {
    case CUBLASLT_MATMUL_DESC_TRANSA: return copy_attribute(&d->transpose_a, sizeof d->transpose_a, value, bytes);
    case CUBLASLT_MATMUL_DESC_TRANSB: return copy_attribute(&d->transpose_b, sizeof d->transpose_b, value, bytes);
    case CUBLASLT_MATMUL_DESC_EPILOGUE: return copy_attribute(&d->epilogue, sizeof d->epilogue, value, bytes);
    case CUBLASLT_MATMUL_DESC_BIAS_POINTER: return copy_attribute(&d->bias, sizeof d->bias, value, bytes);
    case CUBLASLT_MATMUL_DESC_SM_COUNT_TARGET: return copy_attribute(&d->processors, sizeof d->processors, value, bytes);
    default: return CUBLAS_STATUS_NOT_SUPPORTED;
    }
}

cublasStatus_t cublasLtMatrixLayoutCreate(cublasLtMatrixLayout_t *layout, cudaDataType type, uint64_t rows,
                                          uint64_t cols, int64_t ld) {
    *layout = (cublasLtMatrixLayout_t) new matrix_layout{type, rows, cols, ld};
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatrixLayoutDestroy(cublasLtMatrixLayout_t layout) {
    delete (matrix_layout *)layout;
    return CUBLAS_STATUS_SUCCESS;
}

// Preferences only narrow cuBLASLt's search: every emulated algorithm satisfies them.
cublasStatus_t cublasLtMatmulPreferenceCreate(cublasLtMatmulPreference_t *preference) {
    *preference = (cublasLtMatmulPreference_t) new cublasLtMatmulPreferenceOpaque_t();
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulPreferenceDestroy(cublasLtMatmulPreference_t preference) {
    delete preference;
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulPreferenceSetAttribute(cublasLtMatmulPreference_t, cublasLtMatmulPreferenceAttributes_t,
                                                    const void *, size_t) {
    return CUBLAS_STATUS_SUCCESS;
}

// An algorithm: configuration attribute a (all of at most 4 bytes; a = 0 is the id) in
// data[a] for a < 7, attributes 7 and 8 in the two halves of data[7].
namespace {
uint32_t *algorithm_word(cublasLtMatmulAlgo_t *algorithm, int attribute) {
    if (attribute < 0 || attribute > 8) return nullptr;
    return attribute < 7 ? (uint32_t *)&algorithm->data[attribute] : (uint32_t *)&algorithm->data[7] + (attribute - 7);
}
}  // namespace
cublasStatus_t cublasLtMatmulAlgoInit(cublasLtHandle_t, cublasComputeType_t, cudaDataType_t, cudaDataType_t,
                                      cudaDataType_t, cudaDataType_t, cudaDataType_t, int id,
                                      cublasLtMatmulAlgo_t *algorithm) {
    if (id < 0 || id >= ALGORITHMS) return CUBLAS_STATUS_INVALID_VALUE;
    memset(algorithm, 0, sizeof *algorithm);
    algorithm->data[0] = (uint64_t)id;
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulAlgoConfigSetAttribute(cublasLtMatmulAlgo_t *algorithm,
                                                    cublasLtMatmulAlgoConfigAttributes_t attribute, const void *value,
                                                    size_t bytes) {
    uint32_t *word = algorithm_word(algorithm, (int)attribute);
    if (word == nullptr || attribute == CUBLASLT_ALGO_CONFIG_ID || bytes > 4) return CUBLAS_STATUS_INVALID_VALUE;
    *word = 0;
    memcpy(word, value, bytes);
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulAlgoConfigGetAttribute(const cublasLtMatmulAlgo_t *algorithm,
                                                    cublasLtMatmulAlgoConfigAttributes_t attribute, void *value,
                                                    size_t bytes, size_t *written) {
    const uint32_t *word = algorithm_word((cublasLtMatmulAlgo_t *)algorithm, (int)attribute);
    if (word == nullptr || bytes > 4) return CUBLAS_STATUS_INVALID_VALUE;
    memcpy(value, word, bytes);
    if (written) *written = bytes;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulAlgoGetHeuristic(cublasLtHandle_t handle, cublasLtMatmulDesc_t description,
                                              cublasLtMatrixLayout_t a, cublasLtMatrixLayout_t b,
                                              cublasLtMatrixLayout_t c, cublasLtMatrixLayout_t d,
                                              cublasLtMatmulPreference_t, int requested,
                                              cublasLtMatmulHeuristicResult_t results[], int *returned) {
    *returned = 0;
    cublasStatus_t s = shape_check((matmul_description *)description, (matrix_layout *)a, (matrix_layout *)b,
                                   (matrix_layout *)c, (matrix_layout *)d);
    if (s != CUBLAS_STATUS_SUCCESS) return s;
    for (int i = 0; i < requested && i < ALGORITHMS; i++) {
        memset(&results[i], 0, sizeof results[i]);
        cublasLtMatmulAlgoInit(handle, CUBLAS_COMPUTE_32F, CUDA_R_32F, CUDA_R_16F, CUDA_R_16F, CUDA_R_16F, CUDA_R_16F,
                               i, &results[i].algo);
        results[i].state = CUBLAS_STATUS_SUCCESS;
        results[i].wavesCount = 1.0f;
        ++*returned;
    }
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulAlgoCheck(cublasLtHandle_t, cublasLtMatmulDesc_t description, cublasLtMatrixLayout_t a,
                                       cublasLtMatrixLayout_t b, cublasLtMatrixLayout_t c, cublasLtMatrixLayout_t d,
                                       const cublasLtMatmulAlgo_t *algorithm, cublasLtMatmulHeuristicResult_t *result) {
    if (algorithm->data[0] >= ALGORITHMS) return CUBLAS_STATUS_INVALID_VALUE;
    cublasStatus_t s = shape_check((matmul_description *)description, (matrix_layout *)a, (matrix_layout *)b,
                                   (matrix_layout *)c, (matrix_layout *)d);
    if (s != CUBLAS_STATUS_SUCCESS) return s;
    memset(result, 0, sizeof *result);
    result->algo = *algorithm;
    result->state = CUBLAS_STATUS_SUCCESS;
    result->wavesCount = 1.0f;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmul(cublasLtHandle_t, cublasLtMatmulDesc_t description, const void *alpha_pointer,
                              const void *a_data, cublasLtMatrixLayout_t a_layout, const void *b_data,
                              cublasLtMatrixLayout_t b_layout, const void *beta_pointer, const void *c_data,
                              cublasLtMatrixLayout_t c_layout, void *d_data, cublasLtMatrixLayout_t d_layout,
                              const cublasLtMatmulAlgo_t *algorithm, void *, size_t, cudaStream_t) {
    const matmul_description *d = (const matmul_description *)description;
    const matrix_layout *a = (const matrix_layout *)a_layout, *b = (const matrix_layout *)b_layout;
    const matrix_layout *c = (const matrix_layout *)c_layout, *out = (const matrix_layout *)d_layout;
    cublasStatus_t s = shape_check(d, a, b, c, out);
    if (s != CUBLAS_STATUS_SUCCESS) return s;
    if (algorithm != nullptr && algorithm->data[0] >= ALGORITHMS) return CUBLAS_STATUS_INVALID_VALUE;
    if (d->epilogue == CUBLASLT_EPILOGUE_BIAS && d->bias == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
    bool ta = d->transpose_a != CUBLAS_OP_N, tb = d->transpose_b != CUBLAS_OP_N;
    uint64_t m = out->rows, n = out->cols, k = ta ? a->rows : a->cols;
    float alpha = *(const float *)alpha_pointer, beta = *(const float *)beta_pointer;
    std::vector<float> left = operand(a, a_data, ta, m, k);    // op(A) rows
    std::vector<float> right = operand(b, b_data, !tb, n, k);  // op(B) columns
    for (uint64_t j = 0; j < n; j++)
        for (uint64_t i = 0; i < m; i++) {
            const float *x = &left[i * k], *y = &right[j * k];
            float sum = 0.0f;
            for (uint64_t p = 0; p < k; p++) sum = fmaf(x[p], y[p], sum);
            float value = alpha * sum;
            if (beta != 0.0f) value += beta * load(c->type, c_data, j * c->ld + i);
            if (d->epilogue == CUBLASLT_EPILOGUE_BIAS) value += load(out->type, d->bias, i);
            store(out->type, d_data, j * out->ld + i, value);
        }
    return CUBLAS_STATUS_SUCCESS;
}
}
