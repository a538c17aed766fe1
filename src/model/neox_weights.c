// neox_weights.c — the GPT-NeoX weight inventory (checkpoint.h): names, shapes and order.
#include <stdio.h>
#include <string.h>

#include "memprof/checkpoint.h"

// 'd' = hidden size, '3' = 3 d (fused QKV), 'f' = intermediate size, 0 = none.
static const struct { const char *suffix; char rows, cols; } layer_parts[NEOX_LAYER_PARTS] = {
    {"input_layernorm.weight", 'd', 0},            {"input_layernorm.bias", 'd', 0},
    {"post_attention_layernorm.weight", 'd', 0},   {"post_attention_layernorm.bias", 'd', 0},
    {"attention.query_key_value.weight", '3', 'd'}, {"attention.query_key_value.bias", '3', 0},
    {"attention.dense.weight", 'd', 'd'},          {"attention.dense.bias", 'd', 0},
    {"mlp.dense_h_to_4h.weight", 'f', 'd'},        {"mlp.dense_h_to_4h.bias", 'f', 0},
    {"mlp.dense_4h_to_h.weight", 'd', 'f'},        {"mlp.dense_4h_to_h.bias", 'd', 0},
};

int64_t neox_weight_count(const model_config *c) { return 4 + (int64_t)NEOX_LAYER_PARTS * c->num_hidden_layers; }

static int64_t dimension(const model_config *c, char symbol) {
    int64_t d = c->hidden_size;
    return symbol == 'd' ? d : symbol == '3' ? 3 * d : symbol == 'f' ? (int64_t)c->intermediate_size : 0;
}

static void set(neox_weight *out, const char *name, char rows, char cols, int64_t layer, int part, const model_config *c) {
    snprintf(out->name, sizeof out->name, "%s", name);
    out->shape[0] = rows == 'V' ? (int64_t)c->vocab_size : dimension(c, rows);
    out->shape[1] = dimension(c, cols);
    out->ndim = cols ? 2 : 1;
    out->numel = out->shape[0] * (cols ? out->shape[1] : 1);
    out->layer = layer;
    out->part = part;
}

void neox_weight_at(neox_weight *out, const model_config *c, int64_t index) {
    int64_t last = neox_weight_count(c) - 1;
    memset(out, 0, sizeof *out);
    if (index == 0) { set(out, "gpt_neox.embed_in.weight", 'V', 'd', -1, 0, c); return; }
    if (index == last - 2) { set(out, "gpt_neox.final_layer_norm.weight", 'd', 0, -1, 0, c); return; }
    if (index == last - 1) { set(out, "gpt_neox.final_layer_norm.bias", 'd', 0, -1, 0, c); return; }
    if (index == last) { set(out, "embed_out.weight", 'V', 'd', -1, 0, c); return; }
    int64_t layer = (index - 1) / NEOX_LAYER_PARTS;
    int part = (int)((index - 1) % NEOX_LAYER_PARTS);
    char name[TENSOR_NAME_MAX];
    snprintf(name, sizeof name, "gpt_neox.layers.%lld.%s", (long long)layer, layer_parts[part].suffix);
    set(out, name, layer_parts[part].rows, layer_parts[part].cols, layer, part, c);
}
