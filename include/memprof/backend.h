// backend.h — the one interface every compute backend implements (CPU reference, CUDA).
//
// A backend loads a checkpoint once and scores batches of token sequences. For a sequence
// of T tokens, position t (0 ≤ t < T−1) predicts token t+1 over the full model vocabulary V:
//   surprisal = −log softmax(z)[y]       rank = #{v : z_v > z_y}  (strictly greater)
//   entropy   = −Σ_v p_v log p_v         correct = 1{rank == 0}
// and each sequence statistic is the mean over its T−1 positions.
// Contract: a sequence's statistics do not depend on the batch it is scored in nor on the
// number of threads (the distributed sweep compares results bit for bit).
#ifndef MEMPROF_BACKEND_H
#define MEMPROF_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "memprof/checkpoint.h"
#include "memprof/error.h"

typedef struct sequence_statistics {
    int64_t n_pred;   // T − 1
    double sup_seq;   // mean surprisal (nats)
    double acc_seq;   // share of positions with rank 0
    double entr_seq;  // mean entropy (nats)
    double avg_rank;  // mean rank
} sequence_statistics;

// Per-position outputs, each an array of T−1 elements owned by the caller.
typedef struct token_statistics {
    double *surprisal;
    int64_t *rank;
    double *entropy;
    uint8_t *correct;
} token_statistics;

typedef struct token_sequence {
    const int32_t *tokens;
    int64_t length;  // T ≥ 2
} token_sequence;

// PRECISION_DEFAULT is the backend's own: fp32 on the CPU, fp16 on GPUs (the published weights are fp16).
typedef enum compute_precision { PRECISION_DEFAULT = 0, PRECISION_FP32, PRECISION_FP16, PRECISION_BF16 } compute_precision;

typedef struct backend_options {
    int threads;                  // CPU threads; 0 = all cores
    compute_precision precision;  // the CPU backend computes in fp32 only
    int batch_sequences;          // GPU: sequences per device batch; 0 = planned from free memory
    double max_memory_gb;         // GPU: cap on device memory the backend may use; 0 = no cap
    int device;                   // GPU: index of the device on this node (the sweep picks one per worker)
    const char *gemm_tuning_file; // GPU: opt-in GEMM algorithm tuning shared through this file; NULL = off
} backend_options;

// A model's weights as one buffer (both backends keep every weight in one allocation, laid
// out deterministically from the config, the weight dtype, the precision and `layout`): what a sweep
// worker sends to a node peer instead of the checkpoint's files (docs/sweep.md).
typedef struct backend_weights {
    void *data;                   // host memory, or device memory when on_device
    size_t bytes;
    int on_device;                // 1: a GPU buffer on device `device`
    int device;
    const model_config *config;   // the model's architecture (owned by the model)
    tensor_dtype weight_dtype;    // the checkpoint's storage dtype (rotary rounding follows it)
    int32_t layout;               // which of the backend's layouts (0: its one or packed layout; the CUDA
                                  // backend's joined residual GEMM lays out dense | down side by side: 2)
} backend_weights;

// How the last load filled the weights: the checkpoint bytes moved (stored dtype) and the
// seconds from the first read of the mapping to the last byte in place (not counting the
// allocation nor the checkpoint's open and hash).
typedef struct backend_load_report {
    size_t bytes;
    double seconds;
} backend_load_report;

typedef struct backend {
    const char *name;
    int (*load)(void **out_model, const checkpoint *ckpt, const backend_options *options, memprof_error *err);
    // out[i] for every sequence; out_tokens is NULL or an array of num_sequences.
    int (*score)(sequence_statistics *out, token_statistics *out_tokens, void *model,
                 const token_sequence *sequences, int num_sequences, memprof_error *err);
    void (*unload)(void *model);
    // Device memory the backend holds for this model (weights, activations, workspaces), in
    // bytes; 0 for host backends, whose memory the process itself reports.
    size_t (*device_memory_bytes)(const void *model);
    // Optional (NULL when the backend cannot share weights in memory):
    // weights_view describes the model's weight buffer (not a copy; valid until unload).
    int (*weights_view)(backend_weights *out, void *model);
    // allocate builds a model of that shape with its weight buffer unfilled; the caller fills
    // it (e.g. with another model's weights_view bytes, same config, dtype and options) and
    // may then score. load is allocate followed by filling the buffer from the checkpoint.
    int (*allocate)(void **out_model, const model_config *config, tensor_dtype weight_dtype,
                    const backend_options *options, memprof_error *err);
    // Optional (NULL: the caller times load itself): the fill of the last load; 0 bytes
    // for a model made by allocate.
    void (*load_report)(backend_load_report *out, const void *model);
    // Optional (NULL: nothing to check before a load): whether these options can run here at
    // all — a device this node has, kernel settings this device supports — so that a sweep
    // stops at its start, on every rank, instead of failing every task's load.
    int (*check_options)(const backend_options *options, memprof_error *err);
    // Optional (NULL: nothing to add): what the model runs with, as one line (the kernels its
    // settings and `auto` resolved to), for benchmarks and logs.
    void (*describe)(char *out, size_t out_size, const void *model);
} backend;

// Checks what every backend's score requires — each sequence has ≥ 2 tokens, ids in
// [0, vocab_size) — and gives the longest length. Errors name the sequence and position.
int backend_check_sequences(int64_t *out_max_length, const token_sequence *sequences, int num_sequences,
                            int vocab_size, memprof_error *err);

// NULL when no backend of that name is compiled in.
const backend *backend_find(const char *name);

// The fp32 CPU reference (src/cpu/): the oracle every other backend is tested against.
const backend *cpu_backend(void);

#ifdef MEMPROF_CUDA
// fp16/bf16 GPU backend (src/cuda/), compiled when nvcc is present (make CUDA=0 skips it).
const backend *cuda_backend(void);
#endif

#endif
