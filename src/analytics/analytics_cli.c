/*
 * analytics_cli.c - `otklik analytics`: rebuild the rollups from the event
 * log, bring them up to date, run the trend detector, and fill demo survey
 * answers.  Each subcommand prints one JSON object; wrong arguments exit 2.
 */
#include "analytics/analytics_int.h"

#include "core/clock.h"
#include "core/str.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: otklik analytics rebuild --db FILE\n"
            "       otklik analytics update --db FILE\n"
            "       otklik analytics detect --db FILE [--day YYYY-MM-DD]\n"
            "       otklik analytics seed-surveys --db FILE [--answers N] [--days N] [--seed N]\n\n"
            "rebuild       recompute every rollup from the event log in one transaction\n"
            "update        consume the events the rollups have not seen yet\n"
            "detect        run the spike and rising-trend detectors (alerts as events)\n"
            "seed-surveys  add demo NPS/CSAT/CES/CSI/eNPS answers over the last days\n");
}

/* --name VALUE or --name=VALUE at argv[*i]; advances *i. */
static const char *flag_value(int argc, char **argv, int *i, const char *name)
{
    size_t n = strlen(name);
    const char *a = argv[*i];
    if (strncmp(a, "--", 2) != 0 || strncmp(a + 2, name, n) != 0)
        return NULL;
    if (a[2 + n] == '=')
        return a + 3 + n;
    if (a[2 + n] == '\0' && *i + 1 < argc)
        return argv[++*i];
    return NULL;
}

int analytics_main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *sub = argv[1];
    if (strcmp(sub, "rebuild") != 0 && strcmp(sub, "update") != 0 &&
        strcmp(sub, "detect") != 0 && strcmp(sub, "seed-surveys") != 0) {
        fprintf(stderr, "otklik analytics: unknown subcommand '%s' (see --help)\n", sub);
        return 2;
    }
    const char *db = NULL, *day = NULL;
    int64_t answers = 5000, days = 90, seed = 1;
    for (int i = 2; i < argc; i++) {
        const char *v;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if ((v = flag_value(argc, argv, &i, "db"))) {
            db = v;
        } else if ((v = flag_value(argc, argv, &i, "day"))) {
            day = v;
        } else if ((v = flag_value(argc, argv, &i, "answers"))) {
            if (str_to_i64(str_from(v), 1, 100000000, &answers) != 0) {
                fprintf(stderr, "otklik analytics: --answers must be a whole number >= 1\n");
                return 2;
            }
        } else if ((v = flag_value(argc, argv, &i, "days"))) {
            if (str_to_i64(str_from(v), 1, 3650, &days) != 0) {
                fprintf(stderr, "otklik analytics: --days must be from 1 to 3650\n");
                return 2;
            }
        } else if ((v = flag_value(argc, argv, &i, "seed"))) {
            if (str_to_i64(str_from(v), 0, INT64_MAX, &seed) != 0) {
                fprintf(stderr, "otklik analytics: --seed must be a whole number\n");
                return 2;
            }
        } else {
            fprintf(stderr, "otklik analytics %s: unexpected argument '%s' (see --help)\n", sub,
                    argv[i]);
            return 2;
        }
    }
    if (db == NULL) {
        fprintf(stderr, "otklik analytics %s: --db is required\n", sub);
        return 2;
    }
    int64_t today = clock_now_ms() / DAY_MS;
    if (day) {
        int64_t y, m, d;
        if (strlen(day) != 10 || str_to_i64((struct str){day, 4}, 1970, 2200, &y) != 0 ||
            str_to_i64((struct str){day + 5, 2}, 1, 12, &m) != 0 ||
            str_to_i64((struct str){day + 8, 2}, 1, 31, &d) != 0) {
            fprintf(stderr, "otklik analytics: --day must be YYYY-MM-DD\n");
            return 2;
        }
        today = days_from_civil(y, (unsigned)m, (unsigned)d);
    }
    struct store *s;
    struct err_info err = {0};
    if (store_open(db, NULL, &s, &err) != 0) {
        fprintf(stderr, "otklik analytics: %s\n", err.message);
        return 1;
    }
    int rc;
    uint64_t t0 = clock_mono_ns();
    if (strcmp(sub, "rebuild") == 0) {
        struct rebuild_stats st;
        rc = analytics_rebuild(s, &st, &err);
        double total_s = (double)(clock_mono_ns() - t0) / 1e9;
        if (rc == 0)
            printf("{\"events\": %lld, \"requests\": %lld, \"answers\": %lld, \"scan_s\": %.3f, "
                   "\"write_s\": %.3f, \"seconds\": %.3f, \"events_per_s\": %.0f, \"parts_s\": "
                   "{\"events\": %.3f, \"requests\": %.3f, \"requests_rest\": %.3f, "
                   "\"facts\": %.3f, \"sum\": %.3f, \"rollups\": %.3f, \"wait\": %.3f, "
                   "\"swap\": %.3f, \"commit\": %.3f}}\n",
                   (long long)st.n_events, (long long)st.n_requests, (long long)st.n_answers,
                   st.scan_s, st.write_s, total_s, total_s > 0 ? (double)st.n_events / total_s : 0,
                   st.events_s, st.requests_s, st.requests_rest_s, st.facts_s, st.sum_s,
                   st.rollups_s, st.wait_s, st.swap_s, st.commit_s);
    } else if (strcmp(sub, "update") == 0) {
        int64_t n = 0;
        rc = analytics_rollup_step(s, 1 << 30, &n, &err);
        if (rc == 0)
            printf("{\"events\": %lld, \"seconds\": %.3f}\n", (long long)n,
                   (double)(clock_mono_ns() - t0) / 1e9);
    } else if (strcmp(sub, "detect") == 0) {
        int64_t n = 0;
        int n_new = 0;
        rc = analytics_rollup_step(s, 1 << 30, &n, &err);
        if (rc == 0)
            rc = analytics_detect(s, today, &n_new, &err);
        if (rc == 0)
            printf("{\"new_alerts\": %d}\n", n_new);
    } else {
        rc = analytics_seed_surveys(s, (uint64_t)seed, (int)answers, (int)days, &err);
        if (rc == 0)
            printf("{\"answers\": %lld, \"seconds\": %.3f}\n", (long long)answers,
                   (double)(clock_mono_ns() - t0) / 1e9);
    }
    store_close(s);
    if (rc != 0) {
        fprintf(stderr, "otklik analytics %s: %s\n", sub, err.message);
        return 1;
    }
    return 0;
}
