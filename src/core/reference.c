/* reference: the server's reference state and its timeouts; see reference.h. */
#include "core/reference.h"

#include "core/packet.h"

void ref_default_params(struct ref_params *p)
{
    p->local_enabled = false;
    p->local_stratum = 10;
    p->local_distance = 0.0;
    p->maxdistance = NTP_DEFAULT_MAXDISTANCE;
    p->hold_time = REF_HOLD_TIME;
    p->precision = -20;
}

const char *ref_mode_name(enum ref_mode m)
{
    switch (m) {
    case REF_UNSYNC: return "unsynchronised";
    case REF_SYNCED: return "synchronised";
    case REF_HOLDOVER: return "holdover";
    case REF_LOCAL: return "local";
    case REF_CLOCK_FAILED: return "clock-failed";
    }
    return "unknown";
}

static void apply_leap(struct ref *r)
{
    if (r->mode == REF_UNSYNC || r->mode == REF_CLOCK_FAILED)
        r->state.leap = NTP_LEAP_UNSYNC;
    else if (r->leap_override != REF_LEAP_FROM_SOURCES)
        r->state.leap = (uint8_t)r->leap_override;
    else if (r->mode == REF_LOCAL)
        r->state.leap = NTP_LEAP_NONE;
    else
        r->state.leap = r->sources_leap;
}

static void set_unsync(struct ref *r, enum ref_mode mode)
{
    r->mode = mode;
    apply_leap(r);
    r->state.stratum = NTP_STRATUM_UNSYNC;
    r->state.refid = pkt_refid_ascii("INIT");
}

static void set_local(struct ref *r, ntp_ts now)
{
    r->mode = REF_LOCAL;
    apply_leap(r);
    r->state.stratum = (uint8_t)r->params.local_stratum;
    r->state.refid = pkt_refid_ascii("LOCL");
    r->state.root_delay = 0.0;
    r->state.root_dispersion = 0.0;
    r->state.reference_time = now;
}

static void fall_back(struct ref *r, ntp_ts now)
{
    if (r->params.local_enabled)
        set_local(r, now);
    else
        set_unsync(r, REF_UNSYNC);
}

void ref_init(struct ref *r, const struct ref_params *p, ntp_ts now)
{
    *r = (struct ref){0};
    r->params = *p;
    if (r->params.local_stratum < 1)
        r->params.local_stratum = 1;
    if (r->params.local_stratum > 15)
        r->params.local_stratum = 15;
    r->state.precision = p->precision;
    r->state.reference_time = 0;
    r->last_update = now;
    r->leap_override = REF_LEAP_FROM_SOURCES;
    fall_back(r, now);
}

void ref_update(struct ref *r, ntp_ts now, const struct ref_peer *peer, uint8_t leap)
{
    if (r->mode == REF_CLOCK_FAILED)
        return;
    if (peer->stratum + 1 >= NTP_STRATUM_UNSYNC) {
        fall_back(r, now);
        return;
    }
    double age = peer->age > 0.0 ? peer->age : 0.0;
    r->mode = REF_SYNCED;
    r->ever_synced = true;
    r->last_update = now;
    r->sources_leap = leap == NTP_LEAP_UNSYNC ? NTP_LEAP_NONE : leap & 3;
    apply_leap(r);
    r->state.stratum = (uint8_t)(peer->stratum + 1);
    r->state.refid = peer->refid;
    r->state.reference_time = now;
    r->state.root_delay = peer->root_delay + peer->delay;
    r->state.root_dispersion =
        peer->root_dispersion + peer->dispersion + peer->jitter + NTP_PHI * age;
}

void ref_set_unselected(struct ref *r, ntp_ts now)
{
    if (r->mode == REF_SYNCED)
        r->mode = REF_HOLDOVER;
    ref_tick(r, now);
}

void ref_set_clock_failed(struct ref *r, ntp_ts now, bool failed)
{
    if (failed == (r->mode == REF_CLOCK_FAILED))
        return;
    if (failed)
        set_unsync(r, REF_CLOCK_FAILED);
    else
        fall_back(r, now);
}

double ref_root_distance_at(const struct ref *r, ntp_ts now)
{
    return r->state.root_delay / 2.0 + resp_root_dispersion_at(&r->state, now);
}

bool ref_tick(struct ref *r, ntp_ts now)
{
    enum ref_mode before = r->mode;
    if (r->mode == REF_SYNCED || r->mode == REF_HOLDOVER) {
        double age = ntp_diff_sec(now, r->last_update);
        double dist = ref_root_distance_at(r, now);
        if (age > r->params.hold_time || dist > r->params.maxdistance)
            fall_back(r, now);
        else if (r->mode == REF_HOLDOVER && r->params.local_enabled &&
                 dist >= r->params.local_distance)
            set_local(r, now);
    } else if (r->mode == REF_LOCAL) {
        /* The local clock is its own reference: its dispersion does not accumulate. */
        r->state.reference_time = now;
    }
    return r->mode != before;
}

const struct resp_state *ref_resp_state(const struct ref *r)
{
    return &r->state;
}

void ref_set_leap_override(struct ref *r, int leap)
{
    r->leap_override = leap == NTP_LEAP_INSERT || leap == NTP_LEAP_DELETE || leap == NTP_LEAP_NONE
                           ? leap : REF_LEAP_FROM_SOURCES;
    apply_leap(r);
}

void ref_get_tracking(const struct ref *r, const struct disc *d, ntp_ts now_ntp, double now,
                      struct ref_tracking *t)
{
    struct disc_tracking dt;
    disc_get_tracking(d, now, &dt);
    *t = (struct ref_tracking){0};
    t->mode = r->mode;
    t->refid = r->state.refid;
    t->stratum = r->state.stratum;
    t->leap = r->state.leap;
    t->reference_time = r->state.reference_time;
    t->system_offset = dt.offset;
    t->last_offset = dt.last_offset;
    t->rms_offset = dt.rms_offset;
    t->est_error = dt.est_error;
    t->freq_ppm = dt.freq_ppm;
    t->residual_freq_ppm = dt.residual_freq_ppm;
    t->skew_ppm = dt.skew_ppm;
    t->root_delay = r->state.root_delay;
    t->root_dispersion = resp_root_dispersion_at(&r->state, now_ntp);
    t->update_interval = dt.update_interval;
    t->slew_ppm = dt.slew_ppm;
    t->peak_slew_ppm = dt.peak_slew_ppm;
}
