/*
 * Fuzz target: chrony's SOCK datagram decoder takes any bytes, accepts only
 * exact-length datagrams with the magic, and what it accepts makes a sample
 * with finite figures (or none, for a pulse).
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "core/refclock.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct refclock_reading r;
    if (refclock_decode_sock(data, size, &r) != REFCLOCK_OK)
        return 0;
    if (size != REFCLOCK_SOCK_LEN || r.local.nsec >= 1000000000u || r.leap > 2 || !isfinite(r.offset))
        __builtin_trap();
    struct refclock_params p = {.refid = 0x47505300, .delay = 1e-4, .precision = -20};
    struct ntp_sample s;
    if (refclock_make_sample(&p, &r, &s) &&
        (!isfinite(s.local_time) || !isfinite(s.offset) || s.stratum != 0 || s.delay <= 0))
        __builtin_trap();
    return 0;
}
