/*
 * driftfile: the clock's frequency kept across restarts, in chrony's format
 * so a chrony.drift file can be reused: one line "FREQ SKEW" (ppm, written
 * "%20.6f %20.6f\n").
 *
 * Owns: reading and validating that line, and replacing the file atomically
 * (a temporary file in the same directory, fsync, rename, fsync of the
 * directory), so a crash or a full disk leaves the old value in place.
 *
 * Sign: the file holds chrony's value, the rate at which the uncompensated
 * clock gains (positive = runs fast). struct drift_value holds the correction
 * in clockif's sense (positive = make the clock run faster), its negation;
 * pass freq_ppm straight to clock_driver.set_frequency.
 */
#ifndef HORLOGE_DRIFTFILE_H
#define HORLOGE_DRIFTFILE_H

/* A drift beyond this is no real oscillator's: the file is taken as corrupt. */
#define DRIFT_MAX_FREQ_PPM 100000.0
#define DRIFT_MAX_SKEW_PPM 1000000.0

struct drift_value {
    double freq_ppm;  /* frequency correction, clockif's sign */
    double skew_ppm;  /* its estimated error bound */
};

enum drift_status {
    DRIFT_OK = 0,
    DRIFT_MISSING,   /* no such file (normal on a first start) */
    DRIFT_IO,        /* a system call failed: see the errno returned beside */
    DRIFT_CORRUPT,   /* not "FREQ SKEW" with two finite numbers and nothing else */
    DRIFT_RANGE,     /* numbers out of range (|freq| > DRIFT_MAX_FREQ_PPM, skew < 0 or huge) */
    DRIFT_STATUS_COUNT
};

const char *drift_status_name(enum drift_status status);

/* `sys_errno` (may be NULL) receives errno for DRIFT_MISSING and DRIFT_IO, else 0. */
/* Parses the file's text ("FREQ SKEW", chrony's format and sign). */
enum drift_status drift_parse(const char *text, struct drift_value *out);
enum drift_status drift_read(const char *path, struct drift_value *out, int *sys_errno);
enum drift_status drift_write(const char *path, const struct drift_value *value, int *sys_errno);

#endif
