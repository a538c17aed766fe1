// scheduler.c — which cells a worker computes next (see include/memprof/sweep.h).
//
// Rules, in order, when worker w asks:
//  1. affinity: more of the checkpoint w holds (loading a checkpoint costs seconds to minutes);
//  2. node affinity: a checkpoint another worker of w's node holds or prefetches (a node-local
//     copy is ~100× faster than the shared file system);
//  3. a checkpoint nobody has started, lowest index first;
//  4. the tail: join the checkpoint with the most pending work per holder, but only when that
//     work outlasts a load (otherwise w would load a checkpoint for nothing).
// Task length is a shard, except in the tail: ceil(pending / workers), at least min_chunk.
#include "memprof/sweep.h"

#include <stdlib.h>
#include <string.h>

int sweep_scheduler_init(sweep_scheduler *s, int64_t C, int64_t N, int64_t shard, int n_workers, const int *worker_node,
                         memprof_error *err) {
    memset(s, 0, sizeof *s);
    if (C < 1 || N < 1 || shard < 1 || n_workers < 1)
        return error_set(err, MEMPROF_ERR, "scheduler: empty grid (%lld checkpoints, %lld instances, %d workers)",
                         (long long)C, (long long)N, n_workers);
    s->n_checkpoints = C; s->n_instances = N; s->shard_size = shard;
    s->n_shards = (N + shard - 1) / shard;
    s->min_chunk = shard / 8 > 0 ? shard / 8 : 1;
    s->n_workers = n_workers;
    for (int w = 0; w < n_workers; w++) if (worker_node[w] + 1 > s->n_nodes) s->n_nodes = worker_node[w] + 1;
    s->cell = calloc((size_t)(C * N), 1);
    s->shard_cursor = calloc((size_t)C, sizeof *s->shard_cursor);
    s->pending = malloc((size_t)C * sizeof *s->pending);
    s->holders = calloc((size_t)C, sizeof *s->holders);
    s->reserved_node = malloc((size_t)C * sizeof *s->reserved_node);
    s->worker_node = malloc((size_t)n_workers * sizeof *s->worker_node);
    s->worker_checkpoint = malloc((size_t)n_workers * sizeof *s->worker_checkpoint);
    s->node_prefetch = malloc((size_t)s->n_nodes * sizeof *s->node_prefetch);
    s->prefetch_worker = malloc((size_t)s->n_nodes * sizeof *s->prefetch_worker);
    s->node_holders = calloc((size_t)(s->n_nodes * C), sizeof *s->node_holders);
    if (!s->cell || !s->shard_cursor || !s->pending || !s->holders || !s->reserved_node || !s->worker_node ||
        !s->worker_checkpoint || !s->node_prefetch || !s->node_holders || !s->prefetch_worker) {
        sweep_scheduler_free(s);
        return error_set(err, MEMPROF_ERR_NOMEM, "scheduler: out of memory for %lld cells", (long long)(C * N));
    }
    for (int64_t c = 0; c < C; c++) { s->pending[c] = N; s->reserved_node[c] = -1; }
    for (int w = 0; w < n_workers; w++) { s->worker_node[w] = worker_node[w]; s->worker_checkpoint[w] = -1; }
    for (int n = 0; n < s->n_nodes; n++) s->node_prefetch[n] = s->prefetch_worker[n] = -1;
    s->total_pending = C * N;
    return MEMPROF_OK;
}

void sweep_scheduler_free(sweep_scheduler *s) {
    free(s->cell); free(s->shard_cursor); free(s->pending); free(s->holders); free(s->reserved_node);
    free(s->worker_node); free(s->worker_checkpoint); free(s->node_prefetch); free(s->node_holders); free(s->prefetch_worker);
    memset(s, 0, sizeof *s);
}

static void set_cell(sweep_scheduler *s, int64_t c, int64_t i, cell_state state) {
    uint8_t *cell = &s->cell[c * s->n_instances + i];
    if (*cell == state) return;
    if (*cell == CELL_PENDING) { s->pending[c]--; s->total_pending--; }
    if (*cell == CELL_RUNNING) s->total_running--;
    if (state == CELL_PENDING) { s->pending[c]++; s->total_pending++; }
    if (state == CELL_RUNNING) s->total_running++;
    *cell = (uint8_t)state;
}

void sweep_scheduler_mark(sweep_scheduler *s, int32_t c, int64_t lo, int64_t hi, cell_state state) {
    for (int64_t i = lo; i < hi; i++) set_cell(s, c, i, state);
    if (state == CELL_PENDING) {
        int64_t shard = lo / s->shard_size;
        if (shard < s->shard_cursor[c]) s->shard_cursor[c] = shard;
    }
}

// Workers of node `node` that hold c, plus one if the node prefetches it.
static int node_holds(const sweep_scheduler *s, int node, int32_t c) {
    return (s->reserved_node[c] == node) + s->node_holders[(int64_t)node * s->n_checkpoints + c];
}

static int64_t chunk_length(const sweep_scheduler *s) {
    int64_t chunk = (s->total_pending + s->n_workers - 1) / s->n_workers;
    if (chunk > s->shard_size) chunk = s->shard_size;
    if (chunk < s->min_chunk) chunk = s->min_chunk;
    return chunk;
}

// Takes the first pending run of checkpoint c, at most `chunk` long, within one shard.
static int take_cells(sweep_scheduler *s, int32_t c, int64_t chunk, sweep_task *out) {
    const int64_t N = s->n_instances;
    const uint8_t *row = s->cell + c * N;
    for (int64_t shard = s->shard_cursor[c]; shard < s->n_shards; shard++) {
        int64_t lo = shard * s->shard_size, end = lo + s->shard_size < N ? lo + s->shard_size : N;
        while (lo < end && row[lo] != CELL_PENDING) lo++;
        if (lo == end) { s->shard_cursor[c] = shard + 1; continue; }
        int64_t hi = lo;
        while (hi < end && hi - lo < chunk && row[hi] == CELL_PENDING) hi++;
        for (int64_t i = lo; i < hi; i++) set_cell(s, c, i, CELL_RUNNING);
        out->checkpoint = c; out->lo = lo; out->hi = hi; out->prefetch = -1;
        return 1;
    }
    return 0;
}

static void hold(sweep_scheduler *s, int w, int32_t c) {
    int32_t old = s->worker_checkpoint[w];
    if (old == c) return;
    int node = s->worker_node[w];
    int32_t *on_node = s->node_holders + (int64_t)node * s->n_checkpoints;
    if (old >= 0) { s->holders[old]--; on_node[old]--; }
    s->worker_checkpoint[w] = c;
    if (c >= 0) { s->holders[c]++; on_node[c]++; }
    if (c >= 0 && s->node_prefetch[node] == c) { s->node_prefetch[node] = -1; s->reserved_node[c] = -1; }
}

// After handing out work of c to a worker of `node`: when the node's pending work on c would
// run out within about one load time, reserve the next unstarted checkpoint for the node.
static int32_t maybe_prefetch(sweep_scheduler *s, int w, int node, int32_t c) {
    if (!s->prefetch_hints || s->node_prefetch[node] >= 0) return -1;
    int on_node = node_holds(s, node, c);
    if (on_node < 1) on_node = 1;
    double left = (double)s->pending[c] * s->cell_seconds / on_node;
    double lead = 1.5 * s->load_seconds > s->prefetch_lead_s ? 1.5 * s->load_seconds : s->prefetch_lead_s;
    if (s->cell_seconds <= 0 && s->prefetch_lead_s <= 0) return -1;  // nothing known yet
    if (left > lead) return -1;
    for (int32_t k = 0; k < s->n_checkpoints; k++)
        if (s->holders[k] == 0 && s->reserved_node[k] < 0 && s->pending[k] == s->n_instances) {
            s->reserved_node[k] = node;
            s->node_prefetch[node] = k;
            s->prefetch_worker[node] = w;
            return k;
        }
    return -1;
}

int sweep_scheduler_next(sweep_scheduler *s, int w, sweep_task *out) {
    if (s->total_pending == 0) return 0;
    const int node = s->worker_node[w];
    const int64_t chunk = chunk_length(s);
    int32_t pick = -1;
    int32_t mine = s->worker_checkpoint[w];
    if (mine >= 0 && s->pending[mine] > 0) pick = mine;  // 1. affinity
    int32_t hinted = s->node_prefetch[node];             //    (or the checkpoint w was told to prefetch)
    if (pick < 0 && hinted >= 0 && s->prefetch_worker[node] == w && s->pending[hinted] > 0) pick = hinted;
    if (pick < 0) {                                      // 2. node affinity
        int64_t best = 0;
        for (int32_t c = 0; c < s->n_checkpoints; c++) {
            // A prefetch nobody holds yet is its prefetching worker's to start.
            if (s->prefetch_private && c == hinted && s->holders[c] == 0 && s->prefetch_worker[node] != w) continue;
            if (s->pending[c] > best && node_holds(s, node, c) > 0) { best = s->pending[c]; pick = c; }
        }
    }
    if (pick < 0)                                        // 3. an unstarted checkpoint
        for (int32_t c = 0; c < s->n_checkpoints && pick < 0; c++)
            if (s->pending[c] > 0 && s->holders[c] == 0 && s->reserved_node[c] < 0) pick = c;
    if (pick < 0) {                                      // 4. the tail
        double best = 0;
        for (int32_t c = 0; c < s->n_checkpoints; c++) {
            if (s->pending[c] == 0) continue;
            double share = (double)s->pending[c] / (s->holders[c] + 1);
            if (share > best) { best = share; pick = c; }
        }
        if (pick >= 0 && s->cell_seconds > 0 && s->load_seconds > 0 && best * s->cell_seconds < s->load_seconds) pick = -1;
    }
    if (pick < 0 || !take_cells(s, pick, chunk, out)) return 0;
    hold(s, w, pick);
    out->prefetch = maybe_prefetch(s, w, node, pick);
    return 1;
}

void sweep_scheduler_complete(sweep_scheduler *s, int w, const sweep_task *t, bool ok, double compute_s, double load_s) {
    for (int64_t i = t->lo; i < t->hi; i++) set_cell(s, t->checkpoint, i, ok ? CELL_DONE : CELL_FAILED);
    if (ok && t->hi > t->lo && compute_s > 0) {
        double per_cell = compute_s / (double)(t->hi - t->lo);
        s->cell_seconds = s->cell_seconds > 0 ? 0.8 * s->cell_seconds + 0.2 * per_cell : per_cell;
    }
    if (load_s > 0) s->load_seconds = s->load_seconds > 0 ? 0.8 * s->load_seconds + 0.2 * load_s : load_s;
}

void sweep_scheduler_release(sweep_scheduler *s, int w) { hold(s, w, -1); }

void sweep_scheduler_fail_checkpoint(sweep_scheduler *s, int32_t c, void (*emit)(void *, int32_t, int64_t, int64_t),
                                     void *ctx) {
    const int64_t N = s->n_instances;
    for (int64_t shard = 0; shard < s->n_shards; shard++) {
        int64_t end = (shard + 1) * s->shard_size < N ? (shard + 1) * s->shard_size : N;
        for (int64_t lo = shard * s->shard_size; lo < end;) {
            if (s->cell[c * N + lo] != CELL_PENDING) { lo++; continue; }
            int64_t hi = lo;
            while (hi < end && s->cell[c * N + hi] == CELL_PENDING) set_cell(s, c, hi++, CELL_FAILED);
            if (emit) emit(ctx, c, lo, hi);
            lo = hi;
        }
    }
}

bool sweep_scheduler_shard_done(const sweep_scheduler *s, int32_t c, int64_t shard) {
    const int64_t N = s->n_instances;
    int64_t end = (shard + 1) * s->shard_size < N ? (shard + 1) * s->shard_size : N;
    for (int64_t i = shard * s->shard_size; i < end; i++)
        if (s->cell[c * N + i] != CELL_DONE) return false;
    return true;
}

void sweep_scheduler_counts(const sweep_scheduler *s, int64_t counts[4]) {
    counts[0] = counts[1] = counts[2] = counts[3] = 0;
    for (int64_t j = 0; j < s->n_checkpoints * s->n_instances; j++) counts[s->cell[j] & 3]++;
}

int sweep_scheduler_serve(sweep_scheduler *s, uint8_t *parked, bool draining, const sweep_dispatch_ops *ops) {
    int left = 0;
    for (int w = 0; w < s->n_workers; w++) {
        if (!parked[w]) continue;
        sweep_task task;
        if (!draining && sweep_scheduler_next(s, w, &task)) ops->assign(ops->ctx, w, &task);
        else if (draining || s->total_pending == 0) ops->stop(ops->ctx, w);
        else { left++; continue; }
        parked[w] = 0;
    }
    return left;
}
