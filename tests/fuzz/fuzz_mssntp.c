/*
 * Fuzz target: Samba's ntp_signd answers as the signer may send them, any
 * bytes, split anywhere: the parser never reads past what it was given, an
 * answer it accepts lies inside the buffer (a success carries exactly the
 * 68-byte signed reply), and it consumes input only by whole answers.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/auth_mssntp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    size_t pos = 0;
    for (;;) {
        struct mssntp_answer a;
        size_t used = 0;
        enum mssntp_parse r = mssntp_parse_answer(buf + pos, size - pos, &a, &used);
        if (r != MSSNTP_ANSWER)
            break;
        if (used < 16 || used > MSSNTP_ANSWER_MAX || used > size - pos)
            __builtin_trap();
        if (a.op == MSSNTP_SIGNING_SUCCESS &&
            (!a.signed_reply || a.signed_reply + MSSNTP_SIGNED_LEN != buf + pos + used))
            __builtin_trap();
        if (a.op == MSSNTP_SIGNING_FAILURE && a.signed_reply)
            __builtin_trap();
        pos += used;
    }
    free(buf);
    return 0;
}
