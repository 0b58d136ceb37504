/*
 * survey_answer.c - recording an answer: one per invitation, eNPS answers
 * stripped of anything that points back to the employee, the
 * survey.answered event the rollups read, and the follow-up complaint a
 * low customer score opens for the store and department of its reason.
 */
#include "analytics/surveys_int.h"

#include "core/clock.h"
#include "core/str.h"
#include "core/log.h"
#include "store/model.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int survey_invitation_get(struct db *r, int64_t id, struct invitation_view *out)
{
    sqlite3_stmt *st = db_stmt(r, "SELECT i.id, i.survey_id, i.expires_at_ms, s.kind, i.status, "
                                  "s.question FROM survey_invitations i JOIN surveys s "
                                  "ON s.id = i.survey_id WHERE i.id = $1");
    db_bind_i64(st, 1, id);
    bool found = db_step(r, st, NULL) == 1;
    if (found) {
        memset(out, 0, sizeof *out);
        out->id = db_col_i64(st, 0);
        out->survey_id = db_col_i64(st, 1);
        out->expires_at_ms = db_col_i64(st, 2);
        snprintf(out->kind, sizeof out->kind, "%s", db_col_text(st, 3));
        snprintf(out->status, sizeof out->status, "%s", db_col_text(st, 4));
        snprintf(out->question, sizeof out->question, "%s", db_col_text(st, 5));
        out->is_answered = strcmp(out->status, "answered") == 0;
    }
    sqlite3_reset(st);
    return found ? 0 : ERR_NOTFOUND;
}

struct inv_row {
    int64_t survey_id, customer_id, request_id, order_id, store_id, expires_at_ms, low_score;
    char kind[8], channel[16], department[32], status[16];
};

static int load_invitation(struct db *db, int64_t id, struct inv_row *v)
{
    sqlite3_stmt *st = db_stmt(
        db, "SELECT i.survey_id, i.customer_id, i.request_id, i.order_id, i.store_id, "
            "i.expires_at_ms, s.low_score, s.kind, i.channel, coalesce(i.department, ''), "
            "i.status FROM survey_invitations i JOIN surveys s ON s.id = i.survey_id "
            "WHERE i.id = $1");
    db_bind_i64(st, 1, id);
    bool found = db_step(db, st, NULL) == 1;
    if (found) {
        v->survey_id = db_col_i64(st, 0);
        v->customer_id = db_col_i64(st, 1);
        v->request_id = db_col_i64(st, 2);
        v->order_id = db_col_i64(st, 3);
        v->store_id = db_col_i64(st, 4);
        v->expires_at_ms = db_col_i64(st, 5);
        v->low_score = db_col_i64(st, 6);
        snprintf(v->kind, sizeof v->kind, "%s", db_col_text(st, 7));
        snprintf(v->channel, sizeof v->channel, "%s", db_col_text(st, 8));
        snprintf(v->department, sizeof v->department, "%s", db_col_text(st, 9));
        snprintf(v->status, sizeof v->status, "%s", db_col_text(st, 10));
    }
    sqlite3_reset(st);
    return found ? 0 : ERR_NOTFOUND;
}

/* One identity of the customer, so the follow-up request joins the same profile. */
static void customer_identity(struct db *db, int64_t customer_id, struct customer_in *c,
                              char *value, size_t cap)
{
    memset(c, 0, sizeof *c);
    sqlite3_stmt *st = db_stmt(db, "SELECT kind, value FROM identities WHERE customer_id = $1 "
                                   "ORDER BY kind LIMIT 1");
    db_bind_i64(st, 1, customer_id);
    if (db_step(db, st, NULL) == 1) {
        const char *kind = db_col_text(st, 0);
        for (int i = 0; model_identity_kinds[i].field; i++)
            if (strcmp(model_identity_kinds[i].kind, kind) == 0) {
                snprintf(value, cap, "%s", db_col_text(st, 1));
                c->ids[i] = value;
            }
    }
    sqlite3_reset(st);
}

static int open_followup(struct store_tx *tx, const struct inv_row *v, const struct answer_in *in,
                         int64_t answer_id, int64_t *out_request_id, struct err_info *err)
{
    struct db *db = store_tx_db(tx);
    /* text holds a comment of up to 2000 characters (4 bytes each at most) and the preamble. */
    char store_code[64] = "", idval[256] = "", source[48], subject[160], text[8400];
    sqlite3_stmt *st = db_stmt(db, "SELECT code FROM stores WHERE id = $1");
    db_bind_i64(st, 1, v->store_id);
    if (db_step(db, st, NULL) == 1)
        snprintf(store_code, sizeof store_code, "%s", db_col_text(st, 0));
    sqlite3_reset(st);
    int reason = survey_reason_find(in->reason);
    const char *label = reason >= 0 ? survey_reasons[reason].label_ru : "не указана";
    snprintf(source, sizeof source, "survey-answer-%lld", (long long)answer_id);
    snprintf(subject, sizeof subject, "Низкая оценка в опросе %s: %lld", v->kind,
             (long long)in->score);
    snprintf(text, sizeof text, "Покупатель поставил оценку %lld. Причина: %s.%s%s",
             (long long)in->score, label, in->comment && in->comment[0] ? " Комментарий: " : "",
             in->comment ? in->comment : "");
    utf8_sanitize(text); /* never a request text cut inside a character */
    struct request_in r = {
        .channel = model_find(model_channels, v->channel) >= 0 ? v->channel : "web",
        .source_id = source,
        .store_code = store_code[0] ? store_code : NULL,
        .subject = subject,
        .text = text,
        .kind = "complaint",
        .actor = "analytics:survey",
        .topic = reason >= 0 ? survey_reasons[reason].topic : in->topic,
        .topic_confidence = 1.0,
        .sentiment = "negative",
        .sentiment_confidence = 1.0,
        .priority = "high",
    };
    customer_identity(db, v->customer_id, &r.customer, idval, sizeof idval);
    struct request_out out;
    int rc = store_request_create(tx, &r, &out, err);
    if (rc != 0)
        return rc;
    *out_request_id = out.id;
    return 0;
}

int survey_answer_record(struct store_tx *tx, const struct answer_in *in, struct answer_out *out,
                         struct err_info *err)
{
    struct db *db = store_tx_db(tx);
    int64_t now = clock_now_ms();
    int64_t at = in->at_ms ? in->at_ms : now;
    struct inv_row v;
    memset(out, 0, sizeof *out);
    if (load_invitation(db, in->invitation_id, &v) != 0)
        return err_set(err, ERR_NOTFOUND, "token", "no such survey invitation");
    if (strcmp(v.status, "answered") == 0)
        return err_set(err, ERR_CONFLICT, "token", "this survey has already been answered");
    if (in->at_ms == 0 && v.expires_at_ms < now)
        return err_set(err, ERR_INVALID, "token", "this survey invitation has expired");
    const struct survey_kind_def *k = survey_kind_find(v.kind);
    if (k == NULL || in->score < k->min || in->score > k->max)
        return err_set(err, ERR_INVALID, "score", "the score must be from %d to %d",
                       k ? k->min : 0, k ? k->max : 0);
    if (in->reason && survey_reason_find(in->reason) < 0)
        return err_set(err, ERR_INVALID, "reason", "unknown reason '%s'", in->reason);
    bool is_enps = strcmp(v.kind, "enps") == 0;
    out->is_low = in->score <= v.low_score;
    const char *department = v.department[0] ? v.department : NULL;
    if (in->reason && !is_enps)
        department = survey_reasons[survey_reason_find(in->reason)].department;

    /* The guard against a second answer racing this one: only one UPDATE wins. */
    sqlite3_stmt *st = db_stmt(db, "UPDATE survey_invitations SET status = 'answered', "
                                   "answered_at_ms = $2 WHERE id = $1 AND status <> 'answered'");
    db_bind_i64(st, 1, in->invitation_id);
    db_bind_i64_or_null(st, 2, is_enps ? 0 : at); /* eNPS: no time to match an answer by */
    int rc = db_run(db, st, err);
    if (rc != 0)
        return rc;
    if (db_changes(db) != 1)
        return err_set(err, ERR_CONFLICT, "token", "this survey has already been answered");

    /* eNPS: no invitation, user or customer, and the time only to the day. */
    int64_t at_stored = is_enps ? at / DAY_MS * DAY_MS : at;
    st = db_stmt(db, "INSERT INTO survey_answers (survey_id, invitation_id, kind, score, reason, "
                     "department, comment, topic, sentiment, store_id, channel, customer_id, "
                     "at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)");
    db_bind_i64(st, 1, v.survey_id);
    db_bind_i64_or_null(st, 2, is_enps ? 0 : in->invitation_id);
    db_bind_text(st, 3, v.kind, -1);
    db_bind_i64(st, 4, in->score);
    db_bind_text(st, 5, in->reason, -1);
    db_bind_text(st, 6, department, -1);
    db_bind_text(st, 7, in->comment && in->comment[0] ? in->comment : NULL, -1);
    db_bind_text(st, 8, in->topic, -1);
    db_bind_text(st, 9, in->sentiment, -1);
    db_bind_i64_or_null(st, 10, v.store_id);
    db_bind_text(st, 11, v.channel, -1);
    db_bind_i64_or_null(st, 12, is_enps ? 0 : v.customer_id);
    db_bind_i64(st, 13, at_stored);
    if ((rc = db_run(db, st, err)) != 0)
        return rc;
    out->answer_id = db_last_id(db);

    if (out->is_low && !is_enps && !in->no_followup) {
        struct tx_mark mark = store_tx_part_begin(tx);
        struct err_info ferr = {0};
        int frc = open_followup(tx, &v, in, out->answer_id, &out->followup_request_id, &ferr);
        store_tx_part_end(tx, mark, frc == 0);
        if (frc != 0) {
            log_warn("survey followup failed answer=%lld msg=\"%s\"", (long long)out->answer_id,
                     ferr.message);
            out->followup_request_id = 0;
        } else {
            st = db_stmt(db, "UPDATE survey_answers SET followup_request_id = $2 WHERE id = $1");
            db_bind_i64(st, 1, out->answer_id);
            db_bind_i64(st, 2, out->followup_request_id);
            if ((rc = db_run(db, st, err)) != 0)
                return rc;
        }
    }

    json_t *d = json_pack("{s:s, s:I, s:s, s:I, s:b}", "kind", v.kind, "score",
                          (json_int_t)in->score, "channel", v.channel, "at_ms",
                          (json_int_t)at_stored, "low", out->is_low);
    json_object_set_new(d, "survey_id", json_integer(v.survey_id));
    if (in->reason)
        json_object_set_new(d, "reason", json_string(in->reason));
    if (department)
        json_object_set_new(d, "department", json_string(department));
    if (!is_enps) {
        json_object_set_new(d, "answer_id", json_integer(out->answer_id));
        if (in->topic)
            json_object_set_new(d, "topic", json_string(in->topic));
        if (in->sentiment)
            json_object_set_new(d, "sentiment", json_string(in->sentiment));
        if (out->followup_request_id)
            json_object_set_new(d, "followup_request_id", json_integer(out->followup_request_id));
    }
    char *text = json_dumps(d, JSON_COMPACT);
    json_decref(d);
    int64_t ev = store_event_add(tx, "survey.answered", is_enps ? 0 : v.request_id,
                                 is_enps ? 0 : v.customer_id, is_enps ? 0 : v.order_id,
                                 v.store_id, is_enps ? NULL : "customer", text, err);
    free(text);
    return ev < 0 ? (int)ev : 0;
}
