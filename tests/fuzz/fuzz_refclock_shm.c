/*
 * Fuzz target: the SHM segment decoder takes any bytes as a copy of a segment
 * (the count read again after the copy and the system time taken from the
 * input too); what it accepts is a reading with a valid time and a finite,
 * bounded offset that is exactly clock - receive.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/refclock.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct refclock_shm_read rd = {.now = {1790000000, 0}};
    if (size >= sizeof rd.count_after + sizeof(uint32_t)) {
        memcpy(&rd.count_after, data, sizeof rd.count_after);
        uint32_t jitter;
        memcpy(&jitter, data + sizeof rd.count_after, sizeof jitter);
        rd.now.sec += jitter % 16;
        data += sizeof rd.count_after + sizeof jitter;
        size -= sizeof rd.count_after + sizeof jitter;
    }
    struct refclock_reading r;
    if (refclock_decode_shm(data, size, &rd, &r) != REFCLOCK_OK)
        return 0;
    if (size < REFCLOCK_SHM_LEN || r.local.nsec >= 1000000000u || r.leap > 2 || !isfinite(r.offset) ||
        fabs(r.offset) > REFCLOCK_MAX_OFFSET || r.pulse)
        __builtin_trap();
    return 0;
}
