// cpu_model.c — lays out a model's fp32 weights (one allocation) and fills them from a
// checkpoint, or leaves them to the caller (weights shared in memory); the rotary tables;
// per-thread workspaces for one sequence.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/cpu_internal.h"
#include "memprof/rotary.h"

// The one weight layout: every tensor in checkpoint order, packed in storage. take() points a
// slot at the tensor's place in storage (when allocated) and, with a checkpoint, fills it
// after checking its element count.
typedef struct layout_cursor {
    cpu_model *model;
    const checkpoint *ckpt;  // NULL: lay out only
    size_t floats;           // used so far
    int status;
    memprof_error *err;
} layout_cursor;

static void take(layout_cursor *at, const float **slot, const char *name, int64_t numel) {
    float *destination = at->model->storage ? at->model->storage + at->floats : NULL;
    if (at->ckpt && at->status == 0) {
        const tensor_view *tensor = checkpoint_tensor(at->ckpt, name);
        if (tensor == NULL) at->status = error_set(at->err, MEMPROF_ERR, "tensor %s: missing from checkpoint", name);
        else if (tensor->numel != numel)
            at->status = error_set(at->err, MEMPROF_ERR, "tensor %s: %lld elements, expected %lld", name,
                                   (long long)tensor->numel, (long long)numel);
        else if (tensor_read_f32(destination, tensor, at->err) != 0) at->status = error_prefix(at->err, "tensor %s", name);
    }
    if (slot) *slot = destination;
    at->floats += (size_t)numel;
}

// Where weight `w` (neox_weight_at order) goes; NULL while the layers are not allocated.
static const float **slot_of(cpu_model *model, const neox_weight *w) {
    if (w->layer < 0) {
        if (strcmp(w->name, "gpt_neox.embed_in.weight") == 0) return &model->embed_in;
        if (strcmp(w->name, "embed_out.weight") == 0) return &model->embed_out;
        return strcmp(w->name, "gpt_neox.final_layer_norm.weight") == 0 ? &model->final_ln_weight : &model->final_ln_bias;
    }
    if (!model->layers) return NULL;
    cpu_layer_weights *l = &model->layers[w->layer];
    const float **parts[NEOX_LAYER_PARTS] = {&l->ln1_weight,   &l->ln1_bias,   &l->ln2_weight, &l->ln2_bias,
                                             &l->qkv_weight,   &l->qkv_bias,   &l->dense_weight, &l->dense_bias,
                                             &l->up_weight,    &l->up_bias,    &l->down_weight, &l->down_bias};
    return parts[w->part];
}

static int lay_out_weights(size_t *out_floats, cpu_model *model, const checkpoint *ckpt, memprof_error *err) {
    layout_cursor at = {model, ckpt, 0, 0, err};
    for (int64_t i = 0; i < neox_weight_count(&model->config); i++) {
        neox_weight w;
        neox_weight_at(&w, &model->config, i);
        take(&at, slot_of(model, &w), w.name, w.numel);
    }
    *out_floats = at.floats;
    return at.status;
}

int cpu_model_allocate(cpu_model **out, const model_config *c, tensor_dtype weight_dtype, memprof_error *err) {
    cpu_model *model = calloc(1, sizeof *model);
    if (model == NULL) return error_set(err, MEMPROF_ERR_NOMEM, "cpu backend: out of memory");
    model->config = *c;
    model->weight_dtype = weight_dtype;
    size_t total = 0;
    lay_out_weights(&total, model, NULL, err);  // measures only: storage and layers are still NULL
    model->storage = malloc(total * sizeof(float));
    model->layers = calloc((size_t)(c->num_hidden_layers > 0 ? c->num_hidden_layers : 1), sizeof *model->layers);
    if (model->storage == NULL || model->layers == NULL) {
        cpu_model_free(model);
        return error_set(err, MEMPROF_ERR_NOMEM, "cpu backend: cannot allocate %zu MB of fp32 weights",
                         total * sizeof(float) >> 20);
    }
    model->storage_floats = total;
    lay_out_weights(&total, model, NULL, err);  // points every slot into storage
    *out = model;
    return 0;
}

int cpu_model_load(cpu_model **out, const checkpoint *ckpt, memprof_error *err) {
    const tensor_view *embedding = checkpoint_tensor(ckpt, "gpt_neox.embed_in.weight");
    cpu_model *model;
    int status = cpu_model_allocate(&model, checkpoint_config(ckpt), embedding ? embedding->dtype : TENSOR_F32, err);
    if (status != 0) return status;
    size_t total = 0;
    status = lay_out_weights(&total, model, ckpt, err);
    if (status != 0) {
        cpu_model_free(model);
        return status;
    }
    *out = model;
    return 0;
}

void cpu_model_free(cpu_model *model) {
    if (model == NULL) return;
    free(model->storage);
    free(model->layers);
    free(model->rotary_cos);
    free(model->rotary_sin);
    free(model);
}

// Grows the tables to `positions` positions (rotary.h: the same tables on every backend).
int cpu_rotary_prepare(cpu_model *model, int64_t positions, memprof_error *err) {
    if (positions <= model->rotary_positions) return 0;
    int half = model->config.rotary_dims / 2;
    size_t count = (size_t)positions * (size_t)(half > 0 ? half : 1);
    float *cos_table = realloc(model->rotary_cos, count * sizeof(float));
    if (cos_table) model->rotary_cos = cos_table;
    float *sin_table = realloc(model->rotary_sin, count * sizeof(float));
    if (sin_table) model->rotary_sin = sin_table;
    if (cos_table == NULL || sin_table == NULL) return error_set(err, MEMPROF_ERR_NOMEM, "rotary tables: out of memory");
    rotary_tables_compute(cos_table, sin_table, &model->config, model->weight_dtype, positions);
    model->rotary_positions = positions;
    return 0;
}

int cpu_workspace_alloc(cpu_workspace *out, const model_config *c, int64_t max_tokens, memprof_error *err) {
    memset(out, 0, sizeof *out);
    size_t T = (size_t)max_tokens, d = (size_t)c->hidden_size;
    out->max_tokens = max_tokens;
    out->residual = malloc(T * d * sizeof(float));
    out->norm1 = malloc(T * d * sizeof(float));
    out->norm2 = malloc(T * d * sizeof(float));
    out->qkv = malloc(T * 3 * d * sizeof(float));
    out->attention = malloc(T * d * sizeof(float));
    out->branch = malloc(T * d * sizeof(float));
    out->hidden = malloc(T * (size_t)c->intermediate_size * sizeof(float));
    out->scores = malloc((size_t)ATTENTION_BLOCK * T * sizeof(float));
    out->logits = malloc((size_t)LOGITS_CHUNK * (size_t)c->vocab_size * sizeof(float));
    if (!out->residual || !out->norm1 || !out->norm2 || !out->qkv || !out->attention || !out->branch ||
        !out->hidden || !out->scores || !out->logits) {
        cpu_workspace_free(out);
        return error_set(err, MEMPROF_ERR_NOMEM, "cpu backend: cannot allocate a workspace for %lld tokens",
                         (long long)max_tokens);
    }
    return 0;
}

void cpu_workspace_free(cpu_workspace *w) {
    free(w->residual);
    free(w->norm1);
    free(w->norm2);
    free(w->qkv);
    free(w->attention);
    free(w->branch);
    free(w->hidden);
    free(w->scores);
    free(w->logits);
    memset(w, 0, sizeof *w);
}
