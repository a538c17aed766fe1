// pythia_sizes.c — the Pythia suite's architectures by size name (the published model table; config.json
// of the published models is authoritative, these are for benchmarks with random weights).
#include <string.h>

#include "memprof/checkpoint.h"

static const struct {
    const char *name;
    int layers, hidden, heads, vocab;
} pythia_sizes[] = {
    {"14m", 6, 128, 4, 50304},    {"31m", 6, 256, 8, 50304},     {"70m", 6, 512, 8, 50304},
    {"160m", 12, 768, 12, 50304}, {"410m", 24, 1024, 16, 50304}, {"1b", 16, 2048, 8, 50304},
    {"1.4b", 24, 2048, 16, 50304}, {"2.8b", 32, 2560, 32, 50304}, {"6.9b", 32, 4096, 32, 50432},
    {"12b", 36, 5120, 40, 50688},
};

int pythia_size_config(model_config *out, const char *size, memprof_error *err) {
    for (size_t i = 0; i < sizeof pythia_sizes / sizeof pythia_sizes[0]; i++) {
        if (strcmp(size, pythia_sizes[i].name) != 0) continue;
        memset(out, 0, sizeof *out);
        out->num_hidden_layers = pythia_sizes[i].layers;
        out->hidden_size = pythia_sizes[i].hidden;
        out->num_attention_heads = pythia_sizes[i].heads;
        out->intermediate_size = 4 * pythia_sizes[i].hidden;
        out->vocab_size = pythia_sizes[i].vocab;
        out->head_dim = out->hidden_size / out->num_attention_heads;
        out->rotary_fraction = 0.25;
        out->rotary_dims = (int)(out->head_dim * 0.25);
        out->rotary_base = 10000.0;
        out->layer_norm_eps = 1e-5;
        return 0;
    }
    return error_set(err, MEMPROF_ERR, "unknown Pythia size '%s' (14m, 31m, 70m, 160m, 410m, 1b, 1.4b, 2.8b, 6.9b, 12b)",
                     size);
}
