// h5small.h — the few HDF5 calls the stats/effects files need, as static helpers
// (serial HDF5, default property lists, no filters, fixed-length strings).
// Each returns 0 or −1; callers add the file and dataset to the error message.
#ifndef MEMPROF_STORE_H5SMALL_H
#define MEMPROF_STORE_H5SMALL_H

#include <hdf5.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static inline void h5_quiet(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

// Creates every missing group along "/a/b/c" (the last component is the dataset name).
static inline int h5_make_parents(hid_t file, const char *path) {
    char buf[512];
    size_t len = strlen(path);
    if (len >= sizeof buf) return -1;
    memcpy(buf, path, len + 1);
    for (char *s = buf + 1; *s; s++) {
        if (*s != '/') continue;
        *s = '\0';
        htri_t e = H5Lexists(file, buf, H5P_DEFAULT);
        if (e < 0) return -1;
        if (!e) {
            hid_t g = H5Gcreate2(file, buf, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
            if (g < 0) return -1;
            H5Gclose(g);
        }
        *s = '/';
    }
    return 0;
}

static inline int h5_write(hid_t file, const char *path, hid_t mem_type, hid_t file_type, int rank,
                           const hsize_t *dims, const void *data) {
    if (h5_make_parents(file, path)) return -1;
    hid_t space = H5Screate_simple(rank, dims, NULL);
    if (space < 0) return -1;
    hid_t d = H5Dcreate2(file, path, file_type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int rc = -1;
    if (d >= 0) {
        int empty = 0;
        for (int j = 0; j < rank; j++) empty |= dims[j] == 0;
        rc = (empty || H5Dwrite(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0) ? 0 : -1;
        H5Dclose(d);
    }
    H5Sclose(space);
    return rc;
}

static inline int h5_write_i64(hid_t f, const char *path, int64_t n, const int64_t *v) {
    hsize_t d = (hsize_t)n;
    return h5_write(f, path, H5T_NATIVE_INT64, H5T_STD_I64LE, 1, &d, v);
}
static inline int h5_write_f64(hid_t f, const char *path, int64_t n, const double *v) {
    hsize_t d = (hsize_t)n;
    return h5_write(f, path, H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, 1, &d, v);
}
static inline int h5_write_u8(hid_t f, const char *path, int64_t n, const uint8_t *v) {
    hsize_t d = (hsize_t)n;
    return h5_write(f, path, H5T_NATIVE_UINT8, H5T_STD_U8LE, 1, &d, v);
}

// Fixed-length, null-padded strings of width `width` (at least 1).
static inline int h5_write_strings(hid_t f, const char *path, int64_t n, const char *const *s, size_t width) {
    if (width < 1) width = 1;
    char *buf = calloc((size_t)(n > 0 ? n : 1), width);
    if (!buf) return -1;
    for (int64_t j = 0; j < n; j++) if (s && s[j]) strncpy(buf + (size_t)j * width, s[j], width);
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, width);
    H5Tset_strpad(t, H5T_STR_NULLPAD);
    hsize_t d = (hsize_t)n;
    int rc = h5_write(f, path, t, t, 1, &d, buf);
    H5Tclose(t);
    free(buf);
    return rc;
}

static inline int h5_attr(hid_t obj, const char *name, hid_t mem_type, hid_t file_type, const void *v) {
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, file_type, space, H5P_DEFAULT, H5P_DEFAULT);
    int rc = (a >= 0 && H5Awrite(a, mem_type, v) >= 0) ? 0 : -1;
    if (a >= 0) H5Aclose(a);
    H5Sclose(space);
    return rc;
}
static inline int h5_attr_str(hid_t obj, const char *name, const char *v) {
    if (!v) v = "";
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, strlen(v) + 1);
    H5Tset_strpad(t, H5T_STR_NULLTERM);
    int rc = h5_attr(obj, name, t, t, v);
    H5Tclose(t);
    return rc;
}
static inline int h5_attr_i64(hid_t obj, const char *name, int64_t v) { return h5_attr(obj, name, H5T_NATIVE_INT64, H5T_STD_I64LE, &v); }
static inline int h5_attr_f64(hid_t obj, const char *name, double v) { return h5_attr(obj, name, H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, &v); }

// Length of a 1-D dataset, or −1 (missing or not 1-D).
static inline int64_t h5_length(hid_t f, const char *path, int want_rank, hsize_t *dims) {
    if (H5Lexists(f, path, H5P_DEFAULT) <= 0) return -1;
    hid_t d = H5Dopen2(f, path, H5P_DEFAULT);
    if (d < 0) return -1;
    hid_t s = H5Dget_space(d);
    int rank = H5Sget_simple_extent_ndims(s);
    int64_t rc = -1;
    if (rank == want_rank) { H5Sget_simple_extent_dims(s, dims, NULL); rc = (int64_t)dims[0]; }
    H5Sclose(s);
    H5Dclose(d);
    return rc;
}

static inline int h5_read(hid_t f, const char *path, hid_t mem_type, void *out) {
    hid_t d = H5Dopen2(f, path, H5P_DEFAULT);
    if (d < 0) return -1;
    int rc = H5Dread(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) >= 0 ? 0 : -1;
    H5Dclose(d);
    return rc;
}

// Reads a string attribute (fixed or variable length) into buf; "" when absent.
static inline void h5_read_attr_str(hid_t obj, const char *name, char *buf, size_t cap) {
    buf[0] = '\0';
    if (H5Aexists(obj, name) <= 0) return;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) return;
    hid_t ft = H5Aget_type(a);
    if (H5Tget_class(ft) == H5T_STRING) {
        if (H5Tis_variable_str(ft) > 0) {
            char *s = NULL;
            hid_t mt = H5Tcopy(H5T_C_S1); H5Tset_size(mt, H5T_VARIABLE);
            if (H5Aread(a, mt, &s) >= 0 && s) { strncpy(buf, s, cap - 1); buf[cap - 1] = '\0'; H5free_memory(s); }
            H5Tclose(mt);
        } else {
            size_t sz = H5Tget_size(ft);
            char *tmp = calloc(sz + 1, 1);
            if (tmp && H5Aread(a, ft, tmp) >= 0) { strncpy(buf, tmp, cap - 1); buf[cap - 1] = '\0'; }
            free(tmp);
        }
    }
    H5Tclose(ft);
    H5Aclose(a);
}

#endif
