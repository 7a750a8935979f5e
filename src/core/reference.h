/*
 * reference: what the server says about its own time (RFC 5905 §11.3).
 *
 * Owns the mode of the server's reference and the resp_state the responder
 * publishes:
 *  - SYNCED: stratum = system peer's + 1, refid = the peer's (computed by the
 *    shell: IPv4 address, or the first 4 bytes of the MD5 of an IPv6 one),
 *    root delay = peer root delay + delay, root dispersion = peer root
 *    dispersion + dispersion + jitter + PHI * age, LI = the majority's
 *    unless a leap-second list decides it (ref_set_leap_override);
 *  - HOLDOVER: selection found no peer; the state stays and its root
 *    dispersion keeps growing at PHI (the responder adds PHI * age);
 *  - after `hold_time` without an update, or once the root distance exceeds
 *    `maxdistance`: UNSYNC (stratum 16, LI 3), or, with `local stratum N
 *    [distance D]`, LOCAL (stratum N, refid "LOCL"), which also takes over
 *    in holdover as soon as the root distance reaches D (chrony's meaning);
 *  - CLOCK_FAILED: the shell could not steer the system clock (a clock
 *    command failed), so our clock is not what the discipline measured and
 *    corrected: served as UNSYNC, never LOCAL, and updates are ignored until
 *    a clock command succeeds again (ref_set_clock_failed), when the state
 *    falls back to UNSYNC or LOCAL and the next update synchronises it.
 * The leap indicator: UNSYNC and CLOCK_FAILED give 3; otherwise a leap override, when set
 * (the shell's verdict from a valid `leapseclist`, as ntpd treats a current
 * leap file as authoritative), wins over the sources' majority; in LOCAL mode
 * without one it is 0.
 * Also the figures `horloge tracking` shows. Pure: times are parameters.
 */
#ifndef HORLOGE_REFERENCE_H
#define HORLOGE_REFERENCE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/discipline.h"
#include "core/leapsmear.h"
#include "core/ntptime.h"
#include "core/responder.h"

/* ref_set_leap_override(): no override, the sources' majority decides. */
#define REF_LEAP_FROM_SOURCES (-1)

/* Default hold time: an hour of holdover, then unsynchronised (docs/discipline.md). */
#define REF_HOLD_TIME 3600.0

struct ref_params {
    bool local_enabled;
    int local_stratum;      /* 1..15 */
    double local_distance;  /* root distance at which LOCAL replaces a held reference */
    double maxdistance;     /* root distance beyond which the held reference is dropped */
    double hold_time;       /* seconds without an update before it is dropped */
    int8_t precision;       /* log2 s, measured by the shell */
};

void ref_default_params(struct ref_params *p);

enum ref_mode { REF_UNSYNC = 0, REF_SYNCED, REF_HOLDOVER, REF_LOCAL, REF_CLOCK_FAILED };

const char *ref_mode_name(enum ref_mode m);

/* The system peer's figures at an update (from its filt_estimate). */
struct ref_peer {
    uint8_t stratum;
    uint32_t refid;
    double root_delay;
    double root_dispersion;
    double delay;
    double dispersion;
    double jitter;
    double age;             /* seconds since its last sample */
};

struct ref {
    struct ref_params params;
    enum ref_mode mode;
    struct resp_state state;
    ntp_ts last_update;
    bool ever_synced;
    uint8_t sources_leap;   /* the majority's at the last update */
    int leap_override;      /* NTP_LEAP_NONE/INSERT/DELETE, or REF_LEAP_FROM_SOURCES */
};

void ref_init(struct ref *r, const struct ref_params *p, ntp_ts now);
/* The discipline used a sample while `peer` was the system peer; `leap` from selection. */
void ref_update(struct ref *r, ntp_ts now, const struct ref_peer *peer, uint8_t leap);
/* Selection found no system peer. */
void ref_set_unselected(struct ref *r, ntp_ts now);
/* A clock command failed (true), or one succeeded after failures (false); see CLOCK_FAILED above. */
void ref_set_clock_failed(struct ref *r, ntp_ts now, bool failed);
/* Applies the timeouts; call it at least every few seconds. True when the state changed. */
bool ref_tick(struct ref *r, ntp_ts now);
const struct resp_state *ref_resp_state(const struct ref *r);
/*
 * The leap status to announce whatever the sources say (NTP_LEAP_NONE, _INSERT
 * or _DELETE), or REF_LEAP_FROM_SOURCES. It applies while synchronised, in
 * holdover and in LOCAL mode; an unsynchronised reference still says 3.
 */
void ref_set_leap_override(struct ref *r, int leap);
/* Root delay / 2 + root dispersion grown to `now`. */
double ref_root_distance_at(const struct ref *r, ntp_ts now);

/* `horloge tracking`. */
struct ref_tracking {
    enum ref_mode mode;
    uint32_t refid;
    uint8_t stratum;
    uint8_t leap;           /* leap status: NTP_LEAP_* (3 = not synchronised) */
    ntp_ts reference_time;
    double system_offset;   /* NTP - system, s: still to be slewed out */
    double last_offset;
    double rms_offset;
    double est_error;
    double freq_ppm;        /* frequency of the raw clock being corrected */
    double residual_freq_ppm;
    double skew_ppm;
    double root_delay;
    double root_dispersion; /* grown to now */
    double update_interval;
    double slew_ppm;        /* frequency excursion now: the slew on top of the frequency */
    double peak_slew_ppm;   /* the largest |excursion| in the last hour or so */
    /* Filled by sync_get_tracking: */
    enum leapsmear_kind leapsmear;
    double served_offset;   /* served time - system time: the leap smear now */
    uint8_t served_leap;    /* the leap indicator clients get (0 while smearing a leap) */
};

/* now_ntp and now are the same reading of the system clock in both forms. */
void ref_get_tracking(const struct ref *r, const struct disc *d, ntp_ts now_ntp, double now,
                      struct ref_tracking *t);

#endif
