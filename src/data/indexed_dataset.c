// indexed_dataset.c — Megatron .idx parsing (mmap) and the sharded .bin token store (pread).
// Layouts in include/memprof/indexed_dataset.h.
#include "memprof/indexed_dataset.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static const uint8_t idx_magic[9] = {'M', 'M', 'I', 'D', 'I', 'D', 'X', 0, 0};

static uint64_t read_u64(const uint8_t *p) {
    uint64_t value = 0;
    for (int i = 7; i >= 0; i--) value = value << 8 | p[i];
    return value;
}

static int dtype_size(int code) {
    switch (code) {
    case 1: case 2: return 1;
    case 3: case 8: return 2;
    case 4: case 6: return 4;
    case 5: case 7: return 8;
    default: return 0;
    }
}

int indexed_index_parse(indexed_index *out, const uint8_t *data, size_t size, const char *name, memprof_error *err) {
    memset(out, 0, sizeof *out);
    if (size < INDEXED_HEADER_BYTES)
        return error_set(err, MEMPROF_ERR, "%s: %zu bytes, shorter than the 34-byte idx header", name, size);
    if (memcmp(data, idx_magic, sizeof idx_magic) != 0)
        return error_set(err, MEMPROF_ERR, "%s: bad magic (not a Megatron MMIDIDX index)", name);
    uint64_t version = read_u64(data + 9);
    if (version != 1) return error_set(err, MEMPROF_ERR, "%s: unsupported idx version %llu (expected 1)", name, (unsigned long long)version);
    int code = data[17];
    int element = dtype_size(code);
    if (element == 0) return error_set(err, MEMPROF_ERR, "%s: unknown dtype code %d", name, code);
    if (code == 6 || code == 7) return error_set(err, MEMPROF_ERR_UNSUPPORTED, "%s: float dtype %d cannot hold token ids", name, code);
    uint64_t items = read_u64(data + 18), documents = read_u64(data + 26);
    uint64_t available = size - INDEXED_HEADER_BYTES;
    if (items > available / 12 || documents > (available - items * 12) / 8)
        return error_set(err, MEMPROF_ERR, "%s: %llu items and %llu documents need more than the file's %zu bytes", name,
                         (unsigned long long)items, (unsigned long long)documents, size);
    out->dtype_code = code;
    out->element_size = element;
    out->items = items;
    out->documents = documents;
    out->sizes = data + INDEXED_HEADER_BYTES;
    out->pointers = data + INDEXED_HEADER_BYTES + 4 * items;
    return MEMPROF_OK;
}

int indexed_index_item(int64_t *out_tokens, int64_t *out_offset, const indexed_index *index, uint64_t item,
                       uint64_t bin_bytes, const char *name, memprof_error *err) {
    if (item >= index->items)
        return error_set(err, MEMPROF_ERR, "%s: item %llu out of range (%llu items)", name, (unsigned long long)item,
                         (unsigned long long)index->items);
    int32_t tokens;
    int64_t offset;
    memcpy(&tokens, index->sizes + 4 * item, 4);  // little-endian host assumed (x86-64, arm64)
    memcpy(&offset, index->pointers + 8 * item, 8);
    if (tokens < 0 || offset < 0 || (uint64_t)offset > bin_bytes ||
        (uint64_t)tokens > (bin_bytes - (uint64_t)offset) / (uint64_t)index->element_size)
        return error_set(err, MEMPROF_ERR, "%s: item %llu (pointer %lld, %d tokens) runs past the end of the .bin (%llu bytes)",
                         name, (unsigned long long)item, (long long)offset, tokens, (unsigned long long)bin_bytes);
    *out_tokens = tokens;
    *out_offset = offset;
    return MEMPROF_OK;
}

typedef struct shard {
    int fd;
    uint64_t start, bytes;  // position in the virtual file
    char *path;
} shard;

struct token_store {
    shard *shards;
    int n_shards;
    uint64_t bytes;
    int dtype_code, element_size;
};

int token_store_open(token_store **out, const char *const *paths, int n_paths, int dtype_code, memprof_error *err) {
    *out = NULL;
    int element = dtype_size(dtype_code);
    if (element == 0 || dtype_code == 6 || dtype_code == 7)
        return error_set(err, MEMPROF_ERR, "token store: dtype code %d is not an integer type", dtype_code);
    if (n_paths < 1) return error_set(err, MEMPROF_ERR, "token store: no .bin files given");
    token_store *store = calloc(1, sizeof *store);
    if (!store) return error_set(err, MEMPROF_ERR_NOMEM, "token store: out of memory");
    store->shards = calloc((size_t)n_paths, sizeof *store->shards);
    if (!store->shards) {
        free(store);
        return error_set(err, MEMPROF_ERR_NOMEM, "token store: out of memory");
    }
    store->dtype_code = dtype_code;
    store->element_size = element;
    for (int i = 0; i < n_paths; i++) store->shards[i].fd = -1;
    store->n_shards = n_paths;
    for (int i = 0; i < n_paths; i++) {
        shard *s = &store->shards[i];
        s->path = strdup(paths[i]);
        s->fd = open(paths[i], O_RDONLY | O_CLOEXEC);
        struct stat info;
        if (!s->path || s->fd < 0 || fstat(s->fd, &info) != 0) {
            error_set(err, MEMPROF_ERR, "%s: cannot open: %s", paths[i], strerror(errno));
            token_store_close(store);
            return MEMPROF_ERR;
        }
        s->start = store->bytes;
        s->bytes = (uint64_t)info.st_size;
        store->bytes += s->bytes;
    }
    *out = store;
    return MEMPROF_OK;
}

void token_store_close(token_store *store) {
    if (!store) return;
    for (int i = 0; i < store->n_shards; i++) {
        if (store->shards[i].fd >= 0) close(store->shards[i].fd);
        free(store->shards[i].path);
    }
    free(store->shards);
    free(store);
}

uint64_t token_store_bytes(const token_store *store) { return store->bytes; }
uint64_t token_store_tokens(const token_store *store) { return store->bytes / (uint64_t)store->element_size; }

// Reads bytes [offset, offset + length) of the virtual file; a read may span shards.
static int read_bytes(uint8_t *out, const token_store *store, uint64_t offset, uint64_t length, memprof_error *err) {
    int s = 0;
    while (s < store->n_shards && offset >= store->shards[s].start + store->shards[s].bytes) s++;
    while (length > 0) {
        if (s >= store->n_shards)
            return error_set(err, MEMPROF_ERR, "token store: read past the end of the .bin files (%llu bytes)",
                             (unsigned long long)store->bytes);
        const shard *current = &store->shards[s];
        uint64_t within = offset - current->start;
        uint64_t take = current->bytes - within;
        if (take > length) take = length;
        while (take > 0) {
            ssize_t got = pread(current->fd, out, take, (off_t)within);
            if (got < 0 && errno == EINTR) continue;
            if (got <= 0)
                return error_set(err, MEMPROF_ERR, "%s: read failed at byte %llu: %s", current->path,
                                 (unsigned long long)within, got < 0 ? strerror(errno) : "file shrank");
            out += got;
            within += (uint64_t)got;
            offset += (uint64_t)got;
            length -= (uint64_t)got;
            take -= (uint64_t)got;
        }
        s++;
    }
    return MEMPROF_OK;
}

int token_store_read(int32_t *out, const token_store *store, uint64_t first, uint64_t count, memprof_error *err) {
    uint64_t total = token_store_tokens(store);
    if (first > total || count > total - first)
        return error_set(err, MEMPROF_ERR, "token store: tokens [%llu, %llu) out of range (%llu tokens in the .bin files)",
                         (unsigned long long)first, (unsigned long long)(first + count), (unsigned long long)total);
    size_t element = (size_t)store->element_size;
    uint8_t *raw = malloc(count * element + 1);
    if (!raw) return error_set(err, MEMPROF_ERR_NOMEM, "token store: out of memory");
    int status = read_bytes(raw, store, first * element, count * element, err);
    for (uint64_t i = 0; i < count && !status; i++) {
        const uint8_t *p = raw + i * element;
        int64_t value;
        switch (store->dtype_code) {
        case 1: value = p[0]; break;
        case 2: value = (int8_t)p[0]; break;
        case 3: { int16_t v; memcpy(&v, p, 2); value = v; break; }
        case 8: { uint16_t v; memcpy(&v, p, 2); value = v; break; }
        case 4: { int32_t v; memcpy(&v, p, 4); value = v; break; }
        default: { int64_t v; memcpy(&v, p, 8); value = v; break; }
        }
        if (value < 0 || value > INT32_MAX)
            status = error_set(err, MEMPROF_ERR, "token store: token %llu has value %lld, not a token id",
                               (unsigned long long)(first + i), (long long)value);
        else out[i] = (int32_t)value;
    }
    free(raw);
    return status;
}

struct indexed_dataset {
    void *map;
    size_t map_bytes;
    char *idx_path;
    indexed_index index;
    token_store *store;
};

int indexed_dataset_open(indexed_dataset **out, const char *idx_path, const char *const *bin_paths, int n_bins,
                         memprof_error *err) {
    *out = NULL;
    indexed_dataset *dataset = calloc(1, sizeof *dataset);
    if (!dataset) return error_set(err, MEMPROF_ERR_NOMEM, "%s: out of memory", idx_path);
    dataset->idx_path = strdup(idx_path);
    int fd = open(idx_path, O_RDONLY | O_CLOEXEC);
    struct stat info;
    int status = MEMPROF_OK;
    if (fd < 0 || fstat(fd, &info) != 0) {
        status = error_set(err, MEMPROF_ERR, "%s: cannot open: %s", idx_path, strerror(errno));
    } else if (info.st_size > 0) {
        dataset->map = mmap(NULL, (size_t)info.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (dataset->map == MAP_FAILED) {
            dataset->map = NULL;
            status = error_set(err, MEMPROF_ERR, "%s: cannot mmap: %s", idx_path, strerror(errno));
        } else {
            dataset->map_bytes = (size_t)info.st_size;
        }
    }
    if (fd >= 0) close(fd);
    if (!status) status = indexed_index_parse(&dataset->index, dataset->map, dataset->map_bytes, idx_path, err);
    if (!status) status = token_store_open(&dataset->store, bin_paths, n_bins, dataset->index.dtype_code, err);
    if (status) {
        indexed_dataset_close(dataset);
        return status;
    }
    *out = dataset;
    return MEMPROF_OK;
}

void indexed_dataset_close(indexed_dataset *dataset) {
    if (!dataset) return;
    if (dataset->map) munmap(dataset->map, dataset->map_bytes);
    token_store_close(dataset->store);
    free(dataset->idx_path);
    free(dataset);
}

const indexed_index *indexed_dataset_index(const indexed_dataset *dataset) { return &dataset->index; }
const token_store *indexed_dataset_store(const indexed_dataset *dataset) { return dataset->store; }

int indexed_dataset_read_item(int32_t *out, int64_t *out_count, const indexed_dataset *dataset, uint64_t item,
                              int64_t max_tokens, memprof_error *err) {
    int64_t tokens, offset;
    int status = indexed_index_item(&tokens, &offset, &dataset->index, item, token_store_bytes(dataset->store),
                                    dataset->idx_path, err);
    if (status) return status;
    if (tokens > max_tokens)
        return error_set(err, MEMPROF_ERR, "%s: item %llu has %lld tokens, more than %lld", dataset->idx_path,
                         (unsigned long long)item, (long long)tokens, (long long)max_tokens);
    if (offset % dataset->index.element_size != 0)
        return error_set(err, MEMPROF_ERR, "%s: item %llu pointer %lld is not a multiple of the token size",
                         dataset->idx_path, (unsigned long long)item, (long long)offset);
    *out_count = tokens;
    return token_store_read(out, dataset->store, (uint64_t)offset / (uint64_t)dataset->index.element_size,
                            (uint64_t)tokens, err);
}
