// weight_transport.c — the MPI transport (see weight_transport.h): u64 xxh64 first, then the
// bytes in chunks, all with the caller's tag. Without CUDA the NCCL functions are stubs that
// report it; the real ones are in weight_transport_nccl.c (compiled with MEMPROF_CUDA only).
#include "sweep/weight_transport.h"

#include <stdint.h>
#include <xxhash.h>

static int corrupt_receives;  // test hook

void transport_test_corrupt_receives(int count) { corrupt_receives = count; }

static size_t chunk_size(size_t chunk_bytes) {
    return chunk_bytes == 0 || chunk_bytes > TRANSPORT_MAX_CHUNK ? TRANSPORT_MAX_CHUNK : chunk_bytes;
}

int transport_mpi_send(MPI_Comm comm, int dest, int tag, const void *data, size_t bytes, size_t chunk_bytes,
                       memprof_error *err) {
    chunk_bytes = chunk_size(chunk_bytes);
    uint64_t hash = XXH64(data, bytes, 0);
    if (MPI_Send(&hash, 1, MPI_UINT64_T, dest, tag, comm) != MPI_SUCCESS)
        return error_set(err, MEMPROF_ERR, "sending weights to rank %d failed", dest);
    for (size_t at = 0; at < bytes; at += chunk_bytes) {
        size_t len = bytes - at < chunk_bytes ? bytes - at : chunk_bytes;
        if (MPI_Send((const uint8_t *)data + at, (int)len, MPI_BYTE, dest, tag, comm) != MPI_SUCCESS)
            return error_set(err, MEMPROF_ERR, "sending weights to rank %d failed", dest);
    }
    return MEMPROF_OK;
}

int transport_mpi_receive(void *data, size_t bytes, MPI_Comm comm, int src, int tag, size_t chunk_bytes,
                          memprof_error *err) {
    chunk_bytes = chunk_size(chunk_bytes);
    uint64_t expected = 0;
    int rc = MPI_Recv(&expected, 1, MPI_UINT64_T, src, tag, comm, MPI_STATUS_IGNORE) == MPI_SUCCESS ? 0 : 1;
    for (size_t at = 0; at < bytes; at += chunk_bytes) {
        size_t len = bytes - at < chunk_bytes ? bytes - at : chunk_bytes;
        if (MPI_Recv((uint8_t *)data + at, (int)len, MPI_BYTE, src, tag, comm, MPI_STATUS_IGNORE) != MPI_SUCCESS) rc = 1;
    }
    if (rc) return error_set(err, MEMPROF_ERR, "receiving weights from rank %d failed", src);
    if (corrupt_receives > 0 && bytes > 0) {
        corrupt_receives--;
        ((uint8_t *)data)[bytes / 2] ^= 0x10;
    }
    uint64_t actual = XXH64(data, bytes, 0);
    if (actual != expected)
        return error_set(err, MEMPROF_ERR, "weights received from rank %d: xxh64 %016llx, the sender's is %016llx", src,
                         (unsigned long long)actual, (unsigned long long)expected);
    return MEMPROF_OK;
}

#ifndef MEMPROF_CUDA
int nccl_link_open(nccl_link **out, MPI_Comm comm, MPI_Comm node_workers, int device, memprof_error *err) {
    *out = NULL;
    return error_set(err, MEMPROF_ERR_UNSUPPORTED, "NCCL needs a CUDA build (this one was built with CUDA=0)");
}
int nccl_link_send(nccl_link *link, int dest, const void *device_data, size_t bytes, memprof_error *err) {
    return error_set(err, MEMPROF_ERR_UNSUPPORTED, "NCCL is not compiled in");
}
int nccl_link_receive(nccl_link *link, void *device_data, size_t bytes, int src, memprof_error *err) {
    return error_set(err, MEMPROF_ERR_UNSUPPORTED, "NCCL is not compiled in");
}
int nccl_link_exchange(nccl_link *link, int peer, const void *send_data, void *recv_data, size_t bytes,
                       memprof_error *err) {
    return error_set(err, MEMPROF_ERR_UNSUPPORTED, "NCCL is not compiled in");
}
int nccl_link_usable(const nccl_link *link) { return 0; }
void nccl_link_close(nccl_link *link) {}
#endif
