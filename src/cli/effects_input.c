// effects_input.c — what plot and compare share: reading their effects.h5 arguments and
// creating the output folder. Prints its own one-line errors (cli/ is where printing happens).
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "effects_input.h"

// mkdir -p for the output folder.
int cli_make_dirs(const char *path) {
    char buf[1024];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf) return -1;
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0') continue;
        char c = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST) return -1;
        buf[i] = c;
    }
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode) ? 0 : -1;
}

int cli_read_effects(effects_file **out, const char *const *paths, int n, const char *cmd) {
    effects_file *files = calloc((size_t)n, sizeof *files);
    if (!files) { fprintf(stderr, "memprof %s: out of memory\n", cmd); return -1; }
    for (int i = 0; i < n; i++) {
        memprof_error err = {0};
        if (effects_read(&files[i], paths[i], &err)) {
            fprintf(stderr, "memprof %s: %s\n", cmd, err.message);
            for (int j = 0; j < i; j++) effects_free(&files[j]);
            free(files);
            return -1;
        }
    }
    *out = files;
    return 0;
}

