/*
 * import.h - bulk NDJSON import: customers, orders, purchases, bonus
 * movements, requests, stores and departments, one JSON object a line with
 * a "type".  Good lines are kept, bad ones are reported with their line
 * number and reason; each line is all-or-nothing.  Lines are parsed in the
 * caller's thread and written in large batches through the store's writer.
 */
#ifndef OTKLIK_IMPORT_H
#define OTKLIK_IMPORT_H

#include "core/err.h"
#include "store/store.h"

#include <jansson.h>
#include <stddef.h>

#define IMPORT_MAX_REJECTED 1000 /* rejected lines listed in a report at most */

struct importer;

/* Start an import into s; actor is recorded on events (may be NULL). */
struct importer *importer_new(struct store *s, const char *actor);

/*
 * Take one line (without its newline).  Blank lines are skipped.  Returns 0,
 * or ERR_UNAVAILABLE when a batch could not be committed (the import stops).
 */
int importer_line(struct importer *im, const char *line, size_t len, struct err_info *err);

/*
 * Write what is pending and produce the report:
 * {"lines": n, "accepted": n, "rejected_count": n, "by_type": {...},
 *  "rejected": [{"line": n, "error": {"code", "message", "field"}}]}.
 */
int importer_finish(struct importer *im, json_t **report, struct err_info *err);

void importer_free(struct importer *im);

/* Import a whole NDJSON text. */
int import_ndjson(struct store *s, const char *data, size_t len, const char *actor,
                  json_t **report, struct err_info *err);

/* The same, read from fd (from offset 0 to its end) a few MiB at a time, so
 * an import of any size needs only that much memory beyond its batches. */
int import_ndjson_fd(struct store *s, int fd, const char *actor, json_t **report,
                     struct err_info *err);

#endif
