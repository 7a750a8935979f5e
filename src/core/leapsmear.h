/*
 * leapsmear: the served time smeared over a leap second, for clients that
 * cannot handle one (`leapsmear linear|quadratic`).
 *
 * Owns which leap is being smeared and the curve. The leap second is spread
 * over LEAPSMEAR_WINDOW (24 h) centred on it: linearly, as the big public
 * smearing servers do (the served clock runs 1/86400, 11.6 ppm, slow for
 * an inserted second from noon to noon), or quadratically (the served rate
 * changes at a constant rate to its most at the leap and back, so clients
 * that follow it see no rate jump at the ends). Only the served time is
 * smeared: the system clock makes the leap as the kernel does, and the
 * served leap indicator stays 0 while smearing. Pure: times are parameters,
 * Unix seconds in UTC as the system clock keeps it.
 */
#ifndef HORLOGE_LEAPSMEAR_H
#define HORLOGE_LEAPSMEAR_H

#include <stdbool.h>
#include <stdint.h>

#define LEAPSMEAR_WINDOW 86400.0

enum leapsmear_kind { LEAPSMEAR_OFF = 0, LEAPSMEAR_LINEAR, LEAPSMEAR_QUADRATIC };

struct leapsmear {
    enum leapsmear_kind kind;
    int64_t leap_at;        /* Unix time of the leap being smeared (a UTC midnight); 0: none */
    int sign;               /* +1: a second inserted, -1: deleted */
};

/* "off", "linear" or "quadratic". */
bool leapsmear_parse(const char *word, enum leapsmear_kind *kind);
const char *leapsmear_name(enum leapsmear_kind kind);

void leapsmear_init(struct leapsmear *sm, enum leapsmear_kind kind);
/*
 * The leap indicator the reference announces at system time `now`: a leap
 * at the next UTC midnight is noted (and kept until its smear is over, even
 * if the indicator clears at the leap); a leap withdrawn before it happens
 * is forgotten. True when the smear state changed.
 */
bool leapsmear_note(struct leapsmear *sm, double now, int leap);
/* Fraction of the second smeared, 0..1, `since_leap` seconds after the leap (continuous time). */
double leapsmear_fraction(enum leapsmear_kind kind, double since_leap);
/*
 * Seconds to add to the system clock's reading `now` to get the served time.
 * `in_leap_second`: the kernel is inside the inserted second, repeating the
 * one before the leap (Linux's TIME_OOP); only asked for readings in
 * [leap_at - 1, leap_at), see leapsmear_ambiguous().
 */
double leapsmear_offset(const struct leapsmear *sm, double now, bool in_leap_second);
/* A reading the kernel may give twice around an inserted second. */
bool leapsmear_ambiguous(const struct leapsmear *sm, double now);
/* The leap indicator to serve: 0 instead of the announced leap while smearing one. */
int leapsmear_served_leap(const struct leapsmear *sm, int leap);

#endif
