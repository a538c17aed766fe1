// model_config.c — config.json of a GPT-NeoX checkpoint into model_config.
//
// Two spellings of the rotary keys exist: published Pythia writes top-level `rotary_pct`
// and `rotary_emb_base`; transformers >= 5 writes `rope_parameters.partial_rotary_factor`
// and `rope_parameters.rope_theta` (and sometimes top-level `partial_rotary_factor` /
// `rope_theta`). The newer spelling wins when both are present, as in transformers'
// `convert_rope_params_to_dict` (setdefault on rope_parameters).
#include <jansson.h>
#include <math.h>
#include <string.h>

#include "memprof/checkpoint.h"
#include "memprof/weights.h"
#include "model/json_file.h"

// Upper bound on every size field, so products like 3*d or V*d cannot overflow an int64
// and per-dimension values fit an int.
#define CONFIG_MAX_SIZE (1 << 24)

static int read_required_int(int *out, json_t *root, const char *key, const char *path,
                             memprof_error *err) {
    json_t *value = json_object_get(root, key);
    if (value == NULL)
        return error_set(err, MEMPROF_ERR, "%s: missing required field \"%s\"", path, key);
    if (!json_is_integer(value))
        return error_set(err, MEMPROF_ERR, "%s: field \"%s\" must be an integer", path, key);
    json_int_t v = json_integer_value(value);
    if (v <= 0 || v > CONFIG_MAX_SIZE)
        return error_set(err, MEMPROF_ERR, "%s: field \"%s\" = %lld is out of range (1..%d)",
                         path, key, (long long)v, CONFIG_MAX_SIZE);
    *out = (int)v;
    return 0;
}

// Looks `key` up in each object in turn (NULL objects skipped); the first hit wins.
// Returns 1 when found, 0 when absent, negative when present but not a number.
static int read_number(double *out, const char **found_as, json_t *first, json_t *second,
                       const char *key, const char *path, memprof_error *err) {
    json_t *objects[2] = {first, second};
    for (int i = 0; i < 2; i++) {
        json_t *value = objects[i] ? json_object_get(objects[i], key) : NULL;
        if (value == NULL) continue;
        if (!json_is_number(value))
            return error_set(err, MEMPROF_ERR, "%s: field \"%s%s\" must be a number", path,
                             i == 0 && first != second ? "rope_parameters." : "", key);
        *out = json_number_value(value);
        if (found_as) *found_as = key;
        return 1;
    }
    return 0;
}

static int read_bool(int *out, json_t *root, const char *key, int fallback, const char *path,
                     memprof_error *err) {
    json_t *value = json_object_get(root, key);
    if (value == NULL || json_is_null(value)) {
        *out = fallback;
        return 0;
    }
    if (!json_is_boolean(value))
        return error_set(err, MEMPROF_ERR, "%s: field \"%s\" must be true or false", path, key);
    *out = json_is_true(value);
    return 0;
}

// Everything after parsing: required sizes, rotary keys, defaults, unsupported features.
static int config_from_json(model_config *out, json_t *root, const char *path,
                            memprof_error *err) {
    model_config c = {0};
    int status;
    if ((status = read_required_int(&c.hidden_size, root, "hidden_size", path, err)) ||
        (status = read_required_int(&c.num_attention_heads, root, "num_attention_heads", path, err)) ||
        (status = read_required_int(&c.num_hidden_layers, root, "num_hidden_layers", path, err)) ||
        (status = read_required_int(&c.intermediate_size, root, "intermediate_size", path, err)) ||
        (status = read_required_int(&c.vocab_size, root, "vocab_size", path, err)))
        return status;
    if (c.hidden_size % c.num_attention_heads != 0)
        return error_set(err, MEMPROF_ERR,
                         "%s: field \"hidden_size\" = %d is not divisible by num_attention_heads = %d",
                         path, c.hidden_size, c.num_attention_heads);
    c.head_dim = c.hidden_size / c.num_attention_heads;

    json_t *rope = json_object_get(root, "rope_parameters");
    if (rope != NULL && !json_is_null(rope) && !json_is_object(rope))
        return error_set(err, MEMPROF_ERR, "%s: field \"rope_parameters\" must be an object", path);
    if (!json_is_object(rope)) rope = NULL;
    if (rope) {
        json_t *type = json_object_get(rope, "rope_type");
        if (type && !(json_is_string(type) && strcmp(json_string_value(type), "default") == 0))
            return error_set(err, MEMPROF_ERR_UNSUPPORTED,
                             "%s: field \"rope_parameters.rope_type\" other than \"default\" is not supported",
                             path);
    }
    json_t *scaling = json_object_get(root, "rope_scaling");
    if (scaling && !json_is_null(scaling))
        return error_set(err, MEMPROF_ERR_UNSUPPORTED, "%s: field \"rope_scaling\" is not supported", path);

    int found = read_number(&c.rotary_fraction, NULL, rope, root, "partial_rotary_factor", path, err);
    if (found == 0) found = read_number(&c.rotary_fraction, NULL, root, root, "rotary_pct", path, err);
    if (found < 0) return found;
    if (found == 0)
        return error_set(err, MEMPROF_ERR,
                         "%s: missing required field \"rotary_pct\" (or \"rope_parameters.partial_rotary_factor\")",
                         path);
    if (!(c.rotary_fraction >= 0.0 && c.rotary_fraction <= 1.0))
        return error_set(err, MEMPROF_ERR, "%s: rotary fraction %g is outside [0, 1]", path,
                         c.rotary_fraction);
    // int(head_dim * rotary_pct), as HF's `self.rotary_ndims`.
    c.rotary_dims = (int)floor((double)c.head_dim * c.rotary_fraction);
    if (c.rotary_dims % 2 != 0)
        return error_set(err, MEMPROF_ERR_UNSUPPORTED,
                         "%s: odd rotary dimension count %d (head_dim %d x %g) is not supported",
                         path, c.rotary_dims, c.head_dim, c.rotary_fraction);

    c.rotary_base = 10000.0;
    found = read_number(&c.rotary_base, NULL, rope, root, "rope_theta", path, err);
    if (found == 0) found = read_number(&c.rotary_base, NULL, root, root, "rotary_emb_base", path, err);
    if (found < 0) return found;
    if (!(c.rotary_base > 0.0 && isfinite(c.rotary_base)))
        return error_set(err, MEMPROF_ERR, "%s: rotary base %g must be positive", path, c.rotary_base);

    c.layer_norm_eps = 1e-5;
    found = read_number(&c.layer_norm_eps, NULL, root, root, "layer_norm_eps", path, err);
    if (found < 0) return found;
    if (!(c.layer_norm_eps > 0.0 && isfinite(c.layer_norm_eps)))
        return error_set(err, MEMPROF_ERR, "%s: field \"layer_norm_eps\" = %g must be positive", path,
                         c.layer_norm_eps);

    json_t *act = json_object_get(root, "hidden_act");
    if (act && !json_is_string(act))
        return error_set(err, MEMPROF_ERR, "%s: field \"hidden_act\" must be a string", path);
    if (act && strcmp(json_string_value(act), "gelu") != 0) {
        char shown[64];
        printable_excerpt(shown, sizeof shown, json_string_value(act), strlen(json_string_value(act)));
        return error_set(err, MEMPROF_ERR_UNSUPPORTED,
                         "%s: field \"hidden_act\" = \"%s\" is not supported (only \"gelu\")", path, shown);
    }

    int parallel, bias, tied;
    if ((status = read_bool(&parallel, root, "use_parallel_residual", 1, path, err)) ||
        (status = read_bool(&bias, root, "attention_bias", 1, path, err)) ||
        (status = read_bool(&tied, root, "tie_word_embeddings", 0, path, err)))
        return status;
    if (!parallel)
        return error_set(err, MEMPROF_ERR_UNSUPPORTED,
                         "%s: field \"use_parallel_residual\" = false (sequential residual) is not supported",
                         path);
    if (!bias)
        return error_set(err, MEMPROF_ERR_UNSUPPORTED,
                         "%s: field \"attention_bias\" = false is not supported", path);
    if (tied)
        return error_set(err, MEMPROF_ERR_UNSUPPORTED,
                         "%s: field \"tie_word_embeddings\" = true (tied LM head) is not supported", path);
    *out = c;
    return 0;
}

int model_config_load(model_config *out, const char *path, memprof_error *err) {
    json_t *root = NULL;
    int status = json_file_load_object(&root, path, err);
    if (status) return status;
    status = config_from_json(out, root, path, err);
    json_decref(root);
    return status;
}
