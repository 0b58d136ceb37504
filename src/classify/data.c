/*
 * data.c - labelled data sets: `label<TAB>text` files read into an arena,
 * with errors that name the file and line.
 */
#include "classify/classify_int.h"

#include "core/err.h"
#include "core/str.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LINE_BYTES (1024 * 1024)

void dataset_init(struct dataset *d)
{
    memset(d, 0, sizeof(*d));
    arena_init(&d->arena, 1 << 16);
    d->path = "";
}

void dataset_free(struct dataset *d)
{
    free(d->ex);
    arena_free(&d->arena);
    memset(d, 0, sizeof(*d));
}

void dataset_add(struct dataset *d, const char *label, const char *text, size_t text_len,
                 uint32_t line)
{
    if (d->n == d->cap)
        xgrow((void **)&d->ex, &d->cap, d->n + 1, sizeof(struct example));
    struct example *e = &d->ex[d->n++];
    e->label = arena_strdup(&d->arena, label);
    e->text = arena_strndup(&d->arena, text, text_len);
    e->text_len = text_len;
    e->line = line;
}

/* Check one line (without its newline) and add it; ERR_INVALID with path:line. */
static int add_line(struct dataset *d, const char *path, char *line, size_t len, uint32_t no,
                    struct err_info *err)
{
    if (len > 0 && line[len - 1] == '\r')
        line[--len] = '\0';
    if (len == 0)
        return err_set(err, ERR_INVALID, "data", "%s:%u: empty line", path, no);
    char *tab = memchr(line, '\t', len);
    if (!tab)
        return err_set(err, ERR_INVALID, "data",
                       "%s:%u: no TAB between label and text (want label<TAB>text)", path, no);
    size_t label_len = (size_t)(tab - line);
    const char *text = tab + 1;
    size_t text_len = len - label_len - 1;
    if (label_len == 0)
        return err_set(err, ERR_INVALID, "data", "%s:%u: empty label", path, no);
    if (label_len > CLASSIFY_MAX_LABEL_BYTES)
        return err_set(err, ERR_INVALID, "data", "%s:%u: label longer than %d bytes", path, no,
                       CLASSIFY_MAX_LABEL_BYTES);
    for (size_t i = 0; i < label_len; i++) {
        if (line[i] == ' ' || (unsigned char)line[i] < 0x20)
            return err_set(err, ERR_INVALID, "data", "%s:%u: label contains a space", path, no);
    }
    while (text_len > 0 && *text == ' ') {
        text++;
        text_len--;
    }
    if (text_len == 0)
        return err_set(err, ERR_INVALID, "data", "%s:%u: empty text", path, no);
    if (!utf8_valid(line, len))
        return err_set(err, ERR_INVALID, "data", "%s:%u: invalid UTF-8", path, no);
    line[label_len] = '\0';
    dataset_add(d, line, text, text_len, no);
    return 0;
}

int dataset_read(const char *path, struct dataset *d, struct err_info *err)
{
    dataset_init(d);
    d->path = arena_strdup(&d->arena, path);
    FILE *f = fopen(path, "rb");
    if (!f) {
        int code = errno == ENOENT ? ERR_NOTFOUND : ERR_IO;
        return err_set(err, code, "data", "cannot open %s: %s", path, strerror(errno));
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    uint32_t no = 0;
    uint32_t pending_empty = 0; /* empty lines are fine only at the end */
    int rc = 0;
    while ((got = getline(&line, &cap, f)) >= 0) {
        no++;
        size_t len = (size_t)got;
        if (len > 0 && line[len - 1] == '\n')
            line[--len] = '\0';
        if (len > MAX_LINE_BYTES) {
            rc = err_set(err, ERR_TOOBIG, "data", "%s:%u: line longer than %d bytes", path, no,
                         MAX_LINE_BYTES);
            break;
        }
        if (len == 0 || (len == 1 && line[0] == '\r')) {
            if (!pending_empty)
                pending_empty = no;
            continue;
        }
        if (pending_empty) {
            rc = err_set(err, ERR_INVALID, "data", "%s:%u: empty line", path, pending_empty);
            break;
        }
        rc = add_line(d, path, line, len, no, err);
        if (rc)
            break;
    }
    if (!rc && ferror(f))
        rc = err_set(err, ERR_IO, "data", "cannot read %s", path);
    free(line);
    fclose(f);
    return rc;
}
