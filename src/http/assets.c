/*
 * assets.c - lookup of the embedded web UI files.
 */
#include "http/assets.h"

#include <string.h>

const struct asset *asset_find(const char *path)
{
    if (strcmp(path, "/") == 0)
        path = "/index.html";
    for (const struct asset *a = assets; a->path != NULL; a++)
        if (strcmp(a->path, path) == 0)
            return a;
    return NULL;
}
