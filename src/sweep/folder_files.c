// folder_files.c — see folder_files.h.
#include "sweep/folder_files.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int by_name(const void *a, const void *b) { return strcmp(((const folder_file *)a)->name, ((const folder_file *)b)->name); }

int folder_list_files(folder_file **out, int *count, const char *dir, memprof_error *err) {
    *out = NULL; *count = 0;
    DIR *d = opendir(dir);
    if (!d) return error_set(err, MEMPROF_ERR, "%s: cannot open the checkpoint folder: %s", dir, strerror(errno));
    folder_file *files = calloc(FOLDER_MAX_FILES, sizeof *files);
    int n = 0, rc = files ? 0 : error_set(err, MEMPROF_ERR_NOMEM, "out of memory");
    struct dirent *e;
    while (!rc && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char path[4096 + FOLDER_NAME_BYTES + 2];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) continue;
        if (n == FOLDER_MAX_FILES || strlen(e->d_name) >= FOLDER_NAME_BYTES) {
            rc = error_set(err, MEMPROF_ERR, "%s: too many files or a name too long", dir);
            break;
        }
        snprintf(files[n].name, FOLDER_NAME_BYTES, "%s", e->d_name);
        files[n].size = (uint64_t)st.st_size;
        n++;
    }
    closedir(d);
    if (rc) { free(files); return rc; }
    qsort(files, (size_t)n, sizeof *files, by_name);
    *out = files; *count = n;
    return MEMPROF_OK;
}
