// cuda_model.c — uploads a checkpoint to the GPU in fp16 or bf16, builds the rotary tables
// and plans the activation buffers from free device memory (or a --max-gpu-memory cap).
#include <cuda_runtime_api.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/cuda_internal.h"
#include "cuda/cuda_kernels.h"
#include "memprof/rotary.h"

#define CUDA_CHECK(call, err, what)                                                                     \
    do {                                                                                                \
        cudaError_t cuda_status_ = (call);                                                              \
        if (cuda_status_ != cudaSuccess)                                                                \
            return error_set(err, MEMPROF_ERR, "cuda backend: %s: %s", what, cudaGetErrorString(cuda_status_)); \
    } while (0)

enum { SCALAR_BYTES = 2 };

// Converts one tensor to the device scalar type through an fp32 staging buffer.
static int upload_tensor(void **slot, char **cursor, float *host, float *staging, const checkpoint *ckpt,
                         const char *name, int64_t expected, const cuda_model *model, memprof_error *err) {
    const tensor_view *tensor = checkpoint_tensor(ckpt, name);
    if (tensor == NULL) return error_set(err, MEMPROF_ERR, "tensor %s: missing from checkpoint", name);
    if (tensor->numel != expected)
        return error_set(err, MEMPROF_ERR, "tensor %s: %lld elements, expected %lld", name, (long long)tensor->numel,
                         (long long)expected);
    if (tensor_read_f32(host, tensor, err) != 0) return error_prefix(err, "tensor %s", name);
    CUDA_CHECK(cudaMemcpy(staging, host, (size_t)expected * sizeof(float), cudaMemcpyHostToDevice), err, name);
    if (cuda_convert_from_float(*cursor, staging, expected, model->scalar_type, model->stream) != 0 ||
        cudaStreamSynchronize((cudaStream_t)model->stream) != cudaSuccess)  // staging is reused next
        return error_set(err, MEMPROF_ERR, "cuda backend: converting %s failed", name);
    *slot = *cursor;
    *cursor += ((size_t)expected * SCALAR_BYTES + 255) & ~(size_t)255;  // 256-byte aligned tensors
    return 0;
}

static size_t aligned(int64_t elements) { return ((size_t)elements * SCALAR_BYTES + 255) & ~(size_t)255; }

int cuda_model_load(cuda_model **out, const checkpoint *ckpt, const backend_options *options, memprof_error *err) {
    int devices = 0;
    if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0)
        return error_set(err, MEMPROF_ERR, "cuda backend: no CUDA device is available");
    int device = options ? options->device : 0;
    if (device < 0 || device >= devices)
        return error_set(err, MEMPROF_ERR, "cuda backend: device %d requested but this node has %d (one rank per GPU: "
                         "see docs/sweep.md, rank layout)", device, devices);
    if (cudaSetDevice(device) != cudaSuccess)
        return error_set(err, MEMPROF_ERR, "cuda backend: cannot select device %d", device);
    const model_config *c = checkpoint_config(ckpt);
    cuda_model *model = calloc(1, sizeof *model);
    if (model == NULL) return error_set(err, MEMPROF_ERR_NOMEM, "cuda backend: out of memory");
    model->config = *c;
    compute_precision precision = options ? options->precision : PRECISION_DEFAULT;
    if (precision == PRECISION_FP32) {
        free(model);
        return error_set(err, MEMPROF_ERR_UNSUPPORTED, "cuda backend: computes in fp16 or bf16 (fp32 is the cpu backend)");
    }
    model->scalar_type = precision == PRECISION_BF16 ? CUDA_SCALAR_BF16 : CUDA_SCALAR_FP16;
    model->batch_sequences = options ? options->batch_sequences : 0;
    model->memory_cap = options && options->max_memory_gb > 0 ? (size_t)(options->max_memory_gb * 1e9) : 0;
    const tensor_view *embedding = checkpoint_tensor(ckpt, "gpt_neox.embed_in.weight");
    model->weight_dtype = embedding ? embedding->dtype : TENSOR_F16;

    int status = 0;
    cudaStream_t stream;
    if (cudaStreamCreate(&stream) != cudaSuccess) {
        free(model);
        return error_set(err, MEMPROF_ERR, "cuda backend: cannot create a stream");
    }
    model->stream = stream;

    int64_t d = c->hidden_size, ff = c->intermediate_size, V = c->vocab_size, L = c->num_hidden_layers;
    size_t bytes = 2 * aligned(V * d) + 2 * aligned(d);
    for (int64_t l = 0; l < L; l++)
        bytes += 4 * aligned(d) + aligned(3 * d * d) + aligned(3 * d) + aligned(d * d) + aligned(d) + aligned(ff * d) +
                 aligned(ff) + aligned(d * ff) + aligned(d);
    model->weight_bytes = bytes;
    model->layers = calloc((size_t)L, sizeof *model->layers);
    int64_t largest = V * d > ff * d ? V * d : ff * d;
    float *host = malloc((size_t)largest * sizeof(float));
    float *staging = NULL;
    if (model->layers == NULL || host == NULL) status = error_set(err, MEMPROF_ERR_NOMEM, "cuda backend: out of host memory");
    if (status == 0 && cudaMalloc(&model->weights, bytes) != cudaSuccess)
        status = error_set(err, MEMPROF_ERR, "cuda backend: cannot allocate %zu MB for the weights", bytes >> 20);
    if (status == 0 && cudaMalloc((void **)&staging, (size_t)largest * sizeof(float)) != cudaSuccess)
        status = error_set(err, MEMPROF_ERR, "cuda backend: cannot allocate the upload staging buffer");

    char *cursor = model->weights;
    if (status == 0)
        status = upload_tensor(&model->embed_in, &cursor, host, staging, ckpt, "gpt_neox.embed_in.weight", V * d, model, err);
    for (int64_t l = 0; l < L && status == 0; l++) {
        cuda_layer_weights *w = &model->layers[l];
        struct { void **slot; const char *suffix; int64_t numel; } parts[] = {
            {&w->ln1_weight, "input_layernorm.weight", d}, {&w->ln1_bias, "input_layernorm.bias", d},
            {&w->ln2_weight, "post_attention_layernorm.weight", d}, {&w->ln2_bias, "post_attention_layernorm.bias", d},
            {&w->qkv_weight, "attention.query_key_value.weight", 3 * d * d},
            {&w->qkv_bias, "attention.query_key_value.bias", 3 * d},
            {&w->dense_weight, "attention.dense.weight", d * d}, {&w->dense_bias, "attention.dense.bias", d},
            {&w->up_weight, "mlp.dense_h_to_4h.weight", ff * d}, {&w->up_bias, "mlp.dense_h_to_4h.bias", ff},
            {&w->down_weight, "mlp.dense_4h_to_h.weight", d * ff}, {&w->down_bias, "mlp.dense_4h_to_h.bias", d},
        };
        for (size_t p = 0; p < sizeof parts / sizeof parts[0] && status == 0; p++) {
            char name[TENSOR_NAME_MAX];
            snprintf(name, sizeof name, "gpt_neox.layers.%lld.%s", (long long)l, parts[p].suffix);
            status = upload_tensor(parts[p].slot, &cursor, host, staging, ckpt, name, parts[p].numel, model, err);
        }
    }
    if (status == 0)
        status = upload_tensor(&model->final_ln_weight, &cursor, host, staging, ckpt, "gpt_neox.final_layer_norm.weight",
                               d, model, err);
    if (status == 0)
        status = upload_tensor(&model->final_ln_bias, &cursor, host, staging, ckpt, "gpt_neox.final_layer_norm.bias", d,
                               model, err);
    if (status == 0)
        status = upload_tensor(&model->embed_out, &cursor, host, staging, ckpt, "embed_out.weight", V * d, model, err);
    if (status == 0 && cudaStreamSynchronize(stream) != cudaSuccess)
        status = error_set(err, MEMPROF_ERR, "cuda backend: weight upload failed");
    cudaFree(staging);
    free(host);
    if (status == 0) status = cuda_gemm_create(&model->gemm, model->scalar_type, 0, model->stream, err);
    if (status != 0) {
        cuda_model_free(model);
        return status;
    }
    model->peak_bytes = model->weight_bytes + cuda_gemm_workspace_bytes();
    *out = model;
    return 0;
}

void cuda_model_free(cuda_model *model) {
    if (model == NULL) return;
    cuda_gemm_destroy(model->gemm);
    cudaFree(model->weights);
    cudaFree(model->activations);
    cudaFree(model->cos_table);
    cudaFree(model->sin_table);
    if (model->stream) cudaStreamDestroy((cudaStream_t)model->stream);
    free(model->layers);
    free(model);
}

// Bytes of activations per token (see cuda_internal.h) and per logits row.
static size_t bytes_per_token(const model_config *c) {
    size_t d = (size_t)c->hidden_size, ff = (size_t)c->intermediate_size;
    return 3 * 4 * d + 6 * SCALAR_BYTES * d + SCALAR_BYTES * ff + 3 * 4 + 2 * 8 + 8;
}

// Points the activation slots into `base` (256-byte aligned each) and returns the bytes used;
// with base NULL it only measures.
static size_t lay_out_activations(cuda_model *model, void *base, int64_t tokens, int sequences, int64_t logits_rows) {
    const model_config *c = &model->config;
    size_t d = (size_t)c->hidden_size, ff = (size_t)c->intermediate_size, N = (size_t)tokens, offset = 0;
    char *p = base;
#define TAKE(slot, type, bytes)                                      \
    do {                                                             \
        if (base) slot = (type)(p + offset);                         \
        offset += ((size_t)(bytes) + 255) & ~(size_t)255;            \
    } while (0)
    TAKE(model->residual, float *, N * d * 4);
    TAKE(model->branch, float *, N * d * 4);
    TAKE(model->mlp, float *, N * d * 4);
    TAKE(model->norm1, void *, N * d * SCALAR_BYTES);
    TAKE(model->norm2, void *, N * d * SCALAR_BYTES);
    TAKE(model->attention, void *, N * d * SCALAR_BYTES);
    TAKE(model->qkv, void *, N * 3 * d * SCALAR_BYTES);
    TAKE(model->hidden, void *, N * ff * SCALAR_BYTES);
    TAKE(model->tokens, int32_t *, N * 4);
    TAKE(model->positions, int32_t *, N * 4);
    TAKE(model->targets, int32_t *, N * 4);
    TAKE(model->surprisal, double *, N * 8);
    TAKE(model->entropy, double *, N * 8);
    TAKE(model->rank, int64_t *, N * 8);
    TAKE(model->starts, int32_t *, (size_t)sequences * 4);
    TAKE(model->lengths, int32_t *, (size_t)sequences * 4);
    TAKE(model->logits, float *, (size_t)logits_rows * c->vocab_size * 4);
#undef TAKE
    return offset;
}

int cuda_plan_sequences(int64_t *out_logits_rows, const model_config *c, size_t free_bytes, size_t memory_cap,
                        size_t fixed_bytes, int64_t max_length) {
    size_t per_token = bytes_per_token(c), per_logits_row = (size_t)c->vocab_size * 4;
    size_t headroom = (size_t)512 << 20;  // the CUDA context, lazily loaded kernels, rotary tables
    size_t budget = free_bytes > headroom ? free_bytes - headroom : 0;
    if (memory_cap) {
        size_t allowed = memory_cap > fixed_bytes ? memory_cap - fixed_bytes : 0;
        if (allowed < budget) budget = allowed;
    }
    // Logits take at most a quarter of the budget, never more than 8192 rows.
    size_t logits_rows = budget / 4 / per_logits_row;
    if (logits_rows > 8192) logits_rows = 8192;
    size_t remaining = budget - logits_rows * per_logits_row;
    int64_t fit = (int64_t)(remaining / (per_token * (size_t)max_length));
    if (fit < 1 || logits_rows < 1) return 0;
    // At most 2^31 − 1 elements in the widest activation ([N, 3d] or [N, ff]): library
    // kernels may index in 32 bits, and throughput saturates long before that many rows.
    int64_t widest = 3 * (int64_t)c->hidden_size > c->intermediate_size ? 3 * (int64_t)c->hidden_size
                                                                       : c->intermediate_size;
    int64_t index_limit = (int64_t)INT32_MAX / widest / max_length;
    if (fit > index_limit) fit = index_limit > 0 ? index_limit : 1;
    *out_logits_rows = (int64_t)logits_rows;
    return fit > 4096 ? 4096 : (int)fit;
}

int cuda_plan_batch(int *out_sequences, cuda_model *model, int64_t max_length, memprof_error *err) {
    const model_config *c = &model->config;
    int sequences = model->batch_sequences;
    int64_t planned_logits_rows = 8192;
    if (sequences <= 0) {
        size_t free_bytes = 0, total_bytes = 0;
        CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes), err, "cudaMemGetInfo");
        // Our own activations are free to reuse.
        free_bytes += (size_t)model->capacity_tokens * bytes_per_token(c) +
                      (size_t)model->logits_rows * (size_t)c->vocab_size * 4;
        sequences = cuda_plan_sequences(&planned_logits_rows, c, free_bytes, model->memory_cap,
                                        model->weight_bytes + cuda_gemm_workspace_bytes(), max_length);
        if (sequences < 1)
            return error_set(err, MEMPROF_ERR, "cuda backend: not enough GPU memory for one sequence of %lld tokens "
                             "(%zu MB free%s)", (long long)max_length, free_bytes >> 20,
                             model->memory_cap ? ", under the --max-gpu-memory cap" : "");
    }
    int64_t tokens = (int64_t)sequences * max_length;
    // An allocation that holds this plan's tokens is kept (with at most the sequences it was
    // laid out for): reallocating would also choose the GEMM algorithms again for a new row
    // count, and a sequence's bits would then depend on what was scored before it.
    if (model->activations != NULL && tokens <= model->capacity_tokens) {
        if (sequences > model->capacity_sequences) sequences = model->capacity_sequences;
        *out_sequences = sequences;
        return 0;
    }
    int64_t logits_rows = tokens < planned_logits_rows ? tokens : planned_logits_rows;
    cudaFree(model->activations);
    model->activations = NULL;
    model->capacity_tokens = model->capacity_sequences = model->logits_rows = 0;
    size_t total = lay_out_activations(model, NULL, tokens, sequences, logits_rows);
    if (cudaMalloc(&model->activations, total) != cudaSuccess)
        return error_set(err, MEMPROF_ERR, "cuda backend: cannot allocate %zu MB of activations for %d sequences "
                         "of %lld tokens", total >> 20, sequences, (long long)max_length);
    lay_out_activations(model, model->activations, tokens, sequences, logits_rows);
    model->capacity_tokens = tokens;
    model->capacity_sequences = sequences;
    model->logits_rows = logits_rows;
    model->peak_bytes = model->weight_bytes + cuda_gemm_workspace_bytes() + total;
    cuda_gemm_set_selection_rows(model->gemm, tokens);
    *out_sequences = sequences;
    return 0;
}

// The same tables as the CPU backend (rotary.h), uploaded once per longest sequence seen.
int cuda_rotary_prepare(cuda_model *model, int64_t positions, memprof_error *err) {
    if (positions <= model->table_positions) return 0;
    int half = model->config.rotary_dims / 2;
    if (half < 1) half = 1;
    size_t count = (size_t)positions * (size_t)half;
    float *cos_host = malloc(count * sizeof(float)), *sin_host = malloc(count * sizeof(float));
    if (!cos_host || !sin_host) {
        free(cos_host), free(sin_host);
        return error_set(err, MEMPROF_ERR_NOMEM, "cuda backend: out of memory for rotary tables");
    }
    rotary_tables_compute(cos_host, sin_host, &model->config, model->weight_dtype, positions);
    cudaFree(model->cos_table);
    cudaFree(model->sin_table);
    model->cos_table = model->sin_table = NULL;
    int status = 0;
    if (cudaMalloc((void **)&model->cos_table, count * sizeof(float)) != cudaSuccess ||
        cudaMalloc((void **)&model->sin_table, count * sizeof(float)) != cudaSuccess ||
        cudaMemcpy(model->cos_table, cos_host, count * sizeof(float), cudaMemcpyHostToDevice) != cudaSuccess ||
        cudaMemcpy(model->sin_table, sin_host, count * sizeof(float), cudaMemcpyHostToDevice) != cudaSuccess)
        status = error_set(err, MEMPROF_ERR, "cuda backend: cannot upload rotary tables");
    free(cos_host);
    free(sin_host);
    if (status == 0) model->table_positions = positions;
    return status;
}
