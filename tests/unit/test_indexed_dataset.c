// test_indexed_dataset.c — Megatron idx/bin reading on files written here byte by byte
// from the format's definition: three .bin shards of odd sizes so that
// samples (and one token) straddle shard boundaries; tokens and train_step of the rows
// panel_fill_training makes; and the bad inputs: magic, version, dtype, pointers or sizes
// past the end of the .bin, sample index out of range, token ids >= the model vocabulary.
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "memprof/indexed_dataset.h"
#include "memprof/panel_builder.h"
#include "test.h"

enum { LENGTH = 2049, SAMPLES = 10 };

static uint16_t expected_token(int64_t sample, int64_t position) {
    return (uint16_t)((sample * 7919 + position * 31) % 50000 + 2);
}

static void put_u64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

// An idx for n items of LENGTH tokens at pointers 2·LENGTH·i (+ pointer_shift for the last).
static size_t make_idx(uint8_t *out, int dtype, uint64_t version, int n, int64_t pointer_shift) {
    memcpy(out, "MMIDIDX\0\0", 9);
    put_u64(out + 9, version);
    out[17] = (uint8_t)dtype;
    put_u64(out + 18, (uint64_t)n);
    put_u64(out + 26, (uint64_t)n + 1);
    uint8_t *p = out + 34;
    for (int i = 0; i < n; i++, p += 4) {
        int32_t size = LENGTH;
        memcpy(p, &size, 4);
    }
    for (int i = 0; i < n; i++, p += 8) {
        int64_t pointer = (int64_t)2 * LENGTH * i + (i == n - 1 ? pointer_shift : 0);
        memcpy(p, &pointer, 8);
    }
    for (int i = 0; i <= n; i++, p += 8) {
        int64_t doc = i;
        memcpy(p, &doc, 8);
    }
    return (size_t)(p - out);
}

static void write_file(const char *path, const void *data, size_t size) {
    FILE *f = fopen(path, "wb");
    fwrite(data, 1, size, f);
    fclose(f);
}

int main(void) {
    char directory[] = "/tmp/memprof-test-idx-XXXXXX";
    if (!mkdtemp(directory)) {
        CHECK("mkdtemp", 0, "cannot create a temporary folder");
        return 1;
    }
    // The virtual .bin: SAMPLES × LENGTH uint16 tokens, little-endian.
    size_t total = (size_t)SAMPLES * LENGTH * 2;
    uint8_t *bin = malloc(total);
    for (int64_t s = 0; s < SAMPLES; s++)
        for (int64_t t = 0; t < LENGTH; t++) {
            uint16_t v = expected_token(s, t);
            bin[(s * LENGTH + t) * 2] = (uint8_t)v;
            bin[(s * LENGTH + t) * 2 + 1] = (uint8_t)(v >> 8);
        }
    // Shard sizes 5001 (odd: a token straddles), 9000, rest — sample 1 spans shards 0 and 1.
    size_t cuts[4] = {0, 5001, 14001, total};
    char shard_paths[3][256];
    const char *shards[3];
    for (int i = 0; i < 3; i++) {
        snprintf(shard_paths[i], sizeof shard_paths[i], "%s/document-%05d-of-00002.bin", directory, i);
        write_file(shard_paths[i], bin + cuts[i], cuts[i + 1] - cuts[i]);
        shards[i] = shard_paths[i];
    }
    uint8_t *idx = malloc(34 + 20 * SAMPLES + 64);
    char idx_path[256];
    snprintf(idx_path, sizeof idx_path, "%s/document.idx", directory);
    write_file(idx_path, idx, make_idx(idx, 8, 1, SAMPLES, 0));

    memprof_error err = {0};
    indexed_dataset *dataset = NULL;
    int status = indexed_dataset_open(&dataset, idx_path, shards, 3, &err);
    CHECK("open sharded dataset", status == 0, "%s", err.message);
    if (status) return 1;
    CHECK("virtual file size", token_store_bytes(indexed_dataset_store(dataset)) == total, "got %llu",
          (unsigned long long)token_store_bytes(indexed_dataset_store(dataset)));
    int32_t *row = malloc(LENGTH * sizeof *row);
    int64_t count = 0;
    status = indexed_dataset_read_item(row, &count, dataset, 1, LENGTH, &err);
    int same = status == 0 && count == LENGTH;
    for (int t = 0; same && t < LENGTH; t++) same = row[t] == expected_token(1, t);
    CHECK("item across shard boundary via idx pointers", same, "status %d %s", status, err.message);

    panel p;
    panel_alloc(&p, 3, LENGTH, &err);
    int64_t indices[3] = {1, 2, 9};
    int64_t special = -1;
    status = panel_fill_training(&p, &special, 0, indices, 3, indexed_dataset_store(dataset), 4, 50304, NULL, &err);
    CHECK("fill training rows", status == 0, "%s", err.message);
    CHECK("no EOD/padding ids counted", special == 0, "counted %lld", (long long)special);
    same = 1;
    for (int r = 0; r < 3; r++)
        for (int t = 0; t < LENGTH; t++) same &= p.tokens[r * LENGTH + t] == expected_token(indices[r], t);
    CHECK("training tokens = samples [L·i, L·(i+1))", same, "token mismatch");
    CHECK("train_step = floor(i / batch)", p.train_step[0] == 0 && p.train_step[1] == 0 && p.train_step[2] == 2 &&
          p.seq_idx[2] == 9 && p.split[0] == 0, "got %lld %lld %lld", (long long)p.train_step[0],
          (long long)p.train_step[1], (long long)p.train_step[2]);

    int64_t out_of_range = SAMPLES;
    status = panel_fill_training(&p, &special, 0, &out_of_range, 1, indexed_dataset_store(dataset), 4, 50304, NULL, &err);
    CHECK("sample index out of range", status != 0 && strstr(err.message, "out of range"), "status %d '%s'", status, err.message);
    status = panel_fill_training(&p, &special, 0, indices, 1, indexed_dataset_store(dataset), 4, 1000, NULL, &err);
    CHECK("token id >= vocabulary", status != 0 && strstr(err.message, "vocabulary"), "status %d '%s'", status, err.message);
    status = indexed_dataset_read_item(row, &count, dataset, SAMPLES, LENGTH, &err);
    CHECK("item index out of range", status != 0 && strstr(err.message, "out of range"), "'%s'", err.message);
    panel_free(&p);
    indexed_dataset_close(dataset);

    // Bad headers, each parsed from memory.
    size_t size = make_idx(idx, 8, 1, SAMPLES, 0);
    indexed_index index;
    idx[0] = 'X';
    status = indexed_index_parse(&index, idx, size, "bad.idx", &err);
    CHECK("bad magic", status != 0 && strstr(err.message, "magic") && strstr(err.message, "bad.idx"), "'%s'", err.message);
    size = make_idx(idx, 8, 2, SAMPLES, 0);
    status = indexed_index_parse(&index, idx, size, "bad.idx", &err);
    CHECK("bad version", status != 0 && strstr(err.message, "version"), "'%s'", err.message);
    size = make_idx(idx, 9, 1, SAMPLES, 0);
    status = indexed_index_parse(&index, idx, size, "bad.idx", &err);
    CHECK("bad dtype", status != 0 && strstr(err.message, "dtype"), "'%s'", err.message);
    size = make_idx(idx, 8, 1, SAMPLES, 0);
    status = indexed_index_parse(&index, idx, size - 9, "short.idx", &err);
    CHECK("arrays past the end of the idx", status != 0, "accepted a truncated idx");
    status = indexed_index_parse(&index, idx, 20, "short.idx", &err);
    CHECK("idx shorter than its header", status != 0, "accepted");

    // A pointer (then a size) past the end of the .bin.
    write_file(idx_path, idx, make_idx(idx, 8, 1, SAMPLES, 2));
    status = indexed_dataset_open(&dataset, idx_path, shards, 3, &err);
    if (!status) status = indexed_dataset_read_item(row, &count, dataset, SAMPLES - 1, LENGTH, &err);
    CHECK("pointer past the end of .bin", status != 0 && strstr(err.message, "past the end"), "'%s'", err.message);
    indexed_dataset_close(dataset);
    size = make_idx(idx, 8, 1, SAMPLES, 0);
    int32_t big = LENGTH + 1;
    memcpy(idx + 34 + 4 * (SAMPLES - 1), &big, 4);
    write_file(idx_path, idx, size);
    status = indexed_dataset_open(&dataset, idx_path, shards, 3, &err);
    if (!status) status = indexed_dataset_read_item(row, &count, dataset, SAMPLES - 1, LENGTH + 1, &err);
    CHECK("size past the end of .bin", status != 0 && strstr(err.message, "past the end"), "'%s'", err.message);
    indexed_dataset_close(dataset);

    for (int i = 0; i < 3; i++) unlink(shard_paths[i]);
    unlink(idx_path);
    rmdir(directory);
    free(bin);
    free(idx);
    free(row);
    return test_failures;
}
