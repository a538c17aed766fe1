// checkpoint.h — a GPT-NeoX checkpoint folder as published (config.json + weights).
//
// checkpoint_open resolves the weight files in this order: model.safetensors.index.json,
// model.safetensors, pytorch_model.bin.index.json, pytorch_model.bin; mmaps them (never
// reads them whole), checks every tensor's name, dtype and shape against config.json,
// skips the legacy buffers (attention.bias, attention.masked_bias, rotary_emb.inv_freq)
// and hashes each file (xxh64) for provenance.
//
// Tensor names are the Hugging Face ones; the LM head is always looked up as
// "embed_out.weight" whether the file calls it embed_out.weight or lm_head.weight.
#ifndef MEMPROF_CHECKPOINT_H
#define MEMPROF_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "memprof/error.h"

typedef enum tensor_dtype {
    TENSOR_BOOL, TENSOR_U8, TENSOR_I8, TENSOR_I16, TENSOR_U16, TENSOR_F16, TENSOR_BF16,
    TENSOR_I32, TENSOR_U32, TENSOR_F32, TENSOR_I64, TENSOR_U64, TENSOR_F64,
} tensor_dtype;

size_t tensor_dtype_size(tensor_dtype dtype);
const char *tensor_dtype_name(tensor_dtype dtype);

#define TENSOR_MAX_DIMS 8
#define TENSOR_NAME_MAX 256

typedef struct tensor_view {
    char name[TENSOR_NAME_MAX];
    tensor_dtype dtype;
    int ndim;
    int64_t shape[TENSOR_MAX_DIMS];
    int64_t numel;
    const void *data;  // inside an mmapped file; may be unaligned
    size_t nbytes;
    int file_index;    // index into checkpoint.files
} tensor_view;

// The architecture, from config.json (either spelling of the rotary keys).
typedef struct model_config {
    int hidden_size;          // d
    int num_attention_heads;  // H
    int num_hidden_layers;    // L
    int intermediate_size;    // ff
    int vocab_size;           // V, the padded model vocabulary
    int head_dim;             // d / H
    int rotary_dims;          // int(head_dim * rotary_fraction)
    double rotary_fraction;   // rotary_pct or rope_parameters.partial_rotary_factor
    double rotary_base;       // rotary_emb_base or rope_theta (default 10000)
    double layer_norm_eps;    // default 1e-5
} model_config;

// Parses and validates config.json; unsupported architectures are MEMPROF_ERR_UNSUPPORTED.
int model_config_load(model_config *out, const char *path, memprof_error *err);

typedef struct weight_file {
    char path[4096];
    size_t size;
    uint64_t xxh64;  // hash of the whole file's bytes
} weight_file;

typedef struct checkpoint checkpoint;  // opaque: files, mappings, tensor table

int checkpoint_open(checkpoint **out, const char *directory, memprof_error *err);
void checkpoint_close(checkpoint *ckpt);

const model_config *checkpoint_config(const checkpoint *ckpt);
// NULL when absent. Names as Hugging Face writes them, e.g. "gpt_neox.layers.0.mlp.dense_h_to_4h.bias".
const tensor_view *checkpoint_tensor(const checkpoint *ckpt, const char *name);
int checkpoint_num_files(const checkpoint *ckpt);
const weight_file *checkpoint_file(const checkpoint *ckpt, int index);
// Hex digest combining the per-file hashes in resolution order (stats.h5 /checkpoints/checksum).
void checkpoint_checksum(char out_hex[17], const checkpoint *ckpt);

// The GPT-NeoX weights, in the one order the checkpoint reader checks them and every backend
// lays them out: gpt_neox.embed_in.weight [V, d]; per layer i the NEOX_LAYER_PARTS tensors
// gpt_neox.layers.{i}.{input_layernorm, post_attention_layernorm}.{weight, bias} [d],
// attention.query_key_value.weight [3d, d] .bias [3d], attention.dense.weight [d, d] .bias [d],
// mlp.dense_h_to_4h.weight [ff, d] .bias [ff], mlp.dense_4h_to_h.weight [d, ff] .bias [d];
// gpt_neox.final_layer_norm.{weight, bias} [d]; embed_out.weight [V, d].
enum { NEOX_LAYER_PARTS = 12 };
typedef struct neox_weight {
    char name[TENSOR_NAME_MAX];
    int ndim;
    int64_t shape[2];  // shape[1] = 0 for vectors
    int64_t numel;
    int64_t layer;     // −1 outside the layers
    int part;          // with a layer: 0 … NEOX_LAYER_PARTS − 1 in the order above
} neox_weight;

int64_t neox_weight_count(const model_config *c);  // 4 + NEOX_LAYER_PARTS × layers
// Weight `index` (0 ≤ index < neox_weight_count).
void neox_weight_at(neox_weight *out, const model_config *c, int64_t index);

// The Pythia architecture of a size name ("14m", "70m", … "12b"): the Pythia model table.
int pythia_size_config(model_config *out, const char *size, memprof_error *err);

// A checkpoint held in memory with random weights, for benchmarks: the tensor set of a
// published Pythia file (F16 or F32), values drawn from a seeded generator with the
// fixtures' scales (LayerNorm weights 1 ± 0.1, biases σ = 0.05, embed_in σ = 1, matrices and
// the LM head σ = 1/sqrt(fan_in)), uniform with those standard deviations so that even 12b
// fills in seconds. Identical for the same seed, whatever the thread count.
int checkpoint_create_random(checkpoint **out, const model_config *config, tensor_dtype dtype, uint64_t seed,
                             memprof_error *err);

// Converts numel elements of an F16, BF16 or F32 tensor to float32.
int tensor_read_f32(float *out, const tensor_view *tensor, memprof_error *err);

#endif
