// sweep.c — the sweep's configuration: one schema row per key, and the cross-key rules.
//
// To add a key: a member in sweep_config (config.h), a row here, a line in
// docs/configuration.md. Keys of one section must stay next to each other (the printer
// opens each section once).
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static const char *const backend_names[] = {"cpu", "cuda", NULL};
static const char *const precision_names[] = {"auto", "fp32", "fp16", "bf16", NULL};

#define AT(member) offsetof(sweep_config, member)

static const config_field sweep_fields[] = {
    {.key = "model.name", .type = CONFIG_STRING, .offset = AT(model_name), .required = true,
     .doc = "model name recorded in stats.h5, e.g. pythia-70m-deduped"},
    {.key = "model.checkpoint", .type = CONFIG_STRING, .offset = AT(checkpoint_template), .required = true,
     .doc = "checkpoint folder template; {step} becomes each step, e.g. ckpt/pythia-70m-deduped/step{step}"},
    {.key = "checkpoints.steps", .type = CONFIG_STEPS, .offset = AT(steps), .required = true,
     .doc = "training steps to score: integers and inclusive ranges start:stop:step"},
    {.key = "panel", .type = CONFIG_STRING, .offset = AT(panel), .required = true,
     .doc = "panel.h5 written by memprof panel: the instances"},
    {.key = "output", .type = CONFIG_STRING, .offset = AT(output), .required = true,
     .doc = "stats.h5 the sweep writes"},
    {.key = "journal", .type = CONFIG_STRING, .offset = AT(journal),
     .doc = "completion journal; default: output + \".journal\""},
    {.key = "log_dir", .type = CONFIG_STRING, .offset = AT(log_dir),
     .doc = "folder for the per-rank logs; default: output + \".logs\""},
    {.key = "backend", .type = CONFIG_ENUM, .offset = AT(backend), .enum_names = backend_names,
     .default_text = "cpu", .doc = "compute backend: cpu or cuda"},
    {.key = "precision", .type = CONFIG_ENUM, .offset = AT(precision), .enum_names = precision_names,
     .default_text = "auto", .doc = "weights and activations: auto = fp32 on cpu, fp16 on cuda; cpu is fp32 only"},
    {.key = "batch_size", .type = CONFIG_INT64, .offset = AT(batch_size), .int_min = 0, .int_max = 1 << 20,
     .default_text = "0", .doc = "sequences per forward pass; 0 = auto (largest that fits)"},
    {.key = "shard_size", .type = CONFIG_INT64, .offset = AT(shard_size), .int_min = 1, .int_max = 1 << 24,
     .default_text = "64", .doc = "instances per task (one task = one checkpoint x one shard)"},
    {.key = "threads", .type = CONFIG_INT64, .offset = AT(threads), .int_min = 0, .int_max = 1 << 16,
     .default_text = "0", .doc = "CPU threads per rank; 0 = all cores available to the rank"},
    {.key = "per_token", .type = CONFIG_BOOL, .offset = AT(per_token), .default_text = "false",
     .doc = "also write per-token statistics (zstd side files per rank)"},
    {.key = "max_gpu_memory_gb", .type = CONFIG_DOUBLE, .offset = AT(max_gpu_memory_gb), .real_min = 0,
     .real_max = INFINITY, .default_text = "0", .doc = "GPU memory the auto batch size may plan for, GB; 0 = no cap"},
};

const char *sweep_backend_name(int backend) {
    return backend >= 0 && backend < 2 ? backend_names[backend] : "?";
}

const char *sweep_precision_name(int precision) {
    return precision >= 0 && precision < 4 ? precision_names[precision] : "?";
}

// "WHERE: key 'KEY': WHY", WHERE being the file position or the override that set KEY.
static int fail_field(memprof_error *err, const config_context *where, const char *key, const char *why) {
    char place[600];
    config_where(place, sizeof place, where, config_find_field(where->schema, key));
    return error_set(err, MEMPROF_ERR, "%s: key '%s': %s", place, key, why);
}

// "{step}" must appear, and no other {placeholder} (a typo such as {steps} would otherwise
// name the same folder for every step).
static int check_template(const char *template, char *why, size_t why_size) {
    bool has_step = false;
    for (const char *p = strchr(template, '{'); p != NULL; p = strchr(p + 1, '{')) {
        if (strncmp(p, "{step}", 6) == 0) {
            has_step = true;
            continue;
        }
        size_t len = strcspn(p, "}");
        snprintf(why, why_size, "unknown placeholder '%.*s' in the path template (only {step} is replaced)",
                 (int)(len < 40 ? len + (p[len] == '}') : 40), p);
        return -1;
    }
    if (!has_step) {
        snprintf(why, why_size, "the path template must contain {step}, e.g. checkpoints/pythia-70m-deduped/step{step}");
        return -1;
    }
    return 0;
}

static char *concat(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    char *s = malloc(la + lb + 1);
    if (s == NULL) return NULL;
    memcpy(s, a, la);
    memcpy(s + la, b, lb + 1);
    return s;
}

static int finish_sweep(void *raw, const config_context *where, memprof_error *err) {
    sweep_config *c = raw;
    char why[300];
    if (check_template(c->checkpoint_template, why, sizeof why) != 0)
        return fail_field(err, where, "model.checkpoint", why);
    if (c->journal == NULL && (c->journal = concat(c->output, ".journal")) == NULL)
        return error_set(err, MEMPROF_ERR_NOMEM, "out of memory");
    if (c->log_dir == NULL && (c->log_dir = concat(c->output, ".logs")) == NULL)
        return error_set(err, MEMPROF_ERR_NOMEM, "out of memory");
    if (strcmp(c->output, c->panel) == 0)
        return fail_field(err, where, "output", "the output must not be the panel file");
    if (strcmp(c->journal, c->output) == 0 || strcmp(c->journal, c->panel) == 0)
        return fail_field(err, where, "journal", "the journal must be a file of its own (not the output or the panel)");
    // One rule for precision: auto means the backend's natural one; the CPU backend is the
    // fp32 reference and has no half-precision path.
    if (c->precision == SWEEP_PRECISION_AUTO)
        c->precision = c->backend == SWEEP_BACKEND_CUDA ? SWEEP_PRECISION_FP16 : SWEEP_PRECISION_FP32;
    else if (c->backend == SWEEP_BACKEND_CPU && c->precision != SWEEP_PRECISION_FP32) {
        snprintf(why, sizeof why, "%s needs backend cuda; the cpu backend computes in fp32 (use fp32 or auto)",
                 sweep_precision_name(c->precision));
        return fail_field(err, where, "precision", why);
    }
    return 0;
}

const config_schema sweep_config_schema = {
    .name = "sweep",
    .fields = sweep_fields,
    .num_fields = sizeof sweep_fields / sizeof sweep_fields[0],
    .finish = finish_sweep,
};

int sweep_config_load(sweep_config *out, const char *path, int num_overrides,
                      const char *const *overrides, memprof_error *err) {
    memset(out, 0, sizeof *out);
    return config_load(out, &sweep_config_schema, path, num_overrides, overrides, err);
}

void sweep_config_free(sweep_config *config) {
    config_free(config, &sweep_config_schema);
}

int sweep_checkpoint_path(char *out, size_t size, const char *checkpoint_template, int64_t step,
                          memprof_error *err) {
    char number[32];
    snprintf(number, sizeof number, "%" PRId64, step);
    size_t len = 0;
    for (const char *p = checkpoint_template; *p;) {
        const char *piece = p;
        size_t piece_len = 1;
        if (strncmp(p, "{step}", 6) == 0) {
            piece = number;
            piece_len = strlen(number);
            p += 6;
        } else {
            p++;
        }
        if (len + piece_len >= size)
            return error_set(err, MEMPROF_ERR, "checkpoint path for step %" PRId64 " is longer than %zu bytes", step, size);
        memcpy(out + len, piece, piece_len);
        len += piece_len;
    }
    if (size == 0) return error_set(err, MEMPROF_ERR, "no room for the checkpoint path");
    out[len] = '\0';
    return 0;
}
