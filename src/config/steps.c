// steps.c — checkpoint step lists: "0, 1000:143000:1000" ⇄ sorted arrays of steps.
//
// An item is a step ("5000") or a range "start:stop:step" whose stop is inclusive when the
// stride lands on it, as in the paper's grid: 1000:143000:1000 is 1000, 2000, …, 143000.
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int config_parse_int64_text(const char *text, int64_t *out) {
    while (isspace((unsigned char)*text)) text++;
    if (*text == '\0') return -1;
    // strtoll would accept hex and octal-looking prefixes via base 0; keep base 10 only.
    const char *digits = text + (*text == '+' || *text == '-');
    if (!isdigit((unsigned char)*digits)) return -1;
    errno = 0;
    char *end;
    long long value = strtoll(text, &end, 10);
    if (errno == ERANGE) return -1;
    while (isspace((unsigned char)*end)) end++;
    if (*end != '\0') return -1;
    *out = value;
    return 0;
}

static int push_step(int64_t **steps, size_t *count, size_t *cap, int64_t value) {
    if (*count == *cap) {
        size_t grown = *cap ? 2 * *cap : 16;
        int64_t *bigger = realloc(*steps, grown * sizeof *bigger);
        if (bigger == NULL) return -1;
        *steps = bigger;
        *cap = grown;
    }
    (*steps)[(*count)++] = value;
    return 0;
}

int config_steps_append_item(int64_t **steps, size_t *count, size_t *cap, const char *item,
                             char *why, size_t why_size) {
    char text[128];
    size_t len = strlen(item);
    if (len >= sizeof text) {
        snprintf(why, why_size, "step item too long: '%.40s...'", item);
        return -1;
    }
    memcpy(text, item, len + 1);
    // Split "start:stop:step" in place; a plain step has one part.
    char *parts[4];
    int num_parts = 0;
    for (char *p = text;; p++) {
        if (num_parts < 4) parts[num_parts] = p;
        num_parts++;
        p = strchr(p, ':');
        if (p == NULL) break;
        *p = '\0';
    }
    if (num_parts != 1 && num_parts != 3) {
        snprintf(why, why_size, "expected a step or a range start:stop:step, got '%s'", item);
        return -1;
    }
    int64_t v[3] = {0, 0, 1};
    for (int i = 0; i < num_parts; i++) {
        if (config_parse_int64_text(parts[i], &v[i]) != 0 || v[i] < 0) {
            snprintf(why, why_size, "expected a step (an integer >= 0) or a range start:stop:step, got '%s'", item);
            return -1;
        }
    }
    if (num_parts == 1) {
        if (*count >= CONFIG_STEPS_MAX) goto too_many;
        if (push_step(steps, count, cap, v[0]) != 0) goto no_memory;
        return 0;
    }
    int64_t start = v[0], stop = v[1], stride = v[2];
    if (stride < 1) {
        snprintf(why, why_size, "range '%s': the step must be >= 1", item);
        return -1;
    }
    if (stop < start) {
        snprintf(why, why_size, "range '%s': stop is below start", item);
        return -1;
    }
    // Count first (no overflow: stop - start >= 0 fits), then refuse absurd sizes up front.
    uint64_t n = (uint64_t)(stop - start) / (uint64_t)stride + 1;
    if (n > CONFIG_STEPS_MAX - *count) goto too_many;
    for (uint64_t i = 0; i < n; i++)
        if (push_step(steps, count, cap, start + (int64_t)i * stride) != 0) goto no_memory;
    return 0;
too_many:
    snprintf(why, why_size, "more than %d steps", CONFIG_STEPS_MAX);
    return -1;
no_memory:
    snprintf(why, why_size, "out of memory");
    return -1;
}

int config_steps_append_list(int64_t **steps, size_t *count, size_t *cap, const char *text,
                             char *why, size_t why_size) {
    const char *p = text;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char item[128];
        if (len >= sizeof item) {
            snprintf(why, why_size, "step item too long: '%.40s...'", p);
            return -1;
        }
        memcpy(item, p, len);
        item[len] = '\0';
        const char *q = item;
        while (isspace((unsigned char)*q)) q++;
        if (*q == '\0') {
            snprintf(why, why_size, "empty item in step list '%s'", text);
            return -1;
        }
        if (config_steps_append_item(steps, count, cap, item, why, why_size) != 0) return -1;
        if (comma == NULL) return 0;
        p = comma + 1;
    }
}

static int compare_steps(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int config_steps_finish(config_steps *steps, char *why, size_t why_size) {
    if (steps->count == 0) {
        snprintf(why, why_size, "the step list is empty");
        return -1;
    }
    qsort(steps->values, steps->count, sizeof *steps->values, compare_steps);
    for (size_t i = 1; i < steps->count; i++) {
        if (steps->values[i] == steps->values[i - 1]) {
            snprintf(why, why_size, "step %" PRId64 " appears more than once", steps->values[i]);
            return -1;
        }
    }
    return 0;
}

// Greedy folding: a run of three or more equally spaced steps becomes one range; the
// result re-expands to exactly the same list. Ranges are quoted because YAML 1.1 readers
// (PyYAML) would read an unquoted 1:20:30 as a base-60 integer.
char *config_steps_format(const config_steps *steps) {
    size_t cap = 64 + steps->count * 48, len = 0;
    char *out = malloc(cap);
    if (out == NULL) return NULL;
    len += (size_t)snprintf(out + len, cap - len, "[");
    size_t i = 0;
    while (i < steps->count) {
        const int64_t *v = steps->values;
        size_t j = i + 1;
        if (i + 2 < steps->count && v[i + 1] - v[i] == v[i + 2] - v[i + 1]) {
            int64_t stride = v[i + 1] - v[i];
            j = i + 2;
            while (j + 1 < steps->count && v[j + 1] - v[j] == stride) j++;
            len += (size_t)snprintf(out + len, cap - len, "%s\"%" PRId64 ":%" PRId64 ":%" PRId64 "\"",
                                    i ? ", " : "", v[i], v[j], stride);
            j++;
        } else {
            len += (size_t)snprintf(out + len, cap - len, "%s%" PRId64, i ? ", " : "", v[i]);
        }
        i = j;
    }
    snprintf(out + len, cap - len, "]");
    return out;
}
