// token_file.c — per-token side files (format in token_file.h). Each task is one frame written
// with a single fwrite + fflush, so a kill leaves at most one torn frame, at the end.
#include "sweep/token_file.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

void token_file_path(char *out, size_t size, const char *dir, int64_t run, int rank) {
    snprintf(out, size, "%s/run-%04lld.rank-%05d.zst", dir, (long long)run, rank);
}

int token_file_open(token_file_writer *w, const char *dir, int64_t run, int rank, memprof_error *err) {
    memset(w, 0, sizeof *w);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) return error_set(err, MEMPROF_ERR, "%s: cannot create: %s", dir, strerror(errno));
    token_file_path(w->path, sizeof w->path, dir, run, rank);
    w->file = fopen(w->path, "wb");  // run numbers are never reused (each run appends a RUN record first)
    if (!w->file) return error_set(err, MEMPROF_ERR, "%s: cannot open: %s", w->path, strerror(errno));
    return MEMPROF_OK;
}

static int reserve(uint8_t **buf, size_t *cap, size_t need) {
    if (need <= *cap) return 0;
    size_t cap2 = *cap ? *cap : 4096;
    while (cap2 < need) cap2 *= 2;
    uint8_t *grown = realloc(*buf, cap2);
    if (!grown) return -1;
    *buf = grown; *cap = cap2;
    return 0;
}

static void put_le(uint8_t *p, uint64_t v, int bytes) { for (int k = 0; k < bytes; k++) p[k] = (uint8_t)(v >> (8 * k)); }

int token_file_add(token_file_writer *w, int32_t checkpoint_index, int64_t instance, int64_t n, const token_statistics *t,
                   memprof_error *err) {
    size_t need = w->raw_len + 24 + (size_t)n * 25;
    if (reserve(&w->raw, &w->raw_cap, need)) return error_set(err, MEMPROF_ERR_NOMEM, "out of memory for per-token records");
    uint8_t *p = w->raw + w->raw_len;
    put_le(p, TOKEN_RECORD_MAGIC, 4); put_le(p + 4, (uint32_t)checkpoint_index, 4);
    put_le(p + 8, (uint64_t)instance, 8); put_le(p + 16, (uint64_t)n, 8);
    p += 24;
    for (int64_t k = 0; k < n; k++) { uint64_t u; memcpy(&u, &t->surprisal[k], 8); put_le(p, u, 8); p += 8; }
    for (int64_t k = 0; k < n; k++) { put_le(p, (uint64_t)t->rank[k], 8); p += 8; }
    for (int64_t k = 0; k < n; k++) { uint64_t u; memcpy(&u, &t->entropy[k], 8); put_le(p, u, 8); p += 8; }
    for (int64_t k = 0; k < n; k++) *p++ = t->correct[k];
    w->raw_len = need;
    return MEMPROF_OK;
}

int token_file_end_task(token_file_writer *w, memprof_error *err) {
    if (w->raw_len == 0) return MEMPROF_OK;
    size_t bound = ZSTD_compressBound(w->raw_len);
    if (bound > w->packed_cap) {
        void *grown = realloc(w->packed, bound);
        if (!grown) return error_set(err, MEMPROF_ERR_NOMEM, "out of memory for a per-token frame");
        w->packed = grown; w->packed_cap = bound;
    }
    size_t len = ZSTD_compress(w->packed, w->packed_cap, w->raw, w->raw_len, 3);
    w->raw_len = 0;
    if (ZSTD_isError(len)) return error_set(err, MEMPROF_ERR, "%s: zstd: %s", w->path, ZSTD_getErrorName(len));
    if (fwrite(w->packed, 1, len, w->file) != len || fflush(w->file) != 0 || fdatasync(fileno(w->file)) != 0)
        return error_set(err, MEMPROF_ERR, "%s: write failed: %s", w->path, strerror(errno));
    return MEMPROF_OK;
}

void token_file_close(token_file_writer *w) {
    if (w->file) fclose(w->file);
    free(w->raw); free(w->packed);
    memset(w, 0, sizeof *w);
}

static uint64_t get_le(const uint8_t *p, int bytes) {
    uint64_t v = 0;
    for (int k = 0; k < bytes; k++) v |= (uint64_t)p[k] << (8 * k);
    return v;
}

// Walks the records of one decompressed frame.
static int visit_frame(const uint8_t *p, size_t len, token_record_visit visit, void *ctx, const char *path, memprof_error *err) {
    double *sup = NULL, *ent = NULL;
    int64_t *rank = NULL;
    size_t cap = 0;
    int rc = 0;
    for (size_t at = 0; at < len;) {
        if (len - at < 24 || get_le(p + at, 4) != TOKEN_RECORD_MAGIC) { rc = error_set(err, MEMPROF_ERR, "%s: bad record at byte %zu of a frame", path, at); break; }
        int32_t c = (int32_t)get_le(p + at + 4, 4);
        int64_t instance = (int64_t)get_le(p + at + 8, 8), n = (int64_t)get_le(p + at + 16, 8);
        if (n < 0 || (size_t)n > (len - at - 24) / 25) { rc = error_set(err, MEMPROF_ERR, "%s: record length %lld overruns its frame", path, (long long)n); break; }
        if ((size_t)n > cap) {
            cap = (size_t)n;
            free(sup); free(ent); free(rank);
            sup = malloc(cap * 8); ent = malloc(cap * 8); rank = malloc(cap * 8);
            if (!sup || !ent || !rank) { rc = error_set(err, MEMPROF_ERR_NOMEM, "out of memory"); break; }
        }
        const uint8_t *q = p + at + 24;
        for (int64_t k = 0; k < n; k++) { uint64_t u = get_le(q + 8 * k, 8); memcpy(&sup[k], &u, 8); }
        q += 8 * n;
        for (int64_t k = 0; k < n; k++) rank[k] = (int64_t)get_le(q + 8 * k, 8);
        q += 8 * n;
        for (int64_t k = 0; k < n; k++) { uint64_t u = get_le(q + 8 * k, 8); memcpy(&ent[k], &u, 8); }
        q += 8 * n;
        visit(ctx, c, instance, n, sup, rank, ent, q);
        at += 24 + (size_t)n * 25;
    }
    free(sup); free(ent); free(rank);
    return rc;
}

int token_file_read(const char *path, token_record_visit visit, void *ctx, memprof_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return error_set(err, MEMPROF_ERR, "%s: cannot open: %s", path, strerror(errno));
    uint8_t *data = NULL;
    size_t size = 0, cap = 0, got;
    uint8_t chunk[65536];
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (reserve(&data, &cap, size + got)) { fclose(f); free(data); return error_set(err, MEMPROF_ERR_NOMEM, "out of memory"); }
        memcpy(data + size, chunk, got);
        size += got;
    }
    fclose(f);
    int rc = 0;
    for (size_t at = 0; at < size && !rc;) {
        size_t frame = ZSTD_findFrameCompressedSize(data + at, size - at);
        unsigned long long content = ZSTD_getFrameContentSize(data + at, size - at);
        if (ZSTD_isError(frame) || content == ZSTD_CONTENTSIZE_ERROR || content == ZSTD_CONTENTSIZE_UNKNOWN) break;  // torn tail
        uint8_t *raw = malloc(content ? content : 1);
        if (!raw) { rc = error_set(err, MEMPROF_ERR_NOMEM, "out of memory"); break; }
        size_t len = ZSTD_decompress(raw, content, data + at, frame);
        if (ZSTD_isError(len)) { free(raw); break; }
        rc = visit_frame(raw, len, visit, ctx, path, err);
        free(raw);
        at += frame;
    }
    free(data);
    return rc;
}
