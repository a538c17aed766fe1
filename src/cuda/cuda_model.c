// cuda_model.c — lays out the weights on the GPU in fp16 or bf16 and fills them from a
// checkpoint (or leaves them to the caller: weights shared in memory), builds the rotary tables
// and plans the activation buffers from free device memory (or a --max-gpu-memory cap).
#include <cuda_runtime_api.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/cuda_internal.h"
#include "cuda/cuda_kernels.h"
#include "memprof/log.h"
#include "memprof/rotary.h"

#define CUDA_CHECK(call, err, what)                                                                     \
    do {                                                                                                \
        cudaError_t cuda_status_ = (call);                                                              \
        if (cuda_status_ != cudaSuccess)                                                                \
            return error_set(err, MEMPROF_ERR, "cuda backend: %s: %s", what, cudaGetErrorString(cuda_status_)); \
    } while (0)

enum { SCALAR_BYTES = 2 };

static size_t aligned(int64_t elements) { return ((size_t)elements * SCALAR_BYTES + 255) & ~(size_t)255; }

// The one weight layout: every tensor in checkpoint order, 256-byte aligned, in the scalar
// type. take() points a slot at the tensor's place in model->weights (when allocated) and,
// with a checkpoint, queues the tensor's stored bytes into it (cuda_upload.c).
typedef struct layout_cursor {
    cuda_model *model;
    const checkpoint *ckpt;  // NULL: lay out only
    cuda_upload *upload;     // with ckpt
    size_t bytes;            // used so far
    int status;
    memprof_error *err;
} layout_cursor;

// Queues checkpoint tensor `name` (expected elements) into destination: packed, or with
// width > 0 as rows of width elements, stride apart.
static void fill(layout_cursor *at, char *destination, const char *name, int64_t expected, int64_t width,
                 int64_t stride) {
    if (!at->ckpt || at->status != 0) return;
    const tensor_view *tensor = checkpoint_tensor(at->ckpt, name);
    memprof_error *err = at->err;
    if (tensor == NULL) at->status = error_set(err, MEMPROF_ERR, "tensor %s: missing from checkpoint", name);
    else if (tensor->numel != expected)
        at->status = error_set(err, MEMPROF_ERR, "tensor %s: %lld elements, expected %lld", name,
                               (long long)tensor->numel, (long long)expected);
    else if ((width > 0 ? cuda_upload_tensor_rows(at->upload, destination, width, stride, tensor, err)
                        : cuda_upload_tensor(at->upload, destination, tensor, err)) != 0)
        at->status = error_prefix(err, "tensor %s", name);
}

static void take(layout_cursor *at, void **slot, const char *name, int64_t expected) {
    char *destination = at->model->weights ? (char *)at->model->weights + at->bytes : NULL;
    fill(at, destination, name, expected, 0, 0);
    if (slot) *slot = destination;
    at->bytes += aligned(expected);
}

// Where weight `w` (neox_weight_at order) goes; NULL while the layers are not allocated.
static void **slot_of(cuda_model *model, const neox_weight *w) {
    if (w->layer < 0) {
        if (strcmp(w->name, "gpt_neox.embed_in.weight") == 0) return &model->embed_in;
        if (strcmp(w->name, "embed_out.weight") == 0) return &model->embed_out;
        return strcmp(w->name, "gpt_neox.final_layer_norm.weight") == 0 ? &model->final_ln_weight : &model->final_ln_bias;
    }
    if (!model->layers) return NULL;
    cuda_layer_weights *l = &model->layers[w->layer];
    void **parts[NEOX_LAYER_PARTS] = {&l->ln1_weight, &l->ln1_bias, &l->ln2_weight,   &l->ln2_bias,
                                      &l->qkv_weight, &l->qkv_bias, &l->dense_weight, &l->dense_bias,
                                      &l->up_weight,  &l->up_bias,  &l->down_weight,  &l->down_bias};
    return parts[w->part];
}

// neox_weight parts (checkpoint.h's order) that MEMPROF_RESIDUAL_GEMM=joined lays out together.
enum { PART_DENSE_WEIGHT = 6, PART_DOWN_WEIGHT = 10 };

// With the joined residual GEMM, a layer's dense [d, d] and down [d, ff] weights share rows:
// one [d, d + ff] block, dense in columns 0 … d−1, down in d … d+ff−1, so that the GEMM reads
// [dense | down] as one weight with k = d + ff. Same bytes as apart, give or take alignment.
static void lay_out_weights(layout_cursor *at) {
    cuda_model *model = at->model;
    const int64_t d = model->config.hidden_size, ff = model->config.intermediate_size;
    const int joined = model->residual_gemm == RESIDUAL_GEMM_JOINED;
    for (int64_t i = 0; i < neox_weight_count(&model->config); i++) {
        neox_weight w;
        neox_weight_at(&w, &model->config, i);
        void **slot = slot_of(model, &w);
        if (joined && w.layer >= 0 && w.part == PART_DENSE_WEIGHT) {
            char *destination = model->weights ? (char *)model->weights + at->bytes : NULL;
            fill(at, destination, w.name, w.numel, d, d + ff);
            if (slot) *slot = destination;
            at->bytes += aligned(d * (d + ff));
        } else if (joined && w.layer >= 0 && w.part == PART_DOWN_WEIGHT) {  // beside dense: no bytes of its own
            char *destination = model->layers ? (char *)model->layers[w.layer].dense_weight + d * SCALAR_BYTES : NULL;
            if (model->weights == NULL) destination = NULL;
            fill(at, destination, w.name, w.numel, ff, d + ff);
            if (slot) *slot = destination;
        } else {
            take(at, slot, w.name, w.numel);
        }
    }
}

// What the kernel settings resolve to (auto included) for a model and device.
typedef struct kernel_choice {
    int lm_head_block_rows, lm_head_wgmma, attention_wgmma, up_gemm_gelu, residual_gemm, rotary_in_attention;
    int statistics_processors, processors;  // SMs kept for the statistics; the device's SMs
} kernel_choice;

// The kernel settings (c: the model's, or NULL before one is known) and the device: what
// cuda_model_allocate checks first, and the backend's check_options.
static int check_settings_and_device(kernel_choice *out, const model_config *c, const backend_options *options,
                                     memprof_error *err) {
    int lm_head_block_rows = 0, lm_head_wgmma = 0, lm_head_automatic = 0;  // first: a misspelt setting is
    int attention_wgmma = 0, attention_automatic = 0;                       // reported on any machine
    int up_gemm_gelu = 0, up_gemm_automatic = 0, residual_gemm = 0, residual_automatic = 0;
    int statistics_processors = 0, statistics_automatic = 0, rotary_in_attention = 0, rotary_automatic = 0;
    int mode_status = cuda_lm_head_mode(&lm_head_block_rows, &lm_head_wgmma, &lm_head_automatic, c, err);
    if (mode_status == 0) mode_status = cuda_attention_mode(&attention_wgmma, &attention_automatic, err);
    if (mode_status == 0) mode_status = cuda_up_gemm_mode(&up_gemm_gelu, &up_gemm_automatic, err);
    if (mode_status == 0) mode_status = cuda_residual_gemm_mode(&residual_gemm, &residual_automatic, err);
    if (mode_status == 0)
        mode_status = cuda_statistics_processors_mode(&statistics_processors, &statistics_automatic, err);
    if (mode_status == 0) mode_status = cuda_rotary_mode(&rotary_in_attention, &rotary_automatic, err);
    if (mode_status != 0) return mode_status;
    const int residual_fused = residual_gemm == RESIDUAL_GEMM_FUSED;
    // The joined GEMM reads the up GEMM's output in place, rows d + ff apart: cuBLASLt writes
    // them so (cuda_gemm_forward_strided), the fused up GEMMs do not.
    if (residual_gemm == RESIDUAL_GEMM_JOINED && up_gemm_gelu)
        return error_set(err, MEMPROF_ERR_UNSUPPORTED, "MEMPROF_RESIDUAL_GEMM=joined: the up GEMM writes into the "
                         "joined operand through cuBLASLt only, but MEMPROF_UP_GEMM=%s; set MEMPROF_UP_GEMM=cublaslt "
                         "or auto", getenv("MEMPROF_UP_GEMM"));
    if (residual_gemm == RESIDUAL_GEMM_JOINED && c != NULL &&
        (c->hidden_size % 8 != 0 || c->intermediate_size % 8 != 0))
        return error_set(err, MEMPROF_ERR_UNSUPPORTED, "MEMPROF_RESIDUAL_GEMM=joined: the hidden size (%lld) and the "
                         "MLP's (%lld) must be multiples of 8", (long long)c->hidden_size,
                         (long long)c->intermediate_size);
    // The folded rotary runs inside the wgmma-tma attention only: a setting that names another
    // attention kernel would never run it.
    if (rotary_in_attention && !attention_automatic && attention_wgmma != 5)
        return error_set(err, MEMPROF_ERR_UNSUPPORTED, "MEMPROF_ROTARY=attention: the rotary is folded into the "
                         "wgmma-tma attention only, but MEMPROF_ATTENTION=%s; set MEMPROF_ATTENTION=wgmma-tma or auto, "
                         "or MEMPROF_ROTARY=pass", getenv("MEMPROF_ATTENTION"));
    int devices = 0;
    if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0)
        return error_set(err, MEMPROF_ERR, "cuda backend: no CUDA device is available");
    int device = options ? options->device : 0;
    if (device < 0 || device >= devices)
        return error_set(err, MEMPROF_ERR, "cuda backend: device %d requested but this node has %d GPU%s (one worker "
                         "rank per GPU: see docs/sweep.md, rank layout)", device, devices, devices == 1 ? "" : "s");
    if (cudaSetDevice(device) != cudaSuccess)
        return error_set(err, MEMPROF_ERR, "cuda backend: cannot select device %d", device);
    // The kernels are built for compute capability 8.0 and 9.0 (CUDA_ARCH): bf16 tensor-core
    // products and cp.async need 8.0. An older GPU would fail at its first launch.
    int major = 0, minor = 0;
    if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) == cudaSuccess &&
        cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device) == cudaSuccess && major < 8)
        return error_set(err, MEMPROF_ERR_UNSUPPORTED, "cuda backend: device %d is compute capability %d.%d; the "
                         "kernels need 8.0 or newer (A100, L40S, H100, ...): use --backend cpu", device, major, minor);
    int processors = 0;
    if (cudaDeviceGetAttribute(&processors, cudaDevAttrMultiProcessorCount, device) != cudaSuccess || processors < 2)
        return error_set(err, MEMPROF_ERR, "cuda backend: cannot read device %d's SM count", device);
    if (statistics_processors > processors / 2)
        return error_set(err, MEMPROF_ERR, "MEMPROF_STATISTICS_SMS=%d: at most half of this GPU's %d SMs (%d)",
                         statistics_processors, processors, processors / 2);
    if ((attention_wgmma || lm_head_wgmma || up_gemm_gelu || residual_fused || rotary_in_attention) &&
        !cuda_wgmma_available()) {
        const char *variable = attention_wgmma ? "MEMPROF_ATTENTION" : lm_head_wgmma ? "MEMPROF_LM_HEAD"
                               : up_gemm_gelu  ? "MEMPROF_UP_GEMM"
                               : residual_fused ? "MEMPROF_RESIDUAL_GEMM"
                                                : "MEMPROF_ROTARY";
        return error_set(err, MEMPROF_ERR_UNSUPPORTED, "%s=%s: needs a compute capability 9.x GPU (H100, H200) and a "
                         "build whose CUDA_ARCH includes 90", variable, getenv(variable));
    }
    // The fused mma head's blocks hold their pipeline in shared memory: 256-row blocks need
    // more than compute capability 8.6/8.9 cards allow per block.
    int shared_limit = 0;
    if (lm_head_block_rows > 0 && !lm_head_wgmma &&
        cudaDeviceGetAttribute(&shared_limit, cudaDevAttrMaxSharedMemoryPerBlockOptin, device) == cudaSuccess &&
        (size_t)shared_limit < cuda_lm_head_shared_bytes(lm_head_block_rows))
        return error_set(err, MEMPROF_ERR_UNSUPPORTED, "MEMPROF_LM_HEAD=%s: needs %zu bytes of shared memory per "
                         "block, this GPU allows %d; use fused, chunked or auto", getenv("MEMPROF_LM_HEAD"),
                         cuda_lm_head_shared_bytes(lm_head_block_rows), shared_limit);
    const int pingpong_head = lm_head_wgmma == LM_HEAD_PINGPONG;
    if ((attention_wgmma >= 5 || up_gemm_gelu || residual_fused || pingpong_head || rotary_in_attention) &&
        !cuda_tensor_maps_available()) {
        const char *variable = attention_wgmma >= 5 ? "MEMPROF_ATTENTION" : up_gemm_gelu ? "MEMPROF_UP_GEMM"
                               : residual_fused    ? "MEMPROF_RESIDUAL_GEMM"
                               : pingpong_head     ? "MEMPROF_LM_HEAD"
                                                   : "MEMPROF_ROTARY";
        return error_set(err, MEMPROF_ERR_UNSUPPORTED, "%s=%s: this driver has no tensor-map encoder "
                         "(cuTensorMapEncodeTiled); use %s", variable, getenv(variable),
                         attention_wgmma >= 5 ? "wgmma-pingpong, mma or auto"
                         : pingpong_head      ? "fused-wgmma, chunked or auto"
                         : rotary_in_attention && !up_gemm_gelu && !residual_fused ? "pass or auto"
                                              : "cublaslt or auto");
    }
    if (options && options->precision == PRECISION_FP32)
        return error_set(err, MEMPROF_ERR_UNSUPPORTED, "cuda backend: computes in fp16 or bf16 (fp32 is the cpu backend)");
    // The automatic LM head: the wgmma fused head where it measured faster (cuda_kernels.h).
    if (lm_head_automatic && c != NULL && c->hidden_size <= INT32_MAX && cuda_lm_head_wgmma_preferred((int)c->hidden_size))
        lm_head_block_rows = 128, lm_head_wgmma = LM_HEAD_WGMMA;
    // The automatic attention: the TMA ping-pong kernel where it measured faster (cuda_kernels.h).
    if (attention_automatic && c != NULL && c->num_attention_heads > 0 &&
        cuda_attention_tma_preferred((int)(c->hidden_size / c->num_attention_heads)))
        attention_wgmma = 5;
    // The automatic up and residual GEMMs are cuBLASLt's: the fused kernels measured slower on
    // an H100 at every Pythia size (docs/performance.md, "the thirteenth session").
    (void)up_gemm_automatic, (void)residual_automatic;
    // The automatic statistics split: none (each GEMM on every SM, the statistics after it),
    // until an H100 has measured the split with the warp-per-row statistics kernel.
    (void)statistics_automatic;
    // The automatic rotary: the pass, until an H100 has measured the folded form.
    (void)rotary_automatic;
    *out = (kernel_choice){lm_head_block_rows, lm_head_wgmma, attention_wgmma, up_gemm_gelu, residual_gemm,
                           rotary_in_attention, statistics_processors, processors};
    return 0;
}

int cuda_check_options(const backend_options *options, memprof_error *err) {
    kernel_choice choice;
    return check_settings_and_device(&choice, NULL, options, err);
}

int cuda_model_allocate(cuda_model **out, const model_config *c, tensor_dtype weight_dtype, const backend_options *options,
                        memprof_error *err) {
    kernel_choice choice;
    int checked = check_settings_and_device(&choice, c, options, err);
    if (checked != 0) return checked;
    int device = options ? options->device : 0;
    compute_precision precision = options ? options->precision : PRECISION_DEFAULT;
    cuda_model *model = calloc(1, sizeof *model);
    if (model == NULL) return error_set(err, MEMPROF_ERR_NOMEM, "cuda backend: out of memory");
    model->config = *c;
    model->device = device;
    model->scalar_type = precision == PRECISION_BF16 ? CUDA_SCALAR_BF16 : CUDA_SCALAR_FP16;
    model->batch_sequences = options ? options->batch_sequences : 0;
    model->memory_cap = options && options->max_memory_gb > 0 ? (size_t)(options->max_memory_gb * 1e9) : 0;
    model->weight_dtype = weight_dtype;
    model->lm_head_fused = choice.lm_head_block_rows > 0;
    model->lm_head_block_rows = choice.lm_head_block_rows;
    model->lm_head_wgmma = choice.lm_head_wgmma;
    // Partial states per row: one per split, two with the ping-pong head (one per warpgroup).
    int partials_per_split = choice.lm_head_wgmma == LM_HEAD_PINGPONG ? 2 : 1;
    model->lm_head_partials = model->lm_head_fused ? cuda_lm_head_splits((int)c->vocab_size) * partials_per_split : 0;
    model->attention_wgmma = choice.attention_wgmma;
    model->up_gemm_gelu = choice.up_gemm_gelu;
    model->residual_gemm = choice.residual_gemm;
    model->rotary_in_attention = choice.rotary_in_attention;
    model->statistics_processors = model->lm_head_fused ? 0 : choice.statistics_processors;
    model->processors = choice.processors;
    int status = 0;
    cudaStream_t stream, statistics_stream;
    // With SMs kept for the statistics, the model's stream gets the higher priority: when a
    // chunk's GEMM and a statistics kernel are both ready, the GEMM's blocks are placed first
    // (the GEMM sized for the SMs the statistics do not hold). Without, both streams have the
    // default priority, as cudaStreamCreate gives.
    int least = 0, greatest = 0;
    if (model->statistics_processors > 0 && cudaDeviceGetStreamPriorityRange(&least, &greatest) != cudaSuccess)
        least = greatest = 0;
    if (cudaStreamCreateWithPriority(&stream, cudaStreamDefault, greatest) != cudaSuccess) {
        free(model);
        return error_set(err, MEMPROF_ERR, "cuda backend: cannot create a stream");
    }
    model->stream = stream;
    int events_made = cudaStreamCreateWithPriority(&statistics_stream, cudaStreamDefault, least) == cudaSuccess;
    if (events_made) model->statistics_stream = statistics_stream;
    for (int half = 0; half < 2 && events_made; half++) {
        cudaEvent_t written, read;
        events_made = cudaEventCreateWithFlags(&written, cudaEventDisableTiming) == cudaSuccess;
        if (events_made) model->logits_written[half] = written;
        events_made = events_made && cudaEventCreateWithFlags(&read, cudaEventDisableTiming) == cudaSuccess;
        if (events_made) model->logits_read[half] = read;
    }
    if (!events_made) {
        cuda_model_free(model);
        return error_set(err, MEMPROF_ERR, "cuda backend: cannot create the statistics stream and its events");
    }
    layout_cursor measure = {.model = model};
    lay_out_weights(&measure);  // weights and layers are still NULL: measures only
    model->weight_bytes = measure.bytes;
    model->layers = calloc((size_t)(c->num_hidden_layers > 0 ? c->num_hidden_layers : 1), sizeof *model->layers);
    if (model->layers == NULL) status = error_set(err, MEMPROF_ERR_NOMEM, "cuda backend: out of host memory");
    if (status == 0 && cudaMalloc(&model->weights, model->weight_bytes) != cudaSuccess)
        status = error_set(err, MEMPROF_ERR, "cuda backend: cannot allocate %zu MB for the weights", model->weight_bytes >> 20);
    if (status == 0) {
        layout_cursor point = {.model = model};
        lay_out_weights(&point);  // points every slot into the weights
    }
    if (status == 0) status = cuda_gemm_create(&model->gemm, model->scalar_type, 0, model->stream, err);
    if (status == 0 && options && options->gemm_tuning_file) cuda_gemm_set_tuning(model->gemm, options->gemm_tuning_file);
    if (status != 0) {
        cuda_model_free(model);
        return status;
    }
    model->peak_bytes = model->weight_bytes + cuda_gemm_workspace_bytes();
    char kernels[240];
    cuda_model_describe(kernels, sizeof kernels, model);
    log_info("cuda backend: %s", kernels);
    *out = model;
    return 0;
}

int cuda_model_load(cuda_model **out, const checkpoint *ckpt, const backend_options *options, memprof_error *err) {
    const tensor_view *embedding = checkpoint_tensor(ckpt, "gpt_neox.embed_in.weight");
    cuda_model *model;
    int status = cuda_model_allocate(&model, checkpoint_config(ckpt), embedding ? embedding->dtype : TENSOR_F16, options, err);
    if (status != 0) return status;
    cuda_upload upload;
    status = cuda_upload_begin(&upload, model->stream, model->scalar_type, 0, err);
    if (status == 0) {
        layout_cursor fill = {.model = model, .ckpt = ckpt, .upload = &upload, .err = err};
        lay_out_weights(&fill);
        status = fill.status;
        if (status != 0) cuda_upload_release(&upload);
        else status = cuda_upload_finish(&upload, err);
    }
    if (status != 0) {
        cuda_model_free(model);
        return status;
    }
    model->load_bytes = upload.bytes;
    model->load_seconds = upload.seconds;
    log_info("cuda backend: uploaded %.2f GB of %s weights as %s in %.2f s (%.2f GB/s)", (double)upload.bytes * 1e-9,
             tensor_dtype_name(model->weight_dtype), model->scalar_type == CUDA_SCALAR_BF16 ? "bf16" : "fp16",
             upload.seconds, upload.seconds > 0 ? (double)upload.bytes * 1e-9 / upload.seconds : 0.0);
    *out = model;
    return 0;
}

size_t cuda_weight_bytes(const model_config *config) {
    cuda_model shape = {.config = *config};
    layout_cursor measure = {.model = &shape};
    lay_out_weights(&measure);
    return measure.bytes;
}

void cuda_model_describe(char *out, size_t out_size, const cuda_model *model) {
    static const char *const attention[] = {"mma",           "wgmma",     "wgmma-serial",    "wgmma-64",
                                            "wgmma-pingpong", "wgmma-tma", "wgmma-tma-fma25", "wgmma-tma-fma50"};
    static const char *const up_gemm[] = {"cublaslt", "fused-gelu", "fused-gelu-pingpong"};
    static const char *const residual_gemm[] = {"cublaslt", "fused", "joined"};
    const char *head = !model->lm_head_fused                          ? "chunked"
                       : model->lm_head_wgmma == LM_HEAD_PINGPONG ? "fused-pingpong"
                       : model->lm_head_wgmma                     ? "fused-wgmma"
                       : model->lm_head_block_rows == 256         ? "fused-256"
                                                                  : "fused";
    char split[48] = "";
    if (model->statistics_processors > 0)
        snprintf(split, sizeof split, " (statistics on %d SMs)", model->statistics_processors);
    // The mma kernel's K/V tiles follow the device's shared memory; where none fit, or the head
    // dim is not one of its, the exact warp kernel runs.
    const char *attention_name = attention[model->attention_wgmma];
    if (model->attention_wgmma == 0 && model->config.num_attention_heads > 0) {
        int keys = cuda_flash_attention_keys((int)(model->config.hidden_size / model->config.num_attention_heads));
        attention_name = keys == 64 ? "mma" : keys == 32 ? "mma (32-key tiles)" : "warp";
    }
    snprintf(out, out_size, "attention %s, LM head %s%s, up GEMM %s, residual GEMM %s, rotary %s",
             attention_name, head, split, up_gemm[model->up_gemm_gelu],
             residual_gemm[model->residual_gemm],
             model->rotary_in_attention && model->attention_wgmma == 5 ? "in attention" : "pass");
}

void cuda_model_free(cuda_model *model) {
    if (model == NULL) return;
    // The kernels the settings resolved to (auto included), so that a profile says what ran.
    char kernels[240], shape[300];
    cuda_model_describe(kernels, sizeof kernels, model);
    snprintf(shape, sizeof shape, "%lld layers, hidden %lld; %s", (long long)model->config.num_hidden_layers,
             (long long)model->config.hidden_size, kernels);
    cuda_profile_report(&model->profile, shape);
    cuda_profile_free(&model->profile);
    cuda_gemm_destroy(model->gemm);
    cudaFree(model->weights);
    cudaFree(model->activations);
    if (model->staging.base) cudaFreeHost(model->staging.base);
    if (model->staging.inputs_copied) cudaEventDestroy((cudaEvent_t)model->staging.inputs_copied);
    cudaFree(model->cos_table);
    cudaFree(model->sin_table);
    if (model->stream) cudaStreamDestroy((cudaStream_t)model->stream);
    if (model->statistics_stream) cudaStreamDestroy((cudaStream_t)model->statistics_stream);
    for (int half = 0; half < 2; half++) {
        if (model->logits_written[half]) cudaEventDestroy((cudaEvent_t)model->logits_written[half]);
        if (model->logits_read[half]) cudaEventDestroy((cudaEvent_t)model->logits_read[half]);
    }
    free(model->layers);
    free(model);
}

// Bytes of activations per token (see cuda_internal.h); a fused LM head's workspace is per
// token too (cuda_lm_head_workspace_bytes: at most this per row, plus 255 of alignment).
static size_t bytes_per_token(const model_config *c, int head_partials) {
    size_t d = (size_t)c->hidden_size, ff = (size_t)c->intermediate_size;
    size_t head = head_partials ? cuda_lm_head_workspace_bytes(1024, head_partials) / 1024 + 1 : 0;
    return 4 * d + 6 * SCALAR_BYTES * d + SCALAR_BYTES * ff + 3 * 4 + 2 * 8 + 8 + head;
}

int cuda_attention_mode(int *out_wgmma, int *out_automatic, memprof_error *err) {
    const char *value = getenv("MEMPROF_ATTENTION");
    *out_wgmma = 0;
    *out_automatic = value == NULL || *value == '\0' || strcmp(value, "auto") == 0;
    if (*out_automatic || strcmp(value, "mma") == 0) return 0;
    int wgmma = strcmp(value, "wgmma") == 0          ? 1
                : strcmp(value, "wgmma-serial") == 0 ? 2
                : strcmp(value, "wgmma-64") == 0     ? 3
                : strcmp(value, "wgmma-pingpong") == 0 ? 4
                : strcmp(value, "wgmma-tma") == 0      ? 5
                : strcmp(value, "wgmma-tma-fma25") == 0 ? 6
                : strcmp(value, "wgmma-tma-fma50") == 0 ? 7
                                                     : 0;
    if (wgmma == 0)
        return error_set(err, MEMPROF_ERR,
                         "MEMPROF_ATTENTION: expected \"auto\", \"mma\", \"wgmma\", \"wgmma-serial\", \"wgmma-64\", "
                         "\"wgmma-pingpong\", \"wgmma-tma\", \"wgmma-tma-fma25\" or \"wgmma-tma-fma50\", got \"%s\"",
                         value);
    *out_wgmma = wgmma;
    return 0;
}

int cuda_up_gemm_mode(int *out_fused_gelu, int *out_automatic, memprof_error *err) {
    const char *value = getenv("MEMPROF_UP_GEMM");
    *out_fused_gelu = 0;
    *out_automatic = value == NULL || *value == '\0' || strcmp(value, "auto") == 0;
    if (*out_automatic || strcmp(value, "cublaslt") == 0) return 0;
    int fused = strcmp(value, "fused-gelu") == 0 ? 1 : strcmp(value, "fused-gelu-pingpong") == 0 ? 2 : 0;
    if (fused == 0)
        return error_set(err, MEMPROF_ERR, "MEMPROF_UP_GEMM: expected \"auto\", \"cublaslt\", \"fused-gelu\" or "
                         "\"fused-gelu-pingpong\", got \"%s\"", value);
    *out_fused_gelu = fused;
    return 0;
}

// A setting with two kernels: unset or "auto" (*out_automatic = 1, *out_second = 0), `first`
// (*out_second = 0) or `second` (1); any other value is refused with one line.
static int two_way_setting(const char *variable, const char *first, const char *second, int *out_second,
                           int *out_automatic, memprof_error *err) {
    const char *value = getenv(variable);
    *out_second = 0;
    *out_automatic = value == NULL || *value == '\0' || strcmp(value, "auto") == 0;
    if (*out_automatic || strcmp(value, first) == 0) return 0;
    if (strcmp(value, second) != 0)
        return error_set(err, MEMPROF_ERR, "%s: expected \"auto\", \"%s\" or \"%s\", got \"%s\"", variable, first,
                         second, value);
    *out_second = 1;
    return 0;
}

int cuda_residual_gemm_mode(int *out_mode, int *out_automatic, memprof_error *err) {
    const char *value = getenv("MEMPROF_RESIDUAL_GEMM");
    if (value != NULL && strcmp(value, "joined") == 0) {
        *out_mode = RESIDUAL_GEMM_JOINED, *out_automatic = 0;
        return 0;
    }
    int fused = 0;
    int status = two_way_setting("MEMPROF_RESIDUAL_GEMM", "cublaslt", "fused", &fused, out_automatic, err);
    if (status != 0)  // the refusal names the third kernel too
        return error_set(err, MEMPROF_ERR, "MEMPROF_RESIDUAL_GEMM: expected \"auto\", \"cublaslt\", \"fused\" or "
                         "\"joined\", got \"%s\"", value);
    *out_mode = fused ? RESIDUAL_GEMM_FUSED : RESIDUAL_GEMM_CUBLASLT;
    return 0;
}

int cuda_rotary_mode(int *out_in_attention, int *out_automatic, memprof_error *err) {
    return two_way_setting("MEMPROF_ROTARY", "pass", "attention", out_in_attention, out_automatic, err);
}

int cuda_statistics_processors_mode(int *out_processors, int *out_automatic, memprof_error *err) {
    const char *value = getenv("MEMPROF_STATISTICS_SMS");
    *out_processors = 0;
    *out_automatic = value == NULL || *value == '\0' || strcmp(value, "auto") == 0;
    if (*out_automatic) return 0;
    char *end = NULL;
    long processors = strtol(value, &end, 10);
    if (end == value || *end != '\0' || value[0] == '-' || value[0] == '+' || value[0] == ' ' || processors > 66)
        return error_set(err, MEMPROF_ERR, "MEMPROF_STATISTICS_SMS: expected \"auto\" or a whole number of SMs from 0 "
                         "to 66, got \"%s\"", value);
    *out_processors = (int)processors;
    return 0;
}

int cuda_lm_head_mode(int *out_block_rows, int *out_wgmma, int *out_automatic, const model_config *c,
                      memprof_error *err) {
    const char *value = getenv("MEMPROF_LM_HEAD");
    *out_block_rows = 0, *out_wgmma = 0;
    *out_automatic = value == NULL || *value == '\0' || strcmp(value, "auto") == 0;
    if (*out_automatic || strcmp(value, "chunked") == 0) return 0;
    int wgmma = strcmp(value, "fused-wgmma") == 0      ? LM_HEAD_WGMMA
                : strcmp(value, "fused-pingpong") == 0 ? LM_HEAD_PINGPONG
                                                       : 0;
    int block_rows = strcmp(value, "fused") == 0 || wgmma ? 128 : strcmp(value, "fused-256") == 0 ? 256 : 0;
    if (block_rows == 0)
        return error_set(err, MEMPROF_ERR, "MEMPROF_LM_HEAD: expected \"auto\", \"chunked\", \"fused\", "
                         "\"fused-256\", \"fused-wgmma\" or \"fused-pingpong\", got \"%s\"", value);
    if (c != NULL && c->hidden_size % 8 != 0)
        return error_set(err, MEMPROF_ERR_UNSUPPORTED, "MEMPROF_LM_HEAD=%s: the hidden size (%lld) must be a multiple "
                         "of 8", value, (long long)c->hidden_size);
    *out_block_rows = block_rows, *out_wgmma = wgmma;
    return 0;
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
    TAKE(model->norm1, void *, N * d * SCALAR_BYTES);
    TAKE(model->norm2, void *, N * d * SCALAR_BYTES);
    if (model->residual_gemm == RESIDUAL_GEMM_JOINED) {  // [N, d + ff]: attention | hidden in each row
        TAKE(model->attention, void *, N * (d + ff) * SCALAR_BYTES);
        if (base) model->hidden = (char *)model->attention + d * SCALAR_BYTES;
    } else {
        TAKE(model->attention, void *, N * d * SCALAR_BYTES);
        TAKE(model->hidden, void *, N * ff * SCALAR_BYTES);
    }
    TAKE(model->qkv, void *, N * 3 * d * SCALAR_BYTES);
    TAKE(model->tokens, int32_t *, N * 4);
    TAKE(model->positions, int32_t *, N * 4);
    TAKE(model->targets, int32_t *, N * 4);
    TAKE(model->surprisal, double *, N * 8);
    TAKE(model->entropy, double *, N * 8);
    TAKE(model->rank, int64_t *, N * 8);
    TAKE(model->starts, int32_t *, (size_t)sequences * 4);
    TAKE(model->lengths, int32_t *, (size_t)sequences * 4);
    TAKE(model->sequence_sums, double *, (size_t)sequences * 24);
    TAKE(model->sequence_correct, int64_t *, (size_t)sequences * 8);
    TAKE(model->logits, float *, (size_t)logits_rows * c->vocab_size * 4);
    TAKE(model->layer_bias, float *, d * 4);
    TAKE(model->lm_head_workspace, void *,
         model->lm_head_partials ? cuda_lm_head_workspace_bytes(tokens, model->lm_head_partials) : 0);
#undef TAKE
    return offset;
}

int cuda_plan_sequences(int64_t *out_logits_rows, const model_config *c, int head_partials, size_t free_bytes,
                        size_t memory_cap, size_t fixed_bytes, int64_t max_length) {
    size_t per_token = bytes_per_token(c, head_partials), per_logits_row = (size_t)c->vocab_size * 4;
    size_t headroom = (size_t)512 << 20;  // the CUDA context, lazily loaded kernels, rotary tables
    size_t budget = free_bytes > headroom ? free_bytes - headroom : 0;
    if (memory_cap) {
        size_t allowed = memory_cap > fixed_bytes ? memory_cap - fixed_bytes : 0;
        if (allowed < budget) budget = allowed;
    }
    // Logits take at most a quarter of the budget, never more than 8192 rows (none with the
    // fused LM head).
    size_t logits_rows = head_partials ? 0 : budget / 4 / per_logits_row;
    if (logits_rows > 8192) logits_rows = 8192;
    size_t remaining = budget - logits_rows * per_logits_row;
    // What lay_out_activations adds to the per-token bytes: starts, lengths and the sums per
    // sequence, the layer bias, and up to 255 bytes of alignment after each of its 19 buffers.
    size_t alignment = 19 * 256 + (size_t)c->hidden_size * 4;
    remaining = remaining > alignment ? remaining - alignment : 0;
    int64_t fit = (int64_t)(remaining / (per_token * (size_t)max_length + 2 * 4 + 32));
    if (fit < 1 || (logits_rows < 1 && !head_partials)) return 0;
    // At most 2^31 − 1 elements in the widest activation ([N, 3d] or [N, ff]): library
    // kernels may index in 32 bits, and throughput saturates long before that many rows.
    int64_t widest = 3 * (int64_t)c->hidden_size > c->intermediate_size ? 3 * (int64_t)c->hidden_size
                                                                       : c->intermediate_size;
    int64_t index_limit = (int64_t)INT32_MAX / widest / max_length;
    if (fit > index_limit) fit = index_limit > 0 ? index_limit : 1;
    *out_logits_rows = (int64_t)logits_rows;
    return fit > 4096 ? 4096 : (int)fit;
}

size_t cuda_activation_bytes(const model_config *config, int head_partials, int64_t tokens, int sequences,
                             int64_t logits_rows) {
    cuda_model shape = {.config = *config, .lm_head_fused = head_partials > 0, .lm_head_partials = head_partials};
    return lay_out_activations(&shape, NULL, tokens, sequences, logits_rows);
}

int cuda_plan_batch(int *out_sequences, cuda_model *model, int64_t max_length, memprof_error *err) {
    const model_config *c = &model->config;
    int sequences = model->batch_sequences;
    int64_t planned_logits_rows = 8192;
    if (sequences <= 0) {
        size_t free_bytes = 0, total_bytes = 0;
        CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes), err, "cudaMemGetInfo");
        // Our own activations are free to reuse.
        free_bytes += (size_t)model->capacity_tokens * bytes_per_token(c, model->lm_head_partials) +
                      (size_t)model->logits_rows * (size_t)c->vocab_size * 4;
        sequences = cuda_plan_sequences(&planned_logits_rows, c, model->lm_head_partials, free_bytes, model->memory_cap,
                                        model->weight_bytes + cuda_gemm_workspace_bytes(), max_length);
        if (sequences < 1)
            return error_set(err, MEMPROF_ERR, "cuda backend: not enough GPU memory for one sequence of %lld tokens "
                             "(%zu MB free%s)", (long long)max_length, free_bytes >> 20,
                             model->memory_cap ? ", under the --max-gpu-memory cap" : "");
        // The joined operand [N, d + ff] is the widest activation then: the same 2^31 − 1
        // elements at most as cuda_plan_sequences keeps the others under.
        int64_t joined_limit = (int64_t)INT32_MAX / (c->hidden_size + c->intermediate_size) / max_length;
        if (model->residual_gemm == RESIDUAL_GEMM_JOINED && sequences > joined_limit)
            sequences = joined_limit > 0 ? (int)joined_limit : 1;
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
    int64_t logits_rows = model->lm_head_fused ? 0 : tokens < planned_logits_rows ? tokens : planned_logits_rows;
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
