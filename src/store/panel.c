// panel.c — panel.h5 I/O with HDF5 (layout in include/memprof/panel.h and docs/formats.md).
// Strings are fixed-length (the parallel HDF5 build cannot write variable-length data in
// parallel, and readers on both sides expect one convention).
#include "memprof/panel.h"

#include <errno.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memprof/version.h"

int panel_alloc(panel *out, int64_t rows, int64_t sequence_length, memprof_error *err) {
    memset(out, 0, sizeof *out);
    if (rows < 0 || sequence_length < 1) return error_set(err, MEMPROF_ERR, "panel: bad shape [%lld, %lld]", (long long)rows, (long long)sequence_length);
    size_t n = (size_t)(rows > 0 ? rows : 1);
    out->rows = rows;
    out->sequence_length = sequence_length;
    out->tokens = calloc(n * (size_t)sequence_length, sizeof *out->tokens);
    out->seq_idx = calloc(n, sizeof *out->seq_idx);
    out->split = calloc(n, sizeof *out->split);
    out->train_step = calloc(n, sizeof *out->train_step);
    if (!out->tokens || !out->seq_idx || !out->split || !out->train_step) {
        panel_free(out);
        return error_set(err, MEMPROF_ERR_NOMEM, "panel: out of memory for %lld rows", (long long)rows);
    }
    return MEMPROF_OK;
}

void panel_free(panel *p) {
    free(p->tokens);
    free(p->seq_idx);
    free(p->split);
    free(p->train_step);
    for (int i = 0; i < p->n_attributes; i++) free(p->attributes[i].text);
    memset(p, 0, sizeof *p);
}

static panel_attribute *new_attribute(panel *p, const char *name, memprof_error *err) {
    for (int i = 0; i < p->n_attributes; i++)
        if (strcmp(p->attributes[i].name, name) == 0) {
            free(p->attributes[i].text);
            p->attributes[i].text = NULL;
            return &p->attributes[i];
        }
    if (p->n_attributes == PANEL_MAX_ATTRIBUTES || strlen(name) >= sizeof p->attributes[0].name) {
        error_set(err, MEMPROF_ERR, "panel: cannot add attribute '%s'", name);
        return NULL;
    }
    panel_attribute *attribute = &p->attributes[p->n_attributes++];
    memset(attribute, 0, sizeof *attribute);
    snprintf(attribute->name, sizeof attribute->name, "%s", name);
    return attribute;
}

int panel_set_text(panel *p, const char *name, const char *value, memprof_error *err) {
    panel_attribute *attribute = new_attribute(p, name, err);
    if (!attribute) return MEMPROF_ERR;
    attribute->text = strdup(value);
    if (!attribute->text) return error_set(err, MEMPROF_ERR_NOMEM, "panel: out of memory");
    return MEMPROF_OK;
}

int panel_set_integer(panel *p, const char *name, int64_t value, memprof_error *err) {
    panel_attribute *attribute = new_attribute(p, name, err);
    if (!attribute) return MEMPROF_ERR;
    attribute->integer = value;
    return MEMPROF_OK;
}

static herr_t write_text_attribute(hid_t object, const char *name, const char *value) {
    hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, strlen(value) > 0 ? strlen(value) : 1);
    H5Tset_strpad(type, H5T_STR_NULLTERM);
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t attribute = H5Acreate2(object, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    herr_t status = attribute < 0 ? -1 : H5Awrite(attribute, type, strlen(value) > 0 ? value : "");
    if (attribute >= 0) H5Aclose(attribute);
    H5Sclose(space);
    H5Tclose(type);
    return status;
}

static herr_t write_integer_attribute(hid_t object, const char *name, int64_t value) {
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t attribute = H5Acreate2(object, name, H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT);
    herr_t status = attribute < 0 ? -1 : H5Awrite(attribute, H5T_NATIVE_INT64, &value);
    if (attribute >= 0) H5Aclose(attribute);
    H5Sclose(space);
    return status;
}

static herr_t write_dataset(hid_t file, const char *name, hid_t file_type, hid_t memory_type, int rank,
                            const hsize_t *dims, const hsize_t *chunk, const void *data) {
    hid_t space = H5Screate_simple(rank, dims, NULL);
    hid_t properties = H5Pcreate(H5P_DATASET_CREATE);
    if (chunk && dims[0] > 0) H5Pset_chunk(properties, rank, chunk);
    hid_t dataset = H5Dcreate2(file, name, file_type, space, H5P_DEFAULT, properties, H5P_DEFAULT);
    herr_t status = dataset < 0 ? -1 : 0;
    if (status == 0 && dims[0] > 0) status = H5Dwrite(dataset, memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
    if (dataset >= 0) H5Dclose(dataset);
    H5Pclose(properties);
    H5Sclose(space);
    return status;
}

int panel_write(const panel *p, const char *path, memprof_error *err) {
    char temporary[4200];
    if (snprintf(temporary, sizeof temporary, "%s.tmp", path) >= (int)sizeof temporary)
        return error_set(err, MEMPROF_ERR, "%s: path too long", path);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);  // errors are reported through err, not printed
    hid_t file = H5Fcreate(temporary, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (file < 0) return error_set(err, MEMPROF_ERR, "%s: cannot create", temporary);
    hsize_t rows = (hsize_t)p->rows, length = (hsize_t)p->sequence_length;
    hsize_t token_dims[2] = {rows, length};
    hsize_t chunk_rows = rows < 64 ? (rows > 0 ? rows : 1) : 64;
    hsize_t token_chunk[2] = {chunk_rows, length};
    hsize_t vector_chunk[1] = {rows < 65536 ? (rows > 0 ? rows : 1) : 65536};
    herr_t status = write_dataset(file, "tokens", H5T_STD_U16LE, H5T_NATIVE_UINT16, 2, token_dims, token_chunk, p->tokens);
    if (status >= 0) status = write_dataset(file, "seq_idx", H5T_STD_I64LE, H5T_NATIVE_INT64, 1, &rows, vector_chunk, p->seq_idx);
    if (status >= 0) status = write_dataset(file, "split", H5T_STD_U8LE, H5T_NATIVE_UINT8, 1, &rows, vector_chunk, p->split);
    if (status >= 0) status = write_dataset(file, "train_step", H5T_STD_I64LE, H5T_NATIVE_INT64, 1, &rows, vector_chunk, p->train_step);
    if (status >= 0) status = write_text_attribute(file, "format", PANEL_FORMAT);
    if (status >= 0) status = write_integer_attribute(file, "format_version", PANEL_FORMAT_VERSION);
    if (status >= 0) status = write_text_attribute(file, "memprof_version", MEMPROF_VERSION);
    for (int i = 0; i < p->n_attributes && status >= 0; i++) {
        const panel_attribute *attribute = &p->attributes[i];
        status = attribute->text ? write_text_attribute(file, attribute->name, attribute->text)
                                 : write_integer_attribute(file, attribute->name, attribute->integer);
    }
    if (H5Fclose(file) < 0) status = -1;
    if (status < 0) {
        remove(temporary);
        return error_set(err, MEMPROF_ERR, "%s: HDF5 write failed", temporary);
    }
    if (rename(temporary, path) != 0) {
        int saved = errno;
        remove(temporary);
        return error_set(err, MEMPROF_ERR, "%s: cannot rename into place: %s", path, strerror(saved));
    }
    return MEMPROF_OK;
}

static int read_text_attribute(char **out, hid_t file, const char *name) {
    hid_t attribute = H5Aopen(file, name, H5P_DEFAULT);
    if (attribute < 0) return -1;
    hid_t type = H5Aget_type(attribute);
    int status = -1;
    if (H5Tget_class(type) == H5T_STRING && !H5Tis_variable_str(type)) {
        size_t size = H5Tget_size(type);
        char *text = calloc(size + 1, 1);
        hid_t memory = H5Tcopy(H5T_C_S1);
        H5Tset_size(memory, size + 1);
        H5Tset_strpad(memory, H5T_STR_NULLTERM);
        if (text && H5Aread(attribute, memory, text) >= 0) {
            *out = text;
            status = 0;
        } else {
            free(text);
        }
        H5Tclose(memory);
    }
    H5Tclose(type);
    H5Aclose(attribute);
    return status;
}

typedef struct attribute_visit {
    panel *p;
} attribute_visit;

static herr_t collect_attribute(hid_t location, const char *name, const H5A_info_t *info, void *data) {
    panel *p = ((attribute_visit *)data)->p;
    if (strcmp(name, "format") == 0 || strcmp(name, "format_version") == 0 || strcmp(name, "memprof_version") == 0)
        return 0;
    if (p->n_attributes == PANEL_MAX_ATTRIBUTES || strlen(name) >= sizeof p->attributes[0].name) return 0;
    char *text = NULL;
    if (read_text_attribute(&text, location, name) == 0) {
        panel_attribute *attribute = &p->attributes[p->n_attributes++];
        snprintf(attribute->name, sizeof attribute->name, "%s", name);
        attribute->text = text;
        return 0;
    }
    hid_t attribute = H5Aopen(location, name, H5P_DEFAULT);
    if (attribute < 0) return 0;
    hid_t type = H5Aget_type(attribute);
    hid_t space = H5Aget_space(attribute);
    int64_t value;
    if (H5Tget_class(type) == H5T_INTEGER && H5Sget_simple_extent_npoints(space) == 1 &&
        H5Aread(attribute, H5T_NATIVE_INT64, &value) >= 0) {
        panel_attribute *entry = &p->attributes[p->n_attributes++];
        snprintf(entry->name, sizeof entry->name, "%s", name);
        entry->text = NULL;
        entry->integer = value;
    }
    H5Sclose(space);
    H5Tclose(type);
    H5Aclose(attribute);
    return 0;
}

static int read_vector(void *out, hid_t file, const char *name, hid_t memory_type, int64_t rows, const char *path,
                       memprof_error *err) {
    hid_t dataset = H5Dopen2(file, name, H5P_DEFAULT);
    if (dataset < 0) return error_set(err, MEMPROF_ERR, "%s: missing dataset /%s", path, name);
    hid_t space = H5Dget_space(dataset);
    hsize_t dims[2] = {0, 0};
    int rank = H5Sget_simple_extent_dims(space, dims, NULL);
    int status = MEMPROF_OK;
    if (rank != 1 || (int64_t)dims[0] != rows)
        status = error_set(err, MEMPROF_ERR, "%s: /%s has the wrong shape (expected [%lld])", path, name, (long long)rows);
    else if (rows > 0 && H5Dread(dataset, memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0)
        status = error_set(err, MEMPROF_ERR, "%s: cannot read /%s", path, name);
    H5Sclose(space);
    H5Dclose(dataset);
    return status;
}

int panel_read(panel *out, const char *path, memprof_error *err) {
    memset(out, 0, sizeof *out);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0) return error_set(err, MEMPROF_ERR, "%s: cannot open as HDF5", path);
    int status = MEMPROF_OK;
    char *format = NULL;
    int64_t version = 0;
    hid_t version_attribute = -1;
    if (read_text_attribute(&format, file, "format") != 0 || strcmp(format, PANEL_FORMAT) != 0) {
        status = error_set(err, MEMPROF_ERR, "%s: not a memprof panel (format attribute)", path);
        goto done;
    }
    version_attribute = H5Aopen(file, "format_version", H5P_DEFAULT);
    if (version_attribute < 0 || H5Aread(version_attribute, H5T_NATIVE_INT64, &version) < 0 ||
        version != PANEL_FORMAT_VERSION) {
        status = error_set(err, MEMPROF_ERR, "%s: unsupported panel format_version %lld", path, (long long)version);
        goto done;
    }
    hid_t tokens = H5Dopen2(file, "tokens", H5P_DEFAULT);
    if (tokens < 0) {
        status = error_set(err, MEMPROF_ERR, "%s: missing dataset /tokens", path);
        goto done;
    }
    hid_t space = H5Dget_space(tokens);
    hsize_t dims[2] = {0, 0};
    int rank = H5Sget_simple_extent_dims(space, dims, NULL);
    H5Sclose(space);
    if (rank != 2 || dims[1] == 0) status = error_set(err, MEMPROF_ERR, "%s: /tokens must be [N, L]", path);
    if (!status) status = panel_alloc(out, (int64_t)dims[0], (int64_t)dims[1], err);
    if (!status && dims[0] > 0 && H5Dread(tokens, H5T_NATIVE_UINT16, H5S_ALL, H5S_ALL, H5P_DEFAULT, out->tokens) < 0)
        status = error_set(err, MEMPROF_ERR, "%s: cannot read /tokens", path);
    H5Dclose(tokens);
    if (!status) status = read_vector(out->seq_idx, file, "seq_idx", H5T_NATIVE_INT64, out->rows, path, err);
    if (!status) status = read_vector(out->split, file, "split", H5T_NATIVE_UINT8, out->rows, path, err);
    if (!status) status = read_vector(out->train_step, file, "train_step", H5T_NATIVE_INT64, out->rows, path, err);
    if (!status) {
        attribute_visit visit = {out};
        H5Aiterate2(file, H5_INDEX_NAME, H5_ITER_INC, NULL, collect_attribute, &visit);
    }
done:
    free(format);
    if (version_attribute >= 0) H5Aclose(version_attribute);
    H5Fclose(file);
    if (status) panel_free(out);
    return status;
}
