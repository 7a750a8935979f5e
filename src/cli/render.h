/*
 * render: the CLI's text form of each control report (the JSON form is
 * generic, in kvdoc). One renderer per command.
 */
#ifndef HORLOGE_RENDER_H
#define HORLOGE_RENDER_H

#include <stdio.h>

#include "io/kvdoc.h"

struct report_renderer {
    const char *command;
    const char *list_name; /* JSON list key for record lists, NULL for single objects */
    void (*render_text)(const struct kvdoc *doc, FILE *f);
};

const struct report_renderer *render_find(const char *command);

#endif
