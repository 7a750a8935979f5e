/*
 * kvdoc: the CLI's reading of a control-socket answer (see io/control.h):
 * records of key=value pairs, and their rendering as JSON.
 */
#ifndef HORLOGE_KVDOC_H
#define HORLOGE_KVDOC_H

#include <stdio.h>

#define KVDOC_MAX_PAIRS 4096
#define KVDOC_MAX_RECORDS 512

struct kv_pair {
    const char *key;
    const char *value;
};

struct kv_record {
    unsigned first; /* index into pairs */
    unsigned count;
};

struct kvdoc {
    const char *error;  /* non-NULL when the daemon answered "error ..." */
    unsigned n_pairs;
    struct kv_pair pairs[KVDOC_MAX_PAIRS];
    unsigned n_records;
    struct kv_record records[KVDOC_MAX_RECORDS];
};

/* Parses `text` in place (it is modified). Returns 0, or -1 when it is not a control answer. */
int kvdoc_parse(char *text, struct kvdoc *doc);
/* The value of `key` in record `rec`, or NULL. */
const char *kvdoc_get(const struct kvdoc *doc, unsigned rec, const char *key);
/* JSON: one object for a single-record answer, or {"LISTNAME": [objects]} for lists. */
void kvdoc_print_json(const struct kvdoc *doc, const char *list_name, FILE *f);
/* Prints a JSON string literal. */
void json_print_string(const char *s, FILE *f);

#endif
