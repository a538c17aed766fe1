// weight_memory.h — a checkpoint shared in memory between two workers of a node
// (`--share-weights`, docs/sweep.md): the holder sends the model's weight buffer itself
// (backend weights_view), the requester builds its model with the backend's allocate and
// receives into it. Nothing is read from the shared file system on the requester's side:
// the offer carries what it would have got from checkpoint_open.
//   requester → holder TAG_WEIGHTS_MEMORY_REQUEST i32 checkpoint (sent by the worker)
//   holder → requester TAG_WEIGHTS_MEMORY_OFFER   weights_memory_offer (ok = 0: refused)
//   requester → holder TAG_WEIGHTS_MEMORY_READY   i32: 1 = allocated, send; 0 = don't
//   holder → requester the bytes: over MPI with TAG_WEIGHTS_MEMORY_DATA (host buffers) or
//                      over NCCL (device buffers, when the node has a communicator)
#ifndef MEMPROF_SWEEP_WEIGHT_MEMORY_H
#define MEMPROF_SWEEP_WEIGHT_MEMORY_H

#include <mpi.h>
#include <stdint.h>

#include "memprof/backend.h"
#include "sweep/weight_transport.h"

enum { WEIGHTS_OVER_MPI = 1, WEIGHTS_OVER_NCCL = 2 };

typedef struct weights_memory_offer {
    int32_t ok;            // 0: refused
    int32_t transport;     // WEIGHTS_OVER_MPI or WEIGHTS_OVER_NCCL
    int32_t weight_dtype;  // tensor_dtype of the checkpoint
    int32_t checkpoint;
    int32_t layout;        // backend_weights.layout: the receiver's model must have the same
    int32_t reserved;
    uint64_t bytes;        // of the weight buffer
    model_config config;   // plain data; every rank runs the same binary
    char checksum[24];     // "xxh64:<hex>", what goes into stats.h5 /checkpoints/checksum
} weights_memory_offer;

// Holder: answers dest's request for checkpoint c with model's weights, or refuses (model NULL,
// no weights_view, or a device buffer and no usable NCCL link). 0 sent, 1 refused, < 0 failed.
int weights_memory_serve(MPI_Comm comm, int dest, int32_t c, const backend *compute, void *model, const char *checksum,
                         nccl_link *link, size_t chunk_bytes, memprof_error *err);
void weights_memory_refuse(MPI_Comm comm, int dest);

// Requester, once src's TAG_WEIGHTS_MEMORY_OFFER is waiting: allocates a model with the offer's
// shape and receives the weights into it. 0: *out_model and *out_offer filled; 1: refused (or
// this side cannot take it: nothing was sent); < 0: failed (no model; every message consumed).
int weights_memory_receive(void **out_model, weights_memory_offer *out_offer, MPI_Comm comm, int src,
                           const backend *compute, const backend_options *options, nccl_link *link, size_t chunk_bytes,
                           memprof_error *err);

#endif
