// cpu_forward.c — the GPT-NeoX transformer for one sequence, fp32, as HF computes it:
//   h = embed_in[x]
//   per layer: h = (mlp(LN2(h)) + attn(LN1(h))) + h        (parallel residual)
//   out = final_layer_norm(h)                              → workspace->norm1 [T, d]
#include <string.h>

#include "cpu/cpu_internal.h"

void cpu_forward_hidden(cpu_workspace *w, const cpu_model *model, const int32_t *tokens, int64_t T) {
    const model_config *c = &model->config;
    int d = c->hidden_size, ff = c->intermediate_size, H = c->num_attention_heads, hd = c->head_dim;

    for (int64_t t = 0; t < T; t++)
        memcpy(w->residual + t * d, model->embed_in + (int64_t)tokens[t] * d, (size_t)d * sizeof(float));

    for (int l = 0; l < c->num_hidden_layers; l++) {
        const cpu_layer_weights *lw = &model->layers[l];
        layernorm_forward(w->norm1, w->residual, lw->ln1_weight, lw->ln1_bias, T, d, c->layer_norm_eps);
        layernorm_forward(w->norm2, w->residual, lw->ln2_weight, lw->ln2_bias, T, d, c->layer_norm_eps);

        linear_forward(w->qkv, w->norm1, lw->qkv_weight, lw->qkv_bias, T, d, 3 * d);
        rotary_apply(w->qkv, model->rotary_cos, model->rotary_sin, T, H, hd, c->rotary_dims);
        causal_attention_forward(w->attention, w->scores, w->qkv, T, H, hd);
        linear_forward(w->branch, w->attention, lw->dense_weight, lw->dense_bias, T, d, d);

        linear_forward(w->hidden, w->norm2, lw->up_weight, lw->up_bias, T, d, ff);
        gelu_erf_forward(w->hidden, T * ff);
        // The MLP output goes to norm1 (free by now) so the sum keeps HF's order.
        linear_forward(w->norm1, w->hidden, lw->down_weight, lw->down_bias, T, ff, d);
        for (int64_t i = 0; i < T * d; i++) w->residual[i] = (w->norm1[i] + w->branch[i]) + w->residual[i];
    }
    layernorm_forward(w->norm1, w->residual, model->final_ln_weight, model->final_ln_bias, T, d, c->layer_norm_eps);
}
