// journal.c — framed, checksummed, append-only records (format in include/memprof/journal.h).
#include "memprof/journal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

// ---- little-endian field packing -----------------------------------------------------

typedef struct packer { uint8_t *p; size_t n, cap; int overflow; } packer;

static void put(packer *b, uint64_t v, int bytes) {
    if (b->n + (size_t)bytes > b->cap) { b->overflow = 1; return; }
    for (int k = 0; k < bytes; k++) b->p[b->n++] = (uint8_t)(v >> (8 * k));
}
static void put_text(packer *b, const char *s) {
    size_t len = s ? strlen(s) : 0;
    put(b, len, 4);
    if (b->n + len > b->cap) { b->overflow = 1; return; }
    memcpy(b->p + b->n, s, len);
    b->n += len;
}

typedef struct reader { const uint8_t *p; size_t n, at; int short_read; } reader;

static uint64_t get(reader *r, int bytes) {
    if (r->at + (size_t)bytes > r->n) { r->short_read = 1; return 0; }
    uint64_t v = 0;
    for (int k = 0; k < bytes; k++) v |= (uint64_t)r->p[r->at++] << (8 * k);
    return v;
}
static char *get_text(reader *r) {
    uint64_t len = get(r, 4);
    if (r->short_read || r->at + len > r->n) { r->short_read = 1; return NULL; }
    char *s = malloc(len + 1);
    if (!s) { r->short_read = 1; return NULL; }
    memcpy(s, r->p + r->at, len);
    s[len] = '\0';
    r->at += len;
    return s;
}

static uint64_t double_bits(double d) { uint64_t u; memcpy(&u, &d, sizeof u); return u; }
static double bits_double(uint64_t u) { double d; memcpy(&d, &u, sizeof d); return d; }

static void encode(packer *b, const journal_record *r) {
    put(b, (uint64_t)r->type, 1);
    switch (r->type) {
    case JOURNAL_HEADER: put_text(b, r->text); break;
    case JOURNAL_RUN: put(b, (uint32_t)r->rank, 4); put(b, (uint64_t)r->time, 8); break;
    case JOURNAL_DISPATCH:
    case JOURNAL_DONE:
    case JOURNAL_FAILED:
        put(b, (uint32_t)r->checkpoint, 4); put(b, (uint64_t)r->lo, 8); put(b, (uint64_t)r->hi, 8); put(b, (uint32_t)r->rank, 4);
        if (r->type == JOURNAL_DONE) { put(b, r->checksum, 8); put(b, double_bits(r->seconds), 8); }
        if (r->type == JOURNAL_FAILED) { put(b, r->flag, 1); put_text(b, r->text); }
        break;
    case JOURNAL_END: put(b, r->flag, 1); break;
    default: b->overflow = 1;
    }
}

// 0 and *out filled, or −1 for a payload that does not parse (treated like a bad checksum).
static int decode(journal_record *out, const uint8_t *p, size_t n) {
    reader r = {p, n, 0, 0};
    memset(out, 0, sizeof *out);
    out->type = (int)get(&r, 1);
    switch (out->type) {
    case JOURNAL_HEADER: out->text = get_text(&r); break;
    case JOURNAL_RUN: out->rank = (int32_t)get(&r, 4); out->time = (int64_t)get(&r, 8); break;
    case JOURNAL_DISPATCH:
    case JOURNAL_DONE:
    case JOURNAL_FAILED:
        out->checkpoint = (int32_t)get(&r, 4); out->lo = (int64_t)get(&r, 8); out->hi = (int64_t)get(&r, 8);
        out->rank = (int32_t)get(&r, 4);
        if (out->type == JOURNAL_DONE) { out->checksum = get(&r, 8); out->seconds = bits_double(get(&r, 8)); }
        if (out->type == JOURNAL_FAILED) { out->flag = (uint8_t)get(&r, 1); out->text = get_text(&r); }
        break;
    case JOURNAL_END: out->flag = (uint8_t)get(&r, 1); break;
    default: return -1;
    }
    if (r.short_read || r.at != n) { free(out->text); out->text = NULL; return -1; }
    return 0;
}

// ---- reading ---------------------------------------------------------------------------

void journal_contents_free(journal_contents *c) {
    for (size_t i = 0; i < c->count; i++) free(c->records[i].text);
    free(c->records);
    memset(c, 0, sizeof *c);
}

int journal_read(journal_contents *out, const char *path, memprof_error *err) {
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) return error_set(err, MEMPROF_ERR, "%s: cannot open the journal: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0) { fclose(f); return error_set(err, MEMPROF_ERR, "%s: cannot stat", path); }
    size_t size = (size_t)st.st_size, cap = 0;
    uint8_t *data = malloc(size ? size : 1);
    if (!data || fread(data, 1, size, f) != size) {
        free(data); fclose(f);
        return error_set(err, MEMPROF_ERR, "%s: cannot read the journal", path);
    }
    fclose(f);
    size_t at = 0;
    while (at + 12 <= size) {
        reader hdr = {data + at, 12, 0, 0};
        uint32_t magic = (uint32_t)get(&hdr, 4), len = (uint32_t)get(&hdr, 4), sum = (uint32_t)get(&hdr, 4);
        if (magic != JOURNAL_MAGIC || len == 0 || len > JOURNAL_MAX_PAYLOAD || at + 12 + len > size) break;
        if (XXH32(data + at + 12, len, 0) != sum) break;
        journal_record rec;
        if (decode(&rec, data + at + 12, len)) break;
        if (out->count == cap) {
            cap = cap ? 2 * cap : 256;
            journal_record *grown = realloc(out->records, cap * sizeof *grown);
            if (!grown) { free(rec.text); free(data); journal_contents_free(out); return error_set(err, MEMPROF_ERR_NOMEM, "out of memory"); }
            out->records = grown;
        }
        out->records[out->count++] = rec;
        at += 12 + len;
    }
    out->valid_bytes = (off_t)at;
    out->torn_bytes = (off_t)(size - at);
    free(data);
    return MEMPROF_OK;
}

// ---- writing ---------------------------------------------------------------------------

int journal_open(journal *out, const char *path, off_t valid_bytes, memprof_error *err) {
    memset(out, 0, sizeof *out);
    snprintf(out->path, sizeof out->path, "%s", path);
    out->fd = open(path, O_WRONLY | O_CREAT, 0644);
    if (out->fd < 0) return error_set(err, MEMPROF_ERR, "%s: cannot open the journal for writing: %s", path, strerror(errno));
    // Two sweeps appending to one journal would interleave records: the second is refused.
    if (flock(out->fd, LOCK_EX | LOCK_NB) != 0) {
        close(out->fd); out->fd = -1;
        return error_set(err, MEMPROF_ERR, "%s: another sweep is using this journal (locked)", path);
    }
    if (ftruncate(out->fd, valid_bytes) != 0 || lseek(out->fd, valid_bytes, SEEK_SET) != valid_bytes || fsync(out->fd) != 0) {
        close(out->fd); out->fd = -1;
        return error_set(err, MEMPROF_ERR, "%s: cannot truncate the journal to %lld bytes: %s", path, (long long)valid_bytes, strerror(errno));
    }
    return MEMPROF_OK;
}

int journal_append(journal *j, const journal_record *r, int sync, memprof_error *err) {
    uint8_t stack[512];
    size_t cap = 64 + (r->text ? strlen(r->text) : 0);
    uint8_t *buf = cap <= sizeof stack ? stack : malloc(cap);
    if (!buf) return error_set(err, MEMPROF_ERR_NOMEM, "out of memory");
    packer payload = {buf + 12, 0, cap - 12, 0};
    encode(&payload, r);
    int rc = MEMPROF_OK;
    if (payload.overflow || payload.n > JOURNAL_MAX_PAYLOAD) {
        rc = error_set(err, MEMPROF_ERR, "%s: journal record of type %d does not fit", j->path, r->type);
    } else {
        packer frame = {buf, 0, 12, 0};
        put(&frame, JOURNAL_MAGIC, 4); put(&frame, (uint32_t)payload.n, 4); put(&frame, XXH32(buf + 12, payload.n, 0), 4);
        // One write per record, so a kill tears at most the last record.
        size_t total = 12 + payload.n, done = 0;
        while (done < total) {
            ssize_t k = write(j->fd, buf + done, total - done);
            if (k < 0 && errno == EINTR) continue;
            if (k <= 0) { rc = error_set(err, MEMPROF_ERR, "%s: journal write failed: %s", j->path, strerror(errno)); break; }
            done += (size_t)k;
        }
        if (!rc) j->dirty = 1;
        if (!rc && sync) rc = journal_sync(j, err);
    }
    if (buf != stack) free(buf);
    return rc;
}

int journal_sync(journal *j, memprof_error *err) {
    if (!j->dirty) return MEMPROF_OK;
    if (fsync(j->fd) != 0) return error_set(err, MEMPROF_ERR, "%s: journal fsync failed: %s", j->path, strerror(errno));
    j->dirty = 0;
    return MEMPROF_OK;
}

void journal_close(journal *j) {
    if (j->fd >= 0) { fsync(j->fd); close(j->fd); }
    j->fd = -1;
}

void journal_header_value(char *out, size_t size, const char *text, const char *key) {
    out[0] = '\0';
    size_t klen = strlen(key);
    for (const char *line = text; line && *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        if (len > klen && strncmp(line, key, klen) == 0 && line[klen] == '=') {
            size_t vlen = len - klen - 1;
            if (vlen >= size) vlen = size - 1;
            memcpy(out, line + klen + 1, vlen);
            out[vlen] = '\0';
            return;
        }
        line = end ? end + 1 : NULL;
    }
}
