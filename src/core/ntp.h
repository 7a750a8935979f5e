/*
 * ntp: the protocol's constants (RFC 5905 §7.2, §A.1.1) and the defaults
 * horloge derives from them.
 *
 * Owns: every number the protocol fixes and every default several modules
 * share, defined once here; packet.h includes it, so does every user of the
 * codec or the responder. Module-specific limits stay in their module's header.
 */
#ifndef HORLOGE_NTP_H
#define HORLOGE_NTP_H

#define NTP_PORT 123
/* Unsynchronised: stratum 16 inside, 0 on the wire with LI=3 (RFC 5905 §7.3). */
#define NTP_STRATUM_UNSYNC 16
/* The poll exponents a reply may announce (RFC 5905 MINPOLL, MAXPOLL). */
#define NTP_MINPOLL 4
#define NTP_MAXPOLL 17
/* Polling defaults for an upstream server (RFC 5905 §7.2 and every common daemon: 64 s to 1024 s). */
#define NTP_DEFAULT_MINPOLL 6
#define NTP_DEFAULT_MAXPOLL 10
/* RFC 5905 PHI: how fast the dispersion of an idle reference grows. */
#define NTP_PHI 15e-6
/* RFC 5905 MAXDISP: a dispersion, hence a root distance, beyond which a server is useless (s). */
#define NTP_MAXDISP 16.0
/* Root distance above which a source is not used (`maxdistance`, chrony's default, s). */
#define NTP_DEFAULT_MAXDISTANCE 3.0

#endif
