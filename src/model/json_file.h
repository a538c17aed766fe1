// json_file.h — loading a JSON object file (config.json, the sharded-weights indexes) with
// one-line errors: "PATH:LINE:COLUMN: what jansson found", the offending text made printable.
#ifndef MEMPROF_MODEL_JSON_FILE_H
#define MEMPROF_MODEL_JSON_FILE_H

#include <jansson.h>

#include "memprof/error.h"

// *out is a JSON object (duplicate keys refused); the caller json_decref()s it.
int json_file_load_object(json_t **out, const char *path, memprof_error *err);

#endif
