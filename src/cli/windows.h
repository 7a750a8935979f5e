/*
 * windows: `horloge windows-setup [--gpo] [--server NAME]` — what a Windows
 * administrator types to point Windows clients at this server: the w32tm
 * commands (or, with --gpo, a PowerShell script setting the Group Policy
 * values), the peer flags 0x8 and 0x1 explained, the firewall rules, and what
 * `w32tm /query /status` should then show, from the running daemon's status
 * when it answers. The output is itself a PowerShell script (# comments).
 */
#ifndef HORLOGE_WINDOWS_H
#define HORLOGE_WINDOWS_H

#include <stdbool.h>
#include <stdio.h>

#include "io/kvdoc.h"

struct windows_options {
    const char *server;      /* the name Windows clients use for this server */
    const char *socket_path; /* where the daemon was asked (named when it did not answer) */
    bool gpo;
};

/* `status` is the daemon's `status` report, or NULL when it did not answer. */
void windows_setup_print(const struct windows_options *opt, const struct kvdoc *status, FILE *f);

#endif
