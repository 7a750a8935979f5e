/* Fuzz target: the CLI's reader of control-socket answers, and its JSON writer, on any bytes. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/kvdoc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct kvdoc doc;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    if (kvdoc_parse(text, &doc) == 0 && !doc.error) {
        for (unsigned r = 0; r < doc.n_records; r++)
            if (doc.records[r].first + doc.records[r].count > doc.n_pairs)
                __builtin_trap();
        FILE *sink = fopen("/dev/null", "w");
        if (sink) {
            kvdoc_print_json(&doc, "list", sink);
            fclose(sink);
        }
    }
    free(text);
    return 0;
}
