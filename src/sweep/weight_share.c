// weight_share.c — see weight_share.h. Protocol, all MPI_Bcast from root over `node`:
//   i32 status, i32 file count, then per file: char name[256], u64 size, u64 xxh64,
//   then the bytes in chunks of at most chunk_bytes; after each file every rank reports
//   whether it wrote and verified it (MPI_Allreduce), so a failure stops all ranks together.
// Only regular files directly in the folder travel (config.json, weights, index files).
#include "sweep/weight_share.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "memprof/weights.h"

enum { NAME_BYTES = 256, MAX_FILES = 4096 };

typedef struct file_entry { char name[NAME_BYTES]; uint64_t size, hash; } file_entry;

static int by_name(const void *a, const void *b) { return strcmp(((const file_entry *)a)->name, ((const file_entry *)b)->name); }

// Root: the folder's regular files, sorted, with sizes and hashes.
static int list_files(file_entry **out, int *count, const char *dir, memprof_error *err) {
    *out = NULL; *count = 0;
    DIR *d = opendir(dir);
    if (!d) return error_set(err, MEMPROF_ERR, "%s: cannot open the checkpoint folder: %s", dir, strerror(errno));
    file_entry *files = calloc(MAX_FILES, sizeof *files);
    int n = 0, rc = files ? 0 : error_set(err, MEMPROF_ERR_NOMEM, "out of memory");
    struct dirent *e;
    while (!rc && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) continue;
        if (n == MAX_FILES || strlen(e->d_name) >= NAME_BYTES) { rc = error_set(err, MEMPROF_ERR, "%s: too many files or a name too long", dir); break; }
        snprintf(files[n].name, NAME_BYTES, "%s", e->d_name);
        files[n].size = (uint64_t)st.st_size;
        n++;
    }
    closedir(d);
    if (rc) { free(files); return rc; }
    qsort(files, (size_t)n, sizeof *files, by_name);
    *out = files; *count = n;
    return MEMPROF_OK;
}

// One status for everyone: the lowest failing rank's message wins.
static int agree(int rc, memprof_error *err, MPI_Comm comm) {
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    int mine = rc ? rank : size, first = size;
    MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comm);
    if (first == size) return MEMPROF_OK;
    MPI_Bcast(err->message, sizeof err->message, MPI_CHAR, first, comm);
    err->code = MEMPROF_ERR;
    return MEMPROF_ERR;
}

int weights_node_broadcast(char *out_dir, size_t out_size, MPI_Comm node, int root, const char *checkpoint_dir,
                           const char *staging_root, size_t chunk_bytes, memprof_error *err) {
    int rank, world_rank;
    MPI_Comm_rank(node, &rank);
    MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
    int root_world = world_rank;
    MPI_Bcast(&root_world, 1, MPI_INT, root, node);
    if (chunk_bytes == 0 || chunk_bytes > (size_t)1 << 30) chunk_bytes = (size_t)1 << 30;  // MPI counts are int

    file_entry *files = NULL;
    int n = 0, rc = 0;
    char src_name[NAME_BYTES] = "";
    if (rank == root) {
        rc = checkpoint_dir ? list_files(&files, &n, checkpoint_dir, err) : error_set(err, MEMPROF_ERR, "weights broadcast: root has no folder");
        if (!rc && n == 0) rc = error_set(err, MEMPROF_ERR, "%s: no files to share", checkpoint_dir);
        if (!rc) {
            const char *slash = strrchr(checkpoint_dir, '/');
            snprintf(src_name, sizeof src_name, "%s", slash && slash[1] ? slash + 1 : checkpoint_dir);
            snprintf(out_dir, out_size, "%s", checkpoint_dir);
        }
    }
    if ((rc = agree(rc, err, node)) != 0) { free(files); return rc; }
    MPI_Bcast(&n, 1, MPI_INT, root, node);
    MPI_Bcast(src_name, NAME_BYTES, MPI_CHAR, root, node);
    if (rank != root) {
        files = calloc((size_t)n, sizeof *files);
        snprintf(out_dir, out_size, "%s/%s.from-%d", staging_root, src_name, root_world);
        if (!files) rc = error_set(err, MEMPROF_ERR_NOMEM, "out of memory");
        else if (mkdir(staging_root, 0755) != 0 && errno != EEXIST) rc = error_set(err, MEMPROF_ERR, "%s: cannot create: %s", staging_root, strerror(errno));
        else if (mkdir(out_dir, 0755) != 0 && errno != EEXIST) rc = error_set(err, MEMPROF_ERR, "%s: cannot create: %s", out_dir, strerror(errno));
    }
    if ((rc = agree(rc, err, node)) != 0) { free(files); return rc; }
    MPI_Bcast(files, n * (int)sizeof *files, MPI_BYTE, root, node);  // names and sizes; hashes follow per file

    uint8_t *buffer = rank == root ? NULL : malloc(chunk_bytes);
    if (rank != root && !buffer) rc = error_set(err, MEMPROF_ERR_NOMEM, "out of memory for a %zu-byte chunk", chunk_bytes);
    rc = agree(rc, err, node);
    for (int k = 0; k < n && !rc; k++) {
        mapped_file src = {0};
        FILE *dst = NULL;
        XXH64_state_t *hash = XXH64_createState();
        XXH64_reset(hash, 0);
        char path[4400];
        if (rank == root) {
            snprintf(path, sizeof path, "%s/%s", checkpoint_dir, files[k].name);
            rc = mapped_file_open(&src, path, err);
            files[k].hash = rc ? 0 : src.xxh64;
        } else {
            snprintf(path, sizeof path, "%s/%s", out_dir, files[k].name);
            dst = fopen(path, "wb");
            if (!dst) rc = error_set(err, MEMPROF_ERR, "%s: cannot create: %s", path, strerror(errno));
        }
        if ((rc = agree(rc, err, node)) != 0) { XXH64_freeState(hash); if (dst) fclose(dst); break; }
        MPI_Bcast(&files[k].hash, 1, MPI_UINT64_T, root, node);
        for (uint64_t at = 0; at < files[k].size; at += chunk_bytes) {
            size_t len = files[k].size - at < chunk_bytes ? (size_t)(files[k].size - at) : chunk_bytes;
            void *chunk = rank == root ? (void *)((const uint8_t *)src.data + at) : buffer;
            MPI_Bcast(chunk, (int)len, MPI_BYTE, root, node);
            if (rank != root) {
                XXH64_update(hash, buffer, len);
                if (!rc && fwrite(buffer, 1, len, dst) != len) rc = error_set(err, MEMPROF_ERR, "%s: write failed", path);
            }
        }
        if (rank != root) {
            if (fclose(dst) != 0 && !rc) rc = error_set(err, MEMPROF_ERR, "%s: write failed", path);
            if (!rc && XXH64_digest(hash) != files[k].hash)
                rc = error_set(err, MEMPROF_ERR, "%s: received bytes do not match the sender's xxh64", path);
        } else {
            mapped_file_close(&src);
        }
        XXH64_freeState(hash);
        rc = agree(rc, err, node);
    }
    free(buffer);
    free(files);
    return rc;
}
