// worker.c — scores tasks (see worker.h). Panel rows are uint16 [N, L]; a task's results are
// four float64 runs [hi − lo] written into /stats/<metric>[c, lo:hi] with independent I/O.
#include "sweep/worker.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "memprof/clock.h"
#include "memprof/log.h"
#include "sweep/signals.h"
#include "sweep/weight_memory.h"
#include "sweep/weight_share.h"

// Sequences per backend call when batch_size is auto: the CPU backend works one sequence per
// thread; the GPU backend splits a call into device batches it plans from free memory. With a
// stage root or --share-weights a worker answers its node peers (weight copies, stripes) between calls, so calls
// are shorter: 32 Pythia-12b sequences are 2.5 s at 26,500 tokens/s (docs/sweep.md).
enum { CPU_AUTO_BATCH = 16, GPU_AUTO_BATCH = 256, GPU_SHARING_AUTO_BATCH = 32 };

static compute_precision backend_precision(int precision) {
    switch (precision) {
    case SWEEP_PRECISION_FP32: return PRECISION_FP32;
    case SWEEP_PRECISION_FP16: return PRECISION_FP16;
    case SWEEP_PRECISION_BF16: return PRECISION_BF16;
    default: return PRECISION_DEFAULT;
    }
}
#define SHARE_CHUNK ((size_t)64 << 20)  // bytes per MPI message when sending a checkpoint to a peer

int sweep_worker_init(sweep_worker *w, const sweep_config *config, const panel *p, stats_writer *writer,
                      MPI_Comm comm, const char *stage_root, int share_memory, int device, memprof_error *err) {
    memset(w, 0, sizeof *w);
    w->comm = comm;
    w->stage_root = stage_root;
    stripe_server_init(&w->stripe, comm);
    // fsync works per file, not per descriptor: syncing this one flushes what MPI-IO wrote.
    w->sync_fd = open(config->output, O_RDONLY | O_CLOEXEC);
    w->config = config; w->panel = p; w->writer = writer; w->loaded = -1;
    w->compute = backend_find(sweep_backend_name(config->backend));
    if (!w->compute)
        return error_set(err, MEMPROF_ERR_UNSUPPORTED, "backend '%s' is not compiled into this build",
                         sweep_backend_name(config->backend));
    w->options.threads = (int)config->threads;
    w->options.precision = backend_precision(config->precision);
    w->options.max_memory_gb = config->max_gpu_memory_gb;
    w->options.device = device;
    // A device this rank cannot use (more workers on the node than GPUs, a kernel setting the
    // GPU lacks) stops the sweep here, agreed by every rank, before any task or checkpoint is
    // failed for it.
    if (w->compute->check_options) {
        int checked = w->compute->check_options(&w->options, err);
        if (checked != 0) return checked;
    }
    int gpu = strcmp(w->compute->name, "cpu") != 0;
    w->options.batch_sequences = gpu ? (int)config->batch_size : 0;
    w->share_memory = share_memory;
    w->batch = config->batch_size > 0     ? config->batch_size
              : !gpu                       ? CPU_AUTO_BATCH
              : stage_root || share_memory ? GPU_SHARING_AUTO_BATCH
                                           : GPU_AUTO_BATCH;
    const char *delay = getenv("MEMPROF_TEST_TASK_DELAY_MS");
    w->delay_ms = delay ? atoi(delay) : 0;
    const int64_t L = p->sequence_length;
    w->tokens = malloc((size_t)(w->batch * L) * sizeof *w->tokens);
    w->sequences = malloc((size_t)w->batch * sizeof *w->sequences);
    w->stats = malloc((size_t)w->batch * sizeof *w->stats);
    if (!w->tokens || !w->sequences || !w->stats) {
        sweep_worker_free(w);
        return error_set(err, MEMPROF_ERR_NOMEM, "out of memory for a batch of %lld sequences", (long long)w->batch);
    }
    return MEMPROF_OK;
}

int sweep_worker_set_node_peers(sweep_worker *w, const int *node_of_rank, int size, int rank, memprof_error *err) {
    free(w->node_peers);
    w->node_peers = NULL; w->n_node_peers = 0;
    w->node_peers = malloc((size_t)(size > 0 ? size : 1) * sizeof *w->node_peers);
    if (!w->node_peers) return error_set(err, MEMPROF_ERR_NOMEM, "out of memory");
    for (int r = 1; r < size; r++)
        if (r != rank && node_of_rank[r] == node_of_rank[rank]) w->node_peers[w->n_node_peers++] = r;
    return MEMPROF_OK;
}

int sweep_worker_device(const int *node_of_rank, int rank) {
    int device = 0;
    for (int r = 1; r < rank; r++) device += node_of_rank[r] == node_of_rank[rank];
    return device;
}

// ---- prefetch -----------------------------------------------------------------------------

// The prefetch thread (no MPI call): verifies a striped read's stripes (stripe_read_finish),
// then opens and loads the folder — the staged copy, or the original when striping failed.
static void *prefetch_main(void *arg) {
    sweep_worker *w = arg;
    if (w->prefetch.staging) {
        stripe_reading *r = w->prefetch.staging;
        w->prefetch.staging = NULL;
        memprof_error err = {0};
        w->prefetch.stripe_rc = stripe_read_finish(r, w->prefetch.dir, sizeof w->prefetch.dir, &w->prefetch.stripe, &err);
        if (!w->prefetch.stripe_rc) {
            w->prefetch.staged = 1;
            if (checkpoint_open(&w->prefetch.ckpt, w->prefetch.dir, &w->prefetch.err) != 0) {  // errors name the original
                weights_remove_staged(w->prefetch.dir);
                w->prefetch.staged = 0;
            }
        }
        if (!w->prefetch.staged) snprintf(w->prefetch.dir, sizeof w->prefetch.dir, "%s", w->prefetch.original);
    }
    if (!w->prefetch.ckpt) w->prefetch.rc = checkpoint_open(&w->prefetch.ckpt, w->prefetch.dir, &w->prefetch.err);
    if (!w->prefetch.rc) w->prefetch.rc = w->prefetch.compute->load(&w->prefetch.model, w->prefetch.ckpt, w->prefetch.options, &w->prefetch.err);
    w->prefetch.seconds = clock_seconds() - w->prefetch.t0;
    return NULL;
}

static void prefetch_launch(sweep_worker *w) {
    if (pthread_create(&w->prefetch.thread, NULL, prefetch_main, w) == 0) { w->prefetch.thread_started = 1; return; }
    prefetch_main(w);  // no thread: load it now
    w->prefetch.thread_started = 2;
}

// Starts loading checkpoint c in the background, unless one is under way: with a stage root
// and node peers, a striped read first (the peers' stripes arrive while this worker computes;
// prefetch_poll starts the thread once they are in), else straight from its folder.
static void prefetch_start(sweep_worker *w, int32_t c) {
    if (w->prefetch.active || c < 0 || c == w->loaded) return;
    memprof_error err = {0};
    if (sweep_checkpoint_path(w->prefetch.original, sizeof w->prefetch.original, w->config->checkpoint_template, w->config->steps.values[c], &err))
        return;
    snprintf(w->prefetch.dir, sizeof w->prefetch.dir, "%s", w->prefetch.original);
    w->prefetch.checkpoint = c;
    w->prefetch.compute = w->compute;
    w->prefetch.options = &w->options;
    w->prefetch.ckpt = NULL; w->prefetch.model = NULL; w->prefetch.rc = 0;
    w->prefetch.staging = NULL; w->prefetch.staged = 0; w->prefetch.stripe_rc = 0; w->prefetch.thread_started = 0;
    memset(&w->prefetch.stripe, 0, sizeof w->prefetch.stripe);
    w->prefetch.t0 = clock_seconds();
    w->prefetch.active = 1;
    if (w->stage_root && w->comm != MPI_COMM_NULL && w->stripe_enabled && w->n_node_peers > 0) {
        if (stripe_read_start(&w->prefetch.staging, &w->stripe, w->prefetch.original, w->stage_root, w->node_peers, w->n_node_peers, 0, &err) == 0) {
            log_info("prefetching checkpoint %d (striped read with %d node peers)", c, w->n_node_peers);
            return;
        }
        log_warn("prefetch of checkpoint %d: striped read: %s; reading it alone", c, err.message);
    }
    log_info("prefetching checkpoint %d", c);
    prefetch_launch(w);
}

// Poll point: a striped prefetch whose stripes are all in goes on in the thread.
static void prefetch_poll(sweep_worker *w) {
    if (w->prefetch.active && !w->prefetch.thread_started && stripe_read_ready(w->prefetch.staging)) prefetch_launch(w);
}

// Finishes the prefetch (its stripes first) and joins the thread; returns 1 when it holds
// checkpoint c loaded (ownership passes to the caller through *ckpt and *model), 0 otherwise
// (anything loaded is dropped). Call before stopping: node peers answer only until then.
static int prefetch_take(sweep_worker *w, int32_t c, checkpoint **ckpt, void **model, memprof_error *err) {
    if (!w->prefetch.active) return 0;
    while (!w->prefetch.thread_started) {
        prefetch_poll(w);
        if (!w->prefetch.thread_started) { struct timespec ts = {0, 100000}; nanosleep(&ts, NULL); }
    }
    if (w->prefetch.thread_started == 1) pthread_join(w->prefetch.thread, NULL);
    w->prefetch.active = 0;
    if (w->prefetch.stripe_rc) log_warn("prefetch of checkpoint %d: the striped read failed; read it alone", w->prefetch.checkpoint);
    else if (w->prefetch.stripe.ranks) {
        const stripe_stats *st = &w->prefetch.stripe;
        w->striped_reads++;
        w->stripe_ranges_recopied += st->ranges_recopied;
        log_info("striped read of checkpoint %d (prefetch): %d ranks, %.1f MB in %.2f s (%.1f MB/s)%s", w->prefetch.checkpoint, st->ranks,
                 (double)st->bytes / 1e6, st->seconds, st->seconds > 0 ? (double)st->bytes / 1e6 / st->seconds : 0.0,
                 st->ranges_recopied ? ", some ranges copied again (see above)" : "");
    }
    if (w->prefetch.checkpoint == c) {
        if (w->prefetch.rc) {
            *err = w->prefetch.err;
            checkpoint_close(w->prefetch.ckpt);
            if (w->prefetch.staged) weights_remove_staged(w->prefetch.dir);
            return -1;
        }
        *ckpt = w->prefetch.ckpt; *model = w->prefetch.model;
        w->prefetches_used++;
        return 1;
    }
    if (w->prefetch.model) w->compute->unload(w->prefetch.model);
    checkpoint_close(w->prefetch.ckpt);
    if (w->prefetch.staged) weights_remove_staged(w->prefetch.dir);
    w->prefetches_wasted++;
    return 0;
}

static void unload(sweep_worker *w) {
    if (w->model) w->compute->unload(w->model);
    checkpoint_close(w->ckpt);
    if (w->loaded_staged) weights_remove_staged(w->loaded_dir);
    w->model = NULL; w->ckpt = NULL; w->loaded = -1;
    w->loaded_dir[0] = '\0'; w->loaded_staged = 0; w->loaded_checksum[0] = '\0';
}

void sweep_worker_serve_peers(sweep_worker *w) {
    if (w->comm == MPI_COMM_NULL) return;
    stripe_server_poll(&w->stripe);
    prefetch_poll(w);
    for (;;) {
        int flag = 0, memory = 0;
        MPI_Status st;
        MPI_Iprobe(MPI_ANY_SOURCE, TAG_WEIGHTS_REQUEST, w->comm, &flag, &st);
        if (!flag) MPI_Iprobe(MPI_ANY_SOURCE, memory = TAG_WEIGHTS_MEMORY_REQUEST, w->comm, &flag, &st);
        if (!flag) return;
        int32_t c;
        MPI_Recv(&c, 1, MPI_INT32_T, st.MPI_SOURCE, st.MPI_TAG, w->comm, MPI_STATUS_IGNORE);
        memprof_error err = {0};
        if (memory) {
            int rc = weights_memory_serve(w->comm, st.MPI_SOURCE, c, w->compute, c == w->loaded ? w->model : NULL,
                                          w->loaded_checksum, w->nccl, SHARE_CHUNK, &err);
            if (rc < 0) log_warn("sharing checkpoint %d in memory: %s", c, err.message);
            if (rc == 0) { w->shares_sent++; log_info("sent checkpoint %d to rank %d in memory", c, st.MPI_SOURCE); }
            continue;
        }
        if (c != w->loaded || !w->loaded_dir[0]) { weights_refuse(w->comm, st.MPI_SOURCE); continue; }
        if (weights_send(w->comm, st.MPI_SOURCE, w->loaded_dir, SHARE_CHUNK, &err)) log_warn("sharing checkpoint %d: %s", c, err.message);
        else { w->shares_sent++; log_info("sent checkpoint %d to rank %d", c, st.MPI_SOURCE); }
    }
}

// Sends request `tag` for checkpoint c to `source` and waits for its answer (`reply` tag).
// While waiting, weight requests from other peers are refused (a fetching worker sends nothing
// large, so two workers never block sending to each other); stripe requests are queued and
// served (their copies run on the I/O thread).
static void await_peer(sweep_worker *w, int32_t c, int source, int tag, int reply) {
    MPI_Send(&c, 1, MPI_INT32_T, source, tag, w->comm);
    for (;;) {
        stripe_server_poll(&w->stripe);
        int flag = 0;
        MPI_Status st;
        MPI_Iprobe(MPI_ANY_SOURCE, TAG_WEIGHTS_REQUEST, w->comm, &flag, &st);
        if (!flag) MPI_Iprobe(MPI_ANY_SOURCE, TAG_WEIGHTS_MEMORY_REQUEST, w->comm, &flag, &st);
        if (flag) {
            int32_t other;
            MPI_Recv(&other, 1, MPI_INT32_T, st.MPI_SOURCE, st.MPI_TAG, w->comm, MPI_STATUS_IGNORE);
            if (st.MPI_TAG == TAG_WEIGHTS_REQUEST) weights_refuse(w->comm, st.MPI_SOURCE);
            else weights_memory_refuse(w->comm, st.MPI_SOURCE);
            continue;
        }
        MPI_Iprobe(source, reply, w->comm, &flag, &st);
        if (flag) return;
        struct timespec ts = {0, 100000};  // anything else waits for us to be done
        nanosleep(&ts, NULL);
    }
}

// Asks rank `source` of this node for checkpoint c's folder. 0 and dir filled, or nonzero:
// read it from the shared file system instead.
static int fetch_from_peer(sweep_worker *w, int32_t c, int source, char *dir, size_t size) {
    await_peer(w, c, source, TAG_WEIGHTS_REQUEST, TAG_WEIGHTS_REPLY);
    memprof_error err = {0};
    int rc = weights_receive(dir, size, w->comm, source, w->stage_root, SHARE_CHUNK, &err);
    if (rc < 0) log_warn("receiving checkpoint %d from rank %d: %s; reading it from its folder", c, source, err.message);
    if (rc == 1) log_info("rank %d no longer holds checkpoint %d; reading it from its folder", source, c);
    return rc;
}

// Asks rank `source` of this node for checkpoint c's weights in memory: 0 and w->model,
// loaded_config and loaded_checksum set (w->ckpt stays NULL), or nonzero: get it otherwise.
static int fetch_in_memory(sweep_worker *w, int32_t c, int source) {
    await_peer(w, c, source, TAG_WEIGHTS_MEMORY_REQUEST, TAG_WEIGHTS_MEMORY_OFFER);
    memprof_error err = {0};
    weights_memory_offer offer;
    int rc = weights_memory_receive(&w->model, &offer, w->comm, source, w->compute, &w->options, w->nccl, SHARE_CHUNK, &err);
    if (rc < 0) log_warn("receiving checkpoint %d from rank %d in memory: %s", c, source, err.message);
    if (rc == 1) log_info("rank %d did not send checkpoint %d in memory%s%s", source, c, err.message[0] ? ": " : "", err.message);
    if (rc) return rc;
    w->loaded_config = offer.config;
    snprintf(w->loaded_checksum, sizeof w->loaded_checksum, "%s", offer.checksum);
    return 0;
}

int sweep_worker_open_tokens(sweep_worker *w, const char *dir, int64_t run, int rank, memprof_error *err) {
    const int64_t n = w->panel->sequence_length - 1;
    w->token_stats = calloc((size_t)w->batch, sizeof *w->token_stats);
    if (!w->token_stats) return error_set(err, MEMPROF_ERR_NOMEM, "out of memory");
    for (int64_t b = 0; b < w->batch; b++) {
        token_statistics *t = &w->token_stats[b];
        t->surprisal = malloc((size_t)n * sizeof(double));
        t->entropy = malloc((size_t)n * sizeof(double));
        t->rank = malloc((size_t)n * sizeof(int64_t));
        t->correct = malloc((size_t)n);
        if (!t->surprisal || !t->entropy || !t->rank || !t->correct) return error_set(err, MEMPROF_ERR_NOMEM, "out of memory");
    }
    int rc = token_file_open(&w->token_out, dir, run, rank, err);
    if (!rc) w->per_token = 1;
    return rc;
}

void sweep_worker_free(sweep_worker *w) {
    for (int64_t b = 0; w->token_stats && b < w->batch; b++) {
        free(w->token_stats[b].surprisal); free(w->token_stats[b].entropy);
        free(w->token_stats[b].rank); free(w->token_stats[b].correct);
    }
    free(w->token_stats);
    free(w->node_peers);
    token_file_close(&w->token_out);
    if (w->sync_fd > 0) close(w->sync_fd);
    checkpoint *ck = NULL;
    void *model = NULL;
    memprof_error err = {0};
    prefetch_take(w, -1, &ck, &model, &err);
    unload(w);
    stripe_server_free(&w->stripe);
    free(w->tokens); free(w->sequences); free(w->stats);
    for (int j = 0; j < 4; j++) free(w->values[j]);
    memset(w, 0, sizeof *w);
}

// Stages the folder `original` in the stage root with the node's other workers reading
// stripes (stripe.h). 0 and dir filled with the staged folder, or nonzero: read the original.
// While it waits it serves stripe requests only: a peer asking for this checkpoint (the
// coordinator names a worker still loading as the source) waits, like during any load, and
// gets the copy at our first batch instead of a refusal that would make it read the folder too.
static int striped_read(sweep_worker *w, int32_t c, const char *original, char *dir, size_t size) {
    stripe_stats st;
    memprof_error err = {0};
    int rc = stripe_read(dir, size, &w->stripe, original, w->stage_root, w->node_peers, w->n_node_peers, 0, NULL, NULL, &st, &err);
    if (rc) { log_warn("striped read of checkpoint %d: %s; reading it alone", c, err.message); return rc; }
    w->striped_reads++;
    w->stripe_ranges_recopied += st.ranges_recopied;
    log_info("striped read of checkpoint %d: %d ranks, %.1f MB in %.2f s (%.1f MB/s)%s", c, st.ranks, (double)st.bytes / 1e6, st.seconds,
             st.seconds > 0 ? (double)st.bytes / 1e6 / st.seconds : 0.0, st.ranges_recopied ? ", some ranges copied again (see above)" : "");
    return MEMPROF_OK;
}

// What the worker keeps of a checkpoint it opened (it may have none: weights received in memory).
static void remember_checkpoint(sweep_worker *w, const checkpoint *ckpt) {
    char hex[17];
    checkpoint_checksum(hex, ckpt);
    snprintf(w->loaded_checksum, sizeof w->loaded_checksum, "xxh64:%s", hex);
    w->loaded_config = *checkpoint_config(ckpt);
}

static int ensure_loaded(sweep_worker *w, int32_t c, int source, sweep_result *out, memprof_error *err) {
    if (w->loaded == c) return MEMPROF_OK;
    unload(w);
    char dir[4096];
    double t0 = clock_seconds();
    int rc = 0, staged = 0;
    int took = prefetch_take(w, c, &w->ckpt, &w->model, err);
    if (took != 0) {
        if (took < 0) return err->code ? err->code : MEMPROF_ERR;
        out->load_s = w->prefetch.seconds;  // what the load cost, not how long we waited for it
        remember_checkpoint(w, w->ckpt);
        snprintf(out->checkpoint_checksum, sizeof out->checkpoint_checksum, "%s", w->loaded_checksum);
        snprintf(w->loaded_dir, sizeof w->loaded_dir, "%s", w->prefetch.dir);
        w->loaded_staged = w->prefetch.staged;
        w->loaded = c;
        log_info("checkpoint %d from the prefetch (loaded in %.2f s, waited %.2f s)", c, w->prefetch.seconds, clock_seconds() - t0);
        return MEMPROF_OK;
    }
    if (source > 0 && w->share_memory && w->comm != MPI_COMM_NULL && fetch_in_memory(w, c, source) == 0) {
        w->shares_received++;
        w->loaded = c;
        out->load_s = clock_seconds() - t0;
        snprintf(out->checkpoint_checksum, sizeof out->checkpoint_checksum, "%s", w->loaded_checksum);
        log_info("received checkpoint %d from rank %d in memory in %.2f s", c, source, out->load_s);
        return MEMPROF_OK;
    }
    if (source > 0 && w->stage_root && w->comm != MPI_COMM_NULL && fetch_from_peer(w, c, source, dir, sizeof dir) == 0) {
        staged = 1;
        w->shares_received++;
        log_info("received checkpoint %d from rank %d into %s in %.2f s", c, source, dir, clock_seconds() - t0);
    } else {
        rc = sweep_checkpoint_path(dir, sizeof dir, w->config->checkpoint_template, w->config->steps.values[c], err);
        char original[4096];
        snprintf(original, sizeof original, "%s", dir);
        if (!rc && w->stage_root && w->comm != MPI_COMM_NULL && w->stripe_enabled && w->n_node_peers > 0 &&
            striped_read(w, c, original, dir, sizeof dir) == 0) {
            staged = 1;
            if (checkpoint_open(&w->ckpt, dir, err) != 0) {  // report the problem against the original folder
                weights_remove_staged(dir);
                snprintf(dir, sizeof dir, "%s", original);
                staged = 0;
            }
        }
    }
    if (!rc && !w->ckpt) rc = checkpoint_open(&w->ckpt, dir, err);
    if (!rc) rc = w->compute->load(&w->model, w->ckpt, &w->options, err);
    snprintf(w->loaded_dir, sizeof w->loaded_dir, "%s", dir);
    w->loaded_staged = staged;
    if (rc) { unload(w); return rc; }
    out->load_s = clock_seconds() - t0;
    remember_checkpoint(w, w->ckpt);
    snprintf(out->checkpoint_checksum, sizeof out->checkpoint_checksum, "%s", w->loaded_checksum);
    w->loaded = c;
    log_info("loaded checkpoint %d (%s) in %.2f s", c, dir, out->load_s);
    return MEMPROF_OK;
}

static int grow_values(sweep_worker *w, int64_t rows, memprof_error *err) {
    if (rows <= w->capacity) return MEMPROF_OK;
    for (int j = 0; j < 4; j++) {
        double *grown = realloc(w->values[j], (size_t)rows * sizeof(double));
        if (!grown) return error_set(err, MEMPROF_ERR_NOMEM, "out of memory for %lld results", (long long)rows);
        w->values[j] = grown;
    }
    w->capacity = rows;
    return MEMPROF_OK;
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

void sweep_worker_run_task(sweep_worker *w, const sweep_task_message *t, sweep_result *out) {
    memset(out, 0, sizeof *out);
    out->checkpoint = t->checkpoint; out->lo = t->lo; out->hi = t->hi;
    memprof_error err = {0};
    if (ensure_loaded(w, t->checkpoint, t->source, out, &err)) {
        out->outcome = OUTCOME_CHECKPOINT_FAILED;
        snprintf(out->reason, sizeof out->reason, "%s", err.message);
        return;
    }
    if (t->prefetch >= 0 && w->prefetch_enabled) prefetch_start(w, t->prefetch);
    const int64_t L = w->panel->sequence_length, n = t->hi - t->lo;
    const int vocab = w->loaded_config.vocab_size;
    double t0 = clock_seconds();
    int rc = grow_values(w, n, &err);
    for (int64_t start = 0; start < n && !rc; start += w->batch) {
        if (sweep_signal_received()) { w->token_out.raw_len = 0; out->outcome = OUTCOME_ABANDONED; return; }
        sweep_worker_serve_peers(w);
        int batch = (int)(n - start < w->batch ? n - start : w->batch);
        for (int b = 0; b < batch && !rc; b++) {
            int64_t row = t->lo + start + b;
            const uint16_t *src = w->panel->tokens + row * L;
            int32_t *dst = w->tokens + (int64_t)b * L;
            for (int64_t k = 0; k < L; k++) {
                if (src[k] >= vocab) {
                    rc = error_set(&err, MEMPROF_ERR, "panel row %lld position %lld: token %u is outside the model's vocabulary (%d)",
                                   (long long)row, (long long)k, src[k], vocab);
                    break;
                }
                dst[k] = src[k];
            }
            w->sequences[b].tokens = dst;
            w->sequences[b].length = L;
        }
        if (!rc) rc = w->compute->score(w->stats, w->per_token ? w->token_stats : NULL, w->model, w->sequences, batch, &err);
        for (int b = 0; b < batch && !rc && w->per_token; b++)
            rc = token_file_add(&w->token_out, t->checkpoint, t->lo + start + b, L - 1, &w->token_stats[b], &err);
        for (int b = 0; b < batch && !rc; b++) {
            w->values[0][start + b] = w->stats[b].sup_seq;
            w->values[1][start + b] = w->stats[b].acc_seq;
            w->values[2][start + b] = w->stats[b].entr_seq;
            w->values[3][start + b] = w->stats[b].avg_rank;
        }
    }
    // Per-token frame first: a DONE record then always has its frame on disk.
    if (w->per_token) {
        if (rc) w->token_out.raw_len = 0;
        else rc = token_file_end_task(&w->token_out, &err);
    }
    if (!rc) {
        // One metric at a time; the fault-injection tests kill the job in the pause after the
        // second, with the task's results half written and not journalled.
        for (int j = 0; j < 4 && !rc; j++) {
            rc = stats_writer_write_metric(w->writer, j, t->checkpoint, t->lo, t->hi, w->values[j], &err);
            if (j == 1 && w->delay_ms > 0) sleep_ms(w->delay_ms);
        }
        // The rows reach the disk before the coordinator journals them: a machine crash after
        // the DONE record cannot leave a journalled cell without its data.
        if (!rc && w->sync_fd > 0 && fdatasync(w->sync_fd) != 0)
            rc = error_set(&err, MEMPROF_ERR, "%s: fdatasync failed: %s", w->config->output, strerror(errno));
    }
    if (rc) {
        out->outcome = OUTCOME_TASK_FAILED;
        snprintf(out->reason, sizeof out->reason, "%s", err.message);
        return;
    }
    XXH64_state_t *state = XXH64_createState();
    XXH64_reset(state, 0);
    for (int j = 0; j < 4; j++) XXH64_update(state, w->values[j], (size_t)n * sizeof(double));
    out->checksum = XXH64_digest(state);
    XXH64_freeState(state);
    out->compute_s = clock_seconds() - t0;
    out->outcome = OUTCOME_OK;
}

// Waits for rank 0's answer (TASK or STOP) while serving peers' weight requests.
static int wait_for_coordinator(sweep_worker *w, sweep_task_message *task, MPI_Comm comm) {
    for (;;) {
        sweep_worker_serve_peers(w);
        int flag = 0;
        MPI_Status st;
        MPI_Iprobe(0, MPI_ANY_TAG, comm, &flag, &st);
        if (flag && (st.MPI_TAG == TAG_TASK || st.MPI_TAG == TAG_STOP)) {
            MPI_Recv(task, sizeof *task, MPI_BYTE, 0, st.MPI_TAG, comm, MPI_STATUS_IGNORE);
            return st.MPI_TAG;
        }
        struct timespec ts = {0, 100000};
        nanosleep(&ts, NULL);
    }
}

void sweep_worker_loop(sweep_worker *w, MPI_Comm comm) {
    sweep_result result;
    memset(&result, 0, sizeof result);
    result.outcome = OUTCOME_READY;
    for (;;) {
        MPI_Send(&result, sizeof result, MPI_BYTE, 0, TAG_RESULT, comm);
        sweep_task_message task;
        if (wait_for_coordinator(w, &task, comm) == TAG_STOP) break;
        sweep_worker_run_task(w, &task, &result);
        if (result.outcome != OUTCOME_OK)
            log_warn("task checkpoint %d [%lld, %lld): outcome %d: %s", task.checkpoint, (long long)task.lo,
                     (long long)task.hi, result.outcome, result.reason);
    }
    // A striped prefetch still in flight completes now (its peers answer until everyone stopped).
    checkpoint *unused = NULL;
    void *unused_model = NULL;
    memprof_error ignored = {0};
    prefetch_take(w, -1, &unused, &unused_model, &ignored);
    // Peers still computing may ask for our checkpoint until every rank has stopped.
    MPI_Request all_stopped;
    MPI_Ibarrier(comm, &all_stopped);
    for (int done = 0; !done;) {
        sweep_worker_serve_peers(w);
        MPI_Test(&all_stopped, &done, MPI_STATUS_IGNORE);
        if (!done) { struct timespec ts = {0, 100000}; nanosleep(&ts, NULL); }
    }
    if (w->prefetches_used || w->prefetches_wasted)
        log_info("prefetch: %lld checkpoints used, %lld loaded for nothing", (long long)w->prefetches_used, (long long)w->prefetches_wasted);
    if (w->shares_sent || w->shares_received)
        log_info("weight sharing: sent %lld checkpoints to peers, received %lld", (long long)w->shares_sent, (long long)w->shares_received);
    if (w->striped_reads || w->stripe.stripes_served || w->stripe.stripes_failed)
        log_info("striped reads: %lld checkpoints read with node peers (%lld ranges copied again), %lld stripes served for peers "
                 "(%.1f MB), %lld failed", (long long)w->striped_reads, (long long)w->stripe_ranges_recopied,
                 (long long)w->stripe.stripes_served, (double)w->stripe.bytes_served / 1e6, (long long)w->stripe.stripes_failed);
}
