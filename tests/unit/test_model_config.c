// test_model_config.c — config.json in both rotary spellings, defaults, and every refusal
// (missing field, indivisible heads, unsupported activation / tying / residual / bias).
#include <stdlib.h>
#include <string.h>

#include "checkpoint_writer.h"
#include "memprof/checkpoint.h"
#include "test.h"

#define SIZES "\"hidden_size\": 64, \"num_attention_heads\": 4, \"num_hidden_layers\": 2, " \
              "\"intermediate_size\": 256, \"vocab_size\": 1024"

static int load(model_config *out, memprof_error *err, const char *directory, const char *json) {
    const char *path = path_in(directory, "config.json");
    write_text(path, json);
    memset(err, 0, sizeof *err);
    return model_config_load(out, path, err);
}

// Expects a failure with `code` whose message names config.json and contains `cause`.
static void check_refused(const char *label, const char *directory, const char *json, int code, const char *cause) {
    model_config c;
    memprof_error err;
    int status = load(&c, &err, directory, json);
    CHECK(label, status == code && strstr(err.message, "config.json") && strstr(err.message, cause),
          "status %d, message \"%s\" (want code %d and \"%s\")", status, err.message, code, cause);
}

int main(void) {
    char directory[] = "/tmp/memprof-config-XXXXXX";
    if (!mkdtemp(directory)) return 1;
    model_config c;
    memprof_error err;

    int status = load(&c, &err, directory,
                      "{" SIZES ", \"rotary_pct\": 0.25, \"rotary_emb_base\": 10000, \"layer_norm_eps\": 1e-05,"
                      " \"hidden_act\": \"gelu\", \"use_parallel_residual\": true, \"tie_word_embeddings\": false}");
    CHECK("config: published Pythia spelling (rotary_pct, rotary_emb_base)",
          status == 0 && c.rotary_fraction == 0.25 && c.rotary_dims == 4 && c.rotary_base == 10000 && c.head_dim == 16,
          "status %d (%s) rot %d base %g", status, err.message, c.rotary_dims, c.rotary_base);

    status = load(&c, &err, directory,
                  "{" SIZES ", \"rope_parameters\": {\"partial_rotary_factor\": 0.5, \"rope_theta\": 500,"
                  " \"rope_type\": \"default\"}, \"rotary_pct\": 0.25, \"rotary_emb_base\": 10000}");
    CHECK("config: transformers 5 rope_parameters win over the old keys",
          status == 0 && c.rotary_fraction == 0.5 && c.rotary_dims == 8 && c.rotary_base == 500,
          "status %d (%s) frac %g base %g", status, err.message, c.rotary_fraction, c.rotary_base);

    status = load(&c, &err, directory, "{" SIZES ", \"partial_rotary_factor\": 1.0, \"rope_theta\": 25.5}");
    CHECK("config: top-level partial_rotary_factor and rope_theta",
          status == 0 && c.rotary_dims == 16 && c.rotary_base == 25.5, "status %d (%s)", status, err.message);

    status = load(&c, &err, directory, "{" SIZES ", \"rotary_pct\": 0.25}");
    CHECK("config: defaults (eps 1e-5, base 10000)",
          status == 0 && c.layer_norm_eps == 1e-5 && c.rotary_base == 10000.0, "status %d (%s)", status, err.message);

    check_refused("config: missing hidden_size names the field", directory,
                  "{\"num_attention_heads\": 4, \"num_hidden_layers\": 2, \"intermediate_size\": 256,"
                  " \"vocab_size\": 1024, \"rotary_pct\": 0.25}",
                  MEMPROF_ERR, "missing required field \"hidden_size\"");
    check_refused("config: missing rotary fraction", directory, "{" SIZES "}", MEMPROF_ERR, "rotary_pct");
    check_refused("config: vocab_size of the wrong type", directory,
                  "{\"hidden_size\": 64, \"num_attention_heads\": 4, \"num_hidden_layers\": 2,"
                  " \"intermediate_size\": 256, \"vocab_size\": \"1024\", \"rotary_pct\": 0.25}",
                  MEMPROF_ERR, "\"vocab_size\" must be an integer");
    check_refused("config: hidden_size not divisible by heads", directory,
                  "{\"hidden_size\": 66, \"num_attention_heads\": 4, \"num_hidden_layers\": 2,"
                  " \"intermediate_size\": 256, \"vocab_size\": 1024, \"rotary_pct\": 0.25}",
                  MEMPROF_ERR, "not divisible");
    check_refused("config: hidden_act gelu_new not supported", directory,
                  "{" SIZES ", \"rotary_pct\": 0.25, \"hidden_act\": \"gelu_new\"}", MEMPROF_ERR_UNSUPPORTED,
                  "\"hidden_act\" = \"gelu_new\" is not supported");
    check_refused("config: tied embeddings not supported", directory,
                  "{" SIZES ", \"rotary_pct\": 0.25, \"tie_word_embeddings\": true}", MEMPROF_ERR_UNSUPPORTED,
                  "tie_word_embeddings\" = true (tied LM head) is not supported");
    check_refused("config: sequential residual not supported", directory,
                  "{" SIZES ", \"rotary_pct\": 0.25, \"use_parallel_residual\": false}", MEMPROF_ERR_UNSUPPORTED,
                  "use_parallel_residual\" = false (sequential residual) is not supported");
    check_refused("config: attention_bias false not supported", directory,
                  "{" SIZES ", \"rotary_pct\": 0.25, \"attention_bias\": false}", MEMPROF_ERR_UNSUPPORTED,
                  "attention_bias\" = false is not supported");
    check_refused("config: rope scaling type not supported", directory,
                  "{" SIZES ", \"rope_parameters\": {\"partial_rotary_factor\": 0.25, \"rope_type\": \"linear\"}}",
                  MEMPROF_ERR_UNSUPPORTED, "rope_type");
    check_refused("config: JSON syntax error has line and column", directory, "{" SIZES ",\n \"rotary_pct\": }",
                  MEMPROF_ERR, "config.json:2:");
    check_refused("config: duplicate keys refused", directory, "{" SIZES ", \"rotary_pct\": 0.25, \"vocab_size\": 5}",
                  MEMPROF_ERR, "duplicate");
    check_refused("config: top level must be an object", directory, "[1, 2]", MEMPROF_ERR, "not a JSON object");
    remove_tree(directory);
    model_config_load(&c, "/nonexistent/config.json", &err);
    CHECK("config: missing file names the path", strstr(err.message, "/nonexistent/config.json") != NULL, "%s",
          err.message);
    return test_failures != 0;
}
