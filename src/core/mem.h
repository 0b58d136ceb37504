/*
 * mem.h - allocation that never returns NULL, and the per-request arena.
 *
 * Running out of memory aborts the process (the x* family), so call sites
 * never check for NULL; what grows with input is capped instead.  An arena
 * hands out memory for one HTTP request or one job tick and frees it all at
 * once with arena_reset() or arena_free(); nothing is freed piecemeal.
 */
#ifndef OTKLIK_MEM_H
#define OTKLIK_MEM_H

#include <stdarg.h>
#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *ptr, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t len);

/* Grow *ptr (holding *cap elements of elem_size) to hold at least need elements. */
void xgrow(void **ptr, size_t *cap, size_t need, size_t elem_size);

struct arena_chunk;

struct arena {
    struct arena_chunk *head; /* newest chunk first */
    size_t chunk_size;        /* default size of a new chunk, bytes */
};

/* Start an empty arena; chunk_size 0 picks 16 KiB.  Allocates nothing yet. */
void arena_init(struct arena *a, size_t chunk_size);

/* Free every chunk but the first, and make the first empty again. */
void arena_reset(struct arena *a);

/* Free everything; the arena may be initialised again. */
void arena_free(struct arena *a);

/* size bytes aligned for any type, zeroed; lives until reset/free. */
void *arena_alloc(struct arena *a, size_t size);

/* NUL-terminated copy of len bytes of s, in the arena. */
char *arena_strndup(struct arena *a, const char *s, size_t len);
char *arena_strdup(struct arena *a, const char *s);

/* printf into the arena. */
char *arena_printf(struct arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
