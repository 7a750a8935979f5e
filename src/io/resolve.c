/* resolve: numeric addresses at once, names in a detached worker thread; see resolve.h. */
#include "io/resolve.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

struct resolve_job {
    pthread_mutex_t lock;
    int refs;        /* the caller's hold, plus the worker's while it runs */
    bool done;
    char host[RESOLVE_HOST_MAX];
    uint16_t port;
    unsigned max_addrs;
    struct resolve_result result;
};

const char *resolve_error_text(int error)
{
    return error == 0 ? "ok" : gai_strerror(error);
}

static void set_port(struct resolve_addr *a, uint16_t port)
{
    if (a->sa.ss_family == AF_INET)
        ((struct sockaddr_in *)&a->sa)->sin_port = htons(port);
    else
        ((struct sockaddr_in6 *)&a->sa)->sin6_port = htons(port);
}

static bool already_listed(const struct resolve_result *r, const struct resolve_addr *a)
{
    for (unsigned i = 0; i < r->n; i++)
        if (r->addrs[i].len == a->len && memcmp(&r->addrs[i].sa, &a->sa, a->len) == 0)
            return true;
    return false;
}

static void collect(const struct addrinfo *list, uint16_t port, unsigned max_addrs,
                    struct resolve_result *out)
{
    for (const struct addrinfo *ai = list; ai && out->n < max_addrs; ai = ai->ai_next) {
        if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
            ai->ai_addrlen > sizeof(struct sockaddr_storage))
            continue;
        struct resolve_addr a;
        memset(&a, 0, sizeof a);
        memcpy(&a.sa, ai->ai_addr, ai->ai_addrlen);
        a.len = ai->ai_addrlen;
        set_port(&a, port);
        if (!already_listed(out, &a))
            out->addrs[out->n++] = a;
    }
}

static int lookup(const char *host, uint16_t port, unsigned max_addrs, int flags,
                  struct resolve_result *out)
{
    memset(out, 0, sizeof *out);
    if (max_addrs == 0 || max_addrs > RESOLVE_MAX_ADDRS)
        max_addrs = RESOLVE_MAX_ADDRS;
    struct addrinfo hints, *list = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_flags = flags;
    int err = host[0] ? getaddrinfo(host, NULL, &hints, &list) : EAI_NONAME;
    if (err == 0) {
        collect(list, port, max_addrs, out);
        freeaddrinfo(list);
        if (out->n == 0)
            err = EAI_NONAME;
    }
    out->error = err;
    return err;
}

int resolve_numeric(const char *host, uint16_t port, unsigned max_addrs, struct resolve_result *out)
{
    return lookup(host, port, max_addrs, AI_NUMERICHOST, out);
}

static void job_unref(struct resolve_job *job)
{
    pthread_mutex_lock(&job->lock);
    bool last = --job->refs == 0;
    pthread_mutex_unlock(&job->lock);
    if (last) {
        pthread_mutex_destroy(&job->lock);
        free(job);
    }
}

static void *worker(void *arg)
{
    struct resolve_job *job = arg;
    struct resolve_result r;
    lookup(job->host, job->port, job->max_addrs, 0, &r);
    pthread_mutex_lock(&job->lock);
    job->result = r;
    job->done = true;
    pthread_mutex_unlock(&job->lock);
    job_unref(job);
    return NULL;
}

/* The worker blocks every signal, so the daemon's handlers only ever run in its loop thread. */
static int spawn_worker(struct resolve_job *job)
{
    pthread_attr_t attr;
    int err = pthread_attr_init(&attr);
    if (err)
        return err;
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    sigset_t all, saved;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &saved);
    pthread_t tid;
    err = pthread_create(&tid, &attr, worker, job);
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
    pthread_attr_destroy(&attr);
    return err;
}

static struct resolve_job *job_new(const char *host, uint16_t port, unsigned max_addrs)
{
    struct resolve_job *job = calloc(1, sizeof *job);
    if (!job)
        return NULL;
    int err = pthread_mutex_init(&job->lock, NULL);
    if (err) {
        free(job);
        errno = err;
        return NULL;
    }
    job->refs = 1;
    job->port = port;
    job->max_addrs = max_addrs;
    size_t len = strlen(host);
    if (len >= sizeof job->host) {
        job->done = true;
        job->result.error = EAI_NONAME;
    } else {
        memcpy(job->host, host, len + 1);
    }
    return job;
}

struct resolve_job *resolve_start(const char *host, uint16_t port, unsigned max_addrs)
{
    struct resolve_job *job = job_new(host, port, max_addrs);
    if (!job || job->done)
        return job;
    if (resolve_numeric(host, port, max_addrs, &job->result) != EAI_NONAME || host[0] == '\0') {
        job->done = true;
        return job;
    }
    job->refs = 2;
    int err = spawn_worker(job);
    if (err) {
        pthread_mutex_destroy(&job->lock);
        free(job);
        errno = err;
        return NULL;
    }
    return job;
}

enum resolve_state resolve_poll(struct resolve_job *job, struct resolve_result *out)
{
    pthread_mutex_lock(&job->lock);
    bool done = job->done;
    if (done)
        *out = job->result;
    pthread_mutex_unlock(&job->lock);
    return done ? RESOLVE_DONE : RESOLVE_PENDING;
}

void resolve_release(struct resolve_job *job)
{
    if (job)
        job_unref(job);
}

void resolve_to_net_addr(const struct resolve_addr *a, struct net_addr *out)
{
    memset(out, 0, sizeof *out);
    if (a->sa.ss_family == AF_INET) {
        out->family = NET_IPV4;
        memcpy(out->bytes, &((const struct sockaddr_in *)&a->sa)->sin_addr, 4);
    } else if (a->sa.ss_family == AF_INET6) {
        out->family = NET_IPV6;
        memcpy(out->bytes, &((const struct sockaddr_in6 *)&a->sa)->sin6_addr, 16);
    }
}
