/* kvdoc: parsing control answers and printing them as JSON; see kvdoc.h. */
#include "io/kvdoc.h"

#include <stdlib.h>
#include <string.h>

static void close_record(struct kvdoc *doc, unsigned first)
{
    if (doc->n_records < KVDOC_MAX_RECORDS && doc->n_pairs > first) {
        doc->records[doc->n_records].first = first;
        doc->records[doc->n_records].count = doc->n_pairs - first;
        doc->n_records++;
    }
}

int kvdoc_parse(char *text, struct kvdoc *doc)
{
    memset(doc, 0, sizeof *doc);
    char *save = NULL;
    char *line = strtok_r(text, "\n", &save);
    if (!line)
        return -1;
    if (strncmp(line, "error ", 6) == 0) {
        doc->error = line + 6;
        return 0;
    }
    if (strcmp(line, "ok") != 0)
        return -1;
    unsigned first = 0;
    while ((line = strtok_r(NULL, "\n", &save)) != NULL) {
        if (strcmp(line, "--") == 0) {
            close_record(doc, first);
            first = doc->n_pairs;
            continue;
        }
        char *eq = strchr(line, '=');
        if (!eq || doc->n_pairs >= KVDOC_MAX_PAIRS)
            return -1;
        *eq = '\0';
        doc->pairs[doc->n_pairs].key = line;
        doc->pairs[doc->n_pairs].value = eq + 1;
        doc->n_pairs++;
    }
    close_record(doc, first);
    return 0;
}

const char *kvdoc_get(const struct kvdoc *doc, unsigned rec, const char *key)
{
    if (rec >= doc->n_records)
        return NULL;
    const struct kv_record *r = &doc->records[rec];
    for (unsigned i = r->first; i < r->first + r->count; i++)
        if (strcmp(doc->pairs[i].key, key) == 0)
            return doc->pairs[i].value;
    return NULL;
}

void json_print_string(const char *s, FILE *f)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

/* A value that reads fully as a JSON number is printed as one; "0x..." ids stay strings. */
static int is_json_number(const char *v)
{
    if (!*v || strncmp(v, "0x", 2) == 0 || strncmp(v, "-0x", 3) == 0)
        return 0;
    char *end;
    strtod(v, &end);
    if (*end != '\0')
        return 0;
    for (const char *p = v; *p; p++)
        if (!strchr("0123456789+-.eE", *p))
            return 0;
    return !(v[0] == '0' && v[1] >= '0' && v[1] <= '9') && v[0] != '+' && v[0] != '.';
}

static void print_record(const struct kvdoc *doc, unsigned rec, FILE *f)
{
    const struct kv_record *r = &doc->records[rec];
    fputc('{', f);
    for (unsigned i = r->first; i < r->first + r->count; i++) {
        if (i > r->first)
            fputs(", ", f);
        json_print_string(doc->pairs[i].key, f);
        fputs(": ", f);
        if (is_json_number(doc->pairs[i].value))
            fputs(doc->pairs[i].value, f);
        else
            json_print_string(doc->pairs[i].value, f);
    }
    fputc('}', f);
}

void kvdoc_print_json(const struct kvdoc *doc, const char *list_name, FILE *f)
{
    if (!list_name) {
        if (doc->n_records)
            print_record(doc, 0, f);
        else
            fputs("{}", f);
        fputc('\n', f);
        return;
    }
    fputs("{", f);
    json_print_string(list_name, f);
    fputs(": [", f);
    for (unsigned i = 0; i < doc->n_records; i++) {
        if (i)
            fputs(",\n  ", f);
        print_record(doc, i, f);
    }
    fputs("]}\n", f);
}
