// test_checkpoint_random.c — in-memory random checkpoints (benchmarks): complete tensor set
// with the published shapes, reproducible for a seed, different across seeds, the requested
// scales (checked against the analytic mean and standard deviation), and scorable.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "memprof/backend.h"
#include "memprof/checkpoint.h"
#include "model/half.h"
#include "test.h"

static void moments(double *mean, double *sd, const tensor_view *t) {
    float *values = malloc((size_t)t->numel * sizeof *values);
    memprof_error err;
    tensor_read_f32(values, t, &err);
    double sum = 0, squares = 0;
    for (int64_t i = 0; i < t->numel; i++) sum += values[i];
    *mean = sum / (double)t->numel;
    for (int64_t i = 0; i < t->numel; i++) squares += (values[i] - *mean) * (values[i] - *mean);
    *sd = sqrt(squares / (double)t->numel);
    free(values);
}

int main(void) {
    memprof_error err = {0};
    model_config config;
    CHECK("pythia_size_config 70m", pythia_size_config(&config, "70m", &err) == 0 && config.hidden_size == 512 &&
                                        config.num_hidden_layers == 6 && config.rotary_dims == 16 &&
                                        config.vocab_size == 50304, "%s", err.message);
    CHECK("pythia_size_config rejects unknown sizes", pythia_size_config(&config, "7b", &err) != 0 &&
                                                          strstr(err.message, "'7b'") != NULL, "%s", err.message);
    pythia_size_config(&config, "14m", &err);
    checkpoint *a = NULL, *b = NULL, *c = NULL;
    int status = checkpoint_create_random(&a, &config, TENSOR_F16, 5, &err);
    status |= checkpoint_create_random(&b, &config, TENSOR_F16, 5, &err);
    status |= checkpoint_create_random(&c, &config, TENSOR_F16, 6, &err);
    CHECK("create three random checkpoints", status == 0, "%s", err.message);
    if (status != 0) return 1;

    const tensor_view *qkv = checkpoint_tensor(a, "gpt_neox.layers.5.attention.query_key_value.weight");
    const tensor_view *head = checkpoint_tensor(a, "embed_out.weight");
    CHECK("published names and shapes", qkv && qkv->shape[0] == 3 * 128 && qkv->shape[1] == 128 && head &&
                                            head->shape[0] == 50304 && checkpoint_tensor(a, "gpt_neox.final_layer_norm.bias"),
          "missing or misshapen tensors");
    const tensor_view *same = checkpoint_tensor(b, "embed_out.weight"), *other = checkpoint_tensor(c, "embed_out.weight");
    CHECK("same seed, same bytes", memcmp(head->data, same->data, head->nbytes) == 0, "differ");
    CHECK("other seed, other bytes", memcmp(head->data, other->data, head->nbytes) != 0, "identical");

    // F16 is the F32 draw rounded to nearest even (the fill may use the hardware conversion;
    // float_to_half_bits is the software reference).
    checkpoint *wide = NULL;
    if (checkpoint_create_random(&wide, &config, TENSOR_F32, 5, &err) == 0) {
        const tensor_view *exact = checkpoint_tensor(wide, "embed_out.weight");
        int64_t differ = 0;
        for (int64_t i = 0; i < head->numel; i++)
            differ += ((const uint16_t *)head->data)[i] != float_to_half_bits(((const float *)exact->data)[i]);
        CHECK("F16 values are the F32 values rounded to nearest even", differ == 0, "%lld of %lld differ",
              (long long)differ, (long long)head->numel);
        checkpoint_close(wide);
    } else {
        CHECK("create an F32 random checkpoint", 0, "%s", err.message);
    }

    double mean, sd;
    moments(&mean, &sd, checkpoint_tensor(a, "gpt_neox.embed_in.weight"));
    CHECK("embed_in: mean 0, sd 1", fabs(mean) < 0.01 && fabs(sd - 1.0) < 0.01, "mean %g sd %g", mean, sd);
    moments(&mean, &sd, qkv);
    CHECK("matrices: sd 1/sqrt(fan_in)", fabs(sd - 1.0 / sqrt(128.0)) < 0.002, "sd %g", sd);
    moments(&mean, &sd, checkpoint_tensor(a, "gpt_neox.layers.0.input_layernorm.weight"));
    CHECK("layernorm weights: 1 +- 0.1", fabs(mean - 1.0) < 0.02 && fabs(sd - 0.1 / sqrt(3.0)) < 0.02, "mean %g sd %g",
          mean, sd);

    // Scorable by the CPU backend: finite statistics, a non-uniform prediction.
    const backend *cpu = cpu_backend();
    void *model = NULL;
    backend_options options = {.threads = 1};
    status = cpu->load(&model, a, &options, &err);
    int32_t tokens[64];
    for (int i = 0; i < 64; i++) tokens[i] = (i * 7919) % 50277;
    token_sequence sequence = {tokens, 64};
    sequence_statistics stats;
    if (status == 0) status = cpu->score(&stats, NULL, model, &sequence, 1, &err);
    CHECK("cpu scores a random checkpoint", status == 0 && isfinite(stats.sup_seq) && stats.sup_seq > 0 &&
                                                stats.entr_seq < log(50304.0) - 0.1, "%s (sup %g entr %g)",
          err.message, stats.sup_seq, stats.entr_seq);
    if (model) cpu->unload(model);
    checkpoint_close(a), checkpoint_close(b), checkpoint_close(c);
    return test_failures ? 1 : 0;
}
