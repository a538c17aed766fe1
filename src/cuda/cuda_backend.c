// cuda_backend.c — the GPU backend: batches of sequences laid end to end, the GPT-NeoX
// forward in fp16/bf16 with fp32 accumulation and an fp32 residual stream, and the LM head
// in chunks of logits rows folded into the statistics on the device (or, with
// MEMPROF_LM_HEAD=fused, one kernel that folds the logits as it computes them).
//
// Per layer (N tokens): LN1+LN2 (one pass) → QKV GEMM (+bias epilogue) → rotary (or, with
// MEMPROF_ROTARY=attention, inside the TMA attention) →
// attention (tensor cores for head dims 32–256, else the exact warp kernel) → dense GEMM
// accumulating into the fp32 residual (+ both residual biases, summed in fp32, as its
// epilogue) ; up GEMM (+bias epilogue) → erf GELU (or both in one kernel:
// MEMPROF_UP_GEMM=fused-gelu[-pingpong]) → down GEMM accumulating into the residual (or
// dense and down as one GEMM: MEMPROF_RESIDUAL_GEMM=fused, our kernel; =joined, cuBLASLt over
// k = d + ff, the attention and GELU writing their rows side by side). The parallel
// residual x + attn(ln1 x) + mlp(ln2 x) thus needs no pass of its own: both branches read
// LN outputs made before the residual changes.
#include <cuda_runtime_api.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/cuda_internal.h"
#include "cuda/cuda_kernels.h"

// The launchers return cudaGetLastError(); a benign error that an earlier library call
// (cuBLASLt) left behind would read as a launch failure, so it is cleared first (sticky
// errors from faulting kernels persist through the clear and are still reported).
#define KERNEL(call, what)                                                                        \
    do {                                                                                          \
        (void)cudaGetLastError();                                                                 \
        int kernel_status_ = (call);                                                              \
        if (kernel_status_ != 0)                                                                  \
            return error_set(err, MEMPROF_ERR, "cuda backend: %s failed: %s", what,               \
                             cudaGetErrorString((cudaError_t)kernel_status_));                    \
        if (sync_steps() && step_synchronize(m, what, err) != 0) return MEMPROF_ERR;              \
        cuda_profile_mark(&m->profile, m->stream, what);                                          \
    } while (0)

#define GEMM(call, what)                                                                 \
    do {                                                                                 \
        int gemm_status_ = (call);                                                       \
        if (gemm_status_ != 0) return gemm_status_;                                      \
        if (sync_steps() && step_synchronize(m, what, err) != 0) return MEMPROF_ERR;     \
        cuda_profile_mark(&m->profile, m->stream, what);                                 \
    } while (0)

// MEMPROF_CUDA_SYNC=1 waits for every step of the forward pass and names the one whose
// kernel faulted (otherwise an asynchronous fault surfaces at the batch's final copy).
static int sync_steps(void) {
    static int cached = -1;
    if (cached < 0) {
        const char *value = getenv("MEMPROF_CUDA_SYNC");
        cached = value != NULL && *value != '\0' && strcmp(value, "0") != 0;
    }
    return cached;
}

static int step_synchronize(const cuda_model *m, const char *what, memprof_error *err) {
    cudaError_t status = cudaStreamSynchronize((cudaStream_t)m->stream);
    if (status != cudaSuccess)
        return error_set(err, MEMPROF_ERR, "cuda backend: %s failed on the device (MEMPROF_CUDA_SYNC): %s", what,
                         cudaGetErrorString(status));
    return 0;
}

static int cuda_load(void **out_model, const checkpoint *ckpt, const backend_options *options, memprof_error *err) {
    cuda_model *model;
    int status = cuda_model_load(&model, ckpt, options, err);
    if (status == 0) *out_model = model;
    return status;
}

// Makes the device that holds the model's weights current on this host thread (the current
// device is per thread, and the sweep loads on a prefetch thread and scores on another).
static void select_model_device(const cuda_model *m) {
    struct cudaPointerAttributes where;
    if (m->weights != NULL && cudaPointerGetAttributes(&where, m->weights) == cudaSuccess &&
        where.type == cudaMemoryTypeDevice)
        cudaSetDevice(where.device);
    (void)cudaGetLastError();  // a failed query leaves the current device as it was
}

static void cuda_unload(void *model) {
    if (model) select_model_device(model);
    cuda_model_free(model);
}

// Weights shared in memory (docs/sweep.md): the device buffer, and a model to receive one.
static int cuda_allocate(void **out_model, const model_config *config, tensor_dtype weight_dtype,
                         const backend_options *options, memprof_error *err) {
    cuda_model *model;
    int status = cuda_model_allocate(&model, config, weight_dtype, options, err);
    if (status == 0) *out_model = model;
    return status;
}

static int cuda_weights_view(backend_weights *out, void *handle) {
    cuda_model *m = handle;
    *out = (backend_weights){.data = m->weights, .bytes = m->weight_bytes, .on_device = 1, .device = m->device,
                             .config = &m->config, .weight_dtype = m->weight_dtype,
                             .layout = m->residual_gemm == RESIDUAL_GEMM_JOINED ? RESIDUAL_GEMM_JOINED : 0};
    return 0;
}

// The chunked LM head's GEMM: on every SM, or with MEMPROF_STATISTICS_SMS on all but the
// SMs kept for the statistics kernel (in both chunk loops, so that they give the same bits).
static int lm_head_gemm(cuda_model *m, float *logits, int64_t start, int64_t rows, memprof_error *err) {
    const model_config *c = &m->config;
    int processors = m->statistics_processors > 0 ? m->processors - m->statistics_processors : 0;
    return cuda_gemm_forward_on(m->gemm, processors, logits, GEMM_OUTPUT_FLOAT,
                                (const char *)m->norm1 + start * (int64_t)c->hidden_size * 2, m->embed_out, NULL, rows,
                                (int)c->hidden_size, c->vocab_size, err);
}

// The chunked LM head with chunk c's statistics beside chunk c + 1's GEMM: chunks of half the
// logits rows, alternating between the buffer's two halves; a GEMM waits until the statistics
// of the chunk two before it have read its half, and the model's stream waits for the last
// statistics before anything after the head (the sequence sums) reads them. cuBLASLt's GEMM
// holds every SM (one persistent block each), so without MEMPROF_STATISTICS_SMS the two
// kernels in fact take turns; with it, the GEMMs run on the other SMs and each statistics
// kernel but the last is one 16-warp block per kept SM (the last, beside no GEMM, a warp per row).
static int chunked_head_overlapped(cuda_model *m, int64_t tokens_count, memprof_error *err) {
    const model_config *c = &m->config;
    cudaStream_t stream = m->stream, statistics_stream = m->statistics_stream;
    int64_t chunk_rows = m->logits_rows / 2;
    int chunk = 0;
    for (int64_t start = 0; start < tokens_count; start += chunk_rows, chunk++) {
        int64_t rows = tokens_count - start < chunk_rows ? tokens_count - start : chunk_rows;
        int half = chunk & 1;
        float *logits = m->logits + (size_t)half * (size_t)chunk_rows * (size_t)c->vocab_size;
        if (chunk >= 2 && cudaStreamWaitEvent(stream, m->logits_read[half], 0) != cudaSuccess)
            return error_set(err, MEMPROF_ERR, "cuda backend: cudaStreamWaitEvent failed");
        int status = lm_head_gemm(m, logits, start, rows, err);
        if (status != 0) return status;
        int blocks = start + rows >= tokens_count ? 0 : m->statistics_processors;
        if (cudaEventRecord(m->logits_written[half], stream) != cudaSuccess ||
            cudaStreamWaitEvent(statistics_stream, m->logits_written[half], 0) != cudaSuccess)
            return error_set(err, MEMPROF_ERR, "cuda backend: recording the LM head's chunk events failed");
        (void)cudaGetLastError();  // as KERNEL: a benign error left by cuBLASLt is not this launch's
        int launched = cuda_row_statistics(m->surprisal + start, m->entropy + start, m->rank + start, logits,
                                           m->targets + start, rows, c->vocab_size, blocks, statistics_stream);
        if (launched != 0)
            return error_set(err, MEMPROF_ERR, "cuda backend: statistics failed: %s",
                             cudaGetErrorString((cudaError_t)launched));
        if (cudaEventRecord(m->logits_read[half], statistics_stream) != cudaSuccess)
            return error_set(err, MEMPROF_ERR, "cuda backend: recording the LM head's chunk events failed");
    }
    for (int half = 0; half < 2 && half < chunk; half++)
        if (cudaStreamWaitEvent(stream, m->logits_read[half], 0) != cudaSuccess)
            return error_set(err, MEMPROF_ERR, "cuda backend: cudaStreamWaitEvent failed");
    return 0;
}

// Runs one device batch whose host-side index arrays are already on the device.
static int forward_batch(cuda_model *m, int64_t tokens_count, int sequences, int max_length, memprof_error *err) {
    const model_config *c = &m->config;
    int d = c->hidden_size, ff = c->intermediate_size, H = c->num_attention_heads, hd = c->head_dim;
    int scalar = m->scalar_type;
    // The attention's rows: packed, or beside the MLP's in the joined residual GEMM's operand.
    int attention_stride = m->residual_gemm == RESIDUAL_GEMM_JOINED ? d + ff : H * hd;
    float eps = (float)c->layer_norm_eps;
    cudaStream_t stream = m->stream;

    cuda_profile_mark(&m->profile, stream, NULL);
    KERNEL(cuda_embedding_forward(m->residual, m->embed_in, m->tokens, tokens_count, d, scalar, stream), "embedding");
    for (int l = 0; l < c->num_hidden_layers; l++) {
        const cuda_layer_weights *w = &m->layers[l];
        KERNEL(cuda_layernorm_forward(m->norm1, m->norm2, m->residual, w->ln1_weight, w->ln1_bias, w->ln2_weight,
                                      w->ln2_bias, tokens_count, d, eps, scalar, stream), "layernorm");
        GEMM(cuda_gemm_forward(m->gemm, m->qkv, GEMM_OUTPUT_SCALAR, m->norm1, w->qkv_weight, w->qkv_bias, tokens_count,
                               d, 3 * d, err), "qkv gemm");
        // MEMPROF_ROTARY=attention: the wgmma-tma attention rotates q and k as they land (the same
        // bits); where it does not cover the shape, the pass runs after all (below).
        int rotary_pending = m->rotary_in_attention && m->attention_wgmma == 5;
        if (!rotary_pending)
            KERNEL(cuda_rotary_forward(m->qkv, m->cos_table, m->sin_table, m->positions, tokens_count, H, hd,
                                       c->rotary_dims, scalar, stream), "rotary");
        // Tensor-core kernel where it covers the head dim (wgmma with MEMPROF_ATTENTION=wgmma,
        // wgmma-serial, wgmma-64, wgmma-pingpong, wgmma-tma[-fma25|-fma50], else mma.sync), the exact warp
        // kernel elsewhere. The TMA form maps the qkv buffer's first tokens_count rows.
        (void)cudaGetLastError();
        typedef int (*attention_launcher)(void *, int, const void *, const int32_t *, const int32_t *, int, int, int,
                                          int, int, cuda_stream);
        static const attention_launcher tensor_core[] = {
            cuda_flash_attention_forward, cuda_flash_attention_wgmma_forward, cuda_flash_attention_wgmma_serial_forward,
            cuda_flash_attention_wgmma_small_blocks_forward, cuda_flash_attention_wgmma_pingpong_forward};
        int flash = rotary_pending
                        ? cuda_flash_attention_wgmma_tma_rotary_forward(m->attention, attention_stride, m->qkv,
                                                                        m->starts, m->lengths, sequences, max_length,
                                                                        H, hd, scalar, tokens_count, m->cos_table,
                                                                        m->sin_table, c->rotary_dims, stream)
                    : m->attention_wgmma == 5
                        ? cuda_flash_attention_wgmma_tma_forward(m->attention, attention_stride, m->qkv, m->starts,
                                                                 m->lengths, sequences, max_length, H, hd, scalar,
                                                                 tokens_count, stream)
                    : m->attention_wgmma >= 6
                        ? cuda_flash_attention_wgmma_tma_fma_forward(m->attention, attention_stride, m->qkv, m->starts,
                                                                     m->lengths, sequences, max_length, H, hd, scalar,
                                                                     m->attention_wgmma == 6 ? 4 : 2, tokens_count, stream)
                        : tensor_core[m->attention_wgmma](m->attention, attention_stride, m->qkv, m->starts,
                                                          m->lengths, sequences, max_length, H, hd, scalar, stream);
        if (flash < 0 && rotary_pending) {  // not covered (head dim, rot): the pass, then the TMA form
            KERNEL(cuda_rotary_forward(m->qkv, m->cos_table, m->sin_table, m->positions, tokens_count, H, hd,
                                       c->rotary_dims, scalar, stream), "rotary");
            flash = cuda_flash_attention_wgmma_tma_forward(m->attention, attention_stride, m->qkv, m->starts,
                                                           m->lengths, sequences, max_length, H, hd, scalar,
                                                           tokens_count, stream);
        }
        if (flash < 0 && m->attention_wgmma)
            flash = cuda_flash_attention_forward(m->attention, attention_stride, m->qkv, m->starts, m->lengths,
                                                 sequences, max_length, H, hd, scalar, stream);
        if (flash < 0)
            KERNEL(cuda_attention_forward(m->attention, attention_stride, m->qkv, m->starts, m->lengths, sequences,
                                          max_length, H, hd, scalar, stream), "attention");
        else
            KERNEL(flash, "flash attention");
        KERNEL(cuda_bias_sum(m->layer_bias, w->dense_bias, w->down_bias, d, scalar, stream), "residual bias");
        if (m->residual_gemm == RESIDUAL_GEMM_JOINED) {
            // [attention | hidden] rows (d + ff apart) · [dense | down]ᵀ with k = d + ff: one
            // cuBLASLt GEMM and one pass over the residual where the two below make two.
            GEMM(cuda_gemm_forward_strided(m->gemm, m->hidden, d + ff, GEMM_OUTPUT_SCALAR, m->norm2, w->up_weight,
                                           w->up_bias, tokens_count, d, ff, err), "up gemm");
            KERNEL(cuda_gelu_rows_forward(m->hidden, tokens_count, ff, d + ff, scalar, stream), "gelu");
            GEMM(cuda_gemm_forward(m->gemm, m->residual, GEMM_OUTPUT_FLOAT_ACCUMULATE, m->attention, w->dense_weight,
                                   m->layer_bias, tokens_count, d + ff, d, err), "dense + down gemm");
            continue;
        }
        // MEMPROF_RESIDUAL_GEMM=fused: the dense GEMM joins the down GEMM after the MLP's up
        // GEMM (cuda_gemm_fused.cu; both read buffers the residual's update does not touch).
        const int join_residual = m->residual_gemm == RESIDUAL_GEMM_FUSED;
        if (!join_residual)
            GEMM(cuda_gemm_forward(m->gemm, m->residual, GEMM_OUTPUT_FLOAT_ACCUMULATE, m->attention, w->dense_weight,
                                   m->layer_bias, tokens_count, d, d, err), "dense gemm");
        // MEMPROF_UP_GEMM=fused-gelu[-pingpong]: bias and GELU as the GEMM's epilogue where the
        // kernel covers the shape (cuda_gemm_fused.cu); else cuBLASLt's bias epilogue, then GELU.
        (void)cudaGetLastError();
        int fused = m->up_gemm_gelu ? cuda_gemm_gelu_forward(m->hidden, m->norm2, w->up_weight, w->up_bias, tokens_count,
                                                             d, ff, m->up_gemm_gelu == 2, scalar, stream)
                                    : -1;
        if (fused >= 0) {
            KERNEL(fused, "up gemm + gelu");
        } else {
            GEMM(cuda_gemm_forward(m->gemm, m->hidden, GEMM_OUTPUT_SCALAR, m->norm2, w->up_weight, w->up_bias,
                                   tokens_count, d, ff, err), "up gemm");
            KERNEL(cuda_gelu_forward(m->hidden, tokens_count * ff, scalar, stream), "gelu");
        }
        int joined = -1;
        if (join_residual) {
            (void)cudaGetLastError();
            joined = cuda_gemm_residual_forward(m->residual, m->attention, w->dense_weight, m->hidden, w->down_weight,
                                                m->layer_bias, tokens_count, d, ff, scalar, stream);
        }
        if (joined >= 0) {
            KERNEL(joined, "dense + down gemm");
        } else {  // cuBLASLt, or the joined kernel does not cover the shape
            if (join_residual)
                GEMM(cuda_gemm_forward(m->gemm, m->residual, GEMM_OUTPUT_FLOAT_ACCUMULATE, m->attention,
                                       w->dense_weight, m->layer_bias, tokens_count, d, d, err), "dense gemm");
            GEMM(cuda_gemm_forward(m->gemm, m->residual, GEMM_OUTPUT_FLOAT_ACCUMULATE, m->hidden, w->down_weight, NULL,
                                   tokens_count, ff, d, err), "down gemm");
        }
    }
    KERNEL(cuda_layernorm_forward(m->norm1, NULL, m->residual, m->final_ln_weight, m->final_ln_bias, NULL, NULL,
                                  tokens_count, d, eps, scalar, stream), "final layernorm");

    if (m->lm_head_wgmma == LM_HEAD_PINGPONG) {  // a ping-pong GEMM folding its tiles (cuda_lm_head_pingpong.cu)
        KERNEL(cuda_lm_head_pingpong_statistics(m->surprisal, m->entropy, m->rank, m->norm1, m->embed_out, m->targets,
                                                tokens_count, d, (int)c->vocab_size,
                                                cuda_lm_head_splits((int)c->vocab_size), m->lm_head_workspace, NULL,
                                                scalar, stream),
               "lm head statistics");
        return 0;
    }
    if (m->lm_head_wgmma) {  // the same on Hopper's warpgroup products (cuda_lm_head_wgmma.cu)
        KERNEL(cuda_lm_head_wgmma_statistics(m->surprisal, m->entropy, m->rank, m->norm1, m->embed_out, m->targets,
                                             tokens_count, d, (int)c->vocab_size, cuda_lm_head_splits((int)c->vocab_size),
                                             m->lm_head_workspace, NULL, scalar, stream),
               "lm head statistics");
        return 0;
    }
    if (m->lm_head_fused) {  // logits folded into the statistics as they are computed (cuda_lm_head.cu)
        KERNEL(cuda_lm_head_statistics(m->surprisal, m->entropy, m->rank, m->norm1, m->embed_out, m->targets,
                                       tokens_count, d, c->vocab_size, cuda_lm_head_splits(c->vocab_size),
                                       m->lm_head_block_rows, m->lm_head_workspace, NULL, scalar, stream),
               "lm head statistics");
        return 0;
    }
    if (m->logits_rows <= 0)  // a plan without a logits buffer is a fused head's: never loop on 0 rows
        return error_set(err, MEMPROF_ERR, "cuda backend: no logits rows planned for the chunked LM head");
    // Each chunk's statistics kernel (memory-bound) runs on the statistics stream beside the
    // next chunk's GEMM (compute-bound), each in its half of the logits buffer; the step
    // profile and MEMPROF_CUDA_SYNC time or check every step on the model's stream, so with
    // either the chunks run one after the other in the whole buffer. Same bits either way:
    // the same kernels read the same logits.
    if (m->logits_rows >= 2 && !cuda_profile_enabled() && !sync_steps())
        return chunked_head_overlapped(m, tokens_count, err);
    for (int64_t start = 0; start < tokens_count; start += m->logits_rows) {
        int64_t rows = tokens_count - start < m->logits_rows ? tokens_count - start : m->logits_rows;
        GEMM(lm_head_gemm(m, m->logits, start, rows, err), "lm head gemm");
        KERNEL(cuda_row_statistics(m->surprisal + start, m->entropy + start, m->rank + start, m->logits,
                                   m->targets + start, rows, c->vocab_size, 0, stream), "statistics");
    }
    return 0;
}

// The pinned staging (cuda_host_staging) for batches of up to the activations' capacity.
// Called with nothing in flight: every cuda_score call ends synchronised with the stream.
static int staging_reserve(cuda_model *m, memprof_error *err) {
    cuda_host_staging *h = &m->staging;
    if (h->inputs_copied == NULL) {
        cudaEvent_t event;
        if (cudaEventCreateWithFlags(&event, cudaEventDisableTiming) != cudaSuccess)
            return error_set(err, MEMPROF_ERR, "cuda backend: cannot create the batch inputs' event");
        h->inputs_copied = event;
    }
    if (h->base && h->capacity_tokens >= m->capacity_tokens && h->capacity_sequences >= m->capacity_sequences)
        return 0;
    if (h->base) cudaFreeHost(h->base);
    h->base = NULL, h->capacity_tokens = 0, h->capacity_sequences = 0;
    size_t tokens = (size_t)m->capacity_tokens, sequences = (size_t)m->capacity_sequences;
    size_t bytes = sequences * (24 + 8 + 4 + 4) + tokens * 12;
    void *base = NULL;
    if (cudaHostAlloc(&base, bytes, cudaHostAllocDefault) != cudaSuccess)
        return error_set(err, MEMPROF_ERR_NOMEM, "cuda backend: cannot allocate %zu MB of pinned host memory for a batch",
                         bytes >> 20);
    char *p = base;  // the 8-byte arrays first: every array stays aligned
    h->sums = (double *)p, p += sequences * 24;
    h->correct = (int64_t *)p, p += sequences * 8;
    h->tokens = (int32_t *)p, p += tokens * 4;
    h->positions = (int32_t *)p, p += tokens * 4;
    h->targets = (int32_t *)p, p += tokens * 4;
    h->starts = (int32_t *)p, p += sequences * 4;
    h->lengths = (int32_t *)p;
    h->base = base, h->capacity_tokens = (int64_t)tokens, h->capacity_sequences = (int)sequences;
    return 0;
}

typedef struct batch_shape {
    int first, count, longest;  // sequences [first, first + count); the most forward positions of one
    int64_t tokens;             // forward positions in all
} batch_shape;

// Sequences [first, first + count) end to end into the staging's inputs: a sequence of T
// tokens gives T − 1 forward positions (tokens 0 … T−2) and their targets (tokens 1 … T−1).
static batch_shape stage_inputs(cuda_host_staging *h, const token_sequence *sequences, int first, int count) {
    batch_shape b = {first, count, 0, 0};
    for (int i = 0; i < count; i++) {
        const token_sequence *s = &sequences[first + i];
        int64_t positions = s->length - 1;  // ≥ 1: backend_check_sequences asks for 2 tokens
        h->starts[i] = (int32_t)b.tokens;
        h->lengths[i] = (int32_t)positions;
        if (positions > b.longest) b.longest = (int)positions;
        memcpy(h->tokens + b.tokens, s->tokens, (size_t)positions * 4);
        memcpy(h->targets + b.tokens, s->tokens + 1, (size_t)positions * 4);
        for (int64_t t = 0; t < positions; t++) h->positions[b.tokens + t] = (int32_t)t;
        b.tokens += positions;
    }
    return b;
}

static int copy_inputs(cuda_model *m, const batch_shape *b, memprof_error *err) {
    cudaStream_t stream = m->stream;
    const cuda_host_staging *h = &m->staging;
    size_t n = (size_t)b->tokens * 4, count = (size_t)b->count * 4;
    if (cudaMemcpyAsync(m->tokens, h->tokens, n, cudaMemcpyHostToDevice, stream) != cudaSuccess ||
        cudaMemcpyAsync(m->positions, h->positions, n, cudaMemcpyHostToDevice, stream) != cudaSuccess ||
        cudaMemcpyAsync(m->targets, h->targets, n, cudaMemcpyHostToDevice, stream) != cudaSuccess ||
        cudaMemcpyAsync(m->starts, h->starts, count, cudaMemcpyHostToDevice, stream) != cudaSuccess ||
        cudaMemcpyAsync(m->lengths, h->lengths, count, cudaMemcpyHostToDevice, stream) != cudaSuccess ||
        cudaEventRecord((cudaEvent_t)h->inputs_copied, stream) != cudaSuccess)
        return error_set(err, MEMPROF_ERR, "cuda backend: copying a batch to the device failed: %s",
                         cudaGetErrorString(cudaGetLastError()));
    return 0;
}

// Queues the batch's results to the host: the per-sequence sums into the staging, and per
// token, when asked, into out_tokens' arrays (surprisal, entropy, rank: [tokens] each).
static int copy_results(cuda_model *m, const batch_shape *b, double *surprisal, double *entropy, int64_t *rank,
                        memprof_error *err) {
    cudaStream_t stream = m->stream;
    size_t n = (size_t)b->tokens;
    if (cudaMemcpyAsync(m->staging.sums, m->sequence_sums, (size_t)b->count * 24, cudaMemcpyDeviceToHost, stream) !=
            cudaSuccess ||
        cudaMemcpyAsync(m->staging.correct, m->sequence_correct, (size_t)b->count * 8, cudaMemcpyDeviceToHost,
                        stream) != cudaSuccess ||
        (surprisal != NULL &&
         (cudaMemcpyAsync(surprisal, m->surprisal, n * 8, cudaMemcpyDeviceToHost, stream) != cudaSuccess ||
          cudaMemcpyAsync(entropy, m->entropy, n * 8, cudaMemcpyDeviceToHost, stream) != cudaSuccess ||
          cudaMemcpyAsync(rank, m->rank, n * 8, cudaMemcpyDeviceToHost, stream) != cudaSuccess)))
        return error_set(err, MEMPROF_ERR, "cuda backend: the forward pass failed: %s",
                         cudaGetErrorString(cudaGetLastError()));
    return 0;
}

// Per sequence, the device's sums (in position order, in double: the CPU's way); per token
// only when asked for. The positions come from the sequences, not from the staging, whose
// inputs may already hold the next batch's.
static void write_results(sequence_statistics *out, token_statistics *out_tokens, const token_sequence *sequences,
                          const cuda_host_staging *h, const batch_shape *b, const double *surprisal,
                          const double *entropy, const int64_t *rank) {
    int64_t offset = 0;
    for (int i = 0; i < b->count; offset += sequences[b->first + i].length - 1, i++) {
        int64_t predictions = sequences[b->first + i].length - 1;
        if (out_tokens != NULL) {
            token_statistics *t = &out_tokens[b->first + i];
            for (int64_t p = 0; p < predictions; p++) {
                t->surprisal[p] = surprisal[offset + p];
                t->entropy[p] = entropy[offset + p];
                t->rank[p] = rank[offset + p];
                t->correct[p] = rank[offset + p] == 0;
            }
        }
        sequence_statistics *s = &out[b->first + i];
        s->n_pred = predictions;
        s->sup_seq = h->sums[3 * i] / (double)predictions;
        s->entr_seq = h->sums[3 * i + 1] / (double)predictions;
        s->avg_rank = h->sums[3 * i + 2] / (double)predictions;
        s->acc_seq = (double)h->correct[i] / (double)predictions;
    }
}

// One device batch after another; while the device runs batch k, the host packs batch k + 1
// into the staging (once batch k's inputs have reached the device), so that between batches
// the device waits only for the copies, not for the packing.
static int cuda_score(sequence_statistics *out, token_statistics *out_tokens, void *handle,
                      const token_sequence *sequences, int num_sequences, memprof_error *err) {
    cuda_model *m = handle;
    int64_t max_length = 0;
    int status = backend_check_sequences(&max_length, sequences, num_sequences, m->config.vocab_size, err);
    if (status != 0) return status;
    if (num_sequences == 0) return 0;
    // The forward pass runs on a sequence's first length − 1 tokens: the last token is only a
    // target (its own output would predict a token past the sequence), and causal attention
    // makes every earlier position's output independent of it. At 2049 tokens this also
    // keeps a 2049th query row from costing the attention a whole extra block of query rows.
    // From here on max_length, and the device's lengths, count those forward positions.
    max_length -= 1;
    // The current device is per host thread, and the sweep loads the next checkpoint on a
    // prefetch thread: select the model's device here, not only in load.
    select_model_device(m);
    int batch = 0;
    status = cuda_plan_batch(&batch, m, max_length, err);
    if (status == 0) status = cuda_rotary_prepare(m, max_length, err);
    if (status == 0) status = staging_reserve(m, err);
    if (status != 0) return status;

    // Per-token results (only when the caller wants them) land in pageable arrays.
    size_t capacity = (size_t)m->capacity_tokens;
    double *surprisal = NULL, *entropy = NULL;
    int64_t *rank = NULL;
    if (out_tokens != NULL) {
        surprisal = malloc(capacity * 8), entropy = malloc(capacity * 8), rank = malloc(capacity * 8);
        if (!surprisal || !entropy || !rank) {
            free(surprisal), free(entropy), free(rank);
            return error_set(err, MEMPROF_ERR_NOMEM, "cuda backend: out of host memory");
        }
    }
    cudaStream_t stream = m->stream;
    batch_shape next = stage_inputs(&m->staging, sequences, 0, num_sequences < batch ? num_sequences : batch);
    for (int more = 1; more && status == 0;) {
        batch_shape b = next;
        status = copy_inputs(m, &b, err);
        if (status == 0) status = forward_batch(m, b.tokens, b.count, b.longest, err);
        if (status == 0) {
            int launched = cuda_sequence_sums(m->sequence_sums, m->sequence_correct, m->surprisal, m->entropy, m->rank,
                                              m->starts, m->lengths, b.count, (cuda_stream)stream);
            if (launched != 0)
                status = error_set(err, MEMPROF_ERR, "cuda backend: sequence sums: %s",
                                   cudaGetErrorString((cudaError_t)launched));
        }
        cuda_profile_end_batch(&m->profile);
        if (status == 0) status = copy_results(m, &b, surprisal, entropy, rank, err);
        if (status != 0) break;
        int following = b.first + b.count;
        more = following < num_sequences;
        if (more) {  // the staging's inputs are free once this batch's copies are done
            if (cudaEventSynchronize((cudaEvent_t)m->staging.inputs_copied) != cudaSuccess) {
                status = error_set(err, MEMPROF_ERR, "cuda backend: copying a batch to the device failed: %s",
                                   cudaGetErrorString(cudaGetLastError()));
                break;
            }
            next = stage_inputs(&m->staging, sequences, following,
                                num_sequences - following < batch ? num_sequences - following : batch);
        }
        if (cudaStreamSynchronize(stream) != cudaSuccess) {
            status = error_set(err, MEMPROF_ERR, "cuda backend: the forward pass failed: %s",
                               cudaGetErrorString(cudaGetLastError()));
            break;
        }
        write_results(out, out_tokens, sequences, &m->staging, &b, surprisal, entropy, rank);
    }
    if (status != 0) cudaStreamSynchronize(stream);  // nothing of this call left in flight
    free(surprisal), free(entropy), free(rank);
    return status;
}

static size_t cuda_device_memory_bytes(const void *model) { return ((const cuda_model *)model)->peak_bytes; }

static void cuda_load_report(backend_load_report *out, const void *model) {
    const cuda_model *m = model;
    *out = (backend_load_report){.bytes = m->load_bytes, .seconds = m->load_seconds};
}

static void cuda_describe(char *out, size_t out_size, const void *model) { cuda_model_describe(out, out_size, model); }

static const backend cuda_backend_ops = {.name = "cuda",
                                         .load = cuda_load,
                                         .score = cuda_score,
                                         .unload = cuda_unload,
                                         .device_memory_bytes = cuda_device_memory_bytes,
                                         .weights_view = cuda_weights_view,
                                         .allocate = cuda_allocate,
                                         .load_report = cuda_load_report,
                                         .check_options = cuda_check_options,
                                         .describe = cuda_describe};

const backend *cuda_backend(void) { return &cuda_backend_ops; }
