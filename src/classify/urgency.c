/*
 * urgency.c - Eisenhower urgency/importance assessment (work in progress).
 */
#include "classify/classify_int.h"

#include <string.h>

int urgency_assess(const char *text, size_t len, const struct urgency_context *ctx,
                   struct urgency_result *out)
{
    (void)text;
    (void)len;
    (void)ctx;
    memset(out, 0, sizeof(*out));
    out->priority = PRIORITY_NORMAL;
    return 0;
}

const char *urgency_quadrant_name(enum urgency_quadrant q)
{
    (void)q;
    return "neither";
}

const char *urgency_priority_name(enum urgency_priority p)
{
    (void)p;
    return "normal";
}

int classify_retrain(const char *seed_tsv, const char *corrections_tsv, const char *current_model,
                     const char *out_model, struct retrain_report *rep, struct err_info *err)
{
    (void)seed_tsv; (void)corrections_tsv; (void)current_model; (void)out_model; (void)rep; (void)err;
    return -1;
}
