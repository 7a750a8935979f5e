/* query: one-shot NTP client for the CLI; see query.h. */
#include "cli/query.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "io/kvdoc.h"
#include "core/packet.h"
#include "core/responder.h"
#include "io/netutil.h"
#include "io/sockio.h"

struct query_sample {
    struct ntp_header hdr;
    double offset;
    double delay;
    bool kod;
};

/* Splits HOST[:PORT] and [V6]:PORT; a bare IPv6 literal has several colons and no port. */
static int split_target(const char *target, char *host, size_t cap, char *port, size_t pcap)
{
    snprintf(port, pcap, "123");
    if (target[0] == '[') {
        const char *end = strchr(target, ']');
        if (!end || (size_t)(end - target - 1) >= cap)
            return -1;
        memcpy(host, target + 1, (size_t)(end - target - 1));
        host[end - target - 1] = '\0';
        if (end[1] == ':')
            snprintf(port, pcap, "%s", end + 2);
        else if (end[1] != '\0')
            return -1;
        return 0;
    }
    const char *colon = strchr(target, ':');
    if (colon && !strchr(colon + 1, ':')) {
        if ((size_t)(colon - target) >= cap)
            return -1;
        memcpy(host, target, (size_t)(colon - target));
        host[colon - target] = '\0';
        snprintf(port, pcap, "%s", colon + 1);
        return 0;
    }
    if (strlen(target) >= cap)
        return -1;
    snprintf(host, cap, "%s", target);
    return 0;
}

static int open_target(const char *target, struct sockaddr_storage *ss, socklen_t *len, char *shown, size_t scap)
{
    char host[256], port[16];
    if (split_target(target, host, sizeof host, port, sizeof port) < 0) {
        fprintf(stderr, "horloge query: '%s' is not HOST, HOST:PORT or [IPV6]:PORT\n", target);
        return -1;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM}, *res;
    int err = getaddrinfo(host, port, &hints, &res);
    if (err) {
        fprintf(stderr, "horloge query: %s: %s\n", target, gai_strerror(err));
        return -1;
    }
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    char h[64], p[16];
    getnameinfo(res->ai_addr, res->ai_addrlen, h, sizeof h, p, sizeof p, NI_NUMERICHOST | NI_NUMERICSERV);
    snprintf(shown, scap, res->ai_family == AF_INET6 ? "[%s]:%s" : "%s:%s", h, p);
    int fd = socket(res->ai_family, SOCK_DGRAM, 0);
    freeaddrinfo(res);
    if (fd < 0)
        fprintf(stderr, "horloge query: socket: %s\n", strerror(errno));
    return fd;
}

/* One exchange. The transmit timestamp is random (it only has to come back as the origin). */
static int exchange(int fd, const struct sockaddr_storage *ss, socklen_t len, double timeout,
                    struct query_sample *out)
{
    uint8_t req[NTP_HEADER_LEN] = {0}, rep[NTP_MAX_PACKET_LEN];
    struct ntp_header h = {.leap = NTP_LEAP_UNSYNC, .version = 4, .mode = NTP_MODE_CLIENT, .poll = 6};
    h.transmit = sockio_random64();
    pkt_encode_header(&h, req);
    ntp_ts t1 = sockio_realtime_ntp();
    if (sendto(fd, req, sizeof req, 0, (const struct sockaddr *)ss, len) < 0) {
        fprintf(stderr, "horloge query: send: %s\n", strerror(errno));
        return -1;
    }
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        double left = timeout - ((double)(now.tv_sec - start.tv_sec) + (now.tv_nsec - start.tv_nsec) * 1e-9);
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (left <= 0 || poll(&p, 1, (int)(left * 1000) + 1) <= 0)
            return 1;
        ssize_t n = recv(fd, rep, sizeof rep, 0);
        ntp_ts t4 = sockio_realtime_ntp();
        if (n < 0)
            return 1;
        if (pkt_decode(rep, (size_t)n, &out->hdr, NULL) != PKT_OK || out->hdr.origin != h.transmit)
            continue; /* not an answer to this request */
        out->kod = out->hdr.stratum == 0 && out->hdr.leap == NTP_LEAP_UNSYNC && out->hdr.refid != 0;
        double t21 = ntp_diff_sec(out->hdr.receive, t1), t34 = ntp_diff_sec(out->hdr.transmit, t4);
        out->offset = (t21 + t34) / 2;
        out->delay = ntp_diff_sec(t4, t1) - ntp_diff_sec(out->hdr.transmit, out->hdr.receive);
        return 0;
    }
}

static void print_sample(const char *server, const struct query_sample *s, bool json)
{
    char refid[32];
    netaddr_format_refid(s->hdr.refid, s->hdr.stratum, refid, sizeof refid);
    double rd = ntp_short_to_sec(s->hdr.root_delay), rdisp = ntp_short_to_sec(s->hdr.root_dispersion);
    time_t now = time(NULL);
    struct tm tm;
    char when[16];
    gmtime_r(&now, &tm);
    strftime(when, sizeof when, "%H:%M:%S", &tm);
    if (json) {
        printf("{\"server\": ");
        json_print_string(server, stdout);
        printf(", \"time\": \"%s\", \"version\": %u, \"mode\": %u, \"leap\": %u, \"stratum\": %u, "
               "\"reference_id\": \"%s\", \"precision\": %d, \"poll\": %d, \"offset\": %.9f, \"delay\": %.9f, "
               "\"root_delay\": %.6f, \"root_dispersion\": %.6f, \"kod\": %s}\n",
               when, s->hdr.version, s->hdr.mode, s->hdr.leap, s->hdr.stratum, refid, s->hdr.precision,
               s->hdr.poll, s->offset, s->delay, rd, rdisp, s->kod ? "true" : "false");
        return;
    }
    if (s->kod) {
        printf("%s %s: Kiss-o'-Death %s (the server asks us to %s)\n", when, server, refid,
               strcmp(refid, "RATE") == 0 ? "poll less often" : "stop");
        return;
    }
    printf("%s %s  stratum %u  refid %-15s  offset %+.6f s  delay %.6f s  root delay %.6f s  "
           "root disp %.6f s  leap %u\n",
           when, server, s->hdr.stratum, refid, s->offset, s->delay, rd, rdisp, s->hdr.leap);
}

int query_run(const struct query_options *opt)
{
    struct sockaddr_storage ss;
    socklen_t len;
    char shown[96];
    int fd = open_target(opt->target, &ss, &len, shown, sizeof shown);
    if (fd < 0)
        return 1;
    int received = 0;
    for (int i = 0; i < opt->count; i++) {
        if (i > 0) {
            struct timespec pause = {(time_t)opt->interval,
                                     (long)((opt->interval - (double)(time_t)opt->interval) * 1e9)};
            nanosleep(&pause, NULL);
        }
        struct query_sample s;
        int r = exchange(fd, &ss, len, opt->timeout, &s);
        if (r < 0)
            break;
        if (r > 0) {
            if (opt->json)
                printf("{\"server\": \"%s\", \"error\": \"no reply\"}\n", shown);
            else
                printf("%s: no reply within %.1f s\n", shown, opt->timeout);
            continue;
        }
        received++;
        print_sample(shown, &s, opt->json);
    }
    close(fd);
    return received > 0 ? 0 : 1;
}
