// weight_transport_nccl.c — the NCCL transport (see weight_transport.h), compiled only with
// MEMPROF_CUDA (Makefile: CUDA_ONLY_SRCS). nccl.h gives the types; the functions come from
// libnccl.so.2 through dlopen, so the binary neither links nor needs NCCL.
#include <cuda_runtime_api.h>
#include <dlfcn.h>
#include <nccl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sweep/weight_transport.h"

typedef struct nccl_functions {
    ncclResult_t (*get_unique_id)(ncclUniqueId *id);
    ncclResult_t (*comm_init_rank)(ncclComm_t *comm, int nranks, ncclUniqueId id, int rank);
    ncclResult_t (*comm_destroy)(ncclComm_t comm);
    ncclResult_t (*comm_abort)(ncclComm_t comm);
    ncclResult_t (*comm_get_async_error)(ncclComm_t comm, ncclResult_t *error);
    const char *(*get_error_string)(ncclResult_t result);
    ncclResult_t (*send)(const void *data, size_t count, ncclDataType_t type, int peer, ncclComm_t comm, cudaStream_t stream);
    ncclResult_t (*recv)(void *data, size_t count, ncclDataType_t type, int peer, ncclComm_t comm, cudaStream_t stream);
    ncclResult_t (*group_start)(void);
    ncclResult_t (*group_end)(void);
} nccl_functions;

struct nccl_link {
    void *library;
    nccl_functions f;
    ncclComm_t comm;
    cudaStream_t stream;
    int device;
    int size;
    int *comm_rank_of;  // [size]: each NCCL rank's rank in the MPI comm the callers name peers by
    int comm_size;
    int broken;         // a transfer failed and the communicator was aborted
};

static int load_library(nccl_link *link, memprof_error *err) {
    const char *path = getenv("MEMPROF_NCCL_LIBRARY");
    if (!path || !*path) path = "libnccl.so.2";
    link->library = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!link->library) return error_set(err, MEMPROF_ERR_UNSUPPORTED, "NCCL not available: %s", dlerror());
    struct { void **slot; const char *name; } symbols[] = {
        {(void **)&link->f.get_unique_id, "ncclGetUniqueId"},
        {(void **)&link->f.comm_init_rank, "ncclCommInitRank"},
        {(void **)&link->f.comm_destroy, "ncclCommDestroy"},
        {(void **)&link->f.comm_abort, "ncclCommAbort"},
        {(void **)&link->f.comm_get_async_error, "ncclCommGetAsyncError"},
        {(void **)&link->f.get_error_string, "ncclGetErrorString"},
        {(void **)&link->f.send, "ncclSend"},
        {(void **)&link->f.recv, "ncclRecv"},
        {(void **)&link->f.group_start, "ncclGroupStart"},
        {(void **)&link->f.group_end, "ncclGroupEnd"},
    };
    for (size_t k = 0; k < sizeof symbols / sizeof symbols[0]; k++)
        if ((*symbols[k].slot = dlsym(link->library, symbols[k].name)) == NULL)
            return error_set(err, MEMPROF_ERR_UNSUPPORTED, "NCCL not usable: %s: no %s", path, symbols[k].name);
    return MEMPROF_OK;
}

static int agree(int rc, MPI_Comm group) {
    int mine = rc == 0, all = 0;
    MPI_Allreduce(&mine, &all, 1, MPI_INT, MPI_LAND, group);
    return all ? 0 : 1;
}

void nccl_link_close(nccl_link *link) {
    if (!link) return;
    if (link->comm && !link->broken) link->f.comm_destroy(link->comm);
    if (link->stream) cudaStreamDestroy(link->stream);
    if (link->library) dlclose(link->library);
    free(link->comm_rank_of);
    free(link);
}

int nccl_link_open(nccl_link **out, MPI_Comm comm, MPI_Comm node_workers, int device, memprof_error *err) {
    *out = NULL;
    nccl_link *link = calloc(1, sizeof *link);
    if (!link) {
        agree(1, node_workers);  // the others' first agreement fails with this one
        return error_set(err, MEMPROF_ERR_NOMEM, "out of memory");
    }
    int rc = load_library(link, err);
    int member, comm_rank;
    MPI_Comm_rank(node_workers, &member);
    MPI_Comm_size(node_workers, &link->size);
    MPI_Comm_rank(comm, &comm_rank);
    MPI_Comm_size(comm, &link->comm_size);
    link->device = device;
    if (!rc && cudaSetDevice(device) != cudaSuccess)  // before any NCCL call
        rc = error_set(err, MEMPROF_ERR, "NCCL: cannot select device %d", device);
    if (!rc && cudaStreamCreateWithFlags(&link->stream, cudaStreamNonBlocking) != cudaSuccess)
        rc = error_set(err, MEMPROF_ERR, "NCCL: cannot create a stream on device %d", device);
    link->comm_rank_of = calloc((size_t)link->size, sizeof *link->comm_rank_of);
    if (!rc && !link->comm_rank_of) rc = error_set(err, MEMPROF_ERR_NOMEM, "out of memory");
    if (agree(rc, node_workers)) {
        if (!rc) error_set(err, MEMPROF_ERR_UNSUPPORTED, "NCCL not available on another worker of this node");
        nccl_link_close(link);
        return MEMPROF_ERR_UNSUPPORTED;
    }
    ncclUniqueId id;
    memset(&id, 0, sizeof id);
    int status = member == 0 ? (int)link->f.get_unique_id(&id) : 0;
    MPI_Bcast(&status, 1, MPI_INT, 0, node_workers);
    MPI_Bcast(&id, sizeof id, MPI_BYTE, 0, node_workers);
    if (status != ncclSuccess) rc = error_set(err, MEMPROF_ERR, "ncclGetUniqueId failed on the node's first worker");
    ncclResult_t result = ncclSuccess;
    if (!rc && (result = link->f.comm_init_rank(&link->comm, link->size, id, member)) != ncclSuccess) {
        rc = error_set(err, MEMPROF_ERR, "ncclCommInitRank: %s", link->f.get_error_string(result));
        link->comm = NULL;
    }
    MPI_Allgather(&comm_rank, 1, MPI_INT, link->comm_rank_of, 1, MPI_INT, node_workers);
    if (agree(rc, node_workers)) {
        if (!rc) error_set(err, MEMPROF_ERR, "ncclCommInitRank failed on another worker of this node");
        if (link->comm) link->f.comm_abort(link->comm);
        link->comm = NULL;
        nccl_link_close(link);
        return MEMPROF_ERR;
    }
    *out = link;
    return MEMPROF_OK;
}

int nccl_link_usable(const nccl_link *link) { return link && link->comm && !link->broken; }

static int nccl_rank(const nccl_link *link, int comm_rank) {
    for (int r = 0; r < link->size; r++)
        if (link->comm_rank_of[r] == comm_rank) return r;
    return -1;
}

static int fail(nccl_link *link, ncclResult_t result, const char *what, memprof_error *err) {
    link->f.comm_abort(link->comm);
    link->broken = 1;
    return error_set(err, MEMPROF_ERR, "NCCL %s: %s (communicator aborted)", what, link->f.get_error_string(result));
}

// Posts send and/or receive of `bytes` in chunks, one group per chunk, then waits for the stream.
static int transfer(nccl_link *link, int peer, const void *send_data, void *recv_data, size_t bytes, memprof_error *err) {
    if (!nccl_link_usable(link)) return error_set(err, MEMPROF_ERR, "NCCL: no usable communicator");
    int rank = nccl_rank(link, peer);
    if (rank < 0) return error_set(err, MEMPROF_ERR, "NCCL: rank %d is not a worker of this node", peer);
    if (cudaSetDevice(link->device) != cudaSuccess) return error_set(err, MEMPROF_ERR, "NCCL: cannot select device %d", link->device);
    ncclResult_t result = ncclSuccess;
    for (size_t at = 0; at < bytes && result == ncclSuccess; at += TRANSPORT_MAX_CHUNK) {
        size_t len = bytes - at < TRANSPORT_MAX_CHUNK ? bytes - at : TRANSPORT_MAX_CHUNK;
        result = link->f.group_start();
        if (result == ncclSuccess && send_data)
            result = link->f.send((const uint8_t *)send_data + at, len, ncclUint8, rank, link->comm, link->stream);
        if (result == ncclSuccess && recv_data)
            result = link->f.recv((uint8_t *)recv_data + at, len, ncclUint8, rank, link->comm, link->stream);
        ncclResult_t ended = link->f.group_end();
        if (result == ncclSuccess) result = ended;
    }
    if (result != ncclSuccess) return fail(link, result, "send/recv", err);
    for (;;) {  // cudaStreamSynchronize, but watching the communicator meanwhile
        cudaError_t done = cudaStreamQuery(link->stream);
        if (done == cudaSuccess) return MEMPROF_OK;
        if (done != cudaErrorNotReady) {
            link->f.comm_abort(link->comm);
            link->broken = 1;
            return error_set(err, MEMPROF_ERR, "NCCL transfer: %s (communicator aborted)", cudaGetErrorString(done));
        }
        ncclResult_t async = ncclSuccess;
        if (link->f.comm_get_async_error(link->comm, &async) != ncclSuccess || (async != ncclSuccess && async != ncclInProgress))
            return fail(link, async, "transfer", err);
        struct timespec ts = {0, 50000};
        nanosleep(&ts, NULL);
    }
}

int nccl_link_send(nccl_link *link, int dest, const void *device_data, size_t bytes, memprof_error *err) {
    return transfer(link, dest, device_data, NULL, bytes, err);
}

int nccl_link_receive(nccl_link *link, void *device_data, size_t bytes, int src, memprof_error *err) {
    return transfer(link, src, NULL, device_data, bytes, err);
}

int nccl_link_exchange(nccl_link *link, int peer, const void *send_data, void *recv_data, size_t bytes,
                       memprof_error *err) {
    return transfer(link, peer, send_data, recv_data, bytes, err);
}
