/* ntpsignd: Samba's ntp_signd client, queue and connection; see ntpsignd.h. */
#include "io/ntpsignd.h"

#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/auth_mssntp.h"
#include "core/packet.h"
#include "io/log.h"
#include "io/sockio.h"

/* While replies wait: how often expiry is looked at (and the wake-up's safety net). */
#define PUMP_INTERVAL 0.05

enum job_state { JOB_FREE = 0, JOB_QUEUED, JOB_SENT };

struct sign_job {
    enum job_state state;
    int fd;
    socklen_t tolen;
    struct sockaddr_storage to;
    uint8_t reply[NTP_HEADER_LEN];
    uint8_t key_id[4];
    uint16_t packet_id;
    double deadline;          /* loop seconds; set when the loop first sees the job */
};

struct ntpsignd {
    char path[sizeof ((struct sockaddr_un *)0)->sun_path];
    struct loop *loop;
    /* Shared with the serving threads: the jobs and the counters. */
    pthread_mutex_t lock;
    struct sign_job jobs[NTPSIGND_QUEUE_MAX];
    unsigned n_busy;
    struct ntpsignd_counters counters;
    int wake_fd;              /* loopback UDP socket connected to itself; -1: timer only */
    atomic_bool wake_pending;
    /* The loop's own. */
    int timer;
    int conn_fd;              /* -1: not connected */
    double next_connect;
    uint16_t next_packet_id;
    bool unreachable_logged;
    size_t out_len;
    uint8_t out[NTPSIGND_QUEUE_MAX * MSSNTP_SIGN_REQUEST_LEN];
    size_t in_len;
    uint8_t in[2 * MSSNTP_ANSWER_MAX];
};

static void pump(struct ntpsignd *s);

/* ---- the serving side ---- */

static struct sign_job *free_job(struct ntpsignd *s)
{
    for (unsigned i = 0; i < NTPSIGND_QUEUE_MAX; i++)
        if (s->jobs[i].state == JOB_FREE)
            return &s->jobs[i];
    return NULL;
}

bool ntpsignd_submit(struct ntpsignd *s, int fd, const struct sockaddr_storage *to, socklen_t tolen,
                     const uint8_t *reply, const uint8_t key_id[4])
{
    pthread_mutex_lock(&s->lock);
    struct sign_job *j = s->n_busy < NTPSIGND_QUEUE_MAX ? free_job(s) : NULL;
    if (j) {
        *j = (struct sign_job){.state = JOB_QUEUED, .fd = fd, .tolen = tolen, .to = *to, .deadline = 0};
        memcpy(j->reply, reply, sizeof j->reply);
        memcpy(j->key_id, key_id, sizeof j->key_id);
        s->n_busy++;
        s->counters.queued++;
    } else {
        s->counters.queue_full++;
    }
    pthread_mutex_unlock(&s->lock);
    /* One wake-up datagram until the loop has looked: a burst costs one, not one each. */
    if (j && s->wake_fd >= 0 && !atomic_exchange(&s->wake_pending, true))
        (void)send(s->wake_fd, "", 1, MSG_DONTWAIT);
    return j != NULL;
}

void ntpsignd_get_counters(struct ntpsignd *s, struct ntpsignd_counters *out)
{
    pthread_mutex_lock(&s->lock);
    *out = s->counters;
    pthread_mutex_unlock(&s->lock);
}

/* ---- the connection ---- */

/* Every job in `state` leaves, counted in *counter. Called with the lock held. */
static void drop_jobs(struct ntpsignd *s, enum job_state state, uint64_t *counter)
{
    for (unsigned i = 0; i < NTPSIGND_QUEUE_MAX; i++)
        if (s->jobs[i].state == state) {
            s->jobs[i].state = JOB_FREE;
            s->n_busy--;
            (*counter)++;
        }
}

static void disconnect(struct ntpsignd *s, const char *why)
{
    log_warn("ntpsignd %s: %s; replies in flight dropped", s->path, why);
    loop_unwatch_fd(s->loop, s->conn_fd);
    close(s->conn_fd);
    s->conn_fd = -1;
    s->out_len = s->in_len = 0;
    s->next_connect = loop_now(s->loop) + NTPSIGND_RETRY;
    pthread_mutex_lock(&s->lock);
    drop_jobs(s, JOB_SENT, &s->counters.failed);
    pthread_mutex_unlock(&s->lock);
}

static void on_conn(void *ctx, int fd, short revents);

/* A Unix stream socket connects at once or not at all: no connection in progress to wait for. */
static bool try_connect(struct ntpsignd *s)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    memcpy(sa.sun_path, s->path, sizeof sa.sun_path);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd >= 0 && sockio_set_nonblocking(fd) == 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
        loop_watch_fd(s->loop, fd, POLLIN, on_conn, s) == 0) {
        log_info("ntpsignd %s: connected", s->path);
        s->conn_fd = fd;
        s->unreachable_logged = false;
        return true;
    }
    if (!s->unreachable_logged)
        log_warn("ntpsignd %s: cannot connect (%s); MS-SNTP requests get no reply until it can", s->path,
                 strerror(errno));
    s->unreachable_logged = true;
    if (fd >= 0)
        close(fd);
    s->next_connect = loop_now(s->loop) + NTPSIGND_RETRY;
    return false;
}

/* The signed reply goes out from the serving socket the request came to, as any reply would. */
static void deliver(struct ntpsignd *s, const struct mssntp_answer *a)
{
    struct sign_job done = {0};
    pthread_mutex_lock(&s->lock);
    for (unsigned i = 0; i < NTPSIGND_QUEUE_MAX && done.state == JOB_FREE; i++) {
        struct sign_job *j = &s->jobs[i];
        if (j->state == JOB_SENT && j->packet_id == a->packet_id) {
            done = *j;
            j->state = JOB_FREE;
            s->n_busy--;
        }
    }
    /* The signer must sign what it was given: anything else is not our reply. */
    bool good = done.state == JOB_SENT && a->signed_reply &&
                memcmp(a->signed_reply, done.reply, NTP_HEADER_LEN) == 0;
    if (done.state == JOB_SENT)
        good ? s->counters.signed_ok++ : s->counters.failed++;
    pthread_mutex_unlock(&s->lock);
    if (good && sendto(done.fd, a->signed_reply, MSSNTP_SIGNED_LEN, 0, (struct sockaddr *)&done.to,
                       done.tolen) < 0)
        log_debug("ntpsignd: sending a signed reply: %s", strerror(errno));
}

static void read_answers(struct ntpsignd *s)
{
    ssize_t n = recv(s->conn_fd, s->in + s->in_len, sizeof s->in - s->in_len, 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        disconnect(s, n == 0 ? "the signer closed the connection" : strerror(errno));
        return;
    }
    if (n < 0)
        return;
    s->in_len += (size_t)n;
    size_t used = 0;
    struct mssntp_answer a;
    enum mssntp_parse r;
    while ((r = mssntp_parse_answer(s->in, s->in_len, &a, &used)) == MSSNTP_ANSWER) {
        deliver(s, &a);
        memmove(s->in, s->in + used, s->in_len - used);
        s->in_len -= used;
    }
    if (r == MSSNTP_BAD)
        disconnect(s, "an answer that is not Samba's ntp_signd protocol");
}

static void write_requests(struct ntpsignd *s)
{
    ssize_t n = send(s->conn_fd, s->out, s->out_len, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
        disconnect(s, strerror(errno));
        return;
    }
    if (n > 0) {
        memmove(s->out, s->out + n, s->out_len - (size_t)n);
        s->out_len -= (size_t)n;
    }
}

static void on_conn(void *ctx, int fd, short revents)
{
    (void)fd;
    struct ntpsignd *s = ctx;
    if (revents & (POLLIN | POLLHUP | POLLERR))
        read_answers(s);
    if (s->conn_fd >= 0 && (revents & POLLOUT))
        write_requests(s);
    pump(s);
}

/* ---- the loop's side of the queue ---- */

/* Jobs past their deadline leave; new ones get theirs. Called with the lock held. */
static void expire(struct ntpsignd *s, double now)
{
    for (unsigned i = 0; i < NTPSIGND_QUEUE_MAX; i++) {
        struct sign_job *j = &s->jobs[i];
        if (j->state == JOB_FREE)
            continue;
        if (j->deadline == 0) {
            j->deadline = now + NTPSIGND_TIMEOUT;
        } else if (now >= j->deadline) {
            j->state = JOB_FREE;
            s->n_busy--;
            s->counters.timeouts++;
        }
    }
}

/* Queued jobs become sign requests, as far as the output buffer has room. Called with the lock held. */
static void encode_queued(struct ntpsignd *s)
{
    for (unsigned i = 0; i < NTPSIGND_QUEUE_MAX; i++) {
        struct sign_job *j = &s->jobs[i];
        if (j->state != JOB_QUEUED || sizeof s->out - s->out_len < MSSNTP_SIGN_REQUEST_LEN)
            continue;
        j->packet_id = s->next_packet_id++;
        mssntp_encode_sign_request(j->packet_id, j->key_id, j->reply, s->out + s->out_len);
        s->out_len += MSSNTP_SIGN_REQUEST_LEN;
        j->state = JOB_SENT;
    }
}

static bool any_queued(struct ntpsignd *s)
{
    for (unsigned i = 0; i < NTPSIGND_QUEUE_MAX; i++)
        if (s->jobs[i].state == JOB_QUEUED)
            return true;
    return false;
}

static void pump(struct ntpsignd *s)
{
    double now = loop_now(s->loop);
    pthread_mutex_lock(&s->lock);
    expire(s, now);
    bool want = any_queued(s);
    pthread_mutex_unlock(&s->lock);
    if (want && s->conn_fd < 0 && now >= s->next_connect && !try_connect(s)) {
        pthread_mutex_lock(&s->lock);
        drop_jobs(s, JOB_QUEUED, &s->counters.unavailable);
        pthread_mutex_unlock(&s->lock);
    }
    if (s->conn_fd >= 0) {
        pthread_mutex_lock(&s->lock);
        encode_queued(s);
        pthread_mutex_unlock(&s->lock);
        if (s->out_len)
            write_requests(s);
        if (s->conn_fd >= 0)
            loop_set_events(s->loop, s->conn_fd, s->out_len ? POLLIN | POLLOUT : POLLIN);
    }
    pthread_mutex_lock(&s->lock);
    unsigned busy = s->n_busy;
    pthread_mutex_unlock(&s->lock);
    if (busy || s->wake_fd < 0)
        loop_timer_arm(s->loop, s->timer, PUMP_INTERVAL);
}

static void on_timer(void *ctx)
{
    pump(ctx);
}

/* The flag is cleared before the queue is read, so a reply queued meanwhile sends a new wake-up. */
static void on_wake(void *ctx, int fd, short revents)
{
    (void)revents;
    struct ntpsignd *s = ctx;
    uint8_t buf[16];
    while (recv(fd, buf, sizeof buf, MSG_DONTWAIT) > 0)
        ;
    atomic_store(&s->wake_pending, false);
    pump(s);
}

/* A UDP socket on loopback connected to itself: what the serving threads may write to wake the loop. */
static int open_wake_socket(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0)
        return -1;
    if (sockio_set_nonblocking(fd) < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) < 0 || connect(fd, (struct sockaddr *)&sa, len) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

struct ntpsignd *ntpsignd_open(const char *dir, struct loop *loop)
{
    struct ntpsignd *s = calloc(1, sizeof *s);
    if (!s) {
        log_error("ntpsignd: out of memory");
        return NULL;
    }
    if ((size_t)snprintf(s->path, sizeof s->path, "%s/socket", dir) >= sizeof s->path) {
        log_error("ntpsignd: %s/socket is too long for a socket path", dir);
        free(s);
        return NULL;
    }
    s->loop = loop;
    s->conn_fd = -1;
    pthread_mutex_init(&s->lock, NULL);
    s->timer = loop_timer_new(loop, on_timer, s);
    s->wake_fd = open_wake_socket();
    if (s->wake_fd < 0)
        log_warn("ntpsignd: no loopback wake-up socket (%s); replies wait up to %.0f ms for the loop",
                 strerror(errno), PUMP_INTERVAL * 1e3);
    else if (loop_watch_fd(loop, s->wake_fd, POLLIN, on_wake, s) < 0)
        s->timer = -1; /* reported below as the loop being full */
    if (s->timer < 0) {
        log_error("ntpsignd: the event loop is full");
        ntpsignd_close(s);
        return NULL;
    }
    if (s->wake_fd < 0)
        loop_timer_arm(loop, s->timer, PUMP_INTERVAL);
    log_info("ntpsignd: MS-SNTP requests are signed through %s", s->path);
    return s;
}

void ntpsignd_close(struct ntpsignd *s)
{
    if (!s)
        return;
    if (s->conn_fd >= 0) {
        loop_unwatch_fd(s->loop, s->conn_fd);
        close(s->conn_fd);
    }
    if (s->wake_fd >= 0) {
        loop_unwatch_fd(s->loop, s->wake_fd);
        close(s->wake_fd);
    }
    if (s->timer >= 0)
        loop_timer_free(s->loop, s->timer);
    pthread_mutex_destroy(&s->lock);
    free(s);
}
