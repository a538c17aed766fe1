// simulate.h — the scheduling simulator's inputs and outputs (see simulate.c). Units: seconds,
// GB, GB/s, tokens/s.
#ifndef MEMPROF_SWEEP_SIMULATE_H
#define MEMPROF_SWEEP_SIMULATE_H

#include <stdbool.h>
#include <stdint.h>

#include "memprof/error.h"

typedef struct sim_params {
    int64_t checkpoints, instances, shard_size;
    double tokens_per_instance;   // scored tokens per instance (2048 for Pythia's 2049-token rows)
    double tokens_per_s;          // per GPU
    int gpus, gpus_per_node;
    double checkpoint_gb;         // bytes of one checkpoint, GB
    double read_gbps;             // shared file system, per GPU
    double intra_node_gbps;       // GPU to GPU inside a node
    double coordinator_s;         // coordinator time per task message
    bool stripe_reads;            // a node's ranks read disjoint stripes of one checkpoint
    double poll_s;                // seconds between a computing worker's poll points (one backend call):
                                  // a striped read's peers start their stripes and reply there
    bool prefetch;                // act on the scheduler's prefetch hints
} sim_params;

typedef struct sim_result {
    double makespan_s, ideal_makespan_s, useful_gpu_s, efficiency, idle_fraction, load_wait_gpu_s;
    int64_t tasks, loads, messages;
} sim_result;

int sim_run(sim_result *out, const sim_params *params, memprof_error *err);

#endif
