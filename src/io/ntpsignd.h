/*
 * ntpsignd: the client of Samba's ntp_signd socket, which signs MS-SNTP
 * replies with a domain account's password (core/auth_mssntp.h has the
 * protocol).
 *
 * Owns: a bounded queue of replies waiting to be signed, the one stream
 * connection to DIR/socket, and the counters of what became of each reply.
 * Serving threads (or, under `threads 0`, the loop itself) hand a reply over
 * with ntpsignd_submit(): a mutex held for a copy, never a wait on the
 * signer; when the queue is full the reply is dropped and counted. They wake
 * the loop with a datagram on a loopback socket connected to itself (no
 * pipe: the simulator must be able to drive the loop, see io/loop.h). In the
 * loop, the module writes sign requests as the socket takes them, reads the
 * answers, sends each signed reply from the serving socket the request came
 * in on, and drops (counting them) replies the signer refused, could not be
 * reached for, or did not answer within NTPSIGND_TIMEOUT. A signer that never
 * answers therefore costs only queue slots, never serving time.
 */
#ifndef HORLOGE_NTPSIGND_H
#define HORLOGE_NTPSIGND_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "io/loop.h"

/* Replies waiting for the signer at once; more are dropped (Samba answers in well under 1 ms). */
#define NTPSIGND_QUEUE_MAX 256
/* A reply not signed by then is dropped: the client has long since given up on it. */
#define NTPSIGND_TIMEOUT 1.0
/* Between attempts to reach a signer that is not there. */
#define NTPSIGND_RETRY 0.5

struct ntpsignd_counters {
    uint64_t queued;      /* replies handed to the queue */
    uint64_t signed_ok;   /* signed and sent */
    uint64_t failed;      /* SIGNING_FAILURE, a garbled answer, or the connection lost with it */
    uint64_t timeouts;    /* not answered within NTPSIGND_TIMEOUT */
    uint64_t queue_full;  /* dropped: NTPSIGND_QUEUE_MAX already waiting */
    uint64_t unavailable; /* dropped: the signer's socket could not be reached */
};

struct ntpsignd;

/* Registers with the loop; the socket is DIR/socket, connected when first needed. NULL on failure (logged). */
struct ntpsignd *ntpsignd_open(const char *dir, struct loop *loop);
/*
 * Queues the 48-byte `reply` to be signed for the account whose key id came
 * as `key_id` (its 4 bytes, as in the request), and sent on `fd` to `to`.
 * Any thread; never blocks. False when dropped (counted).
 */
bool ntpsignd_submit(struct ntpsignd *s, int fd, const struct sockaddr_storage *to, socklen_t tolen,
                     const uint8_t *reply, const uint8_t key_id[4]);
void ntpsignd_get_counters(struct ntpsignd *s, struct ntpsignd_counters *out);
/* Unregisters, closes the sockets; replies still waiting are dropped. NULL is fine. */
void ntpsignd_close(struct ntpsignd *s);

#endif
