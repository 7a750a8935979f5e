/*
 * sample: one measurement of an upstream source, the currency between the
 * client exchange (source), the filters, selection and the discipline.
 */
#ifndef HORLOGE_SAMPLE_H
#define HORLOGE_SAMPLE_H

#include <stdint.h>

struct ntp_sample {
    double local_time;      /* local clock reading when measured (seconds, the caller's timescale) */
    double offset;          /* server - local, seconds, RFC 5905 theta */
    double delay;           /* round-trip delay, seconds, RFC 5905 delta (>= 0) */
    double dispersion;      /* seconds, precision + measurement error */
    double root_delay;      /* the server's, seconds */
    double root_dispersion; /* the server's, seconds */
    uint8_t stratum;        /* the server's */
    uint8_t leap;           /* the server's leap indicator */
    uint32_t refid;         /* the server's reference ID */
};

#endif
