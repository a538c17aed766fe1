// config.h — YAML configuration files → typed structs, driven by a declarative schema.
//
// A schema is a table of fields, one row per key: dotted key path ("model.name"), type,
// offset of the value in the caller's struct, range or enum names, default, doc string.
// Later modules extend a configuration by adding rows (and struct members), nothing else.
//
// Loading goes: YAML file → keys checked against the schema (unknown key → nearest valid
// key suggested) → values parsed and range-checked → `key.sub=value` overrides applied on
// top with the same rules → defaults filled → required keys checked → the schema's own
// cross-field checks (finish hook). Every error names FILE:LINE:COLUMN (1-based) or the
// offending override. See docs/configuration.md for the sweep schema and the error format.
#ifndef MEMPROF_CONFIG_H
#define MEMPROF_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "memprof/error.h"

typedef enum config_type {
    CONFIG_STRING,  // char * (owned by the struct, freed by config_free)
    CONFIG_INT64,   // int64_t, range [int_min, int_max]
    CONFIG_DOUBLE,  // double, finite, range [real_min, real_max]
    CONFIG_BOOL,    // bool: true/false (also yes/no, on/off)
    CONFIG_ENUM,    // int: index into enum_names
    CONFIG_STEPS,   // config_steps: checkpoint steps, from a list and/or "start:stop:step" ranges
} config_type;

// A sorted list of distinct training steps (≥ 0). Ranges have an inclusive stop, so
// "1000:143000:1000" is 143 steps and [0, "1000:143000:1000"] the paper's 144.
typedef struct config_steps {
    int64_t *values;  // ascending, no duplicates; owned
    size_t count;
} config_steps;

// The most steps one list may expand to (guards against "0:9e18:1").
#define CONFIG_STEPS_MAX 1000000

typedef struct config_field {
    const char *key;                // dotted path, e.g. "model.name"
    config_type type;
    size_t offset;                  // of the value in the config struct
    int64_t int_min, int_max;       // CONFIG_INT64
    double real_min, real_max;      // CONFIG_DOUBLE
    const char *const *enum_names;  // CONFIG_ENUM, NULL-terminated
    const char *default_text;       // parsed with the field's rules; NULL = none (see required)
    bool required;                  // an error when neither the file nor an override sets it
    const char *doc;                // one line for docs and `config check --help`
} config_field;

// Where a field's value came from; errors found after parsing point back there.
typedef enum config_source { CONFIG_FROM_DEFAULT = 0, CONFIG_FROM_FILE, CONFIG_FROM_OVERRIDE } config_source;

typedef struct config_origin {
    config_source source;
    int line, column;       // 1-based, CONFIG_FROM_FILE
    const char *override;   // the "key=value" argument, CONFIG_FROM_OVERRIDE
} config_origin;

typedef struct config_schema config_schema;

// Where errors point: the file name and each field's origin (indexed like schema->fields).
typedef struct config_context {
    const config_schema *schema;
    const char *path;
    const config_origin *origins;
} config_context;

struct config_schema {
    const char *name;           // "sweep"
    const config_field *fields; // grouped so that every section's keys are contiguous
    size_t num_fields;
    // Cross-field checks and derived defaults, after everything else; may be NULL.
    int (*finish)(void *config, const config_context *where, memprof_error *err);
};

// Loads a YAML file into config (a zeroed struct of the schema's type), then applies the
// overrides ("key.sub=value" each). On failure config holds nothing to free.
int config_load(void *config, const config_schema *schema, const char *path,
                int num_overrides, const char *const *overrides, memprof_error *err);

// The same from bytes in memory; name stands for the file in error messages.
int config_load_buffer(void *config, const config_schema *schema, const char *name,
                       const char *data, size_t size,
                       int num_overrides, const char *const *overrides, memprof_error *err);

// Frees the strings and step lists a load allocated and zeroes them.
void config_free(void *config, const config_schema *schema);

// The resolved configuration as YAML: every key in schema order, sections nested, strings
// double-quoted, steps folded back into ranges. *out_text is malloc'd, NUL-terminated.
int config_render(char **out_text, const void *config, const config_schema *schema, memprof_error *err);

// xxh64 (seed 0) of a rendered configuration: the stable hash stats.h5 stores.
uint64_t config_hash(const char *rendered_text);

// The field with this dotted key, or NULL.
const config_field *config_find_field(const config_schema *schema, const char *key);

// Writes "FILE:LINE:COLUMN", "override 'k=v'" or "FILE" (for a default) for a field.
void config_where(char *out, size_t size, const config_context *where, const config_field *field);

// ---- step lists ------------------------------------------------------------------------

// Parses one step item: "5000" or "start:stop:step" (inclusive stop), appending to *steps
// (a growing array of *count values, capacity *cap). why receives the reason on failure.
int config_steps_append_item(int64_t **steps, size_t *count, size_t *cap, const char *item,
                             char *why, size_t why_size);

// Sorts the values; a duplicate is an error (why names it).
int config_steps_finish(config_steps *steps, char *why, size_t why_size);

// Folds a sorted list back into YAML flow form: [0, "1000:143000:1000"]; malloc'd.
char *config_steps_format(const config_steps *steps);

// ---- suggestions -----------------------------------------------------------------------

// Optimal-string-alignment distance (edits, counting a swap of neighbours as one).
size_t config_edit_distance(const char *a, const char *b);

// ---- the sweep's configuration (memprof sweep, config check) -------------------------

typedef enum sweep_backend { SWEEP_BACKEND_CPU = 0, SWEEP_BACKEND_CUDA = 1 } sweep_backend;
// AUTO resolves to FP32 on cpu and FP16 on cuda; a loaded config never holds AUTO.
typedef enum sweep_precision {
    SWEEP_PRECISION_AUTO = 0, SWEEP_PRECISION_FP32, SWEEP_PRECISION_FP16, SWEEP_PRECISION_BF16,
} sweep_precision;

typedef struct sweep_config {
    char *model_name;            // model.name
    char *checkpoint_template;   // model.checkpoint, contains "{step}"
    config_steps steps;          // checkpoints.steps
    char *panel;                 // panel.h5
    char *output;                // stats.h5
    char *journal;               // default: output + ".journal"
    char *log_dir;               // default: output + ".logs"
    int backend;                 // sweep_backend
    int precision;               // sweep_precision (never AUTO once loaded)
    int64_t batch_size;          // 0 = auto
    int64_t shard_size;          // instances per task
    int64_t threads;             // CPU threads per rank; 0 = all cores
    bool per_token;              // also write per-token side files
    double max_gpu_memory_gb;    // 0 = no cap
} sweep_config;

extern const config_schema sweep_config_schema;

int sweep_config_load(sweep_config *out, const char *path, int num_overrides,
                      const char *const *overrides, memprof_error *err);
void sweep_config_free(sweep_config *config);

// Names for printing and for stats.h5 attributes.
const char *sweep_backend_name(int backend);
const char *sweep_precision_name(int precision);

// Writes the checkpoint folder for step: the template with every "{step}" replaced.
int sweep_checkpoint_path(char *out, size_t size, const char *checkpoint_template, int64_t step,
                          memprof_error *err);

#endif
