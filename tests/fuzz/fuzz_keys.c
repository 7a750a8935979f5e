/*
 * Fuzz target: the key file parser (chrony's format) takes any bytes without
 * crashing or reading past them; a table it accepts is sorted by unique,
 * non-zero ids with lengths its types allow, and every id it holds is found;
 * a refused file reports at least one error line.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_table(const struct key_table *t)
{
    if (t->n > KEYS_MAX)
        __builtin_trap();
    for (unsigned i = 0; i < t->n; i++) {
        const struct key_entry *k = &t->keys[i];
        if (k->id == 0 || k->len == 0 || k->len > KEY_SECRET_MAX || (i > 0 && k->id <= t->keys[i - 1].id))
            __builtin_trap();
        if ((k->type == KEY_AES128_CMAC && k->len != 16) || (k->type == KEY_AES256_CMAC && k->len != 32))
            __builtin_trap();
        if (keys_find(t, k->id) != k)
            __builtin_trap();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size ? size : 1); /* exactly `size` bytes, so ASan sees any overread */
    if (!text)
        return 0;
    memcpy(text, data, size);
    static struct key_table t;
    static struct keys_report rep;
    if (keys_parse_text(text, size, "keys", &t, &rep) == 0) {
        check_table(&t);
        if (rep.errors)
            __builtin_trap();
    } else if (rep.errors == 0 || rep.text[0] == '\0') {
        __builtin_trap();
    }
    if (strnlen(rep.text, sizeof rep.text) >= sizeof rep.text)
        __builtin_trap();
    free(text);
    return 0;
}
