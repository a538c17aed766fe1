// render.c — a loaded configuration back to YAML, and its hash.
//
// The text is canonical (schema order, fixed quoting, steps folded into ranges), so two
// configurations that resolve to the same values render — and hash — identically however
// they were written (file, overrides, defaults). stats.h5 stores both the text and the hash.
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "internal.h"

// Strings are always double-quoted. Quotes, backslashes and every character a YAML reader
// refuses to see raw (controls, C1 controls, BOM, U+FFFE/U+FFFF) are escaped. Strings are
// valid UTF-8 (the loader checks), so decoding cannot fail.
static void put_quoted(FILE *out, const char *s) {
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        uint32_t c = *p;
        int len = config_utf8_decode(p, &c);
        if (len == 0) len = 1;  // not reached for loaded strings; keep going byte-wise
        if (c == '"' || c == '\\') fprintf(out, "\\%c", (int)c);
        else if (c == '\n') fputs("\\n", out);
        else if (c == '\t') fputs("\\t", out);
        else if (c < 0x20 || c == 0x7f) fprintf(out, "\\x%02x", (unsigned)c);
        else if ((c >= 0x80 && c <= 0x9f) || c == 0xfeff || c == 0xfffe || c == 0xffff) fprintf(out, "\\u%04x", (unsigned)c);
        else fwrite(p, 1, (size_t)len, out);
        p += len;
    }
    fputc('"', out);
}

// The shortest %g form that reads back as the same double, starting with enough digits
// for the integer part so that 10 prints as 10, not 1e+01.
static void put_double(FILE *out, double v) {
    char text[64];
    int start = fabs(v) >= 1 ? (int)floor(log10(fabs(v))) + 1 : 1;
    if (start > 17) start = 17;
    for (int precision = start; precision <= 17; precision++) {
        snprintf(text, sizeof text, "%.*g", precision, v);
        if (strtod(text, NULL) == v) break;
    }
    fputs(text, out);
}

static int put_value(FILE *out, const void *config, const config_field *field) {
    const void *slot = (const char *)config + field->offset;
    switch (field->type) {
    case CONFIG_STRING: {
        const char *s = *(char *const *)slot;
        if (s == NULL) fputs("null", out);
        else put_quoted(out, s);
        return 0;
    }
    case CONFIG_INT64: fprintf(out, "%" PRId64, *(const int64_t *)slot); return 0;
    case CONFIG_DOUBLE: put_double(out, *(const double *)slot); return 0;
    case CONFIG_BOOL: fputs(*(const bool *)slot ? "true" : "false", out); return 0;
    case CONFIG_ENUM: {
        int v = *(const int *)slot, n = 0;
        while (field->enum_names[n] != NULL) n++;
        if (v < 0 || v >= n) return -1;
        fputs(field->enum_names[v], out);
        return 0;
    }
    case CONFIG_STEPS: {
        const config_steps *steps = slot;
        if (steps->count == 0) { fputs("null", out); return 0; }
        char *text = config_steps_format(steps);
        if (text == NULL) return -1;
        fputs(text, out);
        free(text);
        return 0;
    }
    }
    return -1;
}

// Length of the first `depth` components of a dotted key, the separating dots included.
static size_t prefix_length(const char *key, int depth) {
    const char *p = key;
    for (int d = 0; d < depth; d++) {
        p = strchr(p, '.');
        p++;  // callers only ask for depths a key has
    }
    return (size_t)(p - key) - (depth > 0);
}

static int count_dots(const char *key) {
    int n = 0;
    for (; *key; key++) n += *key == '.';
    return n;
}

int config_render(char **out_text, const void *config, const config_schema *schema, memprof_error *err) {
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    if (out == NULL) return error_set(err, MEMPROF_ERR_NOMEM, "out of memory");
    const char *previous = "";
    int rc = 0;
    for (size_t i = 0; i < schema->num_fields && rc == 0; i++) {
        const char *key = schema->fields[i].key;
        int depth = count_dots(key);
        // Sections shared with the previous key are already open; print the rest.
        int shared = 0;
        while (shared < depth && shared < count_dots(previous) &&
               prefix_length(key, shared + 1) == prefix_length(previous, shared + 1) &&
               strncmp(key, previous, prefix_length(key, shared + 1)) == 0)
            shared++;
        for (int d = shared; d < depth; d++) {
            size_t start = prefix_length(key, d) + (d > 0);
            fprintf(out, "%*s%.*s:\n", 2 * d, "", (int)(prefix_length(key, d + 1) - start), key + start);
        }
        const char *leaf = strrchr(key, '.');
        fprintf(out, "%*s%s: ", 2 * depth, "", leaf ? leaf + 1 : key);
        rc = put_value(out, config, &schema->fields[i]);
        fputc('\n', out);
        previous = key;
    }
    fclose(out);
    if (rc != 0) {
        free(text);
        return error_set(err, MEMPROF_ERR, "configuration '%s' holds a value outside its schema", schema->name);
    }
    *out_text = text;
    return 0;
}

uint64_t config_hash(const char *rendered_text) {
    return XXH64(rendered_text, strlen(rendered_text), 0);
}
