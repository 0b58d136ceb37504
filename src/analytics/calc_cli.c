/*
 * calc_cli.c - `otklik calc`: one table of subcommands over metrics.h and
 * calendar.h.  Arguments are key=value words checked against each
 * subcommand's list of keys; results go out as one JSON object (jansson),
 * undefined values as null; every error names the argument and exits 2.
 */
#include "analytics/calc.h"

#include "analytics/metrics.h"
#include "core/err.h"
#include "core/mem.h"
#include "core/str.h"
#include "rules/calendar.h"
#include "rules/tz.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ARGS 32
#define MAX_PAUSES 1000

struct arg {
    struct str key;
    struct str value;
};

struct args {
    struct arg items[MAX_ARGS];
    size_t n;
};

struct calc_cmd {
    const char *name;
    int (*run)(const struct args *a, json_t *out, struct err_info *err);
    const char *const *keys; /* NULL-terminated list of accepted keys */
    const char *usage;
};

/* ---- arguments --------------------------------------------------------- */

static const struct arg *arg_find(const struct args *a, const char *key)
{
    for (size_t i = 0; i < a->n; i++)
        if (str_eq(a->items[i].key, key))
            return &a->items[i];
    return NULL;
}

/* Integer argument in [min, max]; *is_set tells whether it was given (may be NULL if required). */
static int arg_i64(const struct args *a, const char *key, int64_t min, int64_t max, bool *is_set,
                   int64_t *out, struct err_info *err)
{
    const struct arg *it = arg_find(a, key);
    if (is_set)
        *is_set = it != NULL;
    if (!it) {
        if (is_set)
            return 0;
        return err_set(err, ERR_INVALID, key, "missing %s=N (a whole number)", key);
    }
    if (str_to_i64(it->value, min, max, out) != 0)
        return err_set(err, ERR_INVALID, key,
                       "%s: want a whole number from %lld to %lld, got '%.*s'", key, (long long)min,
                       (long long)max, (int)it->value.len, it->value.ptr);
    return 0;
}

/* Decimal argument in [min, max] (exclusive of min when min_open). */
static int arg_double(const struct args *a, const char *key, double min, double max, bool min_open,
                      bool *is_set, double *out, struct err_info *err)
{
    const struct arg *it = arg_find(a, key);
    if (is_set)
        *is_set = it != NULL;
    if (!it) {
        if (is_set)
            return 0;
        return err_set(err, ERR_INVALID, key, "missing %s=X (a number)", key);
    }
    double v;
    if (str_to_double(it->value, min, max, &v) != 0 || (min_open && v == min))
        return err_set(err, ERR_INVALID, key, "%s: want a number %s %g and <= %g, got '%.*s'", key,
                       min_open ? ">" : ">=", min, max, (int)it->value.len, it->value.ptr);
    *out = v;
    return 0;
}

static int arg_str(const struct args *a, const char *key, bool is_required, const char **out,
                   struct err_info *err)
{
    const struct arg *it = arg_find(a, key);
    *out = NULL;
    if (!it) {
        if (is_required)
            return err_set(err, ERR_INVALID, key, "missing %s=...", key);
        return 0;
    }
    if (it->value.len == 0)
        return err_set(err, ERR_INVALID, key, "%s is empty", key);
    *out = it->value.ptr; /* argv strings are NUL-terminated after the '=' */
    return 0;
}

static int parse_args(const struct calc_cmd *cmd, int argc, char **argv, struct args *a,
                      struct err_info *err)
{
    a->n = 0;
    for (int i = 0; i < argc; i++) {
        const char *w = argv[i];
        const char *eq = strchr(w, '=');
        if (!eq || eq == w)
            return err_set(err, ERR_INVALID, w, "argument '%s' is not key=value", w);
        struct str key = {w, (size_t)(eq - w)};
        bool is_known = false;
        for (const char *const *k = cmd->keys; *k; k++)
            if (str_eq(key, *k))
                is_known = true;
        if (!is_known) {
            char known[256] = "";
            size_t used = 0;
            for (const char *const *k = cmd->keys; *k && used < sizeof known; k++)
                used += (size_t)snprintf(known + used, sizeof known - used, "%s%s",
                                         k == cmd->keys ? "" : ", ", *k);
            return err_set(err, ERR_INVALID, w, "unknown argument '%.*s' (known: %s)", (int)key.len,
                           key.ptr, known);
        }
        for (size_t j = 0; j < a->n; j++)
            if (a->items[j].key.len == key.len &&
                memcmp(a->items[j].key.ptr, key.ptr, key.len) == 0)
                return err_set(err, ERR_INVALID, w, "argument '%.*s' given twice", (int)key.len,
                               key.ptr);
        if (a->n == MAX_ARGS)
            return err_set(err, ERR_INVALID, w, "too many arguments");
        a->items[a->n++] = (struct arg){key, str_from(eq + 1)};
    }
    return 0;
}

/* ---- output helpers ------------------------------------------------------ */

static void put_num(json_t *o, const char *key, double v)
{
    json_object_set_new(o, key, isnan(v) ? json_null() : json_real(v));
}

static void put_int(json_t *o, const char *key, int64_t v)
{
    json_object_set_new(o, key, json_integer((json_int_t)v));
}

static void put_str(json_t *o, const char *key, const char *v)
{
    json_object_set_new(o, key, json_string(v));
}

/* ---- nps / enps ---------------------------------------------------------- */

static const char *const nps_keys[] = {"promoters", "passives", "detractors", "z", "method", NULL};

static int run_nps(const struct args *a, json_t *out, struct err_info *err)
{
    int64_t prom, pass, det;
    double z = 1.96;
    bool has_z;
    const char *method_name;
    enum nps_ci_method method = NPS_CI_WALD;
    int rc;
    if ((rc = arg_i64(a, "promoters", 0, METRICS_COUNT_MAX, NULL, &prom, err)) ||
        (rc = arg_i64(a, "passives", 0, METRICS_COUNT_MAX, NULL, &pass, err)) ||
        (rc = arg_i64(a, "detractors", 0, METRICS_COUNT_MAX, NULL, &det, err)) ||
        (rc = arg_double(a, "z", 0, 10, true, &has_z, &z, err)) ||
        (rc = arg_str(a, "method", false, &method_name, err)))
        return rc;
    if (method_name) {
        if (strcmp(method_name, "wald") == 0)
            method = NPS_CI_WALD;
        else if (strcmp(method_name, "adjusted-wald") == 0)
            method = NPS_CI_ADJUSTED_WALD;
        else
            return err_set(err, ERR_INVALID, "method",
                           "method: want wald or adjusted-wald, got '%s'", method_name);
    }
    struct nps_result r;
    if (metrics_nps(prom, pass, det, z, method, &r) != 0)
        return err_set(err, ERR_INVALID, "promoters", "counts are too large");
    put_num(out, "nps", r.nps_pts);
    put_int(out, "n", r.n);
    put_num(out, "ci_low", r.ci_low_pts);
    put_num(out, "ci_high", r.ci_high_pts);
    put_str(out, "method", method == NPS_CI_WALD ? "wald" : "adjusted-wald");
    put_num(out, "z", z);
    put_num(out, "se", r.se_pts);
    put_int(out, "promoters", prom);
    put_int(out, "passives", pass);
    put_int(out, "detractors", det);
    put_num(out, "promoters_pct", r.promoters_pct);
    put_num(out, "passives_pct", r.passives_pct);
    put_num(out, "detractors_pct", r.detractors_pct);
    return 0;
}

/* ---- csat, loyalty, service-level ------------------------------------------ */

static const char *const csat_keys[] = {"satisfied", "total", NULL};

static int run_csat(const struct args *a, json_t *out, struct err_info *err)
{
    int64_t sat, total;
    int rc;
    if ((rc = arg_i64(a, "satisfied", 0, METRICS_COUNT_MAX, NULL, &sat, err)) ||
        (rc = arg_i64(a, "total", 0, METRICS_COUNT_MAX, NULL, &total, err)))
        return rc;
    double pct;
    if (metrics_csat(sat, total, &pct) != 0)
        return err_set(err, ERR_INVALID, "satisfied", "satisfied (%lld) exceeds total (%lld)",
                       (long long)sat, (long long)total);
    put_num(out, "csat", pct);
    put_int(out, "satisfied", sat);
    put_int(out, "total", total);
    return 0;
}

static const char *const loyalty_keys[] = {"positive", "negative", NULL};

static int run_loyalty(const struct args *a, json_t *out, struct err_info *err)
{
    int64_t pos, neg;
    int rc;
    if ((rc = arg_i64(a, "positive", 0, METRICS_COUNT_MAX, NULL, &pos, err)) ||
        (rc = arg_i64(a, "negative", 0, METRICS_COUNT_MAX, NULL, &neg, err)))
        return rc;
    double index;
    if (metrics_loyalty_index(pos, neg, &index) != 0)
        return err_set(err, ERR_INVALID, "positive", "counts are out of range");
    put_num(out, "index", index);
    put_int(out, "positive", pos);
    put_int(out, "negative", neg);
    put_int(out, "total", pos + neg);
    return 0;
}

static const char *const sl_keys[] = {"answered",         "answered_within", "abandoned",
                                      "abandoned_within", "abandoned_rule",  NULL};

static const struct {
    const char *name;
    enum sl_abandon_rule rule;
} sl_rules[] = {
    {"exclude-short", SL_ABANDON_EXCLUDE_SHORT},
    {"ignore", SL_ABANDON_IGNORE},
    {"all-missed", SL_ABANDON_ALL_MISSED},
    {"short-met", SL_ABANDON_SHORT_MET},
};

static int run_service_level(const struct args *a, json_t *out, struct err_info *err)
{
    struct contact_counts c = {0};
    bool has_ab, has_abw;
    const char *rule_name;
    int rc;
    if ((rc = arg_i64(a, "answered", 0, METRICS_COUNT_MAX, NULL, &c.n_answered, err)) ||
        (rc = arg_i64(a, "answered_within", 0, METRICS_COUNT_MAX, NULL, &c.n_answered_within,
                      err)) ||
        (rc = arg_i64(a, "abandoned", 0, METRICS_COUNT_MAX, &has_ab, &c.n_abandoned, err)) ||
        (rc = arg_i64(a, "abandoned_within", 0, METRICS_COUNT_MAX, &has_abw, &c.n_abandoned_within,
                      err)) ||
        (rc = arg_str(a, "abandoned_rule", false, &rule_name, err)))
        return rc;
    size_t ri = 0;
    if (rule_name) {
        for (ri = 0; ri < sizeof sl_rules / sizeof sl_rules[0]; ri++)
            if (strcmp(rule_name, sl_rules[ri].name) == 0)
                break;
        if (ri == sizeof sl_rules / sizeof sl_rules[0])
            return err_set(err, ERR_INVALID, "abandoned_rule",
                           "abandoned_rule: want exclude-short, ignore, all-missed or short-met, "
                           "got '%s'",
                           rule_name);
    }
    if (c.n_answered_within > c.n_answered)
        return err_set(err, ERR_INVALID, "answered_within", "answered_within exceeds answered");
    if (c.n_abandoned_within > c.n_abandoned)
        return err_set(err, ERR_INVALID, "abandoned_within", "abandoned_within exceeds abandoned");
    double sl, ab_rate;
    if (metrics_service_level(&c, sl_rules[ri].rule, &sl) != 0 ||
        metrics_abandon_rate(&c, false, &ab_rate) != 0)
        return err_set(err, ERR_INVALID, "answered", "counts are out of range");
    put_num(out, "service_level", sl);
    put_num(out, "abandon_rate", ab_rate);
    put_str(out, "abandoned_rule", sl_rules[ri].name);
    put_int(out, "offered", c.n_answered + c.n_abandoned);
    return 0;
}

/* ---- erlang-c ----------------------------------------------------------------- */

static const char *const erlang_keys[] = {"calls",     "period", "aht",        "answer",
                                          "agents",    "target", "target_asa", "max_occupancy",
                                          "shrinkage", NULL};

static void put_erlang(json_t *out, const struct erlang_c_result *r)
{
    put_num(out, "traffic", r->traffic_erl);
    put_int(out, "agents", r->agents);
    put_num(out, "p_wait", r->p_wait);
    put_num(out, "service_level", r->service_level);
    put_num(out, "asa", r->asa_s);
    put_num(out, "occupancy", r->occupancy);
    json_object_set_new(out, "overloaded", json_boolean(r->is_overloaded));
}

static int run_erlang_c(const struct args *a, json_t *out, struct err_info *err)
{
    struct erlang_c_input in;
    struct erlang_c_target t = {0};
    int64_t agents = 0;
    bool has_agents, has_target, has_asa, has_occ, has_shrink;
    int rc;
    if ((rc = arg_double(a, "calls", 0, 1e9, false, NULL, &in.calls, err)) ||
        (rc = arg_double(a, "period", 0, 1e9, true, NULL, &in.period_s, err)) ||
        (rc = arg_double(a, "aht", 0, 1e7, true, NULL, &in.aht_s, err)) ||
        (rc = arg_double(a, "answer", 0, 1e7, false, NULL, &in.answer_s, err)) ||
        (rc = arg_i64(a, "agents", 1, 1000000, &has_agents, &agents, err)) ||
        (rc = arg_double(a, "target", 0, 0.999999, true, &has_target, &t.service_level, err)) ||
        (rc = arg_double(a, "target_asa", 0, 1e7, true, &has_asa, &t.asa_s, err)) ||
        (rc = arg_double(a, "max_occupancy", 0, 1, true, &has_occ, &t.max_occupancy, err)) ||
        (rc = arg_double(a, "shrinkage", 0, 0.95, false, &has_shrink, &t.shrinkage, err)))
        return rc;
    if (in.calls * in.aht_s / in.period_s > 500000)
        return err_set(err, ERR_INVALID, "calls",
                       "traffic calls*aht/period is over 500000 Erlangs; check the units "
                       "(period and aht are in seconds)");
    if (has_agents && (has_target || has_asa || has_occ))
        return err_set(err, ERR_INVALID, "agents",
                       "give agents=N to evaluate a staffing, or target=/target_asa= to solve "
                       "for one, not both");
    if (has_agents) {
        struct erlang_c_result r;
        if (erlang_c_eval(&in, agents, &r) != 0)
            return err_set(err, ERR_INVALID, "calls", "inputs are out of range");
        put_erlang(out, &r);
        if (has_shrink) {
            int64_t scheduled;
            erlang_scheduled_agents(agents, t.shrinkage, &scheduled);
            put_int(out, "scheduled_agents", scheduled);
        }
        if (r.is_overloaded)
            put_str(out, "note",
                    "traffic is at or above the number of agents: every contact "
                    "waits and the queue grows without bound");
        return 0;
    }
    if (!has_target && !has_asa)
        return err_set(err, ERR_INVALID, "agents",
                       "give agents=N, or target=SHARE (e.g. 0.8) and/or target_asa=SECONDS to "
                       "find the agents needed");
    struct erlang_c_plan plan;
    rc = erlang_c_solve(&in, &t, &plan);
    if (rc == ERR_TOOBIG)
        return err_set(err, ERR_INVALID, "target",
                       "no staffing up to 1000000 agents meets the targets");
    if (rc != 0)
        return err_set(err, ERR_INVALID, "target", "inputs are out of range");
    put_erlang(out, &plan.result);
    if (has_shrink)
        put_int(out, "scheduled_agents", plan.scheduled_agents);
    if (has_target)
        put_num(out, "target", t.service_level);
    if (has_asa)
        put_num(out, "target_asa", t.asa_s);
    if (has_occ)
        put_num(out, "max_occupancy", t.max_occupancy);
    if (has_shrink)
        put_num(out, "shrinkage", t.shrinkage);
    return 0;
}

/* ---- due -------------------------------------------------------------------------- */

static const char *const due_keys[] = {"start", "minutes", "calendar", "pauses", NULL};

static int parse_pauses(const struct calendar *cal, const char *text, struct calendar_pause **out,
                        size_t *out_n, struct err_info *err)
{
    size_t n = 0, cap = 0;
    struct calendar_pause *p = NULL;
    const char *s = text;
    int rc = 0;
    for (;;) {
        const char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);
        const char *slash = memchr(s, '/', len);
        if (!slash) {
            rc = err_set(err, ERR_INVALID, "pauses",
                         "pauses: want START/END[,START/END...], got '%.*s'", (int)len, s);
            goto out;
        }
        if (n == MAX_PAUSES) {
            rc = err_set(err, ERR_INVALID, "pauses", "pauses: more than %d", MAX_PAUSES);
            goto out;
        }
        xgrow((void **)&p, &cap, n + 1, sizeof *p);
        struct str a = {s, (size_t)(slash - s)};
        struct str b = {slash + 1, len - (size_t)(slash - s) - 1};
        if ((rc = calendar_parse_time(cal, a, "pauses", &p[n].start_ms, err)) != 0 ||
            (rc = calendar_parse_time(cal, b, "pauses", &p[n].end_ms, err)) != 0)
            goto out;
        if (p[n].end_ms < p[n].start_ms) {
            rc = err_set(err, ERR_INVALID, "pauses", "pauses: '%.*s' ends before it starts",
                         (int)len, s);
            goto out;
        }
        n++;
        if (!comma)
            break;
        s = comma + 1;
    }
out:
    if (rc != 0) {
        free(p);
        p = NULL;
        n = 0;
    }
    *out = p;
    *out_n = n;
    return rc;
}

static int run_due(const struct args *a, json_t *out, struct err_info *err)
{
    const char *start_text, *path, *pauses_text;
    double minutes;
    struct calendar *cal = NULL;
    struct calendar_pause *pauses = NULL;
    size_t n_pauses = 0;
    int rc;
    if ((rc = arg_str(a, "start", true, &start_text, err)) ||
        (rc = arg_double(a, "minutes", 0, 1e8, false, NULL, &minutes, err)) ||
        (rc = arg_str(a, "calendar", true, &path, err)) ||
        (rc = arg_str(a, "pauses", false, &pauses_text, err)))
        return rc;
    if ((rc = calendar_load_file(path, &cal, err)) != 0)
        goto out;
    int64_t start_ms, due_ms;
    if ((rc = calendar_parse_time(cal, str_from(start_text), "start", &start_ms, err)) != 0)
        goto out;
    if (pauses_text && (rc = parse_pauses(cal, pauses_text, &pauses, &n_pauses, err)) != 0)
        goto out;
    int64_t duration_ms = (int64_t)llround(minutes * 60000.0);
    rc = calendar_add_business_ms(cal, start_ms, duration_ms, pauses, n_pauses, &due_ms);
    if (rc != 0) {
        rc = err_set(err, rc, "minutes", "the due time lies more than 100 years ahead");
        goto out;
    }
    char text[48];
    tz_format_local(cal->zone, due_ms, text, sizeof text);
    put_str(out, "due", text);
    tz_format_utc(due_ms, text, sizeof text);
    put_str(out, "due_utc", text);
    tz_format_local(cal->zone, start_ms, text, sizeof text);
    put_str(out, "start", text);
    tz_format_utc(start_ms, text, sizeof text);
    put_str(out, "start_utc", text);
    put_num(out, "minutes", minutes);
    put_str(out, "time_zone", tz_zone_name(cal->zone));
    put_int(out, "pauses", (int64_t)n_pauses);
out:
    free(pauses);
    calendar_free(cal);
    return rc;
}

/* ---- the table ------------------------------------------------------------------- */

static const struct calc_cmd calc_cmds[] = {
    {"nps", run_nps, nps_keys,
     "usage: otklik calc nps promoters=N passives=N detractors=N [z=1.96] "
     "[method=wald|adjusted-wald]\n"
     "  Net Promoter Score in points (% answers 9-10 minus % answers 0-6) with a\n"
     "  confidence interval (z=1.96: 95%). wald: Var = (p + d - (p - d)^2) / n;\n"
     "  adjusted-wald: add 3/4 to promoters and detractors and 3 to n (Rocks 2016).\n"
     "  Prints nps, n, ci_low, ci_high, se and the group shares in percent.\n"},
    {"enps", run_nps, nps_keys,
     "usage: otklik calc enps promoters=N passives=N detractors=N [z=1.96] "
     "[method=wald|adjusted-wald]\n"
     "  Employee NPS: the same arithmetic as `otklik calc nps`.\n"},
    {"csat", run_csat, csat_keys,
     "usage: otklik calc csat satisfied=N total=N\n"
     "  CSAT in percent: answers 4-5 on a 1-5 scale / all answers (null when total=0).\n"},
    {"loyalty", run_loyalty, loyalty_keys,
     "usage: otklik calc loyalty positive=N negative=N\n"
     "  Loyalty index (positive - negative) / (positive + negative) in [-1, 1]\n"
     "  (null when both are 0).\n"},
    {"service-level", run_service_level, sl_keys,
     "usage: otklik calc service-level answered=N answered_within=N [abandoned=N]\n"
     "       [abandoned_within=N] [abandoned_rule=exclude-short|ignore|all-missed|short-met]\n"
     "  Share of contacts answered within the threshold, 0..1.  By default contacts\n"
     "  abandoned before the threshold are left out of the denominator and later\n"
     "  abandons count as missed (exclude-short).  Also prints abandon_rate.\n"},
    {"erlang-c", run_erlang_c, erlang_keys,
     "usage: otklik calc erlang-c calls=N period=SECONDS aht=SECONDS answer=SECONDS\n"
     "       (agents=N | target=SHARE [target_asa=SECONDS] | target_asa=SECONDS)\n"
     "       [max_occupancy=SHARE] [shrinkage=SHARE]\n"
     "  With agents: traffic (Erlangs), p_wait, service_level (0..1), asa (seconds),\n"
     "  occupancy.  With targets: the fewest agents meeting all of them and the same\n"
     "  figures, plus scheduled_agents = ceil(agents / (1 - shrinkage)).  When agents\n"
     "  do not exceed the traffic, p_wait is 1, service_level 0 and asa null.\n"},
    {"due", run_due, due_keys,
     "usage: otklik calc due start=TIME minutes=N calendar=FILE [pauses=START/END,...]\n"
     "  When N business minutes from start have elapsed under the calendar's hours,\n"
     "  not counting the pauses.  TIME without an offset is wall time of the\n"
     "  calendar's zone; with Z or +HH:MM it is absolute.  Prints due (local, with\n"
     "  offset) and due_utc.  Calendar file:\n"
     "  {\"time_zone\": \"Europe/Moscow\", \"week\": {\"mon\": [[\"09:00\", \"18:00\"]], ...,\n"
     "   \"sun\": []}, \"holidays\": [\"2024-05-13\"],\n"
     "   \"special_days\": {\"2024-04-27\": [[\"09:00\", \"18:00\"]]}}\n"},
};

#define N_CMDS (sizeof calc_cmds / sizeof calc_cmds[0])

static void calc_usage(FILE *f)
{
    fprintf(f, "usage: otklik calc SUBCOMMAND key=value ...   (SUBCOMMAND --help for each)\n\n"
               "subcommands:");
    for (size_t i = 0; i < N_CMDS; i++)
        fprintf(f, " %s", calc_cmds[i].name);
    fprintf(f, "\nEach prints one JSON object; bad arguments exit with status 2.\n");
}

int calc_main(int argc, char **argv)
{
    if (argc < 2) {
        calc_usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        calc_usage(stdout);
        return 0;
    }
    const struct calc_cmd *cmd = NULL;
    for (size_t i = 0; i < N_CMDS; i++)
        if (strcmp(argv[1], calc_cmds[i].name) == 0)
            cmd = &calc_cmds[i];
    if (!cmd) {
        fprintf(stderr, "otklik calc: unknown subcommand '%s'\n", argv[1]);
        calc_usage(stderr);
        return 2;
    }
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(cmd->usage, stdout);
            return 0;
        }
    }
    struct err_info err = {0};
    struct args args;
    json_t *out = json_object();
    int rc = parse_args(cmd, argc - 2, argv + 2, &args, &err);
    if (rc == 0)
        rc = cmd->run(&args, out, &err);
    if (rc != 0) {
        fprintf(stderr, "otklik calc %s: %s\n", cmd->name,
                err.message[0] ? err.message : err_str(rc));
        fprintf(stderr, "(otklik calc %s --help for usage)\n", cmd->name);
        json_decref(out);
        return 2;
    }
    char *text = json_dumps(out, JSON_REAL_PRECISION(12));
    json_decref(out);
    if (!text) {
        fprintf(stderr, "otklik calc %s: out of memory\n", cmd->name);
        return 1;
    }
    puts(text);
    free(text);
    return fflush(stdout) == 0 ? 0 : 1;
}
