// cuda_gemm.c — the cuBLASLt wrapper (see cuda_gemm.h for the contract).
//
// Row-major to cuBLASLt's column-major: out[rows, N] = in[rows, K] · W[N, K]ᵀ is, read
// column-major, D[N, rows] = op(A)·B with A = W stored [K, N] (ld K, transposed) and
// B = in stored [K, rows] (ld K).
#include "cuda/cuda_gemm.h"

#include <cublasLt.h>
#include <cuda_runtime_api.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/cuda_kernels.h"

enum { WORKSPACE_BYTES = 32 << 20, MAX_CACHED = 64 };

typedef struct cached_algorithm {
    int out_dim, in_dim, output_type, has_bias;
    cublasLtMatmulAlgo_t algorithm;
} cached_algorithm;

struct cuda_gemm_context {
    cublasLtHandle_t handle;
    cudaStream_t stream;
    void *workspace;
    int scalar_type;
    int64_t selection_rows;
    cached_algorithm cache[MAX_CACHED];
    int cached;
};

size_t cuda_gemm_workspace_bytes(void) { return WORKSPACE_BYTES; }

int cuda_gemm_create(cuda_gemm_context **out, int scalar_type, int64_t selection_rows, void *stream,
                     memprof_error *err) {
    cuda_gemm_context *context = calloc(1, sizeof *context);
    if (context == NULL) return error_set(err, MEMPROF_ERR_NOMEM, "cuda gemm: out of memory");
    context->scalar_type = scalar_type;
    context->selection_rows = selection_rows;
    context->stream = (cudaStream_t)stream;
    cublasStatus_t status = cublasLtCreate(&context->handle);
    if (status != CUBLAS_STATUS_SUCCESS) {
        free(context);
        return error_set(err, MEMPROF_ERR, "cuda gemm: cublasLtCreate failed (status %d)", (int)status);
    }
    if (cudaMalloc(&context->workspace, WORKSPACE_BYTES) != cudaSuccess) {
        cublasLtDestroy(context->handle);
        free(context);
        return error_set(err, MEMPROF_ERR, "cuda gemm: cannot allocate a %d MB workspace", WORKSPACE_BYTES >> 20);
    }
    *out = context;
    return 0;
}

void cuda_gemm_destroy(cuda_gemm_context *context) {
    if (context == NULL) return;
    cudaFree(context->workspace);
    cublasLtDestroy(context->handle);
    free(context);
}

void cuda_gemm_set_selection_rows(cuda_gemm_context *context, int64_t rows) {
    context->selection_rows = rows;
    context->cached = 0;  // algorithms are chosen again for the new plan
}

typedef struct gemm_descriptors {
    cublasLtMatmulDesc_t operation;
    cublasLtMatrixLayout_t a, b, d;
} gemm_descriptors;

static void destroy_descriptors(gemm_descriptors *g) {
    if (g->operation) cublasLtMatmulDescDestroy(g->operation);
    if (g->a) cublasLtMatrixLayoutDestroy(g->a);
    if (g->b) cublasLtMatrixLayoutDestroy(g->b);
    if (g->d) cublasLtMatrixLayoutDestroy(g->d);
}

static cublasStatus_t make_descriptors(gemm_descriptors *g, const cuda_gemm_context *context, int output_type,
                                       const void *bias, int64_t rows, int in_dim, int out_dim) {
    memset(g, 0, sizeof *g);
    cudaDataType_t scalar = context->scalar_type == CUDA_SCALAR_FP16 ? CUDA_R_16F : CUDA_R_16BF;
    cudaDataType_t output = output_type == GEMM_OUTPUT_FLOAT ? CUDA_R_32F : scalar;
    cublasStatus_t s = cublasLtMatmulDescCreate(&g->operation, CUBLAS_COMPUTE_32F, CUDA_R_32F);
    cublasOperation_t transpose = CUBLAS_OP_T, plain = CUBLAS_OP_N;
    if (s == CUBLAS_STATUS_SUCCESS)
        s = cublasLtMatmulDescSetAttribute(g->operation, CUBLASLT_MATMUL_DESC_TRANSA, &transpose, sizeof transpose);
    if (s == CUBLAS_STATUS_SUCCESS)
        s = cublasLtMatmulDescSetAttribute(g->operation, CUBLASLT_MATMUL_DESC_TRANSB, &plain, sizeof plain);
    if (s == CUBLAS_STATUS_SUCCESS && bias != NULL) {
        cublasLtEpilogue_t epilogue = CUBLASLT_EPILOGUE_BIAS;
        s = cublasLtMatmulDescSetAttribute(g->operation, CUBLASLT_MATMUL_DESC_EPILOGUE, &epilogue, sizeof epilogue);
        if (s == CUBLAS_STATUS_SUCCESS)
            s = cublasLtMatmulDescSetAttribute(g->operation, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias);
    }
    if (s == CUBLAS_STATUS_SUCCESS) s = cublasLtMatrixLayoutCreate(&g->a, scalar, (uint64_t)in_dim, (uint64_t)out_dim, in_dim);
    if (s == CUBLAS_STATUS_SUCCESS) s = cublasLtMatrixLayoutCreate(&g->b, scalar, (uint64_t)in_dim, (uint64_t)rows, in_dim);
    if (s == CUBLAS_STATUS_SUCCESS) s = cublasLtMatrixLayoutCreate(&g->d, output, (uint64_t)out_dim, (uint64_t)rows, out_dim);
    return s;
}

static int choose_algorithm(cublasLtMatmulAlgo_t *out, cuda_gemm_context *context, int output_type, const void *bias,
                            int64_t rows, int in_dim, int out_dim, memprof_error *err) {
    gemm_descriptors g;
    cublasStatus_t s = make_descriptors(&g, context, output_type, bias, rows, in_dim, out_dim);
    cublasLtMatmulPreference_t preference = NULL;
    if (s == CUBLAS_STATUS_SUCCESS) s = cublasLtMatmulPreferenceCreate(&preference);
    uint64_t workspace = WORKSPACE_BYTES;
    uint32_t reductions = CUBLASLT_REDUCTION_SCHEME_COMPUTE_TYPE;  // plus "none"; no in-place or fp16 partials
    if (s == CUBLAS_STATUS_SUCCESS)
        s = cublasLtMatmulPreferenceSetAttribute(preference, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &workspace,
                                                 sizeof workspace);
    if (s == CUBLAS_STATUS_SUCCESS)
        s = cublasLtMatmulPreferenceSetAttribute(preference, CUBLASLT_MATMUL_PREF_REDUCTION_SCHEME_MASK, &reductions,
                                                 sizeof reductions);
    cublasLtMatmulHeuristicResult_t result;
    int found = 0;
    if (s == CUBLAS_STATUS_SUCCESS)
        s = cublasLtMatmulAlgoGetHeuristic(context->handle, g.operation, g.a, g.b, g.d, g.d, preference, 1, &result,
                                           &found);
    if (preference) cublasLtMatmulPreferenceDestroy(preference);
    destroy_descriptors(&g);
    if (s != CUBLAS_STATUS_SUCCESS || found == 0)
        return error_set(err, MEMPROF_ERR, "cuda gemm: no cuBLASLt algorithm for [%lld x %d] x [%d x %d]^T (status %d)",
                         (long long)rows, in_dim, out_dim, in_dim, (int)s);
    *out = result.algo;
    return 0;
}

int cuda_gemm_forward(cuda_gemm_context *context, void *out, int output_type, const void *in, const void *weight,
                      const void *bias, int64_t rows, int in_dim, int out_dim, memprof_error *err) {
    if (rows == 0) return 0;
    int has_bias = bias != NULL;
    cublasLtMatmulAlgo_t algorithm;
    int index = -1;
    for (int i = 0; i < context->cached; i++) {
        cached_algorithm *c = &context->cache[i];
        if (c->out_dim == out_dim && c->in_dim == in_dim && c->output_type == output_type && c->has_bias == has_bias)
            index = i;
    }
    if (index < 0) {
        // The planned rows, but no more than keep [rows, max(in, out)] under 2^31 elements:
        // the LM head is only ever called with a logits chunk (≤ 8192 rows), and a 50304 ×
        // 1M-row problem is not one to ask the heuristic about (nor one it must support).
        int64_t selection = context->selection_rows;
        int64_t widest = out_dim > in_dim ? out_dim : in_dim;
        if (selection > (int64_t)INT32_MAX / widest) selection = (int64_t)INT32_MAX / widest;
        if (selection < rows) selection = rows;
        int status = choose_algorithm(&algorithm, context, output_type, bias, selection, in_dim, out_dim, err);
        if (status != 0) return status;
        if (context->cached < MAX_CACHED) {
            context->cache[context->cached] = (cached_algorithm){out_dim, in_dim, output_type, has_bias, algorithm};
            context->cached++;
        }
    } else {
        algorithm = context->cache[index].algorithm;
    }

    gemm_descriptors g;
    cublasStatus_t s = make_descriptors(&g, context, output_type, bias, rows, in_dim, out_dim);
    cublasLtMatmulHeuristicResult_t check;
    if (s == CUBLAS_STATUS_SUCCESS &&
        cublasLtMatmulAlgoCheck(context->handle, g.operation, g.a, g.b, g.d, g.d, &algorithm, &check) !=
            CUBLAS_STATUS_SUCCESS) {
        // The planned algorithm does not fit this shape: choose one for it (documented as the
        // one case where a batch's composition can change low-order bits).
        destroy_descriptors(&g);
        int status = choose_algorithm(&algorithm, context, output_type, bias, rows, in_dim, out_dim, err);
        if (status != 0) return status;
        s = make_descriptors(&g, context, output_type, bias, rows, in_dim, out_dim);
    }
    float one = 1.0f, zero = 0.0f;
    if (s == CUBLAS_STATUS_SUCCESS)
        s = cublasLtMatmul(context->handle, g.operation, &one, weight, g.a, in, g.b, &zero, out, g.d, out, g.d,
                           &algorithm, context->workspace, WORKSPACE_BYTES, context->stream);
    destroy_descriptors(&g);
    if (s != CUBLAS_STATUS_SUCCESS)
        return error_set(err, MEMPROF_ERR, "cuda gemm: cublasLtMatmul failed for [%lld x %d] x [%d x %d]^T (status %d)",
                         (long long)rows, in_dim, out_dim, in_dim, (int)s);
    return 0;
}
