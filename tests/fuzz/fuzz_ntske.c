/*
 * libFuzzer target for the NTS-KE parsers: any bytes, fed to the request and
 * response readers in chunks the input itself chooses (first byte), must
 * never read outside what was given, consume more than was given, or go on
 * past a message's bound; a finished response's cookies and server name lie
 * within their limits.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/nts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Feeds `data` in chunks of `step`, as a socket would deliver it; the reader's status at the end. */
static enum nts_ke_status feed(const uint8_t *data, size_t size, size_t step, bool request)
{
    static struct nts_ke_request req;
    static struct nts_ke_response resp;
    nts_ke_request_init(&req);
    nts_ke_response_init(&resp);
    uint8_t window[NTS_KE_MAX_BODY + 4 + 256];
    size_t pending = 0, given = 0;
    enum nts_ke_status st = NTS_KE_MORE;
    while (st == NTS_KE_MORE && given < size) {
        size_t n = size - given < step ? size - given : step;
        if (pending + n > sizeof window)
            n = sizeof window - pending;
        if (n == 0)
            __builtin_trap(); /* the parser must have decided or consumed by now */
        memcpy(window + pending, data + given, n);
        pending += n;
        given += n;
        size_t used = 0;
        st = request ? nts_ke_request_feed(&req, window, pending, &used)
                     : nts_ke_response_feed(&resp, window, pending, &used);
        if (used > pending)
            __builtin_trap();
        memmove(window, window + used, pending - used);
        pending -= used;
    }
    if (!request && st == NTS_KE_DONE) {
        if (resp.n_cookies == 0 || resp.n_cookies > NTS_COOKIES_PER_KE || strlen(resp.server) > NTS_HOST_MAX)
            __builtin_trap();
        for (unsigned i = 0; i < resp.n_cookies; i++)
            if (resp.cookie_len[i] == 0 || resp.cookie_len[i] > NTS_COOKIE_MAX_LEN)
                __builtin_trap();
    }
    if (request && st == NTS_KE_DONE && (!req.ntpv4 || !req.siv))
        __builtin_trap();
    return st;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t step = 1 + data[0] % 64;
    feed(data + 1, size - 1, step, true);
    feed(data + 1, size - 1, step, false);
    struct nts_ke_record rec;
    int n = nts_ke_record_parse(data, size, &rec);
    if (n > (int)size || (n > 0 && (size_t)rec.body_len + 4 != (size_t)n))
        __builtin_trap();
    return 0;
}
