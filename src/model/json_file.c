// json_file.c — see json_file.h.
#include "model/json_file.h"

#include <string.h>

#include "memprof/weights.h"

int json_file_load_object(json_t **out, const char *path, memprof_error *err) {
    json_error_t json_error;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &json_error);
    if (root == NULL) {
        char shown[JSON_ERROR_TEXT_LENGTH];  // jansson quotes the offending input
        printable_excerpt(shown, sizeof shown, json_error.text, strlen(json_error.text));
        if (json_error.line <= 0)  // could not open or read the file
            return error_set(err, MEMPROF_ERR, "%s: %s", path, shown);
        return error_set(err, MEMPROF_ERR, "%s:%d:%d: %s", path, json_error.line, json_error.column, shown);
    }
    if (!json_is_object(root)) {
        json_decref(root);
        return error_set(err, MEMPROF_ERR, "%s: top level is not a JSON object", path);
    }
    *out = root;
    return 0;
}
