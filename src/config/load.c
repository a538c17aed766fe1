// load.c — YAML document → schema-checked values, then overrides, defaults, required keys.
//
// libyaml's document API gives a node tree with a start mark (0-based line and column)
// per node; errors add 1 to both. libyaml neither rejects duplicate keys nor knows our
// schema, so both checks live here.
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define CONFIG_KEY_MAX 256
#define CONFIG_FILE_MAX (16u << 20)  // a configuration is a few hundred bytes; refuse huge files

typedef struct loader {
    const config_schema *schema;
    const char *name;        // the file, as messages name it
    void *config;
    config_origin *origins;  // one per schema field
    memprof_error *err;
} loader;

const config_field *config_find_field(const config_schema *schema, const char *key) {
    for (size_t i = 0; i < schema->num_fields; i++)
        if (strcmp(schema->fields[i].key, key) == 0) return &schema->fields[i];
    return NULL;
}

// True when some field lives below path ("model" for "model.name").
static bool is_section(const config_schema *schema, const char *path) {
    size_t len = strlen(path);
    for (size_t i = 0; i < schema->num_fields; i++) {
        const char *key = schema->fields[i].key;
        if (strncmp(key, path, len) == 0 && key[len] == '.') return true;
    }
    return false;
}

// The valid key at this level (below prefix, "" for the top) closest to word, written as a
// full dotted path into out. Sections count as keys of their level.
static void nearest_key_at(char *out, size_t size, const config_schema *schema, const char *prefix, const char *word) {
    size_t prefix_len = strlen(prefix), best = (size_t)-1;
    out[0] = '\0';
    for (size_t i = 0; i < schema->num_fields; i++) {
        const char *key = schema->fields[i].key;
        if (prefix_len > 0 && (strncmp(key, prefix, prefix_len) != 0 || key[prefix_len] != '.')) continue;
        const char *component = key + prefix_len + (prefix_len > 0);
        char name[CONFIG_KEY_MAX];
        size_t len = strcspn(component, ".");
        if (len >= sizeof name) continue;
        memcpy(name, component, len);
        name[len] = '\0';
        size_t d = config_edit_distance(word, name);
        if (d < best) {
            best = d;
            snprintf(out, size, "%s%s%s", prefix, prefix_len ? "." : "", name);
        }
    }
}

// The full key closest to word among every field (for overrides, which name full paths).
static const char *nearest_full_key(const config_schema *schema, const char *word) {
    const char *best = NULL;
    size_t best_distance = (size_t)-1;
    for (size_t i = 0; i < schema->num_fields; i++) {
        size_t d = config_edit_distance(word, schema->fields[i].key);
        if (d < best_distance) { best = schema->fields[i].key; best_distance = d; }
    }
    return best;
}

void config_where(char *out, size_t size, const config_context *where, const config_field *field) {
    const config_origin *o = &where->origins[field - where->schema->fields];
    if (o->source == CONFIG_FROM_FILE) snprintf(out, size, "%s:%d:%d", where->path, o->line, o->column);
    else if (o->source == CONFIG_FROM_OVERRIDE) snprintf(out, size, "override '%s'", o->override);
    else snprintf(out, size, "%s", where->path);
}

// "FILE:LINE:COLUMN: message" at a libyaml mark (0-based, hence the + 1).
__attribute__((format(printf, 3, 4)))
static int fail_at(loader *ld, yaml_mark_t mark, const char *format, ...) {
    char what[1000];
    va_list args;
    va_start(args, format);
    vsnprintf(what, sizeof what, format, args);
    va_end(args);
    return error_set(ld->err, MEMPROF_ERR, "%s:%zu:%zu: %s", ld->name, mark.line + 1, mark.column + 1, what);
}

static const char *node_kind(const yaml_node_t *node) {
    return node->type == YAML_SEQUENCE_NODE ? "a list" : node->type == YAML_MAPPING_NODE ? "a mapping" : "a scalar";
}

static int walk_mapping(loader *ld, yaml_document_t *doc, yaml_node_t *map, const char *prefix) {
    yaml_node_pair_t *pairs = map->data.mapping.pairs.start;
    size_t num_pairs = (size_t)(map->data.mapping.pairs.top - pairs);
    for (size_t i = 0; i < num_pairs; i++) {
        yaml_node_t *key_node = yaml_document_get_node(doc, pairs[i].key);
        yaml_node_t *value = yaml_document_get_node(doc, pairs[i].value);
        if (key_node == NULL || value == NULL) return fail_at(ld, map->start_mark, "malformed mapping");
        if (key_node->type != YAML_SCALAR_NODE)
            return fail_at(ld, key_node->start_mark, "expected a key name, got %s", node_kind(key_node));
        const char *key = (const char *)key_node->data.scalar.value;
        // Dotted keys are override syntax; in a file they would let model.name and
        // model: {name} set the same key twice unnoticed.
        if (strchr(key, '.') != NULL)
            return fail_at(ld, key_node->start_mark, "key '%.60s' contains a dot: nest it as a mapping (dotted keys are for overrides)", key);
        char path[CONFIG_KEY_MAX];
        if ((size_t)snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", key) >= sizeof path)
            return fail_at(ld, key_node->start_mark, "key '%.60s...' is too long", key);
        // Duplicates: libyaml keeps both pairs silently; the later one would win unnoticed.
        for (size_t j = 0; j < i; j++) {
            yaml_node_t *earlier = yaml_document_get_node(doc, pairs[j].key);
            if (earlier->type == YAML_SCALAR_NODE && strcmp((const char *)earlier->data.scalar.value, key) == 0) {
                return fail_at(ld, key_node->start_mark, "duplicate key '%s' (first set at line %zu)", path,
                               earlier->start_mark.line + 1);
            }
        }
        const config_field *field = config_find_field(ld->schema, path);
        if (field != NULL) {
            yaml_mark_t bad;
            char why[600];
            int rc = config_parse_node(ld->config, field, doc, value, &bad, why, sizeof why);
            if (rc == CONFIG_VALUE_BAD) return fail_at(ld, bad, "key '%s': %s", path, why);
            if (rc == CONFIG_VALUE_SET) {
                config_origin *o = &ld->origins[field - ld->schema->fields];
                o->source = CONFIG_FROM_FILE;
                o->line = (int)value->start_mark.line + 1;
                o->column = (int)value->start_mark.column + 1;
            }
        } else if (is_section(ld->schema, path)) {
            if (value->type == YAML_MAPPING_NODE) {
                int rc = walk_mapping(ld, doc, value, path);
                if (rc != 0) return rc;
            } else if (!config_node_is_null(value)) {
                return fail_at(ld, value->start_mark, "key '%s' is a section: expected a mapping of its keys, got %s",
                               path, node_kind(value));
            }
        } else {
            char suggestion[2 * CONFIG_KEY_MAX + 2];
            nearest_key_at(suggestion, sizeof suggestion, ld->schema, prefix, key);
            return fail_at(ld, key_node->start_mark, "unknown key '%s' (did you mean '%s'?)", path, suggestion);
        }
    }
    return 0;
}

// Frees a field's value and zeroes it (an override of null returns the key to its default).
static void clear_field(void *config, const config_field *field) {
    void *slot = config_slot(config, field);
    switch (field->type) {
    case CONFIG_STRING: free(*(char **)slot); *(char **)slot = NULL; break;
    case CONFIG_STEPS: free(((config_steps *)slot)->values); *(config_steps *)slot = (config_steps){0}; break;
    case CONFIG_INT64: *(int64_t *)slot = 0; break;
    case CONFIG_DOUBLE: *(double *)slot = 0; break;
    case CONFIG_BOOL: *(bool *)slot = false; break;
    case CONFIG_ENUM: *(int *)slot = 0; break;
    }
}

void config_free(void *config, const config_schema *schema) {
    for (size_t i = 0; i < schema->num_fields; i++) clear_field(config, &schema->fields[i]);
}

// A plain scalar node over text, for overrides and defaults (which are not YAML documents).
static yaml_node_t plain_scalar(const char *text) {
    yaml_node_t node;
    memset(&node, 0, sizeof node);
    node.type = YAML_SCALAR_NODE;
    node.data.scalar.value = (yaml_char_t *)text;
    node.data.scalar.length = strlen(text);
    node.data.scalar.style = YAML_PLAIN_SCALAR_STYLE;
    return node;
}

// key=value. The value is taken literally (so paths like {step}/x or *.h5 need no quoting),
// except that a value starting with [ or a quote is read as YAML: a flow list of steps,
// or a quoted string.
static int apply_override(loader *ld, const char *arg) {
    const char *eq = strchr(arg, '=');
    if (eq == NULL || eq == arg)
        return error_set(ld->err, MEMPROF_ERR, "override '%s': expected key=value (e.g. backend=cuda)", arg);
    char key[CONFIG_KEY_MAX];
    size_t key_len = (size_t)(eq - arg);
    if (key_len >= sizeof key) return error_set(ld->err, MEMPROF_ERR, "override '%.60s...': key too long", arg);
    memcpy(key, arg, key_len);
    key[key_len] = '\0';
    const config_field *field = config_find_field(ld->schema, key);
    if (field == NULL) {
        if (is_section(ld->schema, key)) {
            char inner[CONFIG_KEY_MAX + 8];
            snprintf(inner, sizeof inner, "%s.", key);
            const char *first = NULL;
            for (size_t i = 0; i < ld->schema->num_fields && first == NULL; i++)
                if (strncmp(ld->schema->fields[i].key, inner, strlen(inner)) == 0) first = ld->schema->fields[i].key;
            return error_set(ld->err, MEMPROF_ERR, "override '%s': '%s' is a section, set one of its keys (e.g. '%s')",
                             arg, key, first);
        }
        return error_set(ld->err, MEMPROF_ERR, "override '%s': unknown key '%s' (did you mean '%s'?)", arg, key,
                         nearest_full_key(ld->schema, key));
    }
    const char *text = eq + 1;
    yaml_document_t doc;
    memset(&doc, 0, sizeof doc);
    bool have_doc = false;
    yaml_node_t literal = plain_scalar(text), *node = &literal;
    if (text[0] == '[' || text[0] == '"' || text[0] == '\'') {
        yaml_parser_t parser;
        if (!yaml_parser_initialize(&parser)) return error_set(ld->err, MEMPROF_ERR_NOMEM, "out of memory");
        yaml_parser_set_input_string(&parser, (const unsigned char *)text, strlen(text));
        int ok = yaml_parser_load(&parser, &doc);
        if (!ok) {
            error_set(ld->err, MEMPROF_ERR, "override '%s': invalid YAML value: %s", arg,
                      parser.problem ? parser.problem : "parse error");
            yaml_parser_delete(&parser);
            return MEMPROF_ERR;
        }
        yaml_parser_delete(&parser);
        have_doc = true;
        node = yaml_document_get_root_node(&doc);
        if (node == NULL) node = &literal;
    }
    yaml_mark_t bad;
    char why[700];
    int rc = config_parse_node(ld->config, field, &doc, node, &bad, why, sizeof why);
    if (have_doc) yaml_document_delete(&doc);
    if (rc == CONFIG_VALUE_BAD) return error_set(ld->err, MEMPROF_ERR, "override '%s': key '%s': %s", arg, key, why);
    config_origin *o = &ld->origins[field - ld->schema->fields];
    if (rc == CONFIG_VALUE_NULL) {
        clear_field(ld->config, field);
        *o = (config_origin){0};
    } else {
        *o = (config_origin){.source = CONFIG_FROM_OVERRIDE, .override = arg};
    }
    return 0;
}

static int fill_defaults_and_check_required(loader *ld) {
    for (size_t i = 0; i < ld->schema->num_fields; i++) {
        const config_field *field = &ld->schema->fields[i];
        if (ld->origins[i].source != CONFIG_FROM_DEFAULT) continue;
        if (field->required)
            return error_set(ld->err, MEMPROF_ERR, "%s: missing required key '%s' (%s)", ld->name, field->key, field->doc);
        if (field->default_text == NULL) continue;
        yaml_node_t node = plain_scalar(field->default_text);
        yaml_mark_t bad;
        char why[700];
        if (config_parse_node(ld->config, field, NULL, &node, &bad, why, sizeof why) == CONFIG_VALUE_BAD)
            return error_set(ld->err, MEMPROF_ERR, "schema '%s': bad default for '%s': %s", ld->schema->name, field->key, why);
    }
    return 0;
}

// Parses the document in data into ld (everything up to the overrides).
static int load_document(loader *ld, const char *data, size_t size) {
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) return error_set(ld->err, MEMPROF_ERR_NOMEM, "out of memory");
    yaml_parser_set_input_string(&parser, (const unsigned char *)data, size);
    yaml_document_t doc;
    int rc = 0;
    if (!yaml_parser_load(&parser, &doc)) {
        if (parser.error == YAML_READER_ERROR) {
            rc = error_set(ld->err, MEMPROF_ERR, "%s: invalid text at byte %zu: %s", ld->name, parser.problem_offset,
                           parser.problem ? parser.problem : "reader error");
        } else {
            char context[300] = "";
            if (parser.context)
                snprintf(context, sizeof context, " (%s at line %zu, column %zu)", parser.context,
                         parser.context_mark.line + 1, parser.context_mark.column + 1);
            rc = error_set(ld->err, MEMPROF_ERR, "%s:%zu:%zu: YAML syntax error: %s%s", ld->name,
                           parser.problem_mark.line + 1, parser.problem_mark.column + 1,
                           parser.problem ? parser.problem : "parse error", context);
        }
        yaml_parser_delete(&parser);
        return rc;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (root == NULL) {
        rc = error_set(ld->err, MEMPROF_ERR, "%s: the configuration is empty (expected a mapping of keys)", ld->name);
    } else if (root->type != YAML_MAPPING_NODE) {
        rc = fail_at(ld, root->start_mark, "expected a mapping of keys at the top level, got %s", node_kind(root));
    } else {
        rc = walk_mapping(ld, &doc, root, "");
    }
    if (rc == 0) {
        // A second document ("---") would be ignored silently; refuse it.
        yaml_document_t next;
        if (!yaml_parser_load(&parser, &next)) {
            rc = error_set(ld->err, MEMPROF_ERR, "%s:%zu:%zu: YAML syntax error: %s", ld->name,
                           parser.problem_mark.line + 1, parser.problem_mark.column + 1,
                           parser.problem ? parser.problem : "parse error");
        } else {
            yaml_node_t *extra = yaml_document_get_root_node(&next);
            if (extra != NULL)
                rc = fail_at(ld, next.start_mark, "a second YAML document; a configuration is one document");
            yaml_document_delete(&next);
        }
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    return rc;
}

int config_load_buffer(void *config, const config_schema *schema, const char *name,
                       const char *data, size_t size,
                       int num_overrides, const char *const *overrides, memprof_error *err) {
    config_origin *origins = calloc(schema->num_fields ? schema->num_fields : 1, sizeof *origins);
    if (origins == NULL) return error_set(err, MEMPROF_ERR_NOMEM, "out of memory");
    loader ld = {.schema = schema, .name = name, .config = config, .origins = origins, .err = err};
    int rc = load_document(&ld, data, size);
    for (int i = 0; rc == 0 && i < num_overrides; i++) rc = apply_override(&ld, overrides[i]);
    if (rc == 0) rc = fill_defaults_and_check_required(&ld);
    if (rc == 0 && schema->finish != NULL) {
        config_context where = {.schema = schema, .path = name, .origins = origins};
        rc = schema->finish(config, &where, err);
    }
    if (rc != 0) config_free(config, schema);
    free(origins);
    return rc;
}

int config_load(void *config, const config_schema *schema, const char *path,
                int num_overrides, const char *const *overrides, memprof_error *err) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) return error_set(err, MEMPROF_ERR, "%s: cannot open: %s", path, strerror(errno));
    char *data = NULL;
    size_t size = 0, cap = 0;
    int rc = 0;
    for (;;) {
        if (size == cap) {
            if (cap > CONFIG_FILE_MAX) {
                rc = error_set(err, MEMPROF_ERR, "%s: larger than %u bytes; not a configuration", path, CONFIG_FILE_MAX);
                break;
            }
            cap = cap ? 2 * cap : 4096;
            char *bigger = realloc(data, cap);
            if (bigger == NULL) { rc = error_set(err, MEMPROF_ERR_NOMEM, "out of memory"); break; }
            data = bigger;
        }
        size_t n = fread(data + size, 1, cap - size, f);
        size += n;
        if (n == 0) {
            if (ferror(f)) rc = error_set(err, MEMPROF_ERR, "%s: read error: %s", path, strerror(errno));
            break;
        }
    }
    fclose(f);
    if (rc == 0) rc = config_load_buffer(config, schema, path, data ? data : "", size, num_overrides, overrides, err);
    free(data);
    return rc;
}
