/* ntske: the CLI's NTS-KE handshake; see ntske.h. */
#include "cli/ntske.h"

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/packet.h"
#include "io/auth_nts.h"
#include "io/nts_client.h"
#include "io/nts_crypto.h"
#include "io/nts_ke_client.h"

static void print_hex(const char *name, const uint8_t *bytes, size_t len)
{
    printf("%s ", name);
    for (size_t i = 0; i < len; i++)
        printf("%02x", bytes[i]);
    putchar('\n');
}

/* Each cookie spent on a request of its own, as a source would send them. */
static void print_requests(const struct nts_ke_client *ke)
{
    static struct nts_client session;
    nts_client_start_session(&session, &ke->keys, &ke->resp);
    while (!nts_client_needs_ke(&session)) {
        uint8_t pkt[NTP_MAX_PACKET_LEN];
        struct ntp_header h = {.version = 4, .mode = NTP_MODE_CLIENT, .poll = 6};
        if (!nts_random((uint8_t *)&h.transmit, sizeof h.transmit))
            return;
        pkt_encode_header(&h, pkt);
        size_t n = auth_nts.build_request(&session, pkt, NTP_HEADER_LEN, sizeof pkt);
        if (n == 0)
            return;
        print_hex("request", pkt, n);
    }
}

int ntske_run(int argc, char **argv)
{
    const char *host = NULL, *cafile = "";
    bool requests = false;
    long port = NTS_KE_DEFAULT_PORT;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "-p") == 0 && i + 1 < argc) {
            port = strtol(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--requests") == 0) {
            requests = true;
        } else if (strcmp(argv[i], "--cafile") == 0 && i + 1 < argc) {
            cafile = argv[++i];
        } else if (!host && argv[i][0] != '-') {
            host = argv[i];
        } else {
            fprintf(stderr, "horloge ntske: unexpected '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!host || port < 1 || port > 65535) {
        fprintf(stderr, "usage: horloge ntske HOST [-p PORT] [--cafile FILE] [--requests]\n");
        return 2;
    }
    /* A server that drops the connection mid-handshake is an error to report, not a signal to die of. */
    signal(SIGPIPE, SIG_IGN);
    static struct nts_ke_client c;
    if (nts_ke_fetch(&c, host, (uint16_t)port, cafile, 5.0) < 0) {
        fprintf(stderr, "horloge ntske: %s: %s\n", host, c.error);
        return 1;
    }
    print_hex("c2s", c.keys.c2s, sizeof c.keys.c2s);
    print_hex("s2c", c.keys.s2c, sizeof c.keys.s2c);
    printf("server %s\nport %u\n", c.resp.server[0] ? c.resp.server : host, c.resp.port ? c.resp.port : 123);
    for (unsigned i = 0; i < c.resp.n_cookies; i++)
        print_hex("cookie", c.resp.cookies[i], c.resp.cookie_len[i]);
    if (requests)
        print_requests(&c);
    return 0;
}
