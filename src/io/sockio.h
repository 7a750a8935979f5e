/*
 * sockio: socket plumbing shared by the serving sockets and the upstream
 * sockets — made non-blocking and close-on-exec with fcntl (not SOCK_* flags,
 * which an LD_PRELOAD network simulator does not take), kernel software
 * receive timestamps (SO_TIMESTAMPING, which such a simulator provides where
 * SO_TIMESTAMPNS alone gives nothing), kernel software transmit timestamps
 * read back from the socket's error queue (per message or for every one),
 * and 64 random bits for nonces and hash keys; the clock readings the
 * serving path stamps with.
 */
#ifndef HORLOGE_SOCKIO_H
#define HORLOGE_SOCKIO_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include "core/ntptime.h"

/* O_NONBLOCK and FD_CLOEXEC; -1 with errno on failure. */
int sockio_set_nonblocking(int fd);
/* Asks the kernel for software receive timestamps; -1 with errno when it will not. */
int sockio_enable_rx_timestamps(int fd);
/*
 * Receive timestamps, plus transmit timestamps numbered by the kernel
 * (SOF_TIMESTAMPING_OPT_ID): for every datagram with `tx_all`, otherwise only
 * for those sent with sockio_request_tx_timestamp; `hw_flags` adds NIC
 * timestamping (io/hwts.h; dropped if refused). 0; 1 when the kernel gives
 * receive timestamps only (an LD_PRELOAD simulator, an old kernel); -1 none.
 */
int sockio_enable_timestamps(int fd, bool tx_all, int hw_flags);
/* Room for the control message sockio_request_tx_timestamp writes. */
#define SOCKIO_TX_CONTROL_LEN 64
/* Asks for a transmit timestamp of the datagram `msg` sends; `control` holds SOCKIO_TX_CONTROL_LEN. */
void sockio_request_tx_timestamp(struct msghdr *msg, void *control);
/* When the kernel says a datagram passed: its software time, and the NIC's if it stamped it. */
struct sockio_stamp {
    bool has_sw, has_hw;
    struct unix_time sw;   /* raw CLOCK_REALTIME */
    struct timespec hw;    /* the NIC's PTP hardware clock */
    int ifindex;           /* the NIC's interface; 0 when the kernel did not say */
};
/* The timestamps a received (or error-queue) message carries; false when none. */
bool sockio_stamp_of(struct msghdr *msg, struct sockio_stamp *out);
/*
 * Reads one transmit timestamp from fd's error queue without blocking: 1
 * with the stamp and the kernel's number of the datagram (counting from 0 in
 * the order they were stamped; a NIC and the software may each report the
 * same datagram), 0 for a queued message that carried none, -1 when the
 * queue is empty.
 */
int sockio_read_tx_timestamp(int fd, struct sockio_stamp *out, uint32_t *key);
/* The kernel's receive timestamp (raw CLOCK_REALTIME) of a received message, if it carries one. */
bool sockio_rx_timestamp(struct msghdr *msg, struct unix_time *out);
/* 64 bits from getrandom(), or, should that fail, a mix of the clock and the pid. */
uint64_t sockio_random64(void);
/* CLOCK_REALTIME now, as an NTP timestamp. */
ntp_ts sockio_realtime_ntp(void);
/* CLOCK_MONOTONIC now in nanoseconds: the timescale of the client tables' first/last seen. */
uint64_t sockio_monotonic_ns(void);

#endif
