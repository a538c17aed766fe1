// fuzz_config.c — the YAML configuration loader on arbitrary bytes.
//
// Input: YAML text, optionally followed by a NUL and NUL-separated key=value overrides.
// Invariant checked beyond "no crash, no leak": a configuration that loads renders to
// text that loads again and renders identically (the hash stats.h5 stores is stable).
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "memprof/config.h"

#define MAX_OVERRIDES 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *copy = malloc(size + 1);
    if (copy == NULL) return 0;
    memcpy(copy, data, size);
    copy[size] = '\0';
    size_t yaml_size = strnlen(copy, size);
    const char *overrides[MAX_OVERRIDES];
    int num_overrides = 0;
    for (size_t at = yaml_size + 1; at < size && num_overrides < MAX_OVERRIDES; at += strlen(copy + at) + 1)
        overrides[num_overrides++] = copy + at;

    sweep_config config;
    memset(&config, 0, sizeof config);
    memprof_error err;
    if (config_load_buffer(&config, &sweep_config_schema, "fuzz.yaml", copy, yaml_size, num_overrides, overrides, &err) == 0) {
        char *text = NULL, *again = NULL;
        if (config_render(&text, &config, &sweep_config_schema, &err) != 0) abort();
        sweep_config reloaded;
        memset(&reloaded, 0, sizeof reloaded);
        if (config_load_buffer(&reloaded, &sweep_config_schema, "rendered.yaml", text, strlen(text), 0, NULL, &err) != 0) abort();
        if (config_render(&again, &reloaded, &sweep_config_schema, &err) != 0) abort();
        if (strcmp(text, again) != 0) abort();
        free(text);
        free(again);
        sweep_config_free(&reloaded);
        sweep_config_free(&config);
    }
    free(copy);
    return 0;
}
