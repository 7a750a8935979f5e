/* nts_ke_client: one non-blocking NTS-KE handshake; see nts_ke_client.h. */
#include "io/nts_ke_client.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "io/netutil.h"
#include "io/sockio.h"

static int fail(struct nts_ke_client *c, const char *what)
{
    unsigned long e = ERR_get_error();
    char tls[200] = "";
    if (e)
        ERR_error_string_n(e, tls, sizeof tls);
    snprintf(c->error, sizeof c->error, "%s%s%s", what, e ? ": " : "", tls);
    ERR_clear_error();
    return -1;
}

static SSL_CTX *client_context(const char *trusted_certs)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    static const unsigned char alpn[] = "\x07" NTS_ALPN;
    if (!ctx)
        return NULL;
    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    bool ok = SSL_CTX_set_alpn_protos(ctx, alpn, sizeof alpn - 1) == 0 &&
              (trusted_certs[0] ? SSL_CTX_load_verify_locations(ctx, trusted_certs, NULL)
                                : SSL_CTX_set_default_verify_paths(ctx)) == 1;
    if (!ok) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

/* The certificate must name `host`: as an IP address when it is one, else as a DNS name (also sent as SNI). */
static bool expect_name(SSL *ssl, const char *host)
{
    struct net_addr literal;
    if (netaddr_parse(host, &literal))
        return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) == 1;
    return SSL_set_tlsext_host_name(ssl, host) == 1 && SSL_set1_host(ssl, host) == 1;
}

static bool put_request(struct nts_ke_client *c)
{
    uint8_t proto[2], aead[2];
    store_be16(proto, NTS_PROTOCOL_NTPV4);
    store_be16(aead, NTS_AEAD_SIV_CMAC_256);
    size_t pos = 0;
    bool ok = nts_ke_record_put(c->out, sizeof c->out, &pos, NTS_KE_NEXT_PROTOCOL, true, proto, 2) &&
              nts_ke_record_put(c->out, sizeof c->out, &pos, NTS_KE_AEAD, true, aead, 2) &&
              nts_ke_record_put(c->out, sizeof c->out, &pos, NTS_KE_END, true, NULL, 0);
    c->out_len = pos;
    return ok;
}

int nts_ke_client_begin(struct nts_ke_client *c, const struct net_addr *addr, uint16_t port, const char *host,
                        const char *trusted_certs)
{
    memset(c, 0, sizeof *c);
    nts_ke_response_init(&c->resp);
    c->fd = -1;
    struct sockaddr_storage ss;
    socklen_t len = netaddr_to_sockaddr(addr, port, &ss);
    c->tls = client_context(trusted_certs);
    if (!c->tls || !put_request(c)) {
        fail(c, trusted_certs[0] ? "cannot load the trusted certificates" : "cannot set up TLS");
        nts_ke_client_end(c);
        return -1;
    }
    c->fd = socket(ss.ss_family, SOCK_STREAM, 0);
    if (c->fd < 0 || sockio_set_nonblocking(c->fd) < 0 ||
        (connect(c->fd, (struct sockaddr *)&ss, len) < 0 && errno != EINPROGRESS)) {
        snprintf(c->error, sizeof c->error, "connect to %s: %s", netaddr_format_port(addr, port).text,
                 strerror(errno));
        nts_ke_client_end(c);
        return -1;
    }
    c->ssl = SSL_new(c->tls);
    if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1 || !expect_name(c->ssl, host)) {
        fail(c, "cannot start TLS");
        nts_ke_client_end(c);
        return -1;
    }
    SSL_set_connect_state(c->ssl);
    return 0;
}

static enum nts_ke_client_status would_block(struct nts_ke_client *c, int rc, const char *what)
{
    int err = SSL_get_error(c->ssl, rc);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
        ERR_clear_error();
        return err == SSL_ERROR_WANT_READ ? NTS_KEC_WANT_READ : NTS_KEC_WANT_WRITE;
    }
    long verify = SSL_get_verify_result(c->ssl);
    if (verify != X509_V_OK) {
        snprintf(c->error, sizeof c->error, "%s: certificate not trusted: %s", what,
                 X509_verify_cert_error_string(verify));
        ERR_clear_error();
    } else {
        fail(c, err == SSL_ERROR_ZERO_RETURN || err == SSL_ERROR_SYSCALL ? "connection closed early" : what);
    }
    return NTS_KEC_FAILED;
}

static bool export_keys(struct nts_ke_client *c)
{
    uint8_t context[5];
    store_be16(context, NTS_PROTOCOL_NTPV4);
    store_be16(context + 2, NTS_AEAD_SIV_CMAC_256);
    context[4] = 0;
    bool ok = SSL_export_keying_material(c->ssl, c->keys.c2s, NTS_KEY_LEN, NTS_EXPORTER_LABEL,
                                         sizeof NTS_EXPORTER_LABEL - 1, context, sizeof context, 1) == 1;
    context[4] = 1;
    return ok && SSL_export_keying_material(c->ssl, c->keys.s2c, NTS_KEY_LEN, NTS_EXPORTER_LABEL,
                                            sizeof NTS_EXPORTER_LABEL - 1, context, sizeof context, 1) == 1;
}

static enum nts_ke_client_status read_response(struct nts_ke_client *c)
{
    for (;;) {
        int n = SSL_read(c->ssl, c->in + c->in_len, (int)(sizeof c->in - c->in_len));
        if (n <= 0)
            return would_block(c, n, "reading the response");
        c->in_len += (size_t)n;
        size_t used;
        enum nts_ke_status st = nts_ke_response_feed(&c->resp, c->in, c->in_len, &used);
        memmove(c->in, c->in + used, c->in_len - used);
        c->in_len -= used;
        if (st == NTS_KE_BAD) {
            snprintf(c->error, sizeof c->error, "bad NTS-KE response (error code %u)", c->resp.error);
            return NTS_KEC_FAILED;
        }
        if (st == NTS_KE_DONE) {
            if (export_keys(c))
                return NTS_KEC_DONE;
            fail(c, "cannot export the session keys");
            return NTS_KEC_FAILED;
        }
    }
}

enum nts_ke_client_status nts_ke_client_step(struct nts_ke_client *c)
{
    if (!c->handshaken) {
        int rc = SSL_do_handshake(c->ssl);
        if (rc != 1)
            return would_block(c, rc, "TLS handshake");
        const unsigned char *proto;
        unsigned proto_len;
        SSL_get0_alpn_selected(c->ssl, &proto, &proto_len);
        if (proto_len != sizeof NTS_ALPN - 1 || memcmp(proto, NTS_ALPN, proto_len) != 0) {
            snprintf(c->error, sizeof c->error, "the server did not agree to ALPN %s", NTS_ALPN);
            return NTS_KEC_FAILED;
        }
        c->handshaken = true;
    }
    while (c->out_pos < c->out_len) {
        int n = SSL_write(c->ssl, c->out + c->out_pos, (int)(c->out_len - c->out_pos));
        if (n <= 0)
            return would_block(c, n, "sending the request");
        c->out_pos += (size_t)n;
    }
    return read_response(c);
}

void nts_ke_client_end(struct nts_ke_client *c)
{
    if (c->ssl)
        SSL_free(c->ssl);
    if (c->tls)
        SSL_CTX_free(c->tls);
    if (c->fd >= 0)
        close(c->fd);
    c->ssl = NULL;
    c->tls = NULL;
    c->fd = -1;
}

static bool resolve(const char *host, struct net_addr *out)
{
    if (netaddr_parse(host, out))
        return true;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    if (getaddrinfo(host, NULL, &hints, &res) != 0 || !res)
        return false;
    struct sockaddr_storage ss = {0};
    memcpy(&ss, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    return netaddr_from_sockaddr(&ss, out);
}

int nts_ke_fetch(struct nts_ke_client *c, const char *host, uint16_t port, const char *trusted_certs,
                 double timeout)
{
    struct net_addr addr;
    if (!resolve(host, &addr)) {
        memset(c, 0, sizeof *c);
        snprintf(c->error, sizeof c->error, "cannot resolve %s", host);
        return -1;
    }
    if (nts_ke_client_begin(c, &addr, port, host, trusted_certs) < 0)
        return -1;
    double deadline = (double)sockio_monotonic_ns() * 1e-9 + timeout;
    enum nts_ke_client_status st;
    while ((st = nts_ke_client_step(c)) == NTS_KEC_WANT_READ || st == NTS_KEC_WANT_WRITE) {
        double left = deadline - (double)sockio_monotonic_ns() * 1e-9;
        struct pollfd p = {.fd = c->fd, .events = st == NTS_KEC_WANT_READ ? POLLIN : POLLOUT};
        if (left <= 0 || poll(&p, 1, (int)(left * 1000) + 1) <= 0) {
            snprintf(c->error, sizeof c->error, "no answer within %.1f s", timeout);
            st = NTS_KEC_FAILED;
            break;
        }
    }
    nts_ke_client_end(c);
    return st == NTS_KEC_DONE ? 0 : -1;
}
