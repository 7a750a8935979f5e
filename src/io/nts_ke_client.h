/*
 * nts_ke_client: the client side of NTS-KE (RFC 8915 §4) — one handshake at a
 * time over a non-blocking socket, so the daemon's loop (or any poll()) drives
 * it without ever blocking on the network.
 *
 * Owns: the TCP connection and TLS session of one handshake (TLS 1.3 only,
 * ALPN ntske/1, the server's certificate checked against `ntstrustedcerts` or
 * the system store and against the server's name or address), the request
 * sent, the response read through core/nts's bounded parser, and the keys
 * exported from the session. nts_ke_fetch() runs a whole handshake with
 * poll() for the CLI and the benchmark.
 */
#ifndef HORLOGE_NTS_KE_CLIENT_H
#define HORLOGE_NTS_KE_CLIENT_H

#include <stdbool.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "core/netaddr.h"
#include "core/nts.h"

enum nts_ke_client_status { NTS_KEC_WANT_READ, NTS_KEC_WANT_WRITE, NTS_KEC_DONE, NTS_KEC_FAILED };

struct nts_ke_client {
    int fd;
    SSL_CTX *tls;
    SSL *ssl;
    bool handshaken;
    size_t out_len, out_pos, in_len;
    uint8_t out[64];
    uint8_t in[NTS_KE_MAX_BODY + 4];
    struct nts_ke_response resp;     /* cookies, server and port offered */
    struct nts_session_keys keys;    /* exported once done */
    char error[320];                 /* why it failed */
};

/*
 * Starts a handshake with `host` (a name or an address, checked against the
 * certificate) at addr:port; `trusted_certs` "" for the system store.
 * 0, or -1 with c->error set (nothing to end then).
 */
int nts_ke_client_begin(struct nts_ke_client *c, const struct net_addr *addr, uint16_t port, const char *host,
                        const char *trusted_certs);
/* Advances it as far as the socket allows: what to wait for next, or the end. */
enum nts_ke_client_status nts_ke_client_step(struct nts_ke_client *c);
/* Closes the connection and frees the TLS state (the response and keys stay). */
void nts_ke_client_end(struct nts_ke_client *c);

/* A whole handshake with `host` (resolved) at port, waiting in poll() at most `timeout` s. 0 or -1 (c->error). */
int nts_ke_fetch(struct nts_ke_client *c, const char *host, uint16_t port, const char *trusted_certs,
                 double timeout);

#endif
