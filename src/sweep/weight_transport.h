// weight_transport.h — moves one buffer (a model's weights) between two ranks of a node.
//   MPI, host buffers: the xxh64 of the bytes, then the bytes in messages of at most 1 GiB;
//   the receiver checks the hash.
//   NCCL, device buffers (CUDA builds only): ncclSend/ncclRecv in chunks on a stream over a
//   node-local communicator of the node's workers. libnccl.so.2 is loaded with dlopen, so the
//   binary runs where NCCL is missing (nccl_link_open then fails and callers use MPI or files).
// NCCL refuses two ranks on one GPU: a communicator needs one GPU per member (docs/sweep.md).
#ifndef MEMPROF_SWEEP_WEIGHT_TRANSPORT_H
#define MEMPROF_SWEEP_WEIGHT_TRANSPORT_H

#include <mpi.h>
#include <stddef.h>

#include "memprof/error.h"

#define TRANSPORT_MAX_CHUNK ((size_t)1 << 30)  // MPI counts are int; NCCL chunks the same way

// Sends data[bytes] to dest over comm with tag: chunk_bytes (0 or > 1 GiB: 1 GiB) per message.
int transport_mpi_send(MPI_Comm comm, int dest, int tag, const void *data, size_t bytes, size_t chunk_bytes,
                       memprof_error *err);
// Receives what transport_mpi_send sent (same bytes, tag and chunk_bytes) into data; an error
// when the received bytes' xxh64 is not the sender's. Every message is consumed either way.
int transport_mpi_receive(void *data, size_t bytes, MPI_Comm comm, int src, int tag, size_t chunk_bytes,
                          memprof_error *err);
// Test hook (fault injection): the next `count` receives flip one byte before the hash check.
void transport_test_corrupt_receives(int count);

typedef struct nccl_link nccl_link;

// Collective over node_workers (every member calls it, each with its own GPU `device`): loads
// NCCL (MEMPROF_NCCL_LIBRARY, else libnccl.so.2), selects the device, creates the communicator
// (unique id from the first member, MPI_Bcast) and learns each member's rank in comm. Every
// member returns the same status; nonzero when NCCL is not compiled in, not found or failed.
int nccl_link_open(nccl_link **out, MPI_Comm comm, MPI_Comm node_workers, int device, memprof_error *err);
// Sends or receives device memory to or from a peer, given by its rank in comm. Blocks until
// the transfer completed (polling ncclCommGetAsyncError); a failure aborts the communicator,
// after which the link refuses every transfer.
int nccl_link_send(nccl_link *link, int dest, const void *device_data, size_t bytes, memprof_error *err);
int nccl_link_receive(nccl_link *link, void *device_data, size_t bytes, int src, memprof_error *err);
// Both in one group (ncclGroupStart … ncclGroupEnd): with peer = this rank, a self transfer
// (the one-GPU test).
int nccl_link_exchange(nccl_link *link, int peer, const void *send_data, void *recv_data, size_t bytes,
                       memprof_error *err);
int nccl_link_usable(const nccl_link *link);  // 0 for NULL or after a failure
void nccl_link_close(nccl_link *link);

#endif
