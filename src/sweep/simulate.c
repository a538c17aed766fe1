// simulate.c — the scheduling simulator: the sweep's own scheduler (scheduler.c) driven by
// virtual workers and a virtual clock instead of MPI ranks and wall time.
//
// Model (docs/sweep.md, "Simulator"):
//  - a task of n instances computes for n · tokens_per_instance / tokens_per_s seconds;
//  - the coordinator is one server: each request waits for it and costs coordinator_s;
//  - a checkpoint a worker does not hold comes from its node if the node has (or is reading)
//    it, at the intra-node bandwidth, once the holder reaches a poll point (poll_s / 2 on
//    average); otherwise the node reads it from the shared file system, one read at a time per
//    node, at gpus_per_node × the per-GPU bandwidth when the node's ranks read disjoint stripes
//    (stripe_reads; the peers start and answer at their poll points) or the per-GPU bandwidth
//    otherwise;
//  - a prefetch hint from the scheduler starts the node's read right away (prefetch).
#include "sweep/simulate.h"

#include <stdlib.h>
#include <string.h>

#include "memprof/sweep.h"

typedef struct event { double t; int worker; } event;

// A binary min-heap of worker wake-ups.
typedef struct heap { event *e; int n; } heap;

static void heap_push(heap *h, event v) {
    int i = h->n++;
    while (i > 0) {
        int p = (i - 1) / 2;
        if (h->e[p].t <= v.t) break;
        h->e[i] = h->e[p];
        i = p;
    }
    h->e[i] = v;
}

static event heap_pop(heap *h) {
    event top = h->e[0], last = h->e[--h->n];
    int i = 0;
    for (;;) {
        int c = 2 * i + 1;
        if (c >= h->n) break;
        if (c + 1 < h->n && h->e[c + 1].t < h->e[c].t) c++;
        if (last.t <= h->e[c].t) break;
        h->e[i] = h->e[c];
        i = c;
    }
    h->e[i] = last;
    return top;
}

typedef struct sim_state {
    const sim_params *p;
    sweep_scheduler s;
    double *node_ready;   // [nodes·C] when the node holds checkpoint c (< 0: not requested)
    double *node_io_free; // [nodes]
    double coordinator_free;
} sim_state;

// Seconds a node spends reading a checkpoint from the shared file system. Striped, the G ranks
// read at G × the per-GPU bandwidth, and the requester waits for its G − 1 peers' next poll
// point twice (to start their stripes, then to send the replies): with poll points every
// poll_s, the latest of G − 1 uniform waits is (G − 1)/G · poll_s on average.
static double read_seconds(const sim_params *p) {
    if (!p->stripe_reads || p->gpus_per_node < 2) return p->checkpoint_gb / p->read_gbps;
    double g = p->gpus_per_node;
    return p->checkpoint_gb / (p->read_gbps * g) + 2 * p->poll_s * (g - 1) / g;
}

static double node_read(sim_state *st, int node, int32_t c, double t) {
    const sim_params *p = st->p;
    double *ready = &st->node_ready[(int64_t)node * p->checkpoints + c];
    if (*ready >= 0) return *ready;
    double start = t > st->node_io_free[node] ? t : st->node_io_free[node];
    *ready = start + read_seconds(p);
    st->node_io_free[node] = *ready;
    return *ready;
}

// The simulator's side of sweep_scheduler_serve: a task starts once its checkpoint is there.
typedef struct sim_clock {
    sim_state *st;
    const sim_params *p;
    sim_result *out;
    heap *h;
    sweep_task *running;
    double *compute_of, *load_of;
    uint8_t *has_task;
    int32_t *loaded;
    double t, seconds_per_instance, useful, load_wait;
} sim_clock;

static void sim_assign(void *ctx, int v, const sweep_task *task) {
    sim_clock *k = ctx;
    sim_state *st = k->st;
    const sim_params *p = k->p;
    // The coordinator answers one request at a time.
    double served = (k->t > st->coordinator_free ? k->t : st->coordinator_free) + p->coordinator_s;
    st->coordinator_free = served;
    k->out->messages++;
    int node = v / p->gpus_per_node;
    double avail = served;
    k->load_of[v] = 0;
    if (k->loaded[v] != task->checkpoint) {
        k->loaded[v] = task->checkpoint;
        // A worker joining a checkpoint its node already has (or is reading) gets the copy at
        // the holder's next poll point: half a poll interval on average.
        double joins = st->node_ready[(int64_t)node * p->checkpoints + task->checkpoint] >= 0 ? p->poll_s / 2 : 0;
        double ready = node_read(st, node, task->checkpoint, served);
        avail = (ready > served ? ready : served) + p->checkpoint_gb / p->intra_node_gbps + joins;
        // The scheduler learns what a load costs, not how long this one waited
        // (a prefetched checkpoint waits ~0, which would delay later prefetches).
        k->load_of[v] = read_seconds(p) + p->checkpoint_gb / p->intra_node_gbps;
        k->out->loads++;
    }
    if (task->prefetch >= 0) node_read(st, node, task->prefetch, served);
    double compute = (double)(task->hi - task->lo) * k->seconds_per_instance;
    k->running[v] = *task;
    k->compute_of[v] = compute;
    k->has_task[v] = 1;
    k->useful += compute;
    k->load_wait += avail - served;
    k->out->tasks++;
    heap_push(k->h, (event){avail + compute, v});
}

static void sim_stop(void *ctx, int v) { (void)ctx; (void)v; }

int sim_run(sim_result *out, const sim_params *p, memprof_error *err) {
    memset(out, 0, sizeof *out);
    const int W = p->gpus, nodes = (p->gpus + p->gpus_per_node - 1) / p->gpus_per_node;
    int *worker_node = malloc((size_t)W * sizeof *worker_node);
    if (!worker_node) return error_set(err, MEMPROF_ERR_NOMEM, "out of memory");
    for (int w = 0; w < W; w++) worker_node[w] = w / p->gpus_per_node;
    sim_state st = {.p = p};
    int rc = sweep_scheduler_init(&st.s, p->checkpoints, p->instances, p->shard_size, W, worker_node, err);
    free(worker_node);
    if (rc) return rc;
    st.s.prefetch_hints = p->prefetch;
    st.node_ready = malloc((size_t)nodes * (size_t)p->checkpoints * sizeof *st.node_ready);
    st.node_io_free = calloc((size_t)nodes, sizeof *st.node_io_free);
    heap h = {malloc((size_t)W * sizeof(event)), 0};
    sweep_task *running = malloc((size_t)W * sizeof *running);
    double *compute_of = calloc((size_t)W, sizeof *compute_of), *load_of = calloc((size_t)W, sizeof *load_of);
    uint8_t *parked = calloc((size_t)W, 1), *has_task = calloc((size_t)W, 1);
    int32_t *loaded = malloc((size_t)W * sizeof *loaded);
    if (!loaded || !st.node_ready || !st.node_io_free || !h.e || !running || !compute_of || !load_of || !parked || !has_task) {
        rc = error_set(err, MEMPROF_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int64_t q = 0; q < (int64_t)nodes * p->checkpoints; q++) st.node_ready[q] = -1;
    for (int w = 0; w < W; w++) { heap_push(&h, (event){0, w}); loaded[w] = -1; }

    sim_clock clock = {.st = &st, .p = p, .out = out, .h = &h, .running = running, .compute_of = compute_of,
                       .load_of = load_of, .has_task = has_task, .loaded = loaded,
                       .seconds_per_instance = p->tokens_per_instance / p->tokens_per_s};
    const sweep_dispatch_ops ops = {sim_assign, sim_stop, &clock};
    double makespan = 0;
    while (h.n > 0) {
        event ev = heap_pop(&h);
        int w = ev.worker;
        clock.t = ev.t;
        if (has_task[w]) {
            sweep_scheduler_complete(&st.s, w, &running[w], true, compute_of[w], load_of[w]);
            has_task[w] = 0;
            if (ev.t > makespan) makespan = ev.t;
        }
        parked[w] = 1;
        // The coordinator's own answer to waiting workers (scheduler.c), on the virtual clock.
        sweep_scheduler_serve(&st.s, parked, false, &ops);
    }
    double useful = clock.useful, load_wait = clock.load_wait;
    out->makespan_s = makespan;
    out->useful_gpu_s = useful;
    out->efficiency = makespan > 0 ? useful / ((double)W * makespan) : 0;
    out->idle_fraction = 1 - out->efficiency;
    out->load_wait_gpu_s = load_wait;
    out->ideal_makespan_s = useful / W;
done:
    sweep_scheduler_free(&st.s);
    free(st.node_ready); free(st.node_io_free); free(h.e); free(running); free(compute_of); free(load_of);
    free(parked); free(has_task); free(loaded);
    return rc;
}
