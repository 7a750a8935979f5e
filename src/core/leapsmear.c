/* leapsmear: the served time smeared over a leap second; see leapsmear.h. */
#include "core/leapsmear.h"

#include <math.h>
#include <string.h>

#include "core/packet.h"

#define DAY 86400.0

bool leapsmear_parse(const char *word, enum leapsmear_kind *kind)
{
    static const char *const names[] = {"off", "linear", "quadratic"};
    for (unsigned i = 0; i < 3; i++) {
        if (strcmp(word, names[i]) == 0) {
            *kind = (enum leapsmear_kind)i;
            return true;
        }
    }
    return false;
}

const char *leapsmear_name(enum leapsmear_kind kind)
{
    switch (kind) {
    case LEAPSMEAR_OFF: return "off";
    case LEAPSMEAR_LINEAR: return "linear";
    case LEAPSMEAR_QUADRATIC: return "quadratic";
    }
    return "unknown";
}

void leapsmear_init(struct leapsmear *sm, enum leapsmear_kind kind)
{
    *sm = (struct leapsmear){.kind = kind};
}

bool leapsmear_note(struct leapsmear *sm, double now, int leap)
{
    if (sm->kind == LEAPSMEAR_OFF || !isfinite(now))
        return false;
    struct leapsmear before = *sm;
    bool announced = leap == NTP_LEAP_INSERT || leap == NTP_LEAP_DELETE;
    if (sm->leap_at != 0) {
        double at = (double)sm->leap_at;
        /* Over, or withdrawn before it happened (a second early: the kernel may be in it). */
        if (now >= at + LEAPSMEAR_WINDOW / 2 + 1 || (!announced && now < at - 1))
            sm->leap_at = 0;
    }
    if (sm->leap_at == 0 && announced) {
        sm->leap_at = (int64_t)(floor(now / DAY) + 1) * (int64_t)DAY;
        sm->sign = leap == NTP_LEAP_INSERT ? 1 : -1;
    }
    return sm->leap_at != before.leap_at || sm->sign != before.sign;
}

double leapsmear_fraction(enum leapsmear_kind kind, double since_leap)
{
    double u = since_leap / LEAPSMEAR_WINDOW + 0.5;
    if (kind == LEAPSMEAR_OFF || !(u > 0.0))
        return 0.0;
    if (u >= 1.0)
        return 1.0;
    if (kind == LEAPSMEAR_LINEAR)
        return u;
    return u < 0.5 ? 2.0 * u * u : 1.0 - 2.0 * (1.0 - u) * (1.0 - u);
}

bool leapsmear_ambiguous(const struct leapsmear *sm, double now)
{
    return sm->leap_at != 0 && sm->sign > 0 && now >= (double)sm->leap_at - 1 &&
           now < (double)sm->leap_at;
}

/*
 * The continuous (leap-free) time c is the reading, plus the leap once the
 * kernel made it (a second inserted: the reading is one behind). The served
 * time is c minus the part of the leap smeared so far, so it starts and ends
 * on the system clock and never jumps.
 */
double leapsmear_offset(const struct leapsmear *sm, double now, bool in_leap_second)
{
    if (sm->kind == LEAPSMEAR_OFF || sm->leap_at == 0)
        return 0.0;
    double at = (double)sm->leap_at;
    bool made = now >= at || (in_leap_second && leapsmear_ambiguous(sm, now));
    double c = now + (made ? sm->sign : 0);
    return c - now - sm->sign * leapsmear_fraction(sm->kind, c - at);
}

int leapsmear_served_leap(const struct leapsmear *sm, int leap)
{
    bool smearing = sm->kind != LEAPSMEAR_OFF && (leap == NTP_LEAP_INSERT || leap == NTP_LEAP_DELETE);
    return smearing ? NTP_LEAP_NONE : leap;
}
