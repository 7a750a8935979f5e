/*
 * sockio: socket plumbing shared by the serving sockets and the upstream
 * sockets — made non-blocking and close-on-exec with fcntl (not SOCK_* flags,
 * which an LD_PRELOAD network simulator does not take), kernel software
 * receive timestamps (SO_TIMESTAMPING, which such a simulator provides where
 * SO_TIMESTAMPNS alone gives nothing), and 64 random bits for nonces and
 * hash keys; the clock readings the serving path stamps with.
 */
#ifndef HORLOGE_SOCKIO_H
#define HORLOGE_SOCKIO_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/ntptime.h"

/* O_NONBLOCK and FD_CLOEXEC; -1 with errno on failure. */
int sockio_set_nonblocking(int fd);
/* Asks the kernel for software receive timestamps; -1 with errno when it will not. */
int sockio_enable_rx_timestamps(int fd);
/* The kernel's receive timestamp (raw CLOCK_REALTIME) of a received message, if it carries one. */
bool sockio_rx_timestamp(struct msghdr *msg, struct unix_time *out);
/* 64 bits from getrandom(), or, should that fail, a mix of the clock and the pid. */
uint64_t sockio_random64(void);
/* CLOCK_REALTIME now, as an NTP timestamp. */
ntp_ts sockio_realtime_ntp(void);
/* CLOCK_MONOTONIC now in nanoseconds: the timescale of the client tables' first/last seen. */
uint64_t sockio_monotonic_ns(void);

#endif
