/*
 * udpecho: the floor for bench/serve.sh, the least work a UDP NTP responder can do and still send
 * a reply ntpload counts valid. Loopback only.
 *
 * Owns: one socket, one thread. It blocks in recvmmsg() for a batch, reads CLOCK_REALTIME once,
 * turns each client-mode request of at least 48 bytes into a 48-byte mode-4 reply in place
 * (stratum 1, the request's transmit timestamp as origin, the clock reading as receive and
 * transmit timestamps), and sends the batch back with sendmmsg(). No access control, rate
 * limiting, kernel timestamps or statistics: horloged's CPU per reply is compared to this.
 * It exits on SIGINT/SIGTERM or after -t seconds, printing how many requests it answered.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* recvmmsg, sendmmsg */
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define NTP_HEADER_LEN 48
#define NTP_UNIX_EPOCH_DIFF 2208988800u
#define MAX_BATCH 256
#define REQUEST_BUF_LEN 1024

static volatile sig_atomic_t stop_requested;

struct echo_batch {
    unsigned char buf[MAX_BATCH][REQUEST_BUF_LEN];
    struct sockaddr_storage peer[MAX_BATCH];
    struct iovec in_iov[MAX_BATCH], out_iov[MAX_BATCH];
    struct mmsghdr in[MAX_BATCH], out[MAX_BATCH];
};

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static long parse_long(const char *text, char option, long min, long max)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < min || v > max) {
        fprintf(stderr, "udpecho: -%c %s: not an integer in [%ld, %ld]\n", option, text, min, max);
        exit(2);
    }
    return v;
}

/* Binds the serving socket, refusing any address that is not loopback. */
static int open_socket(const char *addr, int port)
{
    struct sockaddr_storage ss = {0};
    struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
    socklen_t len = 0;
    if (inet_pton(AF_INET, addr, &v4->sin_addr) == 1 && (ntohl(v4->sin_addr.s_addr) >> 24) == 127) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        len = sizeof *v4;
    } else if (inet_pton(AF_INET6, addr, &v6->sin6_addr) == 1 && IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr)) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        len = sizeof *v6;
    } else {
        fprintf(stderr, "udpecho: -a %s: only a loopback address (127.0.0.0/8 or ::1) may be served\n",
                addr);
        exit(2);
    }
    int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&ss, len) != 0) {
        fprintf(stderr, "udpecho: bind %s port %d: %s\n", addr, port, strerror(errno));
        exit(1);
    }
    return fd;
}

static void init_batch(struct echo_batch *b)
{
    for (int i = 0; i < MAX_BATCH; i++) {
        b->in_iov[i] = (struct iovec){.iov_base = b->buf[i], .iov_len = REQUEST_BUF_LEN};
        b->in[i].msg_hdr = (struct msghdr){.msg_iov = &b->in_iov[i], .msg_iovlen = 1,
                                           .msg_name = &b->peer[i]};
        b->out_iov[i] = (struct iovec){.iov_len = NTP_HEADER_LEN};
        b->out[i].msg_hdr = (struct msghdr){.msg_iov = &b->out_iov[i], .msg_iovlen = 1};
    }
}

/* The NTP timestamp of now, big-endian. */
static void ntp_now(unsigned char out[8])
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t seconds = (uint64_t)ts.tv_sec + NTP_UNIX_EPOCH_DIFF;
    uint64_t fraction = ((uint64_t)ts.tv_nsec << 32) / 1000000000u;
    uint64_t v = (seconds << 32) | (fraction & 0xffffffffu);
    for (int i = 7; i >= 0; i--, v >>= 8)
        out[i] = (unsigned char)v;
}

/* Rewrites a client request into its reply in place. */
static void make_reply(unsigned char *p, const unsigned char now[8])
{
    memcpy(p + 24, p + 40, 8); /* origin = the client's transmit timestamp */
    p[0] = 0 << 6 | 4 << 3 | 4; /* LI 0, VN 4, server */
    p[1] = 1;                   /* stratum */
    p[3] = (unsigned char)-20;  /* precision */
    memset(p + 4, 0, 8);        /* root delay and dispersion */
    memcpy(p + 12, "FLOR", 4);  /* reference ID */
    memcpy(p + 16, now, 8);     /* reference time */
    memcpy(p + 32, now, 8);     /* receive */
    memcpy(p + 40, now, 8);     /* transmit */
}

/* Answers one received batch; returns the replies sent. */
static int answer(int fd, struct echo_batch *b, int received)
{
    unsigned char now[8];
    ntp_now(now);
    int count = 0;
    for (int i = 0; i < received; i++) {
        if (b->in[i].msg_len < NTP_HEADER_LEN || (b->buf[i][0] & 7) != 3)
            continue; /* not a client request: no reply, so two responders never ping-pong */
        make_reply(b->buf[i], now);
        b->out_iov[count].iov_base = b->buf[i];
        b->out[count].msg_hdr.msg_name = &b->peer[i];
        b->out[count].msg_hdr.msg_namelen = b->in[i].msg_hdr.msg_namelen;
        count++;
    }
    int sent = 0;
    while (sent < count) {
        int n = sendmmsg(fd, b->out + sent, (unsigned)(count - sent), 0);
        if (n <= 0)
            break; /* a full send buffer drops the rest, as any UDP server would */
        sent += n;
    }
    return sent;
}

int main(int argc, char **argv)
{
    const char *addr = "127.0.0.1";
    int port = 11200, batch = 64, c;
    long lifetime_s = 3600;
    while ((c = getopt(argc, argv, "a:p:b:t:")) != -1) {
        switch (c) {
        case 'a': addr = optarg; break;
        case 'p': port = (int)parse_long(optarg, 'p', 1, 65535); break;
        case 'b': batch = (int)parse_long(optarg, 'b', 1, MAX_BATCH); break;
        case 't': lifetime_s = parse_long(optarg, 't', 1, 86400); break;
        default:
            fprintf(stderr, "usage: udpecho [-a ADDR] [-p PORT] [-b BATCH] [-t MAX_SECONDS]\n");
            return 2;
        }
    }
    int fd = open_socket(addr, port);
    static struct echo_batch b;
    init_batch(&b);
    /* No SA_RESTART: a signal interrupts the blocking recvmmsg() so the loop sees the flag. */
    struct sigaction sa = {.sa_handler = on_stop_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGALRM, &sa, NULL);
    alarm((unsigned)lifetime_s);

    unsigned long long requests = 0, replies = 0;
    while (!stop_requested) {
        for (int i = 0; i < batch; i++)
            b.in[i].msg_hdr.msg_namelen = sizeof b.peer[i];
        int n = recvmmsg(fd, b.in, (unsigned)batch, MSG_WAITFORONE, NULL);
        if (n < 0 && errno != EINTR) {
            perror("udpecho: recvmmsg");
            return 1;
        }
        if (n <= 0)
            continue;
        requests += (unsigned long long)n;
        replies += (unsigned long long)answer(fd, &b, n);
    }
    fprintf(stderr, "udpecho: %llu requests, %llu replies\n", requests, replies);
    close(fd);
    return 0;
}
