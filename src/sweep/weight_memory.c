// weight_memory.c — see weight_memory.h.
#include "sweep/weight_memory.h"

#include <stdio.h>
#include <string.h>

#include "sweep/protocol.h"

void weights_memory_refuse(MPI_Comm comm, int dest) {
    weights_memory_offer offer;
    memset(&offer, 0, sizeof offer);
    MPI_Send(&offer, sizeof offer, MPI_BYTE, dest, TAG_WEIGHTS_MEMORY_OFFER, comm);
}

int weights_memory_serve(MPI_Comm comm, int dest, int32_t c, const backend *compute, void *model, const char *checksum,
                         nccl_link *link, size_t chunk_bytes, memprof_error *err) {
    backend_weights view;
    if (!model || !compute->weights_view || compute->weights_view(&view, model) != 0 ||
        (view.on_device && !nccl_link_usable(link))) {
        weights_memory_refuse(comm, dest);
        return 1;
    }
    weights_memory_offer offer;
    memset(&offer, 0, sizeof offer);
    offer.ok = 1;
    offer.transport = view.on_device ? WEIGHTS_OVER_NCCL : WEIGHTS_OVER_MPI;
    offer.weight_dtype = (int32_t)view.weight_dtype;
    offer.checkpoint = c;
    offer.bytes = view.bytes;
    offer.layout = view.layout;
    offer.config = *view.config;
    snprintf(offer.checksum, sizeof offer.checksum, "%s", checksum ? checksum : "");
    MPI_Send(&offer, sizeof offer, MPI_BYTE, dest, TAG_WEIGHTS_MEMORY_OFFER, comm);
    int32_t ready = 0;
    MPI_Recv(&ready, 1, MPI_INT32_T, dest, TAG_WEIGHTS_MEMORY_READY, comm, MPI_STATUS_IGNORE);
    if (!ready) return error_set(err, MEMPROF_ERR, "rank %d could not take checkpoint %d in memory", dest, c);
    if (offer.transport == WEIGHTS_OVER_NCCL) return nccl_link_send(link, dest, view.data, view.bytes, err);
    return transport_mpi_send(comm, dest, TAG_WEIGHTS_MEMORY_DATA, view.data, view.bytes, chunk_bytes, err);
}

int weights_memory_receive(void **out_model, weights_memory_offer *out_offer, MPI_Comm comm, int src,
                           const backend *compute, const backend_options *options, nccl_link *link, size_t chunk_bytes,
                           memprof_error *err) {
    *out_model = NULL;
    weights_memory_offer offer;
    MPI_Recv(&offer, sizeof offer, MPI_BYTE, src, TAG_WEIGHTS_MEMORY_OFFER, comm, MPI_STATUS_IGNORE);
    if (!offer.ok) return 1;
    offer.checksum[sizeof offer.checksum - 1] = '\0';
    void *model = NULL;
    backend_weights view;
    int rc = compute->allocate && compute->weights_view
                 ? compute->allocate(&model, &offer.config, (tensor_dtype)offer.weight_dtype, options, err)
                 : error_set(err, MEMPROF_ERR_UNSUPPORTED, "backend %s cannot receive weights in memory", compute->name);
    if (!rc && compute->weights_view(&view, model) != 0) rc = error_set(err, MEMPROF_ERR, "no weights view");
    if (!rc && (view.bytes != offer.bytes || view.on_device != (offer.transport == WEIGHTS_OVER_NCCL)))
        rc = error_set(err, MEMPROF_ERR, "checkpoint %d: the sender's weights (%llu bytes, %s) do not fit this model "
                       "(%zu bytes, %s)", offer.checkpoint, (unsigned long long)offer.bytes,
                       offer.transport == WEIGHTS_OVER_NCCL ? "device" : "host", view.bytes, view.on_device ? "device" : "host");
    // Same bytes, another arrangement (a rank with another MEMPROF_RESIDUAL_GEMM): refused,
    // never scored from weights in the wrong places.
    if (!rc && view.layout != offer.layout)
        rc = error_set(err, MEMPROF_ERR, "checkpoint %d: the sender's weights are in layout %d, this model's in %d "
                       "(give every rank the same MEMPROF_RESIDUAL_GEMM)", offer.checkpoint, (int)offer.layout,
                       (int)view.layout);
    if (!rc && view.on_device && !nccl_link_usable(link)) rc = error_set(err, MEMPROF_ERR, "no usable NCCL communicator");
    int32_t ready = rc == 0;
    MPI_Send(&ready, 1, MPI_INT32_T, src, TAG_WEIGHTS_MEMORY_READY, comm);
    if (rc) {
        if (model) compute->unload(model);
        return 1;  // nothing was sent: the caller reads the checkpoint some other way
    }
    rc = offer.transport == WEIGHTS_OVER_NCCL ? nccl_link_receive(link, view.data, view.bytes, src, err)
                                              : transport_mpi_receive(view.data, view.bytes, comm, src, TAG_WEIGHTS_MEMORY_DATA,
                                                                      chunk_bytes, err);
    if (rc) {
        compute->unload(model);
        return -1;
    }
    *out_model = model;
    *out_offer = offer;
    return MEMPROF_OK;
}
