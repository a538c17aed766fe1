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
#include "sweep/agree.h"
#include "sweep/folder_files.h"
#include "sweep/protocol.h"

enum { NAME_BYTES = FOLDER_NAME_BYTES };

typedef folder_file file_entry;

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
        rc = checkpoint_dir ? folder_list_files(&files, &n, checkpoint_dir, err) : error_set(err, MEMPROF_ERR, "weights broadcast: root has no folder");
        if (!rc && n == 0) rc = error_set(err, MEMPROF_ERR, "%s: no files to share", checkpoint_dir);
        if (!rc) {
            const char *slash = strrchr(checkpoint_dir, '/');
            snprintf(src_name, sizeof src_name, "%s", slash && slash[1] ? slash + 1 : checkpoint_dir);
            snprintf(out_dir, out_size, "%s", checkpoint_dir);
        }
    }
    if ((rc = sweep_agree(rc, err, node)) != 0) { free(files); return rc; }
    MPI_Bcast(&n, 1, MPI_INT, root, node);
    MPI_Bcast(src_name, NAME_BYTES, MPI_CHAR, root, node);
    if (rank != root) {
        files = calloc((size_t)n, sizeof *files);
        snprintf(out_dir, out_size, "%s/%s.from-%d.to-%d", staging_root, src_name, root_world, world_rank);
        if (!files) rc = error_set(err, MEMPROF_ERR_NOMEM, "out of memory");
        else if (mkdir(staging_root, 0755) != 0 && errno != EEXIST) rc = error_set(err, MEMPROF_ERR, "%s: cannot create: %s", staging_root, strerror(errno));
        else if (mkdir(out_dir, 0755) != 0 && errno != EEXIST) rc = error_set(err, MEMPROF_ERR, "%s: cannot create: %s", out_dir, strerror(errno));
    }
    if ((rc = sweep_agree(rc, err, node)) != 0) { free(files); return rc; }
    MPI_Bcast(files, n * (int)sizeof *files, MPI_BYTE, root, node);  // names and sizes; hashes follow per file

    uint8_t *buffer = rank == root ? NULL : malloc(chunk_bytes);
    if (rank != root && !buffer) rc = error_set(err, MEMPROF_ERR_NOMEM, "out of memory for a %zu-byte chunk", chunk_bytes);
    rc = sweep_agree(rc, err, node);
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
        if ((rc = sweep_agree(rc, err, node)) != 0) { XXH64_freeState(hash); if (dst) fclose(dst); break; }
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
        rc = sweep_agree(rc, err, node);
    }
    free(buffer);
    free(files);
    return rc;
}

// ---- point to point (the sweep's peer requests) --------------------------------------------

typedef struct weights_offer { int32_t ok, count; char name[NAME_BYTES]; } weights_offer;

void weights_refuse(MPI_Comm comm, int dest) {
    weights_offer offer;
    memset(&offer, 0, sizeof offer);
    MPI_Send(&offer, sizeof offer, MPI_BYTE, dest, TAG_WEIGHTS_REPLY, comm);
}

int weights_send(MPI_Comm comm, int dest, const char *dir, size_t chunk_bytes, memprof_error *err) {
    if (chunk_bytes == 0 || chunk_bytes > (size_t)1 << 30) chunk_bytes = (size_t)1 << 30;
    file_entry *files = NULL;
    int n = 0;
    int rc = folder_list_files(&files, &n, dir, err);
    mapped_file *maps = rc ? NULL : calloc((size_t)(n ? n : 1), sizeof *maps);
    if (!rc && !maps) rc = error_set(err, MEMPROF_ERR_NOMEM, "out of memory");
    int opened = 0;
    for (; !rc && opened < n; opened++) {  // map (and hash) everything before promising anything
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", dir, files[opened].name);
        if ((rc = mapped_file_open(&maps[opened], path, err)) != 0) break;
        files[opened].hash = maps[opened].xxh64;
    }
    weights_offer offer;
    memset(&offer, 0, sizeof offer);
    if (!rc && n > 0) {
        offer.ok = 1; offer.count = n;
        const char *slash = strrchr(dir, '/');
        snprintf(offer.name, sizeof offer.name, "%s", slash && slash[1] ? slash + 1 : dir);
    }
    MPI_Send(&offer, sizeof offer, MPI_BYTE, dest, TAG_WEIGHTS_REPLY, comm);
    if (offer.ok) {
        MPI_Send(files, n * (int)sizeof *files, MPI_BYTE, dest, TAG_WEIGHTS_DATA, comm);
        for (int k = 0; k < n; k++)
            for (uint64_t at = 0; at < files[k].size; at += chunk_bytes) {
                size_t len = files[k].size - at < chunk_bytes ? (size_t)(files[k].size - at) : chunk_bytes;
                MPI_Send(maps[k].data + at, (int)len, MPI_BYTE, dest, TAG_WEIGHTS_DATA, comm);
            }
    }
    for (int k = 0; k < opened && maps; k++) mapped_file_close(&maps[k]);
    free(maps);
    free(files);
    return rc;
}

int weights_receive(char *out_dir, size_t out_size, MPI_Comm comm, int src, const char *staging_root, size_t chunk_bytes,
                    memprof_error *err) {
    if (chunk_bytes == 0 || chunk_bytes > (size_t)1 << 30) chunk_bytes = (size_t)1 << 30;
    weights_offer offer;
    MPI_Recv(&offer, sizeof offer, MPI_BYTE, src, TAG_WEIGHTS_REPLY, comm, MPI_STATUS_IGNORE);
    if (!offer.ok) return 1;
    offer.name[NAME_BYTES - 1] = '\0';
    int n = offer.count, rc = 0;
    file_entry *files = calloc((size_t)n, sizeof *files);
    uint8_t *buffer = malloc(chunk_bytes);
    int me;
    MPI_Comm_rank(comm, &me);
    // One copy per receiver: two workers of a node may receive the same checkpoint at once.
    snprintf(out_dir, out_size, "%s/%s.from-%d.to-%d", staging_root, offer.name, src, me);
    if (!files || !buffer) rc = error_set(err, MEMPROF_ERR_NOMEM, "out of memory");
    else if (mkdir(staging_root, 0755) != 0 && errno != EEXIST) rc = error_set(err, MEMPROF_ERR, "%s: cannot create: %s", staging_root, strerror(errno));
    else if (mkdir(out_dir, 0755) != 0 && errno != EEXIST) rc = error_set(err, MEMPROF_ERR, "%s: cannot create: %s", out_dir, strerror(errno));
    // Whatever happens here, every message the sender sends is received (the protocol stays in step).
    file_entry scratch;
    MPI_Recv(files ? (void *)files : (void *)&scratch, files ? n * (int)sizeof *files : 0, MPI_BYTE, src, TAG_WEIGHTS_DATA, comm,
             MPI_STATUS_IGNORE);
    for (int k = 0; k < n && files; k++) {
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", out_dir, files[k].name);
        FILE *dst = rc ? NULL : fopen(path, "wb");
        if (!rc && !dst) rc = error_set(err, MEMPROF_ERR, "%s: cannot create: %s", path, strerror(errno));
        XXH64_state_t *hash = XXH64_createState();
        XXH64_reset(hash, 0);
        for (uint64_t at = 0; at < files[k].size; at += chunk_bytes) {
            size_t len = files[k].size - at < chunk_bytes ? (size_t)(files[k].size - at) : chunk_bytes;
            MPI_Recv(buffer, (int)len, MPI_BYTE, src, TAG_WEIGHTS_DATA, comm, MPI_STATUS_IGNORE);
            XXH64_update(hash, buffer, len);
            if (dst && !rc && fwrite(buffer, 1, len, dst) != len) rc = error_set(err, MEMPROF_ERR, "%s: write failed", path);
        }
        if (dst && fclose(dst) != 0 && !rc) rc = error_set(err, MEMPROF_ERR, "%s: write failed", path);
        if (!rc && XXH64_digest(hash) != files[k].hash)
            rc = error_set(err, MEMPROF_ERR, "%s: received bytes do not match the sender's xxh64", path);
        XXH64_freeState(hash);
    }
    free(buffer);
    free(files);
    if (rc) weights_remove_staged(out_dir);
    return rc;
}

void weights_remove_staged(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}
