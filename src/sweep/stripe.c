// stripe.c — striped node reads (see stripe.h). A job is one peer's stripe: a list of ranges
// of files in src_dir to copy into the same files of dst_dir (created at full size by the
// requester). Jobs run one at a time on a thread that only reads, writes and hashes; the main
// thread receives requests, starts jobs and sends replies at its poll points.
#include "sweep/stripe.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "memprof/clock.h"
#include "memprof/log.h"
#include "sweep/protocol.h"
#include "sweep/weight_share.h"

enum { REASON_BYTES = 512 };
#define COPY_BUFFER ((size_t)4 << 20)
#define DEFAULT_ALIGN ((uint64_t)1 << 20)
#define SMALL_ALIGN ((uint64_t)4096)

typedef struct stripe_request_header {
    int32_t job, count;
    char src_dir[STRIPE_PATH_BYTES], dst_dir[STRIPE_PATH_BYTES];
} stripe_request_header;

typedef struct stripe_done_header {
    int32_t job, status, count, pad;  // status 0: every range copied; hashes follow
    char reason[REASON_BYTES];
} stripe_done_header;

struct stripe_job {
    stripe_job *next;
    int requester;                 // rank that asked (the server's own rank: its own stripe)
    int32_t id, count;
    char src_dir[STRIPE_PATH_BYTES], dst_dir[STRIPE_PATH_BYTES];
    stripe_range *ranges;
    uint64_t *hashes;
    int status;
    char reason[REASON_BYTES];
    int done;                      // own stripe: the thread finished it
};

static void job_free(stripe_job *j) {
    if (!j) return;
    free(j->ranges);
    free(j->hashes);
    free(j);
}

// ---- copying (no MPI: runs on the I/O thread, and on the requester for recopies) ------------

// Copies one range src_dir/name → dst_dir/name at the same offset; *hash = xxh64 of the bytes
// read. corrupt (fault injection) damages the first byte written. 0 or an errno-style failure
// described in reason.
static int copy_range(const char *src_dir, const char *dst_dir, const stripe_range *r, uint64_t *hash, uint8_t *buffer,
                      int corrupt, char *reason, size_t reason_size) {
    char src[STRIPE_PATH_BYTES + STRIPE_NAME_BYTES + 2], dst[STRIPE_PATH_BYTES + STRIPE_NAME_BYTES + 2];
    snprintf(src, sizeof src, "%s/%s", src_dir, r->name);
    snprintf(dst, sizeof dst, "%s/%s", dst_dir, r->name);
    int in = open(src, O_RDONLY | O_CLOEXEC), out = in < 0 ? -1 : open(dst, O_WRONLY | O_CLOEXEC);
    int rc = 0;
    if (in < 0) { snprintf(reason, reason_size, "%.400s: cannot open: %s", src, strerror(errno)); rc = -1; }
    else if (out < 0) { snprintf(reason, reason_size, "%.400s: cannot open: %s", dst, strerror(errno)); rc = -1; }
    XXH64_state_t *state = XXH64_createState();
    XXH64_reset(state, 0);
    for (uint64_t done = 0; !rc && done < r->length;) {
        uint64_t want = r->length - done < COPY_BUFFER ? r->length - done : COPY_BUFFER;
        ssize_t got = pread(in, buffer, (size_t)want, (off_t)(r->offset + done));
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) {
            snprintf(reason, reason_size, "%.400s: %s at byte %llu", src, got < 0 ? strerror(errno) : "file shorter than when listed",
                     (unsigned long long)(r->offset + done));
            rc = -1;
            break;
        }
        XXH64_update(state, buffer, (size_t)got);
        if (corrupt && done == 0) buffer[0] ^= 0xff;
        for (ssize_t put = 0; put < got;) {
            ssize_t w = pwrite(out, buffer + put, (size_t)(got - put), (off_t)(r->offset + done + (uint64_t)put));
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) { snprintf(reason, reason_size, "%.400s: write failed: %s", dst, w < 0 ? strerror(errno) : "no space"); rc = -1; break; }
            put += w;
        }
        done += (uint64_t)got;
    }
    *hash = XXH64_digest(state);
    XXH64_freeState(state);
    if (in >= 0) close(in);
    if (out >= 0 && close(out) != 0 && !rc) { snprintf(reason, reason_size, "%.400s: write failed: %s", dst, strerror(errno)); rc = -1; }
    return rc;
}

// xxh64 of bytes [offset, offset + length) of dir/name as they are now.
static int hash_range(const char *dir, const stripe_range *r, uint64_t *hash, uint8_t *buffer) {
    char path[STRIPE_PATH_BYTES + STRIPE_NAME_BYTES + 2];
    snprintf(path, sizeof path, "%s/%s", dir, r->name);
    int fd = open(path, O_RDONLY | O_CLOEXEC), rc = fd < 0 ? -1 : 0;
    XXH64_state_t *state = XXH64_createState();
    XXH64_reset(state, 0);
    for (uint64_t done = 0; !rc && done < r->length;) {
        uint64_t want = r->length - done < COPY_BUFFER ? r->length - done : COPY_BUFFER;
        ssize_t got = pread(fd, buffer, (size_t)want, (off_t)(r->offset + done));
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) { rc = -1; break; }
        XXH64_update(state, buffer, (size_t)got);
        done += (uint64_t)got;
    }
    *hash = XXH64_digest(state);
    XXH64_freeState(state);
    if (fd >= 0) close(fd);
    return rc;
}

static void *job_main(void *arg) {
    stripe_server *s = arg;
    stripe_job *j = s->running;
    int corrupt = 0;
    if (j->requester != s->rank && (s->fail_rank == s->rank || s->fail_rank == STRIPE_FAIL_EVERY_RANK)) {
        if (s->fail_mode == STRIPE_FAIL_ERROR) { j->status = -1; snprintf(j->reason, sizeof j->reason, "stripe failed on purpose (MEMPROF_TEST_STRIPE_FAIL_RANK)"); }
        else corrupt = 1;
    }
    uint8_t *buffer = j->status ? NULL : malloc(COPY_BUFFER);
    if (!j->status && !buffer) { j->status = -1; snprintf(j->reason, sizeof j->reason, "out of memory for a copy buffer"); }
    for (int k = 0; k < j->count && !j->status; k++)
        j->status = copy_range(j->src_dir, j->dst_dir, &j->ranges[k], &j->hashes[k], buffer, corrupt, j->reason, sizeof j->reason);
    free(buffer);
    pthread_mutex_lock(&s->lock);
    s->finished = 1;
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

// ---- the server side -------------------------------------------------------------------------

void stripe_server_init(stripe_server *s, MPI_Comm comm) {
    memset(s, 0, sizeof *s);
    s->comm = comm;
    s->rank = -1;
    s->ready = 1;
    if (comm != MPI_COMM_NULL) MPI_Comm_rank(comm, &s->rank);
    pthread_mutex_init(&s->lock, NULL);
    const char *fail = getenv("MEMPROF_TEST_STRIPE_FAIL_RANK"), *mode = getenv("MEMPROF_TEST_STRIPE_FAIL_MODE");
    s->fail_rank = !fail || !*fail ? -1 : strcmp(fail, "all") == 0 ? STRIPE_FAIL_EVERY_RANK : atoi(fail);
    s->fail_mode = mode && strcmp(mode, "error") == 0 ? STRIPE_FAIL_ERROR : STRIPE_FAIL_CORRUPT;
}

static void track_send(stripe_server *s, void *buffer, int bytes, int dest, int tag) {
    if (s->n_sends == s->cap_sends) {
        int cap = s->cap_sends ? 2 * s->cap_sends : 8;
        struct pending_send *grown = realloc(s->sends, (size_t)cap * sizeof *grown);
        if (!grown) {  // cannot track it: send it blocking (small; the receiver is polling)
            MPI_Send(buffer, bytes, MPI_BYTE, dest, tag, s->comm);
            free(buffer);
            return;
        }
        s->sends = grown; s->cap_sends = cap;
    }
    struct pending_send *p = &s->sends[s->n_sends++];
    p->buffer = buffer;
    MPI_Isend(buffer, bytes, MPI_BYTE, dest, tag, s->comm, &p->request);
}

static void complete_sends(stripe_server *s) {
    for (int k = 0; k < s->n_sends;) {
        int done = 0;
        MPI_Test(&s->sends[k].request, &done, MPI_STATUS_IGNORE);
        if (!done) { k++; continue; }
        free(s->sends[k].buffer);
        s->sends[k] = s->sends[--s->n_sends];
    }
}

static void reply(stripe_server *s, const stripe_job *j) {
    size_t bytes = sizeof(stripe_done_header) + (size_t)j->count * sizeof(uint64_t);
    uint8_t *msg = calloc(1, bytes);
    stripe_done_header h;
    memset(&h, 0, sizeof h);
    h.job = j->id; h.status = j->status; h.count = j->count;
    snprintf(h.reason, sizeof h.reason, "%s", j->reason);
    if (!msg) {  // still answer (small, the requester is polling): a failure it recovers from
        h.status = -1; h.count = 0;
        snprintf(h.reason, sizeof h.reason, "out of memory for the reply");
        MPI_Send(&h, sizeof h, MPI_BYTE, j->requester, TAG_STRIPE_DONE, s->comm);
        return;
    }
    memcpy(msg, &h, sizeof h);
    if (j->count) memcpy(msg + sizeof h, j->hashes, (size_t)j->count * sizeof(uint64_t));
    track_send(s, msg, (int)bytes, j->requester, TAG_STRIPE_DONE);
}

static void receive_requests(stripe_server *s) {
    for (;;) {
        int flag = 0, bytes = 0;
        MPI_Status st;
        MPI_Iprobe(MPI_ANY_SOURCE, TAG_STRIPE_REQUEST, s->comm, &flag, &st);
        if (!flag) return;
        MPI_Get_count(&st, MPI_BYTE, &bytes);
        uint8_t *msg = malloc(bytes > 0 ? (size_t)bytes : 1);
        stripe_request_header scratch;
        MPI_Recv(msg ? (void *)msg : (void *)&scratch, msg ? bytes : (int)sizeof scratch, MPI_BYTE, st.MPI_SOURCE, TAG_STRIPE_REQUEST,
                 s->comm, MPI_STATUS_IGNORE);
        stripe_job *j = calloc(1, sizeof *j);
        if (j) j->requester = st.MPI_SOURCE;
        const stripe_request_header *h = msg ? (const stripe_request_header *)msg : NULL;
        if (!j || !h || (size_t)bytes < sizeof *h || h->count < 0 ||
            (size_t)bytes != sizeof *h + (size_t)h->count * sizeof(stripe_range)) {
            // A request this rank cannot take is answered with a failure (the requester copies it).
            stripe_job refused = {.requester = st.MPI_SOURCE, .id = h && (size_t)bytes >= sizeof *h ? h->job : -1, .status = -1};
            snprintf(refused.reason, sizeof refused.reason, "malformed stripe request or out of memory");
            reply(s, &refused);
            free(j); free(msg);
            continue;
        }
        j->id = h->job; j->count = h->count;
        memcpy(j->src_dir, h->src_dir, sizeof j->src_dir); j->src_dir[sizeof j->src_dir - 1] = '\0';
        memcpy(j->dst_dir, h->dst_dir, sizeof j->dst_dir); j->dst_dir[sizeof j->dst_dir - 1] = '\0';
        j->ranges = malloc((size_t)(j->count ? j->count : 1) * sizeof *j->ranges);
        j->hashes = calloc((size_t)(j->count ? j->count : 1), sizeof *j->hashes);
        if (!j->ranges || !j->hashes) { j->status = -1; j->count = 0; snprintf(j->reason, sizeof j->reason, "out of memory"); }
        else if (j->count) memcpy(j->ranges, msg + sizeof *h, (size_t)j->count * sizeof *j->ranges);
        for (int k = 0; k < j->count; k++) j->ranges[k].name[STRIPE_NAME_BYTES - 1] = '\0';
        free(msg);
        stripe_job **tail = &s->queue;
        while (*tail) tail = &(*tail)->next;
        *tail = j;
    }
}

static int running_finished(stripe_server *s) {
    pthread_mutex_lock(&s->lock);
    int f = s->finished;
    pthread_mutex_unlock(&s->lock);
    return f;
}

// The running job is done: join, then reply (a peer's) or mark it (our own).
static void finish_running(stripe_server *s) {
    pthread_join(s->thread, NULL);
    stripe_job *j = s->running;
    s->running = NULL;
    s->finished = 0;
    if (j->requester == s->rank) { j->done = 1; return; }  // stripe_read owns it
    if (j->status) s->stripes_failed++;
    else {
        s->stripes_served++;
        for (int k = 0; k < j->count; k++) s->bytes_served += j->ranges[k].length;
    }
    reply(s, j);
    job_free(j);
}

static void start_next(stripe_server *s) {
    while (!s->running && s->queue) {
        stripe_job *j = s->queue;
        s->queue = j->next;
        j->next = NULL;
        s->running = j;
        s->finished = 0;
        if (j->status == 0 && pthread_create(&s->thread, NULL, job_main, s) == 0) return;
        // Not runnable (out of memory, no thread): answer now.
        s->running = NULL;
        if (!j->status) { j->status = -1; snprintf(j->reason, sizeof j->reason, "cannot start an I/O thread"); }
        if (j->requester == s->rank) { j->done = 1; continue; }
        s->stripes_failed++;
        reply(s, j);
        job_free(j);
    }
}

void stripe_server_poll(stripe_server *s) {
    if (!s || s->comm == MPI_COMM_NULL) return;
    receive_requests(s);
    if (s->running && running_finished(s)) finish_running(s);
    start_next(s);
    complete_sends(s);
}

int stripe_server_busy(const stripe_server *s) { return s->running || s->queue || s->n_sends; }

void stripe_server_free(stripe_server *s) {
    if (!s->ready) return;
    if (s->running) {
        pthread_join(s->thread, NULL);
        if (s->running->requester != s->rank) job_free(s->running);
    }
    while (s->queue) { stripe_job *j = s->queue; s->queue = j->next; if (j->requester != s->rank) job_free(j); }
    for (int k = 0; k < s->n_sends; k++) { MPI_Wait(&s->sends[k].request, MPI_STATUS_IGNORE); free(s->sends[k].buffer); }
    free(s->sends);
    pthread_mutex_destroy(&s->lock);
    memset(s, 0, sizeof *s);
    s->comm = MPI_COMM_NULL;
}

// ---- planning --------------------------------------------------------------------------------

int stripe_plan(stripe_range **ranges, int **first, const stripe_file *files, int n, int parts, uint64_t align) {
    *ranges = NULL; *first = NULL;
    if (parts < 1) parts = 1;
    if (align == 0) align = DEFAULT_ALIGN;
    uint64_t total = 0;
    for (int k = 0; k < n; k++) total += files[k].size;
    uint64_t per = (total + (uint64_t)parts - 1) / (uint64_t)parts;
    per = (per + align - 1) / align * align;
    if (per == 0) per = align;
    stripe_range *r = calloc((size_t)(n + parts), sizeof *r);
    int *f = calloc((size_t)parts + 1, sizeof *f);
    if (!r || !f) { free(r); free(f); return -1; }
    int count = 0, file = 0;
    uint64_t file_start = 0;  // offset of files[file] in the concatenation
    for (int p = 0; p < parts; p++) {
        f[p] = count;
        uint64_t lo = (uint64_t)p * per, hi = lo + per;
        if (lo > total) lo = total;
        if (hi > total) hi = total;
        for (uint64_t at = lo; at < hi;) {
            while (file < n && file_start + files[file].size <= at) { file_start += files[file].size; file++; }
            uint64_t end = file_start + files[file].size < hi ? file_start + files[file].size : hi;
            snprintf(r[count].name, sizeof r[count].name, "%s", files[file].name);
            r[count].offset = at - file_start;
            r[count].length = end - at;
            count++;
            at = end;
        }
    }
    f[parts] = count;
    *ranges = r; *first = f;
    return count;
}

static int list_folder(stripe_file **out, int *count, const char *dir, memprof_error *err) {
    int rc = folder_list_files(out, count, dir, err);
    if (!rc && *count == 0) { free(*out); *out = NULL; return error_set(err, MEMPROF_ERR, "%s: no files to read", dir); }
    return rc;
}

// Creates dst (removing a leftover of an earlier run) with every file at its full size.
static int create_staged(const char *dst, const char *staging_root, const stripe_file *files, int n, memprof_error *err) {
    if (mkdir(staging_root, 0755) != 0 && errno != EEXIST) return error_set(err, MEMPROF_ERR, "%s: cannot create: %s", staging_root, strerror(errno));
    weights_remove_staged(dst);
    if (mkdir(dst, 0755) != 0) return error_set(err, MEMPROF_ERR, "%s: cannot create: %s", dst, strerror(errno));
    for (int k = 0; k < n; k++) {
        char path[STRIPE_PATH_BYTES + STRIPE_NAME_BYTES + 2];
        snprintf(path, sizeof path, "%s/%s", dst, files[k].name);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) return error_set(err, MEMPROF_ERR, "%s: cannot create: %s", path, strerror(errno));
        int bad = ftruncate(fd, (off_t)files[k].size) != 0;
        int saved = errno;
        close(fd);
        if (bad) return error_set(err, MEMPROF_ERR, "%s: cannot size it to %llu bytes: %s", path, (unsigned long long)files[k].size, strerror(saved));
    }
    return MEMPROF_OK;
}

// ---- the requester ---------------------------------------------------------------------------

struct stripe_reading {
    stripe_server *server;
    char src_dir[STRIPE_PATH_BYTES], out_dir[STRIPE_PATH_BYTES];
    int32_t job;
    int parts, outstanding;
    int *peers;                    // [parts − 1]
    stripe_range *ranges;
    int *first;                    // [parts + 1]
    int *state;                    // per part (0: ours): 0 not asked (copied here), 1 awaiting the reply, 2 replied
    stripe_done_header *reply_of;  // [parts]
    uint64_t **hashes_of;          // [parts]
    stripe_job *own;
    stripe_stats stats;
    double t0;
};

static void reading_free(stripe_reading *r) {
    if (!r) return;
    for (int p = 0; r->hashes_of && p < r->parts; p++) free(r->hashes_of[p]);
    free(r->hashes_of); free(r->reply_of); free(r->state); free(r->peers); free(r->ranges); free(r->first);
    job_free(r->own);
    free(r);
}

int stripe_read_start(stripe_reading **out, stripe_server *s, const char *src_dir, const char *staging_root, const int *peers,
                      int n_peers, uint64_t align, memprof_error *err) {
    static int32_t next_job = 0;
    *out = NULL;
    if (s->reading) return error_set(err, MEMPROF_ERR, "a striped read is already under way on this rank");
    stripe_reading *r = calloc(1, sizeof *r);
    if (!r) return error_set(err, MEMPROF_ERR_NOMEM, "out of memory");
    r->server = s;
    r->t0 = clock_seconds();
    r->parts = n_peers + 1;
    const char *slash = strrchr(src_dir, '/');
    const char *name = slash && slash[1] ? slash + 1 : src_dir;
    // Numbered: checkpoint folders may share their last name (…/step1000/hf, …/step2000/hf).
    r->job = next_job++;
    int wrote = snprintf(r->out_dir, sizeof r->out_dir, "%s/%s.striped%d.to-%d", staging_root, name, (int)r->job, s->rank);
    if (wrote < 0 || (size_t)wrote >= sizeof r->out_dir || strlen(src_dir) >= sizeof r->src_dir) {
        free(r);
        return error_set(err, MEMPROF_ERR, "%s: path too long for a striped read", src_dir);
    }
    snprintf(r->src_dir, sizeof r->src_dir, "%s", src_dir);
    stripe_file *files = NULL;
    int n = 0;
    int rc = list_folder(&files, &n, src_dir, err);
    int created = 0;
    if (!rc) { rc = create_staged(r->out_dir, staging_root, files, n, err); created = 1; }
    uint64_t total = 0;
    for (int k = 0; k < n; k++) total += files[k].size;
    // 1 MiB boundaries, or pages when the folder is too small to give every rank a MiB.
    if (align == 0) align = total >= (uint64_t)r->parts * DEFAULT_ALIGN ? DEFAULT_ALIGN : SMALL_ALIGN;
    if (!rc && stripe_plan(&r->ranges, &r->first, files, n, r->parts, align) < 0) rc = error_set(err, MEMPROF_ERR_NOMEM, "out of memory");
    free(files);
    if (!rc) {
        r->own = calloc(1, sizeof *r->own);
        r->state = calloc((size_t)r->parts, sizeof *r->state);
        r->reply_of = calloc((size_t)r->parts, sizeof *r->reply_of);
        r->hashes_of = calloc((size_t)r->parts, sizeof *r->hashes_of);
        r->peers = malloc((size_t)r->parts * sizeof *r->peers);
        if (!r->own || !r->state || !r->reply_of || !r->hashes_of || !r->peers) rc = error_set(err, MEMPROF_ERR_NOMEM, "out of memory");
    }
    if (!rc) {
        r->own->ranges = malloc((size_t)(r->first[1] - r->first[0] + 1) * sizeof *r->own->ranges);
        r->own->hashes = calloc((size_t)(r->first[1] - r->first[0] + 1), sizeof *r->own->hashes);
        if (!r->own->ranges || !r->own->hashes) rc = error_set(err, MEMPROF_ERR_NOMEM, "out of memory");
    }
    if (rc) {
        if (created) weights_remove_staged(r->out_dir);
        reading_free(r);
        return rc;
    }
    if (n_peers) memcpy(r->peers, peers, (size_t)n_peers * sizeof *peers);
    r->stats.bytes = total;

    // Requests first (peers start copying), then our own stripe, first in our queue.
    r->stats.ranks = 1;
    for (int p = 1; p < r->parts; p++) {
        int count = r->first[p + 1] - r->first[p];
        if (count == 0) continue;
        size_t bytes = sizeof(stripe_request_header) + (size_t)count * sizeof(stripe_range);
        uint8_t *msg = calloc(1, bytes);
        if (!msg) continue;  // this part is copied here instead
        stripe_request_header *h = (stripe_request_header *)msg;
        h->job = r->job; h->count = count;
        snprintf(h->src_dir, sizeof h->src_dir, "%s", r->src_dir);
        snprintf(h->dst_dir, sizeof h->dst_dir, "%s", r->out_dir);
        memcpy(msg + sizeof *h, &r->ranges[r->first[p]], (size_t)count * sizeof(stripe_range));
        track_send(s, msg, (int)bytes, r->peers[p - 1], TAG_STRIPE_REQUEST);
        r->state[p] = 1;
        r->outstanding++;
        r->stats.ranks++;
    }
    stripe_job *own = r->own;
    own->requester = s->rank; own->id = r->job; own->count = r->first[1] - r->first[0];
    snprintf(own->src_dir, sizeof own->src_dir, "%s", r->src_dir);
    snprintf(own->dst_dir, sizeof own->dst_dir, "%s", r->out_dir);
    if (own->count) memcpy(own->ranges, &r->ranges[r->first[0]], (size_t)own->count * sizeof *own->ranges);
    own->next = s->queue;
    s->queue = own;
    s->reading = r;
    start_next(s);  // our own stripe starts now if the I/O thread is free
    *out = r;
    return MEMPROF_OK;
}

// Takes the replies waiting now.
static void receive_replies(stripe_reading *r) {
    stripe_server *s = r->server;
    for (;;) {
        int flag = 0, bytes = 0;
        MPI_Status st;
        MPI_Iprobe(MPI_ANY_SOURCE, TAG_STRIPE_DONE, s->comm, &flag, &st);
        if (!flag) return;
        MPI_Get_count(&st, MPI_BYTE, &bytes);
        uint8_t *msg = malloc(bytes > 0 ? (size_t)bytes : 1);
        stripe_done_header scratch;
        MPI_Recv(msg ? (void *)msg : (void *)&scratch, msg ? bytes : (int)sizeof scratch, MPI_BYTE, st.MPI_SOURCE, TAG_STRIPE_DONE, s->comm,
                 MPI_STATUS_IGNORE);
        int p = 0;
        for (int q = 1; q < r->parts; q++) if (r->peers[q - 1] == st.MPI_SOURCE && r->state[q] == 1) p = q;
        if (p == 0) { free(msg); continue; }  // not ours (cannot happen: one striped read at a time)
        r->state[p] = 2;
        r->outstanding--;
        const stripe_done_header *h = msg ? (const stripe_done_header *)msg : NULL;
        if (h && (size_t)bytes >= sizeof *h && h->job == r->job && h->count == r->first[p + 1] - r->first[p] &&
            (size_t)bytes == sizeof *h + (size_t)h->count * sizeof(uint64_t)) {
            r->reply_of[p] = *h;
            r->reply_of[p].reason[REASON_BYTES - 1] = '\0';
            r->hashes_of[p] = malloc((size_t)(h->count + 1) * sizeof(uint64_t));
            if (r->hashes_of[p] && h->count) memcpy(r->hashes_of[p], msg + sizeof *h, (size_t)h->count * sizeof(uint64_t));
            if (!r->hashes_of[p]) { r->reply_of[p].status = -1; snprintf(r->reply_of[p].reason, REASON_BYTES, "out of memory for its reply"); }
        } else {
            r->reply_of[p].status = -1;
            snprintf(r->reply_of[p].reason, REASON_BYTES, "malformed reply");
        }
        free(msg);
    }
}

int stripe_read_ready(stripe_reading *r) {
    stripe_server *s = r->server;
    if (s->reading != r) return 1;
    stripe_server_poll(s);
    receive_replies(r);
    if (r->outstanding > 0 || !r->own->done) return 0;
    s->reading = NULL;  // the server no longer touches it: stripe_read_finish may run on any thread
    return 1;
}

int stripe_read_finish(stripe_reading *r, char *out_dir, size_t out_size, stripe_stats *stats, memprof_error *err) {
    int rc = 0;
    uint8_t *buffer = malloc(COPY_BUFFER);
    if (!buffer) rc = error_set(err, MEMPROF_ERR_NOMEM, "out of memory for a copy buffer");
    // Verify: every peer's range re-hashed from the staged file; what failed is copied here.
    for (int p = 0; p < r->parts && !rc; p++) {
        for (int k = r->first[p]; k < r->first[p + 1] && !rc; k++) {
            const stripe_range *range = &r->ranges[k];
            char why[REASON_BYTES] = "";
            if (p == 0) {
                if (!r->own->status) continue;  // written by this rank's thread, every write checked
                snprintf(why, sizeof why, "%s", r->own->reason);
            } else if (r->state[p] != 2) {
                snprintf(why, sizeof why, "not asked (out of memory)");
            } else if (r->reply_of[p].status) {
                snprintf(why, sizeof why, "%s", r->reply_of[p].reason[0] ? r->reply_of[p].reason : "failed");
            } else {
                uint64_t h = 0;
                if (hash_range(r->out_dir, range, &h, buffer) == 0 && h == r->hashes_of[p][k - r->first[p]]) continue;
                snprintf(why, sizeof why, "the staged bytes do not match the xxh64 it reported");
            }
            log_warn("striped read of %s: rank %d's range of %s [%llu, +%llu): %s; copying it here", r->src_dir,
                     p == 0 ? r->server->rank : r->peers[p - 1], range->name, (unsigned long long)range->offset,
                     (unsigned long long)range->length, why);
            uint64_t h;
            char reason[REASON_BYTES] = "";
            if (copy_range(r->src_dir, r->out_dir, range, &h, buffer, 0, reason, sizeof reason) != 0) rc = error_set(err, MEMPROF_ERR, "%s", reason);
            r->stats.ranges_recopied++;
            r->stats.bytes_recopied += range->length;
        }
    }
    free(buffer);
    if (rc) weights_remove_staged(r->out_dir);
    else snprintf(out_dir, out_size, "%s", r->out_dir);
    r->stats.seconds = clock_seconds() - r->t0;
    if (stats) *stats = r->stats;
    reading_free(r);
    return rc;
}

int stripe_read(char *out_dir, size_t out_size, stripe_server *s, const char *src_dir, const char *staging_root,
                const int *peers, int n_peers, uint64_t align, void (*serve)(void *ctx), void *ctx, stripe_stats *stats,
                memprof_error *err) {
    memset(stats, 0, sizeof *stats);
    stripe_reading *r = NULL;
    int rc = stripe_read_start(&r, s, src_dir, staging_root, peers, n_peers, align, err);
    if (rc) return rc;
    while (!stripe_read_ready(r)) {  // serving peers meanwhile
        if (serve) serve(ctx);
        struct timespec ts = {0, 100000};
        nanosleep(&ts, NULL);
    }
    return stripe_read_finish(r, out_dir, out_size, stats, err);
}
