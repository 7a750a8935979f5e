/* Fuzz target: the drift file parser must take any text without crashing and keep its ranges. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "io/driftfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    struct drift_value v;
    if (drift_parse(text, &v) == DRIFT_OK &&
        (!isfinite(v.freq_ppm) || fabs(v.freq_ppm) > DRIFT_MAX_FREQ_PPM || !(v.skew_ppm >= 0)))
        __builtin_trap();
    free(text);
    return 0;
}
