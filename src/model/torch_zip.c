// torch_zip.c — a torch.save file (pytorch_model.bin) as tensors.
//
// The zip holds, under one folder named after the first entry's name up to its first '/':
//   <folder>/data.pkl     the state_dict pickle (whitelisted interpreter, pickle.c)
//   <folder>/data/<key>   one stored record per storage, numel x element size bytes
//   <folder>/byteorder    "little" or "big"; absent means little (torch's default)
// Old files that are not a zip (the pre-1.6 legacy format, starting with a pickle) are
// refused rather than read.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memprof/weights.h"

// Looks up "<folder>/<name>" in the archive.
static const zip_entry *find_record(const zip_archive *zip, const char *folder, const char *name) {
    char full[512];
    int n = snprintf(full, sizeof full, "%s/%s", folder, name);
    if (n < 0 || (size_t)n >= sizeof full) return NULL;
    return zip_find_entry(zip, full);
}

// Resolves each pickled tensor's storage record and checks it is the right size.
static int build_views(tensor_view *views, const pickle_tensor *tensors, int count, const zip_archive *zip,
                       const char *folder, const uint8_t *file, const char *path, memprof_error *err) {
    for (int i = 0; i < count; i++) {
        const pickle_tensor *t = &tensors[i];
        char record[128];
        snprintf(record, sizeof record, "data/%s", t->storage_key);
        const zip_entry *entry = find_record(zip, folder, record);
        if (entry == NULL)
            return error_set(err, MEMPROF_ERR, "%s: tensor \"%s\": data record \"%s/%s\" referenced by data.pkl "
                             "is missing from the archive", path, t->name, folder, record);
        size_t element_size = tensor_dtype_size(t->dtype);
        uint64_t storage_bytes = (uint64_t)t->storage_numel * element_size;
        if (t->storage_numel > (int64_t)(UINT64_MAX / 16) || entry->size != storage_bytes)
            return error_set(err, MEMPROF_ERR, "%s: tensor \"%s\": record \"%s/%s\" holds %llu bytes, its storage "
                             "needs %lld x %zu", path, t->name, folder, record, (unsigned long long)entry->size,
                             (long long)t->storage_numel, element_size);
        tensor_view *v = &views[i];
        memset(v, 0, sizeof *v);
        memcpy(v->name, t->name, sizeof v->name);
        v->dtype = t->dtype;
        v->ndim = t->ndim;
        v->numel = 1;
        for (int d = 0; d < t->ndim; d++) {
            v->shape[d] = t->shape[d];
            v->numel *= t->shape[d];
        }
        // pickle.c checked storage_offset + numel <= storage_numel
        v->data = file + entry->data_offset + (uint64_t)t->storage_offset * element_size;
        v->nbytes = (size_t)v->numel * element_size;
    }
    return 0;
}

static int check_byteorder(const zip_archive *zip, const char *folder, const uint8_t *file, const char *path,
                           memprof_error *err) {
    const zip_entry *entry = find_record(zip, folder, "byteorder");
    if (entry == NULL) return 0;
    const char *text = (const char *)file + entry->data_offset;
    if (entry->size == 6 && memcmp(text, "little", 6) == 0) return 0;
    if (entry->size == 3 && memcmp(text, "big", 3) == 0)
        return error_set(err, MEMPROF_ERR_UNSUPPORTED, "%s: big-endian torch file (byteorder \"big\") is not supported",
                         path);
    return error_set(err, MEMPROF_ERR, "%s: unrecognised byteorder record", path);
}

int torch_zip_parse(tensor_view **out_tensors, int *out_count, const uint8_t *file, size_t size, const char *path,
                    memprof_error *err) {
    *out_tensors = NULL;
    *out_count = 0;
    if (size < 4 || memcmp(file, "PK\x03\x04", 4) != 0)
        return error_set(err, MEMPROF_ERR_UNSUPPORTED,
                         "%s: legacy (non-zip) torch format not supported; re-save it with torch >= 1.6 or "
                         "convert it to safetensors", path);
    zip_archive zip;
    int status = zip_read_directory(&zip, file, size, path, err);
    if (status) return status;
    char folder[256] = "";
    if (zip.count > 0) {
        const zip_entry *first = &zip.entries[0];
        const char *slash = memchr(first->name, '/', first->name_length);
        size_t length = slash ? (size_t)(slash - first->name) : 0;
        if (slash && length < sizeof folder && tensor_name_check(first->name, length) == 0) {
            memcpy(folder, first->name, length);
            folder[length] = '\0';
        }
    }
    if (folder[0] == '\0') status = error_set(err, MEMPROF_ERR, "%s: zip entries are not under an archive folder", path);
    if (status == 0) status = check_byteorder(&zip, folder, file, path, err);

    const zip_entry *pickle = status == 0 ? find_record(&zip, folder, "data.pkl") : NULL;
    if (status == 0 && pickle == NULL)
        status = error_set(err, MEMPROF_ERR, "%s: record \"%s/data.pkl\" is missing", path, folder);
    pickle_tensor *tensors = NULL;
    int count = 0;
    if (status == 0)
        status = pickle_load_state_dict(&tensors, &count, file + pickle->data_offset, (size_t)pickle->size, path, err);
    tensor_view *views = NULL;
    if (status == 0) {
        views = calloc(count ? (size_t)count : 1, sizeof *views);
        status = views ? build_views(views, tensors, count, &zip, folder, file, path, err)
                       : error_set(err, MEMPROF_ERR_NOMEM, "%s: out of memory", path);
    }
    free(tensors);
    zip_archive_free(&zip);
    if (status) {
        free(views);
        return status;
    }
    *out_tensors = views;
    *out_count = count;
    return 0;
}
