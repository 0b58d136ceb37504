/*
 * survey_page.c - the public survey page: GET /s/{token} renders a small
 * mobile-friendly HTML form (no scripts, no inline styles: the page's CSP
 * is default-src 'self'; its stylesheet is /survey.css), POST /s/{token}
 * takes the answer as a form or as JSON.  Both are rate limited per client
 * address.  Every value put into the page goes through html_text().
 */
#include "http/html.h"
#include "http/ratelimit.h"

#include <pthread.h>
#include "analytics/surveys_int.h"

#include "api/api.h"
#include "classify/classify.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/str.h"
#include "http/http.h"
#include "intake/intake.h"

#include <stdio.h>
#include <string.h>

#define PAGE_LIMIT_PER_MIN 120 /* requests to /s/ per client address and minute */
#define MAX_COMMENT 2000       /* characters */


/* ---- rate limit per client address --------------------------------------------- */

static struct rate_limiter *page_limiter;
static pthread_once_t page_limiter_once = PTHREAD_ONCE_INIT;

static void page_limiter_init(void)
{
    page_limiter = ratelimit_new(PAGE_LIMIT_PER_MIN);
}

static bool over_limit(struct http_request *req)
{
    char addr[64];
    http_client_addr(req, addr, sizeof addr);
    pthread_once(&page_limiter_once, page_limiter_init);
    return ratelimit_hit(page_limiter, addr, clock_now_ms());
}

/* ---- the page ------------------------------------------------------------------- */

static void page_begin(struct http_request *req, struct http_response *resp, const char *title)
{
    html_page_begin(req, resp, 200, title, "/survey.css", "survey");
}

static void page_end(struct http_response *resp)
{
    buf_puts(&resp->body, "<p class=\"brand\">отклик</p></main></body></html>\n");
}

static void page_message(struct http_request *req, struct http_response *resp, int status,
                         const char *title, const char *text)
{
    page_begin(req, resp, title);
    resp->status = status;
    buf_puts(&resp->body, "<h1>");
    html_text(&resp->body, title);
    buf_puts(&resp->body, "</h1><p class=\"note\">");
    html_text(&resp->body, text);
    buf_puts(&resp->body, "</p>");
    page_end(resp);
}

static void page_form(struct http_request *req, struct http_response *resp,
                      const struct invitation_view *v, const char *token)
{
    const struct survey_kind_def *k = survey_kind_find(v->kind);
    page_begin(req, resp, "Опрос");
    struct buf *b = &resp->body;
    buf_puts(b, "<h1>");
    html_text(b, v->question);
    buf_puts(b, "</h1><form method=\"post\" action=\"/s/");
    html_text(b, token);
    buf_printf(b, "\"><fieldset class=\"scale scale-%d\"><legend>Ваша оценка</legend>",
               k->max - k->min + 1);
    for (int s = k->min; s <= k->max; s++)
        buf_printf(b, "<label class=\"score\"><input type=\"radio\" name=\"score\" value=\"%d\" "
                      "required><span>%d</span></label>", s, s);
    buf_printf(b, "<div class=\"ends\"><span>%s</span><span>%s</span></div></fieldset>",
               strcmp(v->kind, "ces") == 0 ? "очень сложно" : "точно нет",
               strcmp(v->kind, "ces") == 0 ? "очень легко" : "точно да");
    buf_puts(b, "<fieldset class=\"reasons\"><legend>Что больше всего повлияло на оценку?"
                "</legend>");
    bool is_enps = strcmp(v->kind, "enps") == 0;
    for (int i = 0; survey_reasons[i].code; i++) {
        if (!is_enps && strcmp(survey_reasons[i].code, "workload") == 0)
            continue;
        buf_puts(b, "<label class=\"reason\"><input type=\"radio\" name=\"reason\" value=\"");
        html_text(b, survey_reasons[i].code);
        buf_puts(b, "\"><span>");
        html_text(b, survey_reasons[i].label_ru);
        buf_puts(b, "</span></label>");
    }
    buf_printf(b, "</fieldset><label class=\"comment\"><span>Комментарий (необязательно)</span>"
                  "<textarea name=\"comment\" rows=\"4\" maxlength=\"%d\"></textarea></label>"
                  "<button type=\"submit\">Отправить</button></form>", MAX_COMMENT);
    if (is_enps)
        buf_puts(b, "<p class=\"note\">Опрос анонимный: ответ не связывается с вашим именем.</p>");
    page_end(resp);
    resp->status = 200;
}

int api_survey_page(struct http_request *req, struct http_response *resp)
{
    if (over_limit(req))
        return err_set(&req->err, ERR_RATE_LIMITED, "", "too many requests, try again later");
    struct analytics *an = analytics_of(req->app);
    const char *token = req->params[0];
    int64_t id = an ? survey_token_check(an->secret, token) : 0;
    struct invitation_view v;
    struct db *r = store_reader(req->app->store);
    int rc = id ? survey_invitation_get(r, id, &v) : ERR_NOTFOUND;
    store_reader_done(req->app->store, r);
    if (rc != 0) {
        page_message(req, resp, 404, "Опрос не найден", "Ссылка неверна или устарела.");
    } else if (v.is_answered) {
        page_message(req, resp, 200, "Спасибо!", "Ваш ответ уже получен.");
    } else if (v.expires_at_ms < clock_now_ms()) {
        page_message(req, resp, 410, "Опрос завершён", "Срок ответа на этот опрос истёк.");
    } else {
        page_form(req, resp, &v, token);
    }
    return 0;
}

/* ---- the answer ------------------------------------------------------------------ */

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                        : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* The decoded value of name in an x-www-form-urlencoded body (arena string), or NULL. */
static const char *form_value(struct http_request *req, const char *body, const char *name)
{
    size_t nlen = strlen(name);
    for (const char *p = body; p && *p;) {
        const char *end = strchr(p, '&');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > nlen && strncmp(p, name, nlen) == 0 && p[nlen] == '=') {
            char *out = arena_alloc(&req->arena, len);
            size_t o = 0;
            for (size_t i = nlen + 1; i < len; i++) {
                if (p[i] == '+') {
                    out[o++] = ' ';
                } else if (p[i] == '%' && i + 2 < len && hexval(p[i + 1]) >= 0 &&
                           hexval(p[i + 2]) >= 0) {
                    out[o++] = (char)(hexval(p[i + 1]) * 16 + hexval(p[i + 2]));
                    i += 2;
                } else {
                    out[o++] = p[i];
                }
            }
            out[o] = '\0';
            return out;
        }
        p = end ? end + 1 : NULL;
    }
    return NULL;
}

/* score (integer), reason and comment (strings) of a JSON answer. */
static int json_answer_fields(struct http_request *req, json_t *body, struct answer_in *in)
{
    json_t *score = json_object_get(body, "score");
    if (!json_is_integer(score))
        return err_set(&req->err, ERR_INVALID, "score", "score must be a whole number");
    in->score = json_integer_value(score);
    int rc = intake_opt_string(body, "reason", 32, &req->arena, &in->reason, &req->err);
    if (rc == 0)
        rc = intake_opt_string(body, "comment", MAX_COMMENT, &req->arena, &in->comment,
                               &req->err);
    return rc;
}

struct answer_job {
    struct answer_in in;
    struct answer_out out;
};

static int answer_job(struct store_tx *tx, void *arg, struct err_info *err)
{
    struct answer_job *j = arg;
    return survey_answer_record(tx, &j->in, &j->out, err);
}

int api_survey_answer(struct http_request *req, struct http_response *resp)
{
    if (over_limit(req))
        return err_set(&req->err, ERR_RATE_LIMITED, "", "too many requests, try again later");
    struct analytics *an = analytics_of(req->app);
    int64_t id = an ? survey_token_check(an->secret, req->params[0]) : 0;
    if (id == 0)
        return err_set(&req->err, ERR_NOTFOUND, "token", "no such survey invitation");
    const char *ct = http_header(req, "Content-Type");
    bool is_json = ct && strncmp(ct, "application/json", 16) == 0;
    struct answer_job j;
    memset(&j, 0, sizeof j);
    j.in.invitation_id = id;
    const char *score_text = NULL;
    if (is_json) {
        json_t *body;
        int rc = http_json_body(req, &body);
        if (rc != 0)
            return rc;
        static const char *const keys[] = {"score", "reason", "comment", NULL};
        if ((rc = api_check_keys(req, body, keys)) != 0 ||
            (rc = json_answer_fields(req, body, &j.in)) != 0) {
            json_decref(body);
            return rc;
        }
        json_decref(body);
    } else {
        const char *body = buf_cstr(&req->body);
        score_text = form_value(req, body, "score");
        j.in.reason = form_value(req, body, "reason");
        j.in.comment = form_value(req, body, "comment");
        if (score_text == NULL || score_text[0] == '\0')
            return err_set(&req->err, ERR_INVALID, "score", "choose a score");
        if (str_to_i64(str_from(score_text), 0, 10, &j.in.score) != 0)
            return err_set(&req->err, ERR_INVALID, "score", "the score must be a whole number");
        if (j.in.reason && j.in.reason[0] == '\0')
            j.in.reason = NULL;
        if (j.in.comment && !utf8_valid(j.in.comment, strlen(j.in.comment)))
            return err_set(&req->err, ERR_INVALID, "comment", "the comment is not valid UTF-8");
        if (j.in.comment && utf8_length(j.in.comment, strlen(j.in.comment)) > MAX_COMMENT)
            return err_set(&req->err, ERR_INVALID, "comment", "the comment is longer than %d "
                           "characters", MAX_COMMENT);
    }
    /* The comment is classified like a request: topic and sentiment, when models are loaded. */
    if (j.in.comment && j.in.comment[0]) {
        struct prediction p;
        if (req->app->topic &&
            classifier_predict(req->app->topic, j.in.comment, strlen(j.in.comment), &p) == 0)
            j.in.topic = p.label;
        if (req->app->sentiment &&
            classifier_predict(req->app->sentiment, j.in.comment, strlen(j.in.comment), &p) == 0)
            j.in.sentiment = p.label;
    }
    int rc = store_write(req->app->store, answer_job, &j, &req->err);
    if (!is_json) {
        if (rc == ERR_CONFLICT) {
            page_message(req, resp, 409, "Спасибо!", "Ваш ответ уже получен.");
            return 0;
        }
        if (rc == ERR_INVALID) {
            page_message(req, resp, 400, "Ответ не принят", req->err.message);
            return 0;
        }
        if (rc != 0)
            return rc;
        page_message(req, resp, 200, "Спасибо за ответ!",
                     j.out.is_low ? "Нам жаль, что вы остались недовольны. Мы разберёмся и "
                                    "свяжемся с вами."
                                  : "Ваше мнение помогает нам стать лучше.");
        return 0;
    }
    if (rc != 0)
        return rc;
    json_t *o = json_pack("{s:I, s:b}", "answer_id", (json_int_t)j.out.answer_id, "low",
                          j.out.is_low);
    json_object_set_new(o, "followup_request_id", j.out.followup_request_id
                                                      ? json_integer(j.out.followup_request_id)
                                                      : json_null());
    http_reply_json(resp, 201, o);
    return 0;
}
