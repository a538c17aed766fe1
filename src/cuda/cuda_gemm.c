// cuda_gemm.c — the cuBLASLt wrapper (see cuda_gemm.h for the contract).
//
// Row-major to cuBLASLt's column-major: out[rows, N] = in[rows, K] · W[N, K]ᵀ is, read
// column-major, D[N, rows] = op(A)·B with A = W stored [K, N] (ld K, transposed) and
// B = in stored [K, rows] (ld K).
#include "cuda/cuda_gemm.h"

#include <cublasLt.h>
#include <cuda_runtime_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/cuda_gemm_tuning.h"
#include "cuda/cuda_kernels.h"

enum { WORKSPACE_BYTES = 32 << 20, MAX_CACHED = 64, TUNING_CANDIDATES = 8, TUNING_REPEATS = 3 };

typedef struct cached_algorithm {
    int out_dim, in_dim, output_type, has_bias, processors, out_stride;
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
    char tuning_path[4096];  // empty: untuned
    int processors;          // the SMs the call in progress may use (0: all); see cuda_gemm_forward_on
    int out_stride;          // the call in progress's elements between out rows (0: out_dim)
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

void cuda_gemm_set_tuning(cuda_gemm_context *context, const char *path) {
    snprintf(context->tuning_path, sizeof context->tuning_path, "%s", path ? path : "");
    context->cached = 0;
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
    cudaDataType_t output = output_type == GEMM_OUTPUT_SCALAR ? scalar : CUDA_R_32F;  // bias: the output's type
    cublasStatus_t s = cublasLtMatmulDescCreate(&g->operation, CUBLAS_COMPUTE_32F, CUDA_R_32F);
    cublasOperation_t transpose = CUBLAS_OP_T, plain = CUBLAS_OP_N;
    if (s == CUBLAS_STATUS_SUCCESS)
        s = cublasLtMatmulDescSetAttribute(g->operation, CUBLASLT_MATMUL_DESC_TRANSA, &transpose, sizeof transpose);
    if (s == CUBLAS_STATUS_SUCCESS)
        s = cublasLtMatmulDescSetAttribute(g->operation, CUBLASLT_MATMUL_DESC_TRANSB, &plain, sizeof plain);
    if (s == CUBLAS_STATUS_SUCCESS && context->processors > 0) {
        int32_t processors = context->processors;  // both the heuristic's choice and the launch's grid
        s = cublasLtMatmulDescSetAttribute(g->operation, CUBLASLT_MATMUL_DESC_SM_COUNT_TARGET, &processors,
                                           sizeof processors);
    }
    if (s == CUBLAS_STATUS_SUCCESS && bias != NULL) {
        cublasLtEpilogue_t epilogue = CUBLASLT_EPILOGUE_BIAS;
        s = cublasLtMatmulDescSetAttribute(g->operation, CUBLASLT_MATMUL_DESC_EPILOGUE, &epilogue, sizeof epilogue);
        if (s == CUBLAS_STATUS_SUCCESS)
            s = cublasLtMatmulDescSetAttribute(g->operation, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias);
    }
    if (s == CUBLAS_STATUS_SUCCESS) s = cublasLtMatrixLayoutCreate(&g->a, scalar, (uint64_t)in_dim, (uint64_t)out_dim, in_dim);
    if (s == CUBLAS_STATUS_SUCCESS) s = cublasLtMatrixLayoutCreate(&g->b, scalar, (uint64_t)in_dim, (uint64_t)rows, in_dim);
    int64_t out_stride = context->out_stride > 0 ? context->out_stride : out_dim;
    if (s == CUBLAS_STATUS_SUCCESS)
        s = cublasLtMatrixLayoutCreate(&g->d, output, (uint64_t)out_dim, (uint64_t)rows, out_stride);
    return s;
}

// cuBLASLt's candidates for the shape, best first by its heuristic (at most `wanted`).
static int heuristic_candidates(cublasLtMatmulHeuristicResult_t *results, int wanted, cuda_gemm_context *context,
                                int output_type, const void *bias, int64_t rows, int in_dim, int out_dim,
                                memprof_error *err) {
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
    int found = 0;
    if (s == CUBLAS_STATUS_SUCCESS)
        s = cublasLtMatmulAlgoGetHeuristic(context->handle, g.operation, g.a, g.b, g.d, g.d, preference, wanted, results,
                                           &found);
    if (preference) cublasLtMatmulPreferenceDestroy(preference);
    destroy_descriptors(&g);
    if (s != CUBLAS_STATUS_SUCCESS || found == 0) {
        error_set(err, MEMPROF_ERR, "cuda gemm: no cuBLASLt algorithm for [%lld x %d] x [%d x %d]^T (status %d)",
                  (long long)rows, in_dim, out_dim, in_dim, (int)s);
        return -1;
    }
    return found;
}

static int choose_algorithm(cublasLtMatmulAlgo_t *out, cuda_gemm_context *context, int output_type, const void *bias,
                            int64_t rows, int in_dim, int out_dim, memprof_error *err) {
    cublasLtMatmulHeuristicResult_t result;
    if (heuristic_candidates(&result, 1, context, output_type, bias, rows, in_dim, out_dim, err) < 1) return MEMPROF_ERR;
    *out = result.algo;
    return 0;
}

// Milliseconds per call of the algorithm on this call's operands (it writes `out`, which the
// real call then overwrites), or a negative number when it cannot run them.
static float time_algorithm(cuda_gemm_context *context, const gemm_descriptors *g, const cublasLtMatmulAlgo_t *algorithm,
                            float beta, void *out, const void *in, const void *weight, void *start, void *stop) {
    cublasLtMatmulHeuristicResult_t check;
    if (cublasLtMatmulAlgoCheck(context->handle, g->operation, g->a, g->b, g->d, g->d, algorithm, &check) !=
            CUBLAS_STATUS_SUCCESS ||
        check.workspaceSize > WORKSPACE_BYTES)
        return -1.0f;
    float one = 1.0f, milliseconds = -1.0f;
    for (int r = 0; r <= TUNING_REPEATS; r++) {  // run 0 warms up
        if (r == 1) cudaEventRecord((cudaEvent_t)start, context->stream);
        if (cublasLtMatmul(context->handle, g->operation, &one, weight, g->a, in, g->b, &beta, out, g->d, out, g->d,
                           algorithm, context->workspace, WORKSPACE_BYTES, context->stream) != CUBLAS_STATUS_SUCCESS)
            return -1.0f;
    }
    cudaEventRecord((cudaEvent_t)stop, context->stream);
    if (cudaEventSynchronize((cudaEvent_t)stop) != cudaSuccess ||
        cudaEventElapsedTime(&milliseconds, (cudaEvent_t)start, (cudaEvent_t)stop) != cudaSuccess)
        return -1.0f;
    return milliseconds / TUNING_REPEATS;
}

// An algorithm as the tuning file stores it: its id and configuration attributes (what
// cublasLtMatmulAlgoInit + ConfigSetAttribute rebuild), not the opaque bytes.
static const struct { cublasLtMatmulAlgoConfigAttributes_t attribute; size_t bytes; } ALGORITHM_WORDS[] = {
    {CUBLASLT_ALGO_CONFIG_ID, 4},           {CUBLASLT_ALGO_CONFIG_TILE_ID, 4},       {CUBLASLT_ALGO_CONFIG_SPLITK_NUM, 4},
    {CUBLASLT_ALGO_CONFIG_REDUCTION_SCHEME, 4}, {CUBLASLT_ALGO_CONFIG_CTA_SWIZZLING, 4}, {CUBLASLT_ALGO_CONFIG_CUSTOM_OPTION, 4},
    {CUBLASLT_ALGO_CONFIG_STAGES_ID, 4},    {CUBLASLT_ALGO_CONFIG_INNER_SHAPE_ID, 2}, {CUBLASLT_ALGO_CONFIG_CLUSTER_SHAPE_ID, 2},
};
enum { ALGORITHM_ATTRIBUTES = sizeof ALGORITHM_WORDS / sizeof ALGORITHM_WORDS[0] };

// Attributes 0–6 one word each; the two 16-bit shape ids share word 7.
static int encode_algorithm(uint64_t words[GEMM_TUNING_WORDS], const cublasLtMatmulAlgo_t *algorithm) {
    memset(words, 0, GEMM_TUNING_WORDS * sizeof words[0]);
    for (int i = 0; i < ALGORITHM_ATTRIBUTES; i++) {
        uint32_t value = 0;  // little-endian: a 2-byte attribute fills the low half
        size_t written = 0;
        if (cublasLtMatmulAlgoConfigGetAttribute(algorithm, ALGORITHM_WORDS[i].attribute, &value, ALGORITHM_WORDS[i].bytes,
                                                 &written) != CUBLAS_STATUS_SUCCESS)
            return -1;
        if (i < 7) words[i] = value;
        else words[7] |= (uint64_t)(value & 0xffffu) << (16 * (i - 7));
    }
    return 0;
}

static int decode_algorithm(cublasLtMatmulAlgo_t *algorithm, const uint64_t words[GEMM_TUNING_WORDS],
                            const cuda_gemm_context *context, int output_type) {
    cudaDataType_t scalar = context->scalar_type == CUDA_SCALAR_FP16 ? CUDA_R_16F : CUDA_R_16BF;
    cudaDataType_t output = output_type == GEMM_OUTPUT_SCALAR ? scalar : CUDA_R_32F;
    if (cublasLtMatmulAlgoInit(context->handle, CUBLAS_COMPUTE_32F, CUDA_R_32F, scalar, scalar, output, output,
                               (int)(int32_t)words[0], algorithm) != CUBLAS_STATUS_SUCCESS)
        return -1;
    for (int i = 1; i < ALGORITHM_ATTRIBUTES; i++) {
        uint32_t value = i < 7 ? (uint32_t)words[i] : (uint32_t)(words[7] >> (16 * (i - 7))) & 0xffffu;
        if (cublasLtMatmulAlgoConfigSetAttribute(algorithm, ALGORITHM_WORDS[i].attribute, &value,
                                                 ALGORITHM_WORDS[i].bytes) != CUBLAS_STATUS_SUCCESS)
            return -1;
    }
    return 0;
}

// The tuning file's algorithm for this shape; when it has none, the fastest of cuBLASLt's
// candidates for the planned rows, timed on this call, written there for every other user.
static int tuned_algorithm(cublasLtMatmulAlgo_t *chosen, cuda_gemm_context *context, int output_type, const void *bias,
                           int64_t selection, void *out, const void *in, const void *weight, int64_t rows, int in_dim,
                           int out_dim, memprof_error *err) {
    struct cudaDeviceProp properties;
    int device = 0;
    if (cudaGetDevice(&device) != cudaSuccess || cudaGetDeviceProperties(&properties, device) != cudaSuccess)
        return error_set(err, MEMPROF_ERR, "cuda gemm: cannot name the device for the tuning file");
    char key[GEMM_TUNING_KEY_MAX];
    gemm_tuning_key(key, properties.name, cublasLtGetVersion(), context->scalar_type, out_dim, in_dim, selection,
                    output_type, bias != NULL);
    if (context->processors > 0) {  // an algorithm timed on part of the GPU is another key
        size_t used = strlen(key);
        snprintf(key + used, sizeof key - used, "|on %d SMs", context->processors);
    }
    if (context->out_stride > 0 && context->out_stride != out_dim) {  // and one timed on strided out rows
        size_t used = strlen(key);
        snprintf(key + used, sizeof key - used, "|out rows %d apart", context->out_stride);
    }
    FILE *file;
    if (gemm_tuning_open(&file, context->tuning_path, err) != 0) return MEMPROF_ERR;
    uint64_t words[GEMM_TUNING_WORDS];
    if (gemm_tuning_find(words, file, key)) {
        gemm_tuning_close(file);
        gemm_descriptors g;
        cublasLtMatmulHeuristicResult_t check;
        int usable = decode_algorithm(chosen, words, context, output_type) == 0 &&
                     make_descriptors(&g, context, output_type, bias, rows, in_dim, out_dim) == CUBLAS_STATUS_SUCCESS;
        if (usable) {
            usable = cublasLtMatmulAlgoCheck(context->handle, g.operation, g.a, g.b, g.d, g.d, chosen, &check) ==
                         CUBLAS_STATUS_SUCCESS && check.workspaceSize <= WORKSPACE_BYTES;
            destroy_descriptors(&g);
        }
        if (!usable)
            return error_set(err, MEMPROF_ERR, "cuda gemm: %s: the line for \"%s\" is not an algorithm this GPU "
                             "and cuBLASLt can run", context->tuning_path, key);
        return 0;
    }
    cublasLtMatmulHeuristicResult_t candidates[TUNING_CANDIDATES];
    int count = heuristic_candidates(candidates, TUNING_CANDIDATES, context, output_type, bias, selection, in_dim,
                                     out_dim, err);
    gemm_descriptors g;
    cudaEvent_t start = NULL, stop = NULL;
    int best = -1;
    float best_milliseconds = 0.0f;
    // An accumulating GEMM's timing runs add into `out` again and again: its values are kept
    // aside and put back afterwards.
    int accumulate = output_type == GEMM_OUTPUT_FLOAT_ACCUMULATE;
    size_t out_bytes = (size_t)rows * (size_t)(context->out_stride > 0 ? context->out_stride : out_dim) * 4;
    void *kept = NULL;
    if (count > 0 && accumulate &&
        (cudaMalloc(&kept, out_bytes) != cudaSuccess ||
         cudaMemcpyAsync(kept, out, out_bytes, cudaMemcpyDeviceToDevice, context->stream) != cudaSuccess)) {
        cudaFree(kept);
        gemm_tuning_close(file);
        return error_set(err, MEMPROF_ERR, "cuda gemm: tuning: cannot keep a copy of %zu MB of output aside",
                         out_bytes >> 20);
    }
    if (count > 0 && make_descriptors(&g, context, output_type, bias, rows, in_dim, out_dim) == CUBLAS_STATUS_SUCCESS) {
        if (cudaEventCreate(&start) == cudaSuccess && cudaEventCreate(&stop) == cudaSuccess) {
            for (int i = 0; i < count; i++) {
                float milliseconds = time_algorithm(context, &g, &candidates[i].algo, accumulate ? 1.0f : 0.0f, out, in,
                                                    weight, start, stop);
                if (milliseconds >= 0.0f && (best < 0 || milliseconds < best_milliseconds)) {
                    best = i;
                    best_milliseconds = milliseconds;
                }
            }
        }
        destroy_descriptors(&g);
    }
    if (start) cudaEventDestroy(start);
    if (stop) cudaEventDestroy(stop);
    if (kept != NULL) {
        cudaError_t restored = cudaMemcpyAsync(out, kept, out_bytes, cudaMemcpyDeviceToDevice, context->stream);
        if (restored == cudaSuccess) restored = cudaStreamSynchronize(context->stream);
        cudaFree(kept);
        if (restored != cudaSuccess) {
            gemm_tuning_close(file);
            return error_set(err, MEMPROF_ERR, "cuda gemm: tuning: cannot put the output back (%s)",
                             cudaGetErrorString(restored));
        }
    }
    (void)cudaGetLastError();  // a candidate that failed to run must not read as a later launch failure
    int status = count < 1 ? MEMPROF_ERR : 0;
    if (status == 0 && best < 0)
        status = error_set(err, MEMPROF_ERR, "cuda gemm: tuning: no candidate ran [%lld x %d] x [%d x %d]^T",
                           (long long)rows, in_dim, out_dim, in_dim);
    if (status == 0 && encode_algorithm(words, &candidates[best].algo) != 0)
        status = error_set(err, MEMPROF_ERR, "cuda gemm: tuning: cannot read the chosen algorithm's configuration");
    if (status == 0) status = gemm_tuning_append(file, key, words, err);
    gemm_tuning_close(file);
    if (status == 0) *chosen = candidates[best].algo;
    return status;
}

static int gemm_forward(cuda_gemm_context *context, void *out, int output_type, const void *in, const void *weight,
                        const void *bias, int64_t rows, int in_dim, int out_dim, memprof_error *err) {
    int has_bias = bias != NULL;
    cublasLtMatmulAlgo_t algorithm;
    int index = -1;
    for (int i = 0; i < context->cached; i++) {
        cached_algorithm *c = &context->cache[i];
        if (c->out_dim == out_dim && c->in_dim == in_dim && c->output_type == output_type && c->has_bias == has_bias &&
            c->processors == context->processors && c->out_stride == context->out_stride)
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
        int status = context->tuning_path[0]
                         ? tuned_algorithm(&algorithm, context, output_type, bias, selection, out, in, weight, rows,
                                           in_dim, out_dim, err)
                         : choose_algorithm(&algorithm, context, output_type, bias, selection, in_dim, out_dim, err);
        if (status != 0) return status;
        if (context->cached < MAX_CACHED) {
            context->cache[context->cached] = (cached_algorithm){
                out_dim, in_dim, output_type, has_bias, context->processors, context->out_stride, algorithm};
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
    float one = 1.0f, beta = output_type == GEMM_OUTPUT_FLOAT_ACCUMULATE ? 1.0f : 0.0f;
    if (s == CUBLAS_STATUS_SUCCESS)
        s = cublasLtMatmul(context->handle, g.operation, &one, weight, g.a, in, g.b, &beta, out, g.d, out, g.d,
                           &algorithm, context->workspace, WORKSPACE_BYTES, context->stream);
    destroy_descriptors(&g);
    if (s != CUBLAS_STATUS_SUCCESS)
        return error_set(err, MEMPROF_ERR, "cuda gemm: cublasLtMatmul failed for [%lld x %d] x [%d x %d]^T (status %d)",
                         (long long)rows, in_dim, out_dim, in_dim, (int)s);
    return 0;
}

int cuda_gemm_forward(cuda_gemm_context *context, void *out, int output_type, const void *in, const void *weight,
                      const void *bias, int64_t rows, int in_dim, int out_dim, memprof_error *err) {
    return cuda_gemm_forward_on(context, 0, out, output_type, in, weight, bias, rows, in_dim, out_dim, err);
}

int cuda_gemm_forward_on(cuda_gemm_context *context, int processors, void *out, int output_type, const void *in,
                         const void *weight, const void *bias, int64_t rows, int in_dim, int out_dim,
                         memprof_error *err) {
    if (rows == 0) return 0;
    context->processors = processors > 0 ? processors : 0;
    int status = gemm_forward(context, out, output_type, in, weight, bias, rows, in_dim, out_dim, err);
    context->processors = 0;
    return status;
}

int cuda_gemm_forward_strided(cuda_gemm_context *context, void *out, int out_stride, int output_type, const void *in,
                              const void *weight, const void *bias, int64_t rows, int in_dim, int out_dim,
                              memprof_error *err) {
    if (out_stride < out_dim)
        return error_set(err, MEMPROF_ERR, "cuda gemm: out rows %d elements apart, fewer than their %d columns",
                         out_stride, out_dim);
    if (rows == 0) return 0;
    context->out_stride = out_stride == out_dim ? 0 : out_stride;
    int status = gemm_forward(context, out, output_type, in, weight, bias, rows, in_dim, out_dim, err);
    context->out_stride = 0;
    return status;
}
