/*
 * libFuzzer target for pkt_decode: any bytes must decode without touching
 * memory outside the input, and a decoded packet's layout must lie inside it
 * and re-encode to the same header.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/packet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_layout(const struct ntp_layout *l, size_t size)
{
    size_t end = NTP_HEADER_LEN;
    if (l->length != size || l->n_extfields > NTP_MAX_EXTFIELDS)
        __builtin_trap();
    for (unsigned i = 0; i < l->n_extfields; i++) {
        const struct ntp_extfield *ef = &l->extfields[i];
        if (ef->offset != end || ef->length < NTP_EF_MIN_LEN || ef->length % 4 != 0)
            __builtin_trap();
        end += ef->length;
        if (end > size)
            __builtin_trap();
    }
    if (l->has_mac) {
        if (l->mac_offset != end || l->mac_offset + l->mac_len != size || l->mac_len < 4)
            __builtin_trap();
        end = size;
    }
    if (end != size)
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ntp_header hdr;
    struct ntp_layout layout;
    enum pkt_status st = pkt_decode(data, size, &hdr, &layout);
    if (st >= PKT_STATUS_COUNT || !pkt_status_name(st))
        __builtin_trap();
    if (st != PKT_OK)
        return 0;
    check_layout(&layout, size);
    uint8_t again[NTP_HEADER_LEN];
    pkt_encode_header(&hdr, again);
    if (memcmp(again, data, NTP_HEADER_LEN) != 0)
        __builtin_trap();
    struct ntp_header hdr2;
    if (pkt_decode(data, size, &hdr2, NULL) != PKT_OK)
        __builtin_trap();
    return 0;
}
