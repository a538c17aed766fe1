// zip.c — the central directory of a ZIP archive as torch.save writes it (PKWARE
// APPNOTE): stored (method 0) entries only, ZIP64 aware.
//
//   End of central directory (EOCD, 22 bytes + comment), found scanning back from the end:
//     +0 0x06054b50  +10 entries u16  +12 directory size u32  +16 directory offset u32  +20 comment length u16
//   ZIP64 EOCD locator, the 20 bytes just before the EOCD:
//     +0 0x07064b50  +8 offset of the ZIP64 EOCD record u64
//   ZIP64 EOCD record: +0 0x06064b50  +32 entries u64  +40 directory size u64  +48 directory offset u64
//   Central directory header (46 bytes + name + extra + comment):
//     +0 0x02014b50  +8 flags  +10 method  +20 compressed size u32  +24 size u32
//     +28 name length  +30 extra length  +32 comment length  +42 local header offset u32
//     ZIP64 extra field (id 0x0001): only the overflowed (0xFFFFFFFF) fields, in the order
//     size, compressed size, local header offset, 8 bytes each.
//   Local header (30 bytes + name + extra): +0 0x04034b50  +26 name length  +28 extra length.
//     Its extra field differs from the central one (torch pads records to 64 bytes there),
//     so the data offset must come from the local header.
#include <stdlib.h>
#include <string.h>

#include "memprof/weights.h"

#define EOCD_SIGNATURE 0x06054b50u
#define ZIP64_LOCATOR_SIGNATURE 0x07064b50u
#define ZIP64_EOCD_SIGNATURE 0x06064b50u
#define CENTRAL_SIGNATURE 0x02014b50u
#define LOCAL_SIGNATURE 0x04034b50u

static uint64_t read_le(const uint8_t *p, int bytes) {
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

typedef struct directory_location {
    uint64_t entries, size, offset;
} directory_location;

// Finds the EOCD (and the ZIP64 record when its locator is present).
static int find_directory(directory_location *out, const uint8_t *file, size_t size, const char *path,
                          memprof_error *err) {
    if (size < 22) return error_set(err, MEMPROF_ERR, "%s: too short to be a zip archive (%zu bytes)", path, size);
    size_t lowest = size - 22 > 0xffff ? size - 22 - 0xffff : 0;  // the comment is at most 65535 bytes
    size_t eocd = (size_t)-1;
    for (size_t at = size - 22 + 1; at-- > lowest;) {
        if (read_le(file + at, 4) == EOCD_SIGNATURE && at + 22 + read_le(file + at + 20, 2) <= size) {
            eocd = at;
            break;
        }
    }
    if (eocd == (size_t)-1)
        return error_set(err, MEMPROF_ERR, "%s: no zip end-of-central-directory record", path);
    out->entries = read_le(file + eocd + 10, 2);
    out->size = read_le(file + eocd + 12, 4);
    out->offset = read_le(file + eocd + 16, 4);
    int needs_zip64 = out->entries == 0xffff || out->size == 0xffffffffu || out->offset == 0xffffffffu;
    int has_locator = eocd >= 20 && read_le(file + eocd - 20, 4) == ZIP64_LOCATOR_SIGNATURE;
    if (needs_zip64 && !has_locator)
        return error_set(err, MEMPROF_ERR, "%s: ZIP64 end-of-central-directory locator missing", path);
    if (has_locator) {
        uint64_t record = read_le(file + eocd - 20 + 8, 8);
        if (record > size || size - record < 56 || read_le(file + record, 4) != ZIP64_EOCD_SIGNATURE)
            return error_set(err, MEMPROF_ERR, "%s: bad ZIP64 end-of-central-directory record at %llu", path,
                             (unsigned long long)record);
        out->entries = read_le(file + record + 32, 8);
        out->size = read_le(file + record + 40, 8);
        out->offset = read_le(file + record + 48, 8);
    }
    if (out->offset > size || out->size > size - out->offset)
        return error_set(err, MEMPROF_ERR, "%s: central directory [%llu, +%llu) lies outside the file (%zu bytes)",
                         path, (unsigned long long)out->offset, (unsigned long long)out->size, size);
    if (out->entries > out->size / 46)
        return error_set(err, MEMPROF_ERR, "%s: %llu entries cannot fit a %llu-byte central directory", path,
                         (unsigned long long)out->entries, (unsigned long long)out->size);
    return 0;
}

// Replaces the 0xFFFFFFFF fields from the ZIP64 extra field (id 0x0001).
static int apply_zip64_extra(uint64_t *size, uint64_t *compressed, uint64_t *local_offset, const uint8_t *extra,
                             size_t extra_length) {
    size_t at = 0;
    while (at + 4 <= extra_length) {
        uint64_t id = read_le(extra + at, 2), length = read_le(extra + at + 2, 2);
        if (at + 4 + length > extra_length) return -1;
        if (id == 0x0001) {
            const uint8_t *field = extra + at + 4;
            uint64_t *targets[3] = {size, compressed, local_offset};
            size_t used = 0;
            for (int i = 0; i < 3; i++) {
                if (*targets[i] != 0xffffffffu) continue;
                if (used + 8 > length) return -1;
                *targets[i] = read_le(field + used, 8);
                used += 8;
            }
            return 0;
        }
        at += 4 + length;
    }
    return 0;
}

// Reads central directory entry `index` at `*at`, advancing `*at` past it.
static int read_entry(zip_entry *out, size_t *at, const uint8_t *file, size_t size, const directory_location *dir,
                      int64_t index, const char *path, memprof_error *err) {
    uint64_t end = dir->offset + dir->size;
    const uint8_t *h = file + *at;
    if (end - *at < 46 || read_le(h, 4) != CENTRAL_SIGNATURE)
        return error_set(err, MEMPROF_ERR, "%s: central directory entry %lld is malformed", path, (long long)index);
    uint64_t flags = read_le(h + 8, 2), method = read_le(h + 10, 2);
    uint64_t compressed = read_le(h + 20, 4), length = read_le(h + 24, 4), local = read_le(h + 42, 4);
    size_t name_length = read_le(h + 28, 2), extra_length = read_le(h + 30, 2), comment_length = read_le(h + 32, 2);
    if (end - *at - 46 < (uint64_t)name_length + extra_length + comment_length)
        return error_set(err, MEMPROF_ERR, "%s: central directory entry %lld runs past the directory", path,
                         (long long)index);
    out->name = (const char *)h + 46;
    out->name_length = name_length;
    char shown[128];
    printable_excerpt(shown, sizeof shown, out->name, name_length);
    if (apply_zip64_extra(&length, &compressed, &local, h + 46 + name_length, extra_length) != 0)
        return error_set(err, MEMPROF_ERR, "%s: entry \"%s\": malformed ZIP64 extra field", path, shown);
    if (flags & 1)
        return error_set(err, MEMPROF_ERR_UNSUPPORTED, "%s: entry \"%s\" is encrypted", path, shown);
    if (method != 0)
        return error_set(err, MEMPROF_ERR_UNSUPPORTED,
                         "%s: entry \"%s\" is compressed (method %llu); only stored entries are supported", path,
                         shown, (unsigned long long)method);
    if (compressed != length)
        return error_set(err, MEMPROF_ERR, "%s: entry \"%s\": stored sizes differ (%llu vs %llu)", path, shown,
                         (unsigned long long)compressed, (unsigned long long)length);
    if (local > size || size - local < 30 || read_le(file + local, 4) != LOCAL_SIGNATURE)
        return error_set(err, MEMPROF_ERR, "%s: entry \"%s\": no local header at offset %llu", path, shown,
                         (unsigned long long)local);
    uint64_t data = local + 30 + read_le(file + local + 26, 2) + read_le(file + local + 28, 2);
    if (data > size || length > size - data)
        return error_set(err, MEMPROF_ERR, "%s: entry \"%s\": data [%llu, +%llu) runs past the end of the file",
                         path, shown, (unsigned long long)data, (unsigned long long)length);
    out->data_offset = data;
    out->size = length;
    *at += 46 + name_length + extra_length + comment_length;
    return 0;
}

int zip_read_directory(zip_archive *out, const uint8_t *file, size_t size, const char *path, memprof_error *err) {
    memset(out, 0, sizeof *out);
    directory_location dir = {0};
    int status = find_directory(&dir, file, size, path, err);
    if (status) return status;
    out->entries = calloc(dir.entries ? (size_t)dir.entries : 1, sizeof *out->entries);
    if (!out->entries) return error_set(err, MEMPROF_ERR_NOMEM, "%s: out of memory for the zip directory", path);
    size_t at = (size_t)dir.offset;
    for (uint64_t i = 0; i < dir.entries; i++) {
        status = read_entry(&out->entries[i], &at, file, size, &dir, (int64_t)i, path, err);
        if (status) {
            zip_archive_free(out);
            return status;
        }
    }
    out->count = (int64_t)dir.entries;
    return 0;
}

const zip_entry *zip_find_entry(const zip_archive *zip, const char *name) {
    size_t length = strlen(name);
    for (int64_t i = 0; i < zip->count; i++)
        if (zip->entries[i].name_length == length && memcmp(zip->entries[i].name, name, length) == 0)
            return &zip->entries[i];
    return NULL;
}

void zip_archive_free(zip_archive *zip) {
    free(zip->entries);
    memset(zip, 0, sizeof *zip);
}
