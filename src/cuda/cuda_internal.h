// cuda_internal.h — the CUDA backend's private state.
//
// Device buffers for a batch of up to capacity_tokens tokens (d = hidden, ff = intermediate,
// V = vocabulary, s = 2 bytes for fp16/bf16):
//   residual [N, d] fp32     norm1, norm2, attention [N, d] s     qkv [N, 3d] s
//   hidden [N, ff] s         logits [logits_rows, V] fp32          layer_bias [d] fp32
//   tokens, positions, targets [N] int32; surprisal, entropy [N] double; rank [N] int64
//   starts, lengths [S] int32; sequence_sums [S, 3] double; sequence_correct [S] int64
//   lm_head_workspace: cuda_lm_head_workspace_bytes(N, splits) with the fused LM head, else none
//   (the fused head needs no logits buffer: logits_rows is then 0)
#ifndef MEMPROF_CUDA_INTERNAL_H
#define MEMPROF_CUDA_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "cuda/cuda_gemm.h"
#include "memprof/backend.h"
#include "memprof/checkpoint.h"

typedef struct cuda_layer_weights {
    void *ln1_weight, *ln1_bias, *ln2_weight, *ln2_bias;
    void *qkv_weight, *qkv_bias, *dense_weight, *dense_bias;
    void *up_weight, *up_bias, *down_weight, *down_bias;
} cuda_layer_weights;

// MEMPROF_CUDA_PROFILE=1 (cuda_profile.c): GPU time per forward step, from CUDA events.
enum { CUDA_PROFILE_STEPS = 16, CUDA_PROFILE_EVENTS = 1024 };
typedef struct cuda_profile {
    const char *names[CUDA_PROFILE_STEPS];
    double milliseconds[CUDA_PROFILE_STEPS];
    int64_t calls[CUDA_PROFILE_STEPS];
    int steps;
    void *events[CUDA_PROFILE_EVENTS];  // cudaEvent_t, created on first use
    int step_of[CUDA_PROFILE_EVENTS];   // the step that ends at event i
    int pending;                        // events recorded and not yet read back
    int64_t batches;                    // batches ended; the first is not counted
} cuda_profile;

int cuda_profile_enabled(void);
// Records the end of `step` (NULL: the start of a batch) on the stream.
void cuda_profile_mark(cuda_profile *profile, void *stream, const char *step);
void cuda_profile_end_batch(cuda_profile *profile);
void cuda_profile_report(const cuda_profile *profile, const char *model_name);
void cuda_profile_free(cuda_profile *profile);

// One device batch's host side (cuda_backend.c), in pinned memory so that its copies are
// DMA from the start and need no synchronous staging: the inputs (packed for the next batch
// while the device runs this one, once `inputs_copied` says the device has them) and the
// per-sequence results. Grown with the activations, never shrunk.
typedef struct cuda_host_staging {
    void *base;                  // cudaHostAlloc
    int64_t capacity_tokens;
    int capacity_sequences;
    int32_t *tokens, *positions, *targets, *starts, *lengths;
    double *sums;                // [sequences, 3]
    int64_t *correct;            // [sequences]
    void *inputs_copied;         // cudaEvent_t, recorded after a batch's input copies
} cuda_host_staging;

typedef struct cuda_model {
    model_config config;
    int scalar_type;             // CUDA_SCALAR_FP16 or CUDA_SCALAR_BF16
    tensor_dtype weight_dtype;   // storage dtype of the checkpoint (rotary rounding, as on the CPU)
    void *stream;                // cudaStream_t
    int device;                  // the CUDA device holding everything below
    cuda_gemm_context *gemm;

    void *weights;               // one device allocation for every weight
    size_t weight_bytes;
    void *embed_in, *embed_out, *final_ln_weight, *final_ln_bias;
    cuda_layer_weights *layers;

    float *cos_table, *sin_table;  // device [table_positions, rot/2]
    int64_t table_positions;

    // Activations, (re)allocated by cuda_plan_batch.
    void *activations;
    int64_t capacity_tokens, logits_rows;
    int capacity_sequences;
    float *residual, *logits, *layer_bias;
    void *lm_head_workspace;
    // The chunked LM head's logits buffer in two halves: chunk c's statistics run on
    // statistics_stream while chunk c + 1's GEMM runs on `stream` (half b: logits_written[b]
    // after its GEMM, logits_read[b] after its statistics kernel).
    void *statistics_stream;                    // cudaStream_t
    void *logits_written[2], *logits_read[2];   // cudaEvent_t
    void *norm1, *norm2, *qkv, *attention, *hidden;
    int32_t *tokens, *positions, *targets, *starts, *lengths;
    double *surprisal, *entropy;
    int64_t *rank;
    double *sequence_sums;       // [sequences, 3]: cuda_sequence_sums
    int64_t *sequence_correct;   // [sequences]

    int lm_head_fused;           // MEMPROF_LM_HEAD=fused[-256]: cuda_lm_head.cu instead of GEMM chunks + statistics
    int lm_head_block_rows;      // and its rows per block: 128 (fused, fused-wgmma, fused-pingpong) or 256 (fused-256)
    int lm_head_wgmma;           // the Hopper heads: LM_HEAD_WGMMA (fused-wgmma, cuda_lm_head_wgmma.cu) or
                                 // LM_HEAD_PINGPONG (fused-pingpong, cuda_lm_head_pingpong.cu); else 0
    int lm_head_partials;        // partial states per row in a fused head's workspace (0: the chunked head)
    int attention_wgmma;         // MEMPROF_ATTENTION: 0 mma (cuda_flash_attention.cu), 1 wgmma, 2 wgmma-serial, 3 wgmma-64,
                                 // 4 wgmma-pingpong, 5 wgmma-tma, 6 wgmma-tma-fma25, 7 wgmma-tma-fma50
    int up_gemm_gelu;            // MEMPROF_UP_GEMM: 0 cublaslt, the up GEMM with GELU as its epilogue (cuda_gemm_fused.cu):
                                 // 1 fused-gelu, 2 fused-gelu-pingpong
    int residual_gemm;           // MEMPROF_RESIDUAL_GEMM: RESIDUAL_GEMM_CUBLASLT (dense and down apart), _FUSED
                                 // (one kernel over both, cuda_gemm_fused.cu) or _JOINED (one cuBLASLt GEMM over
                                 // [attention | gelu(hidden)] · [dense | down]ᵀ: both in one buffer, rows d + ff)
    int rotary_in_attention;     // MEMPROF_ROTARY=attention: q and k rotated inside the wgmma-tma attention
                                 // (no rotary pass) where it runs (attention_wgmma 5); else the pass
    int statistics_processors;   // MEMPROF_STATISTICS_SMS: SMs kept for the chunked head's statistics kernel
                                 // beside the next chunk's GEMM, which runs on the others (0: none kept)
    int processors;              // the device's SM count
    int batch_sequences;         // from the options; 0 = plan from memory
    size_t memory_cap;           // bytes; 0 = none
    size_t peak_bytes;           // weights + activations + workspace, as allocated
    size_t load_bytes;           // checkpoint bytes the last fill moved to the device (0: not filled)
    double load_seconds;         // and how long that took, first host copy to last conversion
    cuda_profile profile;        // MEMPROF_CUDA_PROFILE=1 only
    cuda_host_staging staging;
} cuda_model;

// The weight upload (cuda_upload.c): tensors in their stored dtype through a ring of pinned
// host chunks, converted on the device into their slots (see the file's comment).
enum { CUDA_UPLOAD_CHUNKS = 2 };
#define CUDA_UPLOAD_CHUNK_BYTES ((size_t)64 << 20)

typedef struct cuda_upload {
    void *stream;                                // cudaStream_t, the model's
    int scalar_type;
    size_t chunk_bytes;
    void *pinned[CUDA_UPLOAD_CHUNKS];            // host, cudaHostAlloc
    void *staging[CUDA_UPLOAD_CHUNKS];           // device, only once a tensor needs converting
    void *done[CUDA_UPLOAD_CHUNKS];              // cudaEvent_t: chunk k's DMA and conversion are over
    int next;                                    // the chunk the next piece goes through
    int copy_threads;                            // host threads copying a piece out of the mmap
    size_t bytes;                                // stored bytes moved so far
    double started, seconds;                     // seconds: set by cuda_upload_finish
} cuda_upload;

// chunk_bytes 0 = CUDA_UPLOAD_CHUNK_BYTES (tests pass small chunks to split tensors).
int cuda_upload_begin(cuda_upload *upload, void *stream, int scalar_type, size_t chunk_bytes, memprof_error *err);
// Queues the tensor into destination (numel elements of the scalar type); returns before
// the copies are done: the tensor's bytes must stay mapped until cuda_upload_finish.
int cuda_upload_tensor(cuda_upload *upload, void *destination, const tensor_view *tensor, memprof_error *err);
// The same for a tensor of rows [numel / width, width] into rows `stride` elements apart (a
// weight sharing its rows with another: MEMPROF_RESIDUAL_GEMM=joined's dense | down).
int cuda_upload_tensor_rows(cuda_upload *upload, void *destination, int64_t width, int64_t stride,
                            const tensor_view *tensor, memprof_error *err);
// Waits for every queued copy, sets seconds and frees the chunks.
int cuda_upload_finish(cuda_upload *upload, memprof_error *err);
// Frees the chunks after waiting for the stream (the error path; finish calls it).
void cuda_upload_release(cuda_upload *upload);
// The previous path, kept as the test oracle: tensor_read_f32 on the host, fp32 over PCIe,
// cuda_convert_from_float on the device. Synchronous.
int cuda_upload_tensor_reference(void *destination, const tensor_view *tensor, int scalar_type, void *stream,
                                 memprof_error *err);

int cuda_model_load(cuda_model **out, const checkpoint *ckpt, const backend_options *options, memprof_error *err);
// The model of that shape with its weight buffer allocated and every weight pointer set, unfilled.
// The backend's check_options: the kernel settings, the device index, the precision.
int cuda_check_options(const backend_options *options, memprof_error *err);
int cuda_model_allocate(cuda_model **out, const model_config *config, tensor_dtype weight_dtype,
                        const backend_options *options, memprof_error *err);
void cuda_model_free(cuda_model *model);
// What the model runs with: the kernels its settings (auto included) resolved to, one line.
void cuda_model_describe(char *out, size_t out_size, const cuda_model *model);
// Makes room for sequences of up to max_length tokens; returns how many fit in one batch.
int cuda_plan_batch(int *out_sequences, cuda_model *model, int64_t max_length, memprof_error *err);
// The Hopper LM heads (cuda_model.lm_head_wgmma).
enum { LM_HEAD_WGMMA = 1, LM_HEAD_PINGPONG = 2 };
// The planner's arithmetic (no device calls): sequences of max_length tokens per batch from
// free_bytes of device memory (under memory_cap, when set, which also holds fixed_bytes of
// weights and workspace), 0 when not one fits; *out_logits_rows = rows of the logits buffer
// (0 with a fused LM head, whose workspace is per token instead: head_partials partial states
// per row, 0 for the chunked head).
int cuda_plan_sequences(int64_t *out_logits_rows, const model_config *config, int head_partials, size_t free_bytes,
                        size_t memory_cap, size_t fixed_bytes, int64_t max_length);
// Bytes of the weight buffer and of the activations cuda_plan_batch allocates, from the
// layouts themselves (no device calls): what the planner's budget must cover.
size_t cuda_weight_bytes(const model_config *config);
size_t cuda_activation_bytes(const model_config *config, int head_partials, int64_t tokens, int sequences,
                             int64_t logits_rows);
// Reads MEMPROF_LM_HEAD: unset or "auto" (*out_automatic = 1, else 0: the caller picks,
// once the device is selected, cuda_lm_head_wgmma_preferred's head or else the chunked one),
// "chunked" (*out_block_rows = 0), "fused" (128), "fused-256" (256, the same bits from
// another tiling), "fused-wgmma" (128 and *out_wgmma = LM_HEAD_WGMMA: Hopper's warpgroup
// products) or "fused-pingpong" (128 and LM_HEAD_PINGPONG: a TMA ping-pong GEMM folding its
// tiles); the caller checks the device for the last two. config NULL: the setting alone,
// without the hidden-size check.
int cuda_lm_head_mode(int *out_block_rows, int *out_wgmma, int *out_automatic, const model_config *config,
                      memprof_error *err);
// Reads MEMPROF_ATTENTION: unset or "auto" (*out_automatic = 1, else 0: the caller picks,
// once the device is selected, "wgmma-tma" where cuda_attention_tma_preferred says so, else
// "mma"), "mma" (*out_wgmma = 0: mma.sync, any GPU), "wgmma" (1: Hopper's warpgroup
// products, pipelined), "wgmma-serial" (2: the same, each product waited for in turn),
// "wgmma-64" (3: pipelined, 64-row blocks) or "wgmma-pingpong" (4: pipelined, with a copying
// warpgroup and the multiplying ones taking turns) or "wgmma-tma" (5: the same with TMA
// copies) or "wgmma-tma-fma25" / "wgmma-tma-fma50" (6, 7: the same with a quarter or half of
// the softmax's exponentials on the FMA units); for these, and "fused-wgmma" above, the caller
// checks the device.
int cuda_attention_mode(int *out_wgmma, int *out_automatic, memprof_error *err);
// Reads MEMPROF_UP_GEMM: unset or "auto" (*out_automatic = 1: cuBLASLt, the fused kernels
// having measured slower on an H100), "cublaslt" (*out_fused_gelu = 0: cuBLASLt with the bias
// epilogue, then cuda_gelu_forward), "fused-gelu" (1: cuda_gemm_gelu_forward, cooperative
// tiles) or "fused-gelu-pingpong" (2: its ping-pong schedule); Hopper only, the caller checks
// the device.
int cuda_up_gemm_mode(int *out_fused_gelu, int *out_automatic, memprof_error *err);
// Reads MEMPROF_RESIDUAL_GEMM: unset or "auto" (*out_automatic = 1: cuBLASLt apart, until an
// H100 has measured the joined GEMM), "cublaslt" (*out_mode = RESIDUAL_GEMM_CUBLASLT: the dense
// and down GEMMs apart, each accumulating into the residual), "fused" (RESIDUAL_GEMM_FUSED:
// cuda_gemm_residual_forward, Hopper; the caller checks the device) or "joined"
// (RESIDUAL_GEMM_JOINED: one cuBLASLt GEMM over k = d + ff, any GPU).
enum { RESIDUAL_GEMM_CUBLASLT = 0, RESIDUAL_GEMM_FUSED = 1, RESIDUAL_GEMM_JOINED = 2 };
int cuda_residual_gemm_mode(int *out_mode, int *out_automatic, memprof_error *err);
// Reads MEMPROF_STATISTICS_SMS: unset or "auto" (*out_automatic = 1, *out_processors = 0), or
// a whole number 0–66 of SMs the chunked LM head's statistics kernel keeps for itself while
// the next chunk's GEMM runs on the rest (cuBLASLt's SM-count target); the caller checks it
// against the device's SM count (at most half of them).
int cuda_statistics_processors_mode(int *out_processors, int *out_automatic, memprof_error *err);
// Reads MEMPROF_ROTARY: unset or "auto" (*out_automatic = 1: the rotary pass, until an H100
// has measured the folded form), "pass" (*out_in_attention = 0: cuda_rotary_forward before the
// attention) or "attention" (1: cuda_flash_attention_wgmma_tma_rotary_forward, the same bits;
// the caller checks that the wgmma-tma attention can run).
int cuda_rotary_mode(int *out_in_attention, int *out_automatic, memprof_error *err);
int cuda_rotary_prepare(cuda_model *model, int64_t positions, memprof_error *err);

#endif
