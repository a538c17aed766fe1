// values.c — one YAML node → one typed value, with the type and range rules of a field.
//
// Numbers and booleans must be plain (unquoted) scalars: "64" in quotes is a string, as
// in YAML itself. Strings and enum names may be written either way. A plain null (~, null
// or nothing) leaves the key unset, so its default applies.
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static const char *type_phrase(const config_field *field) {
    switch (field->type) {
    case CONFIG_STRING: return "a string";
    case CONFIG_INT64: return "an integer";
    case CONFIG_DOUBLE: return "a number";
    case CONFIG_BOOL: return "a boolean (true or false)";
    case CONFIG_ENUM: return "one of";
    case CONFIG_STEPS: return "a list of steps";
    }
    return "a value";
}

// "an integer >= 1", "a number in [0, 1]", "one of cpu, cuda": what the field accepts.
static void describe_expected(char *out, size_t size, const config_field *field) {
    size_t len = (size_t)snprintf(out, size, "%s", type_phrase(field));
    if (field->type == CONFIG_INT64) {
        if (field->int_max == INT64_MAX && field->int_min != INT64_MIN)
            snprintf(out + len, size - len, " >= %" PRId64, field->int_min);
        else if (field->int_max != INT64_MAX || field->int_min != INT64_MIN)
            snprintf(out + len, size - len, " in [%" PRId64 ", %" PRId64 "]", field->int_min, field->int_max);
    } else if (field->type == CONFIG_DOUBLE) {
        if (isinf(field->real_max) && !isinf(field->real_min))
            snprintf(out + len, size - len, " >= %g", field->real_min);
        else if (!isinf(field->real_max) || !isinf(field->real_min))
            snprintf(out + len, size - len, " in [%g, %g]", field->real_min, field->real_max);
    } else if (field->type == CONFIG_ENUM) {
        for (int i = 0; field->enum_names[i] != NULL && len < size; i++)
            len += (size_t)snprintf(out + len, size - len, "%s%s", i ? ", " : " ", field->enum_names[i]);
    } else if (field->type == CONFIG_STEPS) {
        snprintf(out + len, size - len, " (integers >= 0 and ranges \"start:stop:step\")");
    }
}

static const char *kind_phrase(const yaml_node_t *node) {
    if (node->type == YAML_SEQUENCE_NODE) return "a list";
    if (node->type == YAML_MAPPING_NODE) return "a mapping";
    return "an empty value";
}

bool config_node_is_null(const yaml_node_t *node) {
    if (node->type != YAML_SCALAR_NODE || node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return false;
    const char *s = (const char *)node->data.scalar.value;
    return s[0] == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
           strcmp(s, "NULL") == 0;
}

static bool is_plain(const yaml_node_t *node) {
    return node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

int config_utf8_decode(const unsigned char *s, uint32_t *codepoint) {
    int len = s[0] < 0x80 ? 1 : (s[0] & 0xe0) == 0xc0 ? 2 : (s[0] & 0xf0) == 0xe0 ? 3 : (s[0] & 0xf8) == 0xf0 ? 4 : 0;
    if (len == 0) return 0;
    uint32_t c = len == 1 ? s[0] : s[0] & (0x7f >> len);
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;  // also stops at the terminating NUL
        c = (c << 6) | (s[i] & 0x3f);
    }
    static const uint32_t smallest[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (c < smallest[len] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) return 0;
    *codepoint = c;
    return len;
}

static int parse_double_text(const char *s, double *out) {
    // strtod also takes "inf", "nan" and hex floats; accept decimal notation only.
    for (const char *p = s; *p; p++)
        if (!isdigit((unsigned char)*p) && !strchr("+-.eE", *p)) return -1;
    if (*s == '\0') return -1;
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (*end != '\0' || errno == ERANGE || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

static int parse_bool_text(const char *s, bool *out) {
    static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON"};
    static const char *const no[] = {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        if (strcmp(s, yes[i]) == 0) { *out = true; return 0; }
        if (strcmp(s, no[i]) == 0) { *out = false; return 0; }
    }
    return -1;
}

static int parse_steps(config_steps *out, yaml_document_t *doc, yaml_node_t *node,
                       yaml_mark_t *bad_mark, char *why, size_t why_size) {
    int64_t *values = NULL;
    size_t count = 0, cap = 0;
    int rc = 0;
    if (node->type == YAML_SCALAR_NODE) {
        rc = config_steps_append_list(&values, &count, &cap, (const char *)node->data.scalar.value, why, why_size);
    } else if (node->type == YAML_SEQUENCE_NODE) {
        for (yaml_node_item_t *it = node->data.sequence.items.start; rc == 0 && it < node->data.sequence.items.top; it++) {
            yaml_node_t *item = yaml_document_get_node(doc, *it);
            if (item == NULL || item->type != YAML_SCALAR_NODE || config_node_is_null(item)) {
                if (item) *bad_mark = item->start_mark;
                snprintf(why, why_size, "expected a step or a range start:stop:step in the list, got %s",
                         item ? kind_phrase(item) : "nothing");
                rc = -1;
            } else if (config_steps_append_item(&values, &count, &cap, (const char *)item->data.scalar.value,
                                                why, why_size) != 0) {
                *bad_mark = item->start_mark;
                rc = -1;
            }
        }
    } else {
        snprintf(why, why_size, "expected a list of steps, got a mapping");
        rc = -1;
    }
    config_steps steps = {values, count};
    if (rc == 0) rc = config_steps_finish(&steps, why, why_size);
    if (rc != 0) {
        free(values);
        return CONFIG_VALUE_BAD;
    }
    free(out->values);
    *out = steps;
    return CONFIG_VALUE_SET;
}

int config_parse_node(void *config, const config_field *field, yaml_document_t *doc,
                      yaml_node_t *node, yaml_mark_t *bad_mark, char *why, size_t why_size) {
    *bad_mark = node->start_mark;
    if (config_node_is_null(node)) return CONFIG_VALUE_NULL;
    void *slot = config_slot(config, field);
    char expected[256];
    describe_expected(expected, sizeof expected, field);
    if (field->type == CONFIG_STEPS) return parse_steps(slot, doc, node, bad_mark, why, why_size);
    if (node->type != YAML_SCALAR_NODE) {
        snprintf(why, why_size, "expected %s, got %s", expected, kind_phrase(node));
        return CONFIG_VALUE_BAD;
    }
    const char *text = (const char *)node->data.scalar.value;
    // "%.60s": quote at most the start of a long bad value in the message.
    switch (field->type) {
    case CONFIG_STRING: {
        if (strlen(text) != node->data.scalar.length) {
            snprintf(why, why_size, "the string contains a NUL byte");
            return CONFIG_VALUE_BAD;
        }
        // Files are checked by libyaml's reader; overrides and defaults are checked here.
        for (const unsigned char *p = (const unsigned char *)text; *p;) {
            uint32_t c;
            int len = config_utf8_decode(p, &c);
            if (len == 0) {
                snprintf(why, why_size, "the string is not valid UTF-8 (at byte %zu)", (size_t)(p - (const unsigned char *)text));
                return CONFIG_VALUE_BAD;
            }
            p += len;
        }
        char *copy = strdup(text);
        if (copy == NULL) {
            snprintf(why, why_size, "out of memory");
            return CONFIG_VALUE_BAD;
        }
        free(*(char **)slot);
        *(char **)slot = copy;
        return CONFIG_VALUE_SET;
    }
    case CONFIG_INT64: {
        int64_t v;
        if (!is_plain(node) || config_parse_int64_text(text, &v) != 0 || v < field->int_min || v > field->int_max) {
            snprintf(why, why_size, "expected %s, got %s'%.60s'", expected, is_plain(node) ? "" : "quoted ", text);
            return CONFIG_VALUE_BAD;
        }
        *(int64_t *)slot = v;
        return CONFIG_VALUE_SET;
    }
    case CONFIG_DOUBLE: {
        double v;
        if (!is_plain(node) || parse_double_text(text, &v) != 0 || v < field->real_min || v > field->real_max) {
            snprintf(why, why_size, "expected %s, got %s'%.60s'", expected, is_plain(node) ? "" : "quoted ", text);
            return CONFIG_VALUE_BAD;
        }
        *(double *)slot = v;
        return CONFIG_VALUE_SET;
    }
    case CONFIG_BOOL: {
        bool v;
        if (!is_plain(node) || parse_bool_text(text, &v) != 0) {
            snprintf(why, why_size, "expected %s, got %s'%.60s'", expected, is_plain(node) ? "" : "quoted ", text);
            return CONFIG_VALUE_BAD;
        }
        *(bool *)slot = v;
        return CONFIG_VALUE_SET;
    }
    case CONFIG_ENUM: {
        size_t n = 0;
        while (field->enum_names[n] != NULL) n++;
        for (size_t i = 0; i < n; i++) {
            if (strcmp(text, field->enum_names[i]) == 0) {
                *(int *)slot = (int)i;
                return CONFIG_VALUE_SET;
            }
        }
        snprintf(why, why_size, "expected %s, got '%.60s' (did you mean '%s'?)", expected, text,
                 config_nearest(text, (const char *const *)field->enum_names, n));
        return CONFIG_VALUE_BAD;
    }
    case CONFIG_STEPS: break;  // handled above
    }
    snprintf(why, why_size, "unsupported field type");
    return CONFIG_VALUE_BAD;
}
