// test_cuda_layers.c — the element- and row-wise kernels of the forward pass (cuda_layers.cu)
// against references computed here in double: both LayerNorms of a layer from one pass (the
// register kernel for every width it takes and the general one for a width that is not a
// multiple of 4), partial rotary, erf GELU (with a tail that is not a multiple of 8), the
// up GEMM with GELU as its epilogue and the dense and down GEMMs as one into the residual
// (Hopper only: SKIP elsewhere), the embedding gather, the summed residual bias and the weight conversions. Inputs are exact in
// both scalar types; a result rounded once to the scalar type may be one unit off the double
// reference rounded, so the bound is 2u·|ref| plus an fp32-sized slack (u = 2⁻¹¹ fp16, 2⁻⁸
// bf16); gather, bias sum and conversions must be exact.
// Needs a GPU: reports SKIP without one. Built with tests/emulator instead
// (test_cuda_layers_emulated), the same checks run the kernels' source on the CPU.
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "test_kernels.h"

#ifdef MEMPROF_CUDA
#include <cuda_runtime_api.h>

#include "cuda/cuda_kernels.h"
#include "model/half.h"

static uint16_t to_bits(float value, int scalar_type) {
    if (scalar_type == CUDA_SCALAR_FP16) return float_to_half_bits(value);
    uint32_t bits;
    memcpy(&bits, &value, 4);
    if ((bits & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((bits >> 16) | 0x40u);  // NaN stays NaN
    bits += 0x7fffu + ((bits >> 16) & 1u);  // round to nearest even
    return (uint16_t)(bits >> 16);
}

static float from_bits(uint16_t bits, int scalar_type) {
    if (scalar_type == CUDA_SCALAR_FP16) return half_bits_to_float(bits);
    uint32_t wide = (uint32_t)bits << 16;
    float value;
    memcpy(&value, &wide, 4);
    return value;
}

// A multiple of 1/64 in [−range, range]: exact in fp16 and bf16 for range ≤ 2.
static float exact_random(uint64_t *state, int range) {
    return (float)((int)(next_random(state) % (uint64_t)(128 * range + 1)) - 64 * range) / 64.0f;
}

static void *device_copy(const void *host, size_t bytes) {
    void *device = NULL;
    if (cudaMalloc(&device, bytes) != cudaSuccess) return NULL;
    if (host && cudaMemcpy(device, host, bytes, cudaMemcpyHostToDevice) != cudaSuccess) {
        cudaFree(device);
        return NULL;
    }
    return device;
}

static int fetch(void *host, const void *device, size_t bytes) {
    return cudaDeviceSynchronize() == cudaSuccess && cudaMemcpy(host, device, bytes, cudaMemcpyDeviceToHost) == cudaSuccess;
}

static double unit(int scalar_type) { return scalar_type == CUDA_SCALAR_FP16 ? 1.0 / 2048 : 1.0 / 256; }
static const char *type_name(int scalar_type) { return scalar_type == CUDA_SCALAR_FP16 ? "fp16" : "bf16"; }

static void check_layernorm(int dim, int rows, int second_output, int scalar_type) {
    char name[160];
    snprintf(name, sizeof name, WHERE "layernorm %s, dim %d, %d rows, %s", type_name(scalar_type), dim, rows,
             second_output ? "two outputs" : "one output");
    uint64_t state = (uint64_t)dim * 3 + (uint64_t)scalar_type;
    float *in = malloc((size_t)rows * dim * 4);
    uint16_t *params = malloc((size_t)4 * dim * 2), *out = malloc((size_t)2 * rows * dim * 2);
    for (int64_t i = 0; i < (int64_t)rows * dim; i++) in[i] = 3.0f + 4.0f * exact_random(&state, 2);  // off-centre
    for (int i = 0; i < 4 * dim; i++) params[i] = to_bits(exact_random(&state, 2), scalar_type);
    float *in_device = device_copy(in, (size_t)rows * dim * 4);
    uint16_t *params_device = device_copy(params, (size_t)4 * dim * 2), *out_device = device_copy(NULL, (size_t)2 * rows * dim * 2);
    const char *failure = !in_device || !params_device || !out_device ? "device allocation failed" : NULL;
    if (!failure && cuda_layernorm_forward(out_device, second_output ? out_device + (size_t)rows * dim : NULL, in_device,
                                           params_device, params_device + dim, params_device + 2 * dim,
                                           params_device + 3 * dim, rows, dim, 1e-5f, scalar_type, NULL) != 0)
        failure = "launch failed";
    if (!failure && !fetch(out, out_device, (size_t)2 * rows * dim * 2)) failure = "the kernel failed";
    double worst = 0;
    for (int r = 0; r < rows && !failure; r++) {
        const float *x = in + (size_t)r * dim;
        double mean = 0, variance = 0;
        for (int i = 0; i < dim; i++) mean += x[i];
        mean /= dim;
        for (int i = 0; i < dim; i++) variance += (x[i] - mean) * (x[i] - mean);
        double inverse_std = 1.0 / sqrt(variance / dim + 1e-5);
        for (int o = 0; o < (second_output ? 2 : 1); o++)
            for (int i = 0; i < dim; i++) {
                double w = from_bits(params[(2 * o) * dim + i], scalar_type), b = from_bits(params[(2 * o + 1) * dim + i], scalar_type);
                double expected = (x[i] - mean) * inverse_std * w + b;
                double got = from_bits(out[((size_t)o * rows + r) * dim + i], scalar_type);
                double ratio = fabs(got - expected) / (2 * unit(scalar_type) * fabs(expected) + 1e-4);
                if (!(ratio <= worst)) worst = isnan(ratio) ? INFINITY : ratio;
            }
    }
    if (!failure && worst > 1) failure = "an output is outside the bound";
    CHECK(name, failure == NULL, "%s: worst error %.2f of the bound", failure ? failure : "", worst);
    cudaFree(in_device), cudaFree(params_device), cudaFree(out_device);
    free(in), free(params), free(out);
}

static void check_rotary(int heads, int head_dim, int rotary_dims, int scalar_type) {
    char name[160];
    snprintf(name, sizeof name, WHERE "rotary %s, %d heads of %d, %d rotated", type_name(scalar_type), heads, head_dim,
             rotary_dims);
    enum { TOKENS = 37, POSITIONS = 50 };
    int width = 3 * heads * head_dim, half = rotary_dims / 2;
    uint64_t state = (uint64_t)head_dim * 5 + (uint64_t)rotary_dims;
    uint16_t *qkv = malloc((size_t)TOKENS * width * 2), *out = malloc((size_t)TOKENS * width * 2);
    float *cos_table = malloc((size_t)POSITIONS * half * 4), *sin_table = malloc((size_t)POSITIONS * half * 4);
    int32_t positions[TOKENS];
    for (int i = 0; i < TOKENS * width; i++) qkv[i] = to_bits(exact_random(&state, 2), scalar_type);
    for (int i = 0; i < POSITIONS * half; i++) {
        double angle = 0.37 * i;
        cos_table[i] = (float)cos(angle), sin_table[i] = (float)sin(angle);
    }
    for (int t = 0; t < TOKENS; t++) positions[t] = (int32_t)(next_random(&state) % POSITIONS);
    uint16_t *qkv_device = device_copy(qkv, (size_t)TOKENS * width * 2);
    float *cos_device = device_copy(cos_table, (size_t)POSITIONS * half * 4), *sin_device = device_copy(sin_table, (size_t)POSITIONS * half * 4);
    int32_t *positions_device = device_copy(positions, sizeof positions);
    const char *failure = !qkv_device || !cos_device || !sin_device || !positions_device ? "device allocation failed" : NULL;
    if (!failure && cuda_rotary_forward(qkv_device, cos_device, sin_device, positions_device, TOKENS, heads, head_dim,
                                        rotary_dims, scalar_type, NULL) != 0)
        failure = "launch failed";
    if (!failure && !fetch(out, qkv_device, (size_t)TOKENS * width * 2)) failure = "the kernel failed";
    double worst = 0;
    int64_t changed_elsewhere = 0;
    for (int t = 0; t < TOKENS && !failure; t++)
        for (int h = 0; h < heads; h++)
            for (int role = 0; role < 3; role++)
                for (int i = 0; i < head_dim; i++) {
                    size_t at = (size_t)t * width + (size_t)h * 3 * head_dim + (size_t)role * head_dim;
                    if (role == 2 || i >= rotary_dims) {  // v, and the dims past rot: untouched
                        changed_elsewhere += out[at + i] != qkv[at + i];
                        continue;
                    }
                    int pair = i < half ? i : i - half;
                    double c = cos_table[positions[t] * half + pair], s = sin_table[positions[t] * half + pair];
                    double first = from_bits(qkv[at + pair], scalar_type), second = from_bits(qkv[at + pair + half], scalar_type);
                    double expected = i < half ? first * c - second * s : second * c + first * s;
                    double ratio = fabs(from_bits(out[at + i], scalar_type) - expected) / (2 * unit(scalar_type) * fabs(expected) + 1e-6);
                    if (!(ratio <= worst)) worst = isnan(ratio) ? INFINITY : ratio;
                }
    if (!failure && worst > 1) failure = "a rotated value is outside the bound";
    if (!failure && changed_elsewhere) failure = "a value outside the rotated dims changed";
    CHECK(name, failure == NULL, "%s: worst error %.2f of the bound, %lld others changed", failure ? failure : "", worst,
          (long long)changed_elsewhere);
    cudaFree(qkv_device), cudaFree(cos_device), cudaFree(sin_device), cudaFree(positions_device);
    free(qkv), free(out), free(cos_table), free(sin_table);
}

static void check_gelu(int64_t count, int scalar_type) {
    char name[160];
    snprintf(name, sizeof name, WHERE "gelu %s, %lld values", type_name(scalar_type), (long long)count);
    uint64_t state = (uint64_t)count;
    uint16_t *values = malloc((size_t)count * 2), *out = malloc((size_t)count * 2);
    for (int64_t i = 0; i < count; i++) values[i] = to_bits(3.0f * exact_random(&state, 2), scalar_type);
    uint16_t *device = device_copy(values, (size_t)count * 2);
    const char *failure = device ? NULL : "device allocation failed";
    if (!failure && cuda_gelu_forward(device, count, scalar_type, NULL) != 0) failure = "launch failed";
    if (!failure && !fetch(out, device, (size_t)count * 2)) failure = "the kernel failed";
    double worst = 0;
    for (int64_t i = 0; i < count && !failure; i++) {
        double x = from_bits(values[i], scalar_type), expected = 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
        double ratio = fabs(from_bits(out[i], scalar_type) - expected) / (2 * unit(scalar_type) * fabs(expected) + 1e-6);
        if (!(ratio <= worst)) worst = isnan(ratio) ? INFINITY : ratio;
    }
    if (!failure && worst > 1) failure = "a value is outside the bound";
    CHECK(name, failure == NULL, "%s: worst error %.2f of the bound", failure ? failure : "", worst);
    cudaFree(device);
    free(values), free(out);
}

// GELU on rows [rows, width] stride apart (the joined residual GEMM's operand): the packed
// kernel's bits (held to double above) on the rows, the columns between them untouched.
static void check_gelu_rows(int64_t rows, int width, int stride, int scalar_type) {
    char name[160];
    snprintf(name, sizeof name, WHERE "gelu %s on %lld rows of %d, %d apart", type_name(scalar_type), (long long)rows,
             width, stride);
    uint64_t state = (uint64_t)rows * 31 + (uint64_t)width;
    size_t count = (size_t)rows * (size_t)stride, packed_count = (size_t)rows * (size_t)width;
    uint16_t *values = malloc(count * 2), *out = malloc(count * 2), *packed = malloc(packed_count * 2);
    for (size_t i = 0; i < count; i++) values[i] = to_bits(3.0f * exact_random(&state, 2), scalar_type);
    for (int64_t r = 0; r < rows; r++) memcpy(packed + r * width, values + r * stride, (size_t)width * 2);
    uint16_t *device = device_copy(values, count * 2), *packed_device = device_copy(packed, packed_count * 2);
    const char *failure = device && packed_device ? NULL : "device allocation failed";
    if (!failure && (cuda_gelu_rows_forward(device, rows, width, stride, scalar_type, NULL) != 0 ||
                     cuda_gelu_forward(packed_device, (int64_t)packed_count, scalar_type, NULL) != 0))
        failure = "launch failed";
    if (!failure && (!fetch(out, device, count * 2) || !fetch(packed, packed_device, packed_count * 2)))
        failure = "the kernel failed";
    int64_t differing = 0, touched = 0;
    for (int64_t r = 0; r < rows && !failure; r++)
        for (int i = 0; i < stride; i++) {
            uint16_t got = out[r * stride + i];
            if (i < width)
                differing += got != packed[r * width + i];
            else
                touched += got != values[r * stride + i];
        }
    if (!failure && differing) failure = "values differ from the packed kernel's";
    if (!failure && touched) failure = "a value between the rows changed";
    CHECK(name, failure == NULL, "%s: %lld differ, %lld between the rows changed", failure ? failure : "",
          (long long)differing, (long long)touched);
    cudaFree(device), cudaFree(packed_device);
    free(values), free(out), free(packed);
}

// The rows whose outputs are checked against double: all of them in the small cases; in the
// GPU-sized ones (over 256 rows) the first and the last 128 (the first tile and the partial
// last one) and every 11th row between, so that each row tile is checked while the double
// reference stays a few seconds of one core (all 2100 rows of the residual case took
// longer than the device check's 60 s: 2026-11-27).
static int checked_row(int64_t row, int64_t rows) {
    return rows <= 256 || row < 128 || row >= rows - 128 || row % 11 == 0;
}

// A fused GEMM's launch status: −1 (not covered here) is reported as skipped; returns the
// failure to report, or NULL where the outputs are to be checked.
static const char *fused_launch_failure(const char *name, const char *failure, int launched, void *out,
                                        const void *device, size_t bytes, int *skipped) {
    *skipped = launched == -1 && failure == NULL;
    if (*skipped) {
        SKIP(name, "the device is not compute capability 9.x, this build has no sm_90a code or the driver no tensor-map encoder");
        return NULL;
    }
    if (!failure && launched != 0) failure = "launch failed";
    if (!failure && !fetch(out, device, bytes)) failure = "the kernel failed";
    return failure;
}

// The up GEMM with bias and GELU as its epilogue (cuda_gemm_fused.cu) against the same in
// double: out = gelu(Σ_k in·w + bias), rounded once; the bound adds to check_gelu's the
// fp32 accumulation's error (K·2⁻²³·Σ|in·w|, GELU's slope being at most 1.13). Shapes: k
// and column tails (TMA's zero fill past the ends), more k steps than stages, a partial
// row tile; `processors` (set_emulated_processors) makes the persistent blocks take several
// tiles each. Both schedules (cooperative and ping-pong).
static void check_gemm_gelu(int64_t rows, int in_dim, int out_dim, int processors, int pingpong, int scalar_type) {
    char name[200];
    char blocks[48] = "";
    if (processors) snprintf(blocks, sizeof blocks, ", at most %d blocks", processors);
    snprintf(name, sizeof name, WHERE "gemm + gelu epilogue %s%s, %lld rows × %d → %d%s", pingpong ? "ping-pong " : "",
             type_name(scalar_type), (long long)rows, in_dim, out_dim, blocks);
    uint64_t state = (uint64_t)rows * 7 + (uint64_t)in_dim + (uint64_t)scalar_type;
    size_t in_count = (size_t)rows * in_dim, weight_count = (size_t)out_dim * in_dim, out_count = (size_t)rows * out_dim;
    uint16_t *in = malloc(in_count * 2), *weight = malloc(weight_count * 2), *bias = malloc((size_t)out_dim * 2);
    uint16_t *out = malloc(out_count * 2);
    // Products of multiples of 1/64 (|in| ≤ 2, |w| ≤ 1/8): sums of a few hundred stay in GELU's curved range.
    for (size_t i = 0; i < in_count; i++) in[i] = to_bits(exact_random(&state, 2), scalar_type);
    for (size_t i = 0; i < weight_count; i++) weight[i] = to_bits(exact_random(&state, 2) / 16.0f, scalar_type);
    for (int i = 0; i < out_dim; i++) bias[i] = to_bits(exact_random(&state, 2), scalar_type);
    uint16_t *in_device = device_copy(in, in_count * 2), *weight_device = device_copy(weight, weight_count * 2);
    uint16_t *bias_device = device_copy(bias, (size_t)out_dim * 2), *out_device = device_copy(NULL, out_count * 2);
    const char *failure = !in_device || !weight_device || !bias_device || !out_device ? "device allocation failed" : NULL;
    set_emulated_processors(processors);
    int launched = failure ? 0 : cuda_gemm_gelu_forward(out_device, in_device, weight_device, bias_device, rows, in_dim,
                                                        out_dim, pingpong, scalar_type, NULL);
    set_emulated_processors(0);
    int skipped;
    failure = fused_launch_failure(name, failure, launched, out, out_device, out_count * 2, &skipped);
    if (!skipped) {
        double worst = 0;
        float *in_row = malloc((size_t)in_dim * sizeof(float)), *weights = malloc(weight_count * sizeof(float));
        for (size_t i = 0; i < weight_count; i++) weights[i] = from_bits(weight[i], scalar_type);
        for (int64_t r = 0; r < rows && !failure; r++) {
            if (!checked_row(r, rows)) continue;
            for (int k = 0; k < in_dim; k++) in_row[k] = from_bits(in[(size_t)r * in_dim + k], scalar_type);
            for (int c = 0; c < out_dim; c++) {
                const float *w = weights + (size_t)c * in_dim;
                double sum = from_bits(bias[c], scalar_type), magnitude = 0;
                for (int k = 0; k < in_dim; k++) sum += (double)in_row[k] * w[k], magnitude += fabs((double)in_row[k] * w[k]);
                double expected = 0.5 * sum * (1.0 + erf(sum / sqrt(2.0)));
                double slack = 1.2 * in_dim * ldexp(magnitude, -23) + 1e-6;
                double got = from_bits(out[(size_t)r * out_dim + c], scalar_type);
                double ratio = fabs(got - expected) / (2 * unit(scalar_type) * fabs(expected) + slack);
                if (!(ratio <= worst)) worst = isnan(ratio) ? INFINITY : ratio;
            }
        }
        if (!failure && worst > 1) failure = "an output is outside the bound";
        CHECK(name, failure == NULL, "%s: worst error %.2f of the bound", failure ? failure : "", worst);
        free(in_row), free(weights);
    }
    cudaFree(in_device), cudaFree(weight_device), cudaFree(bias_device), cudaFree(out_device);
    free(in), free(weight), free(bias), free(out);
}

// The dense and down GEMMs as one accumulating into the fp32 residual (cuda_gemm_fused.cu)
// against the same in double: residual + Σ attention·W_dense + Σ hidden·W_down + bias, one
// fp32 rounding of a sum accumulated in fp32 (bound: both parts' k·2⁻²³·Σ|products| and the
// final rounding). Parts that are not whole k steps (TMA's zero fill between them).
static void check_gemm_residual(int64_t rows, int dim, int hidden_dim, int processors, int scalar_type) {
    char name[200], blocks[48] = "";
    if (processors) snprintf(blocks, sizeof blocks, ", at most %d blocks", processors);
    snprintf(name, sizeof name, WHERE "dense + down gemm into the residual %s, %lld rows, dim %d, hidden %d%s",
             type_name(scalar_type), (long long)rows, dim, hidden_dim, blocks);
    uint64_t state = (uint64_t)rows * 11 + (uint64_t)hidden_dim + (uint64_t)scalar_type;
    size_t attention_count = (size_t)rows * dim, hidden_count = (size_t)rows * hidden_dim;
    size_t dense_count = (size_t)dim * dim, down_count = (size_t)dim * hidden_dim;
    uint16_t *attention = malloc(attention_count * 2), *hidden = malloc(hidden_count * 2);
    uint16_t *dense = malloc(dense_count * 2), *down = malloc(down_count * 2);
    float *residual = malloc(attention_count * 4), *out = malloc(attention_count * 4), *bias = malloc((size_t)dim * 4);
    for (size_t i = 0; i < attention_count; i++) attention[i] = to_bits(exact_random(&state, 2), scalar_type);
    for (size_t i = 0; i < hidden_count; i++) hidden[i] = to_bits(exact_random(&state, 2), scalar_type);
    for (size_t i = 0; i < dense_count; i++) dense[i] = to_bits(exact_random(&state, 2) / 16.0f, scalar_type);
    for (size_t i = 0; i < down_count; i++) down[i] = to_bits(exact_random(&state, 2) / 16.0f, scalar_type);
    for (size_t i = 0; i < attention_count; i++) residual[i] = 40.0f * exact_random(&state, 2);
    for (int i = 0; i < dim; i++) bias[i] = exact_random(&state, 2);
    uint16_t *attention_device = device_copy(attention, attention_count * 2), *hidden_device = device_copy(hidden, hidden_count * 2);
    uint16_t *dense_device = device_copy(dense, dense_count * 2), *down_device = device_copy(down, down_count * 2);
    float *residual_device = device_copy(residual, attention_count * 4), *bias_device = device_copy(bias, (size_t)dim * 4);
    const char *failure = !attention_device || !hidden_device || !dense_device || !down_device || !residual_device ||
                                  !bias_device
                              ? "device allocation failed"
                              : NULL;
    set_emulated_processors(processors);
    int launched = failure ? 0 : cuda_gemm_residual_forward(residual_device, attention_device, dense_device, hidden_device,
                                                            down_device, bias_device, rows, dim, hidden_dim, scalar_type,
                                                            NULL);
    set_emulated_processors(0);
    int skipped;
    failure = fused_launch_failure(name, failure, launched, out, residual_device, attention_count * 4, &skipped);
    if (!skipped) {
        double worst = 0;
        // Converted once: the weights whole, a row's inputs as it comes.
        float *dense_values = malloc(dense_count * sizeof(float)), *down_values = malloc(down_count * sizeof(float));
        float *row_values = malloc((size_t)(dim + hidden_dim) * sizeof(float));
        for (size_t i = 0; i < dense_count; i++) dense_values[i] = from_bits(dense[i], scalar_type);
        for (size_t i = 0; i < down_count; i++) down_values[i] = from_bits(down[i], scalar_type);
        for (int64_t r = 0; r < rows && !failure; r++) {
            if (!checked_row(r, rows)) continue;
            for (int k = 0; k < dim; k++) row_values[k] = from_bits(attention[(size_t)r * dim + k], scalar_type);
            for (int k = 0; k < hidden_dim; k++)
                row_values[dim + k] = from_bits(hidden[(size_t)r * hidden_dim + k], scalar_type);
            for (int c = 0; c < dim; c++) {
                double sum = (double)residual[(size_t)r * dim + c] + bias[c], magnitude = 0;
                for (int part = 0; part < 2; part++) {
                    int k_count = part ? hidden_dim : dim;
                    const float *a = row_values + (part ? dim : 0);
                    const float *w = (part ? down_values : dense_values) + (size_t)c * k_count;
                    for (int k = 0; k < k_count; k++) {
                        double product = (double)a[k] * w[k];
                        sum += product, magnitude += fabs(product);
                    }
                }
                double slack = (dim + hidden_dim) * ldexp(magnitude, -23) + ldexp(fabs(sum), -23) + 1e-6;
                double ratio = fabs(out[(size_t)r * dim + c] - sum) / slack;
                if (!(ratio <= worst)) worst = isnan(ratio) ? INFINITY : ratio;
            }
        }
        if (!failure && worst > 1) failure = "an output is outside the bound";
        CHECK(name, failure == NULL, "%s: worst error %.2f of the bound", failure ? failure : "", worst);
        free(dense_values), free(down_values), free(row_values);
    }
    cudaFree(attention_device), cudaFree(hidden_device), cudaFree(dense_device), cudaFree(down_device);
    cudaFree(residual_device), cudaFree(bias_device);
    free(attention), free(hidden), free(dense), free(down), free(residual), free(out), free(bias);
}

// Embedding gather, summed bias and weight conversions: exact.
static void check_exact_kernels(int scalar_type) {
    char name[160];
    enum { VOCAB = 50, DIM = 24, TOKENS = 13, COUNT = 1000 };
    uint64_t state = 99 + (uint64_t)scalar_type;
    uint16_t embedding[VOCAB * DIM], biases[2 * DIM];
    int32_t tokens[TOKENS];
    for (int i = 0; i < VOCAB * DIM; i++) embedding[i] = to_bits(exact_random(&state, 2), scalar_type);
    for (int i = 0; i < 2 * DIM; i++) biases[i] = to_bits(exact_random(&state, 2) / 3.0f, scalar_type);
    for (int t = 0; t < TOKENS; t++) tokens[t] = (int32_t)(next_random(&state) % VOCAB);
    float residual[TOKENS * DIM], sum[DIM];
    void *embedding_device = device_copy(embedding, sizeof embedding), *biases_device = device_copy(biases, sizeof biases);
    int32_t *tokens_device = device_copy(tokens, sizeof tokens);
    float *residual_device = device_copy(NULL, sizeof residual), *sum_device = device_copy(NULL, sizeof sum);
    int ok = embedding_device && biases_device && tokens_device && residual_device && sum_device &&
             cuda_embedding_forward(residual_device, embedding_device, tokens_device, TOKENS, DIM, scalar_type, NULL) == 0 &&
             cuda_bias_sum(sum_device, biases_device, (uint16_t *)biases_device + DIM, DIM, scalar_type, NULL) == 0 &&
             fetch(residual, residual_device, sizeof residual) && fetch(sum, sum_device, sizeof sum);
    int64_t wrong = 0;
    for (int t = 0; ok && t < TOKENS; t++)
        for (int i = 0; i < DIM; i++) wrong += residual[t * DIM + i] != from_bits(embedding[tokens[t] * DIM + i], scalar_type);
    snprintf(name, sizeof name, WHERE "embedding gather %s: exact", type_name(scalar_type));
    CHECK(name, ok && wrong == 0, "%s, %lld values differ", ok ? "ran" : "failed", (long long)wrong);
    wrong = 0;
    for (int i = 0; ok && i < DIM; i++)
        wrong += sum[i] != (float)((double)from_bits(biases[i], scalar_type) + from_bits(biases[DIM + i], scalar_type));
    snprintf(name, sizeof name, WHERE "residual bias sum %s: exact", type_name(scalar_type));
    CHECK(name, ok && wrong == 0, "%s, %lld values differ", ok ? "ran" : "failed", (long long)wrong);

    // Conversions into this type: from fp32, and from the other 16-bit type (through fp32).
    float source[COUNT];
    uint16_t other[COUNT], got[COUNT];
    int other_type = scalar_type == CUDA_SCALAR_FP16 ? CUDA_SCALAR_BF16 : CUDA_SCALAR_FP16;
    for (int i = 0; i < COUNT; i++) {
        source[i] = (float)((next_random(&state) % 2000001) / 1e6 - 1.0) * 3.0f;  // not exact: rounding decides
        other[i] = to_bits(source[i], other_type);
    }
    void *source_device = device_copy(source, sizeof source), *other_device = device_copy(other, sizeof other);
    void *out_device = device_copy(NULL, sizeof got);
    int64_t wrong_float = -1, wrong_other = -1;
    if (source_device && other_device && out_device &&
        cuda_convert_weights(out_device, source_device, COUNT, CUDA_SOURCE_F32, scalar_type, NULL) == 0 &&
        fetch(got, out_device, sizeof got)) {
        wrong_float = 0;
        for (int i = 0; i < COUNT; i++) wrong_float += got[i] != to_bits(source[i], scalar_type);
    }
    if (source_device && other_device && out_device &&
        cuda_convert_weights(out_device, other_device, COUNT,
                             other_type == CUDA_SCALAR_FP16 ? CUDA_SOURCE_F16 : CUDA_SOURCE_BF16, scalar_type, NULL) == 0 &&
        fetch(got, out_device, sizeof got)) {
        wrong_other = 0;
        for (int i = 0; i < COUNT; i++) wrong_other += got[i] != to_bits(from_bits(other[i], other_type), scalar_type);
    }
    snprintf(name, sizeof name, WHERE "weight conversion to %s from fp32 and %s: round to nearest even",
             type_name(scalar_type), type_name(other_type));
    CHECK(name, wrong_float == 0 && wrong_other == 0, "%lld and %lld values differ (-1: did not run)",
          (long long)wrong_float, (long long)wrong_other);
    // The same from fp32 into rows: COUNT / 8 rows of 8 values, 24 apart (a weight beside
    // another, MEMPROF_RESIDUAL_GEMM=joined), the columns between left as they were.
    enum { ROW = 8, ROW_STRIDE = 24 };
    uint16_t rows_got[COUNT / ROW * ROW_STRIDE];
    memset(rows_got, 0xab, sizeof rows_got);
    void *rows_device = device_copy(rows_got, sizeof rows_got);
    int64_t wrong_rows = -1;
    if (source_device && rows_device &&
        cuda_convert_weights_rows(rows_device, ROW_STRIDE, source_device, COUNT / ROW, ROW, CUDA_SOURCE_F32,
                                  scalar_type, NULL) == 0 &&
        fetch(rows_got, rows_device, sizeof rows_got)) {
        wrong_rows = 0;
        for (int i = 0; i < COUNT / ROW * ROW_STRIDE; i++) {
            int row = i / ROW_STRIDE, column = i % ROW_STRIDE;
            uint16_t expected = column < ROW ? to_bits(source[row * ROW + column], scalar_type) : 0xabab;
            wrong_rows += rows_got[i] != expected;
        }
    }
    snprintf(name, sizeof name, WHERE "weight conversion to %s from fp32 into rows 24 apart", type_name(scalar_type));
    CHECK(name, wrong_rows == 0, "%lld values differ (-1: did not run)", (long long)wrong_rows);
    cudaFree(rows_device);
    cudaFree(embedding_device), cudaFree(biases_device), cudaFree(tokens_device), cudaFree(residual_device),
        cudaFree(sum_device), cudaFree(source_device), cudaFree(other_device), cudaFree(out_device);
}

int main(void) {
    int devices = 0;
    if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
        SKIP("cuda layers", "no CUDA device is available");
        return 0;
    }
    for (int scalar = CUDA_SCALAR_FP16; scalar <= CUDA_SCALAR_BF16; scalar++) {
        // Register kernel with 1, 2, 4 and 8 float4 per thread; the general kernel at dim 102.
        static const int dims[] = {64, 512, 2048, 4096, 5120, 102};
        for (int i = 0; i < 6; i++) check_layernorm(dims[i], 3, 1, scalar);
        check_layernorm(512, 2, 0, scalar);
        // Pythia: rotary_pct 0.25. The kernel's vector width is the widest of 4, 2, 1 that
        // divides rot/2: 2 (16, 4), 2 (80, 20: 2.8b), 4 (128, 32), 1 (rot/2 = 3).
        check_rotary(3, 16, 4, scalar);
        check_rotary(3, 80, 20, scalar);
        check_rotary(32, 80, 20, scalar);  // 2.8b: 320 items a row, not a multiple of a block
        check_rotary(2, 128, 32, scalar);
        check_rotary(2, 24, 6, scalar);
        check_rotary(2, 32, 32, scalar);  // every dim rotated
        check_gelu(8 * 300 + 5, scalar);
        check_gelu(5, scalar);  // the tail alone
        // Three blocks of 4 × 256 loads, the last one partial (not every load group full).
        check_gelu(8 * (2 * 4 * 256 + 3 * 256 + 17) + 7, scalar);
        // The joined operand's MLP half: rows of ff = 4d, d + ff apart (d = 64 and 512, 70m's),
        // a few vectors a row and rows that split a block's loads.
        check_gelu_rows(37, 256, 320, scalar);
        check_gelu_rows(300, 2048, 2560, scalar);
        check_gelu_rows(3, 8, 24, scalar);
        CHECK(WHERE "gelu on rows refuses rows of 12 values (not whole vectors of 8)",
              cuda_gelu_rows_forward(NULL, 1, 12, 16, scalar, NULL) != 0, "accepted");
        for (int pingpong = 0; pingpong <= 1; pingpong++) {
            check_gemm_gelu(200, 72, 264, 0, pingpong, scalar);   // k tail (72 = 64 + 8), column tail (264 = 256 + 8)
            check_gemm_gelu(300, 448, 512, 0, pingpong, scalar);  // 7 k steps through 4 or 6 stages, a partial row tile
            check_gemm_gelu(9, 64, 256, 0, pingpong, scalar);     // the fixtures' shape: fewer rows than a tile
#ifdef MEMPROF_CUDA_EMULATED
            // 6 (cooperative) or 10 tiles on 2 blocks: stages' phases across tiles, turns
            check_gemm_gelu(130, 128, 520, 2, pingpong, scalar);
            check_gemm_gelu(250, 64, 256, 3, pingpong, scalar);   // ping-pong: 4 tiles on 3 blocks, two with one tile
            // 13 k steps, over twice the stages: a warpgroup that waited on a stage two phases
            // ahead (ping-pong without its turns) would pass the parity wait on old data.
            check_gemm_gelu(130, 832, 264, 2, pingpong, scalar);
#else
            check_gemm_gelu(2100, 256, 2048, 0, pingpong, scalar);  // 136 or 272 tiles: more than an H100's 132 blocks
            check_gemm_gelu(256, 832, 520, 0, pingpong, scalar);    // 13 k steps, over twice the stages
#endif
        }
        // Parts of 72 and 296 (not whole steps), column and row tails; the fixtures' shape.
        check_gemm_residual(200, 264, 296, 0, scalar);
        check_gemm_residual(9, 64, 256, 0, scalar);
#ifdef MEMPROF_CUDA_EMULATED
        check_gemm_residual(130, 264, 512, 2, scalar);  // several tiles per block
#else
        check_gemm_residual(2100, 2048, 256, 0, scalar);  // 136 tiles: more than an H100's 132 blocks
#endif
        check_exact_kernels(scalar);
    }
    return test_failures ? 1 : 0;
}
#else
int main(void) {
    SKIP("cuda layers", "no CUDA backend compiled in (built with CUDA=0)");
    return test_failures;
}
#endif
