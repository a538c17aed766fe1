// checkpoint_internal.h — the checkpoint struct, shared by the files of src/model/ only.
#ifndef MEMPROF_MODEL_CHECKPOINT_INTERNAL_H
#define MEMPROF_MODEL_CHECKPOINT_INTERNAL_H

#include "memprof/checkpoint.h"
#include "memprof/weights.h"

struct checkpoint {
    model_config config;
    int num_files;
    weight_file *files;   // resolution order; shards sorted by name
    mapped_file *maps;    // parallel to files
    int num_tensors;
    tensor_view *tensors; // sorted by name; buffers dropped; LM head as embed_out.weight
    void *owned_data;     // in-memory checkpoints (checkpoint_create_random): the tensors' bytes
};

#endif
