/*
 * assets.h - the web UI files compiled into the binary (see tools/embed.c).
 */
#ifndef OTKLIK_ASSETS_H
#define OTKLIK_ASSETS_H

#include <stddef.h>

struct asset {
    const char *path;         /* "/index.html" */
    const char *content_type; /* "text/html; charset=utf-8" */
    const unsigned char *data;
    long size; /* bytes */
};

/* Terminated by an entry with path NULL. */
extern const struct asset assets[];

/* The asset at path ("/" means "/index.html"), or NULL. */
const struct asset *asset_find(const char *path);

#endif
