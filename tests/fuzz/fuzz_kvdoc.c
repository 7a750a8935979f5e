/*
 * Fuzz target: the CLI's reader of control-socket answers, its JSON writer, and the metrics
 * written from such answers (text and JSON: label escaping, octal reach, any value), on any bytes.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/kvdoc.h"
#include "io/metrics.h"

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
            const struct kvdoc *all[METRICS_REPORTS] = {&doc, &doc, &doc, &doc};
            metrics_write(sink, all, false);
            metrics_write(sink, all, true);
            fclose(sink);
        }
    }
    free(text);
    return 0;
}
