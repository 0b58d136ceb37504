/*
 * mem.c - the x* allocation family and a chunked bump arena.
 */
#include "core/mem.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void oom(size_t size)
{
    fprintf(stderr, "fatal: out of memory allocating %zu bytes\n", size);
    abort();
}

void *xmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (p == NULL)
        oom(size);
    return p;
}

void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (p == NULL)
        oom(n * size);
    return p;
}

void *xrealloc(void *ptr, size_t size)
{
    void *p = realloc(ptr, size ? size : 1);
    if (p == NULL)
        oom(size);
    return p;
}

char *xstrdup(const char *s)
{
    return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t len)
{
    char *p = xmalloc(len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

void xgrow(void **ptr, size_t *cap, size_t need, size_t elem_size)
{
    if (need <= *cap)
        return;
    size_t n = *cap ? *cap : 8;
    while (n < need)
        n *= 2;
    if (n > SIZE_MAX / elem_size)
        oom(SIZE_MAX);
    *ptr = xrealloc(*ptr, n * elem_size);
    *cap = n;
}

struct arena_chunk {
    struct arena_chunk *next;
    size_t cap;  /* usable bytes in data */
    size_t used; /* bytes handed out */
    _Alignas(max_align_t) unsigned char data[];
};

#define ARENA_DEFAULT_CHUNK (16 * 1024)

/*
 * Each thread keeps one spare default-size chunk: a request's arena then
 * costs no malloc/free pair, and glibc does not consolidate its fast bins
 * for a 16 KiB allocation on every request.  The spare is freed with its
 * thread.
 */
static pthread_key_t spare_key;
static pthread_once_t spare_once = PTHREAD_ONCE_INIT;

static void spare_key_make(void)
{
    if (pthread_key_create(&spare_key, free) != 0)
        oom(0);
}

static struct arena_chunk *chunk_new(size_t cap)
{
    if (cap == ARENA_DEFAULT_CHUNK) {
        pthread_once(&spare_once, spare_key_make);
        struct arena_chunk *c = pthread_getspecific(spare_key);
        if (c != NULL) {
            pthread_setspecific(spare_key, NULL);
            return c;
        }
    }
    struct arena_chunk *c = xmalloc(sizeof *c + cap);
    c->cap = cap;
    return c;
}

static void chunk_free(struct arena_chunk *c)
{
    if (c->cap == ARENA_DEFAULT_CHUNK) {
        pthread_once(&spare_once, spare_key_make);
        if (pthread_getspecific(spare_key) == NULL && pthread_setspecific(spare_key, c) == 0)
            return;
    }
    free(c);
}

void arena_init(struct arena *a, size_t chunk_size)
{
    a->head = NULL;
    a->chunk_size = chunk_size ? chunk_size : ARENA_DEFAULT_CHUNK;
}

void arena_reset(struct arena *a)
{
    struct arena_chunk *c = a->head;
    if (c == NULL)
        return;
    /* Keep the oldest chunk (the tail): it is usually the default size. */
    while (c->next != NULL) {
        struct arena_chunk *next = c->next;
        chunk_free(c);
        c = next;
    }
    c->used = 0;
    a->head = c;
}

void arena_free(struct arena *a)
{
    struct arena_chunk *c = a->head;
    while (c != NULL) {
        struct arena_chunk *next = c->next;
        chunk_free(c);
        c = next;
    }
    a->head = NULL;
}

void *arena_alloc(struct arena *a, size_t size)
{
    const size_t align = _Alignof(max_align_t);
    size = (size + align - 1) & ~(align - 1);
    struct arena_chunk *c = a->head;
    if (c == NULL || c->cap - c->used < size) {
        size_t cap = size > a->chunk_size ? size : a->chunk_size;
        c = chunk_new(cap);
        c->used = 0;
        c->next = a->head;
        a->head = c;
    }
    void *p = c->data + c->used;
    c->used += size;
    memset(p, 0, size);
    return p;
}

char *arena_strndup(struct arena *a, const char *s, size_t len)
{
    char *p = arena_alloc(a, len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *arena_strdup(struct arena *a, const char *s)
{
    return arena_strndup(a, s, strlen(s));
}

char *arena_printf(struct arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return arena_strdup(a, "");
    char *p = arena_alloc(a, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}
