// mapped_file.c — a whole weight file mapped read-only (MAP_PRIVATE), hashed once.
//
// Weight files can be ~10 GB, so they are never read into the heap; the kernel pages them
// in as the hash and later the tensor copies touch them. The xxh64 of the file's bytes
// (seed 0) is the file's identity in stats.h5 provenance.
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "memprof/weights.h"

int mapped_file_open(mapped_file *out, const char *path, memprof_error *err) {
    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return error_set(err, MEMPROF_ERR, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int saved = errno;
        close(fd);
        return error_set(err, MEMPROF_ERR, "%s: cannot stat: %s", path, strerror(saved));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return error_set(err, MEMPROF_ERR, "%s: not a regular file", path);
    }
    if (st.st_size == 0) {  // mmap refuses length 0; an empty weight file is an error anyway
        close(fd);
        return error_set(err, MEMPROF_ERR, "%s: file is empty", path);
    }
    size_t size = (size_t)st.st_size;
    void *data = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    int saved = errno;
    close(fd);  // the mapping keeps the file alive
    if (data == MAP_FAILED) return error_set(err, MEMPROF_ERR, "%s: cannot mmap: %s", path, strerror(saved));
    madvise(data, size, MADV_SEQUENTIAL);  // the hash reads it front to back
    out->data = data;
    out->size = size;
    out->xxh64 = XXH64(data, size, 0);
    madvise(data, size, MADV_NORMAL);
    return 0;
}

void mapped_file_close(mapped_file *file) {
    if (file->data) munmap((void *)file->data, file->size);
    memset(file, 0, sizeof *file);
}
