#!/bin/sh
# Fails when the pure core references I/O, clocks, logging, allocation or threads.
# The core takes time and randomness as parameters; this keeps it that way.
lib="$1"
forbidden='socket|bind|connect|send|sendto|sendmsg|sendmmsg|recv|recvfrom|recvmsg|recvmmsg|read|write|open|close|clock_gettime|gettimeofday|time|clock_adjtime|adjtimex|ntp_adjtime|syslog|printf|fprintf|puts|perror|malloc|calloc|realloc|free|pthread_[a-z_]*|getrandom|rand|random|exit|abort|getaddrinfo'
defined=$(nm --defined-only "$lib" 2>/dev/null | awk 'NF==3{print $3}' | sort -u)
external=$(nm -u "$lib" | awk '{print $2}' | sort -u | grep -vxF "$defined" || true)
bad=$(echo "$external" | grep -Ex "($forbidden)" || true)
if [ -n "$bad" ]; then
    echo "core purity: $lib references forbidden symbols:" $bad >&2
    exit 1
fi
echo "core purity: ok; external symbols:" $external
