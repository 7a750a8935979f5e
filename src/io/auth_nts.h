/*
 * auth_nts: NTS (RFC 8915) on the NTP path, as an authentication strategy
 * (core/auth.h); on the server side its context is the cookie keys (io/nts_keys).
 *
 * Owns: judging a request that carries a Unique Identifier and an NTS Cookie
 * (cookie opened, Authenticator checked under its C2S key), and sealing its
 * reply: the Unique Identifier, then an Authenticator whose encrypted part
 * holds fresh cookies, as many as the request's cookie and placeholders made
 * room for within `cap`. A request whose cookie or authenticator fails gets
 * an NTS NAK (Kiss-o'-Death NTSN with the Unique Identifier) so the client
 * goes back to NTS-KE; a malformed one gets nothing. It lives in io/, not
 * core/, because it calls the AEAD; the parsing it relies on is core/nts.
 */
#ifndef HORLOGE_AUTH_NTS_H
#define HORLOGE_AUTH_NTS_H

#include "core/auth.h"

/*
 * Both sides in one table, as auth.h lays out: in a server's auth_set its ctx
 * is the server's struct nts_keys (check_request, seal_reply); as a source's
 * authenticator its ctx is that source's struct nts_client (build_request,
 * check_reply: io/nts_client).
 */
extern const struct auth_ops auth_nts;

#endif
