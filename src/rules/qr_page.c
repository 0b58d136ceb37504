/*
 * qr_page.c - the public page a QR poster opens (GET /q?s=STORE&c=N&k=SIG)
 * and its form (POST /q): a shopper taps the problem, optionally leaving a
 * phone, and a `qr` request of kind `signal` is created through the normal
 * intake path.  Only signed links are accepted; submissions are rate
 * limited per client address and per poster.  The HTML is built with one
 * escaping function, has no inline script or style (CSP default-src 'self'),
 * and its stylesheet is served from /q/style.css.
 */
#include "rules/rules_int.h"

#include "api/api.h"
#include "classify/text.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/str.h"
#include "intake/intake.h"

#include <stdio.h>
#include <string.h>

#define PER_POSTER_WINDOW 10

struct problem {
    const char *code, *title, *topic;
};

static const struct problem problems[] = {
    {"queue", "Очередь на кассе", "checkout_queue"},
    {"dirty", "Грязно в зале", "store_condition"},
    {"no_price", "Нет ценника", "price"},
    {"out_of_stock", "Нет товара на полке", "out_of_stock"},
    {"staff", "Нужна помощь сотрудника", "staff"},
    {"other", "Другое", "other"},
};
#define N_PROBLEMS (sizeof problems / sizeof problems[0])

static const char css[] =
    "*{box-sizing:border-box}body{margin:0;font:17px/1.4 system-ui,sans-serif;background:#f4f5f7;"
    "color:#1d1f24}main{max-width:32rem;margin:0 auto;padding:1.2rem}h1{font-size:1.5rem;"
    "margin:.2rem 0 .4rem}.store{color:#555;margin:0 0 1rem}label{display:block;margin:0 0 1rem}"
    "input{display:block;width:100%;margin-top:.3rem;padding:.7rem;font-size:1rem;border:1px solid"
    " #bbb;border-radius:.5rem}.grid{display:grid;grid-template-columns:1fr 1fr;gap:.6rem}"
    "button{padding:1.1rem .6rem;font-size:1rem;border:0;border-radius:.7rem;background:#0b5cad;"
    "color:#fff;min-height:4.2rem}button:active{background:#084682}.done{font-size:1.3rem}\n";

int rules_public_qr_css(struct http_request *req, struct http_response *resp)
{
    (void)req;
    resp->status = 200;
    resp->content_type = "text/css; charset=utf-8";
    buf_puts(&resp->body, css);
    return 0;
}

static void page_start(struct http_request *req, struct http_response *resp, int status,
                       const char *title)
{
    html_page_begin(req, resp, status, title, "/q/style.css", "qr");
}

static void page_end(struct http_response *resp)
{
    buf_puts(&resp->body, "</main></body></html>\n");
}

static int message_page(struct http_request *req, struct http_response *resp, int status,
                        const char *title, const char *text)
{
    page_start(req, resp, status, title);
    buf_puts(&resp->body, "<h1>");
    html_text(&resp->body, title);
    buf_puts(&resp->body, "</h1><p class=\"done\">");
    html_text(&resp->body, text);
    buf_puts(&resp->body, "</p>");
    page_end(resp);
    return 0;
}

/* The store's name for a signed link, or NULL (404) when the link is not ours. */
static const char *check_link(struct http_request *req, const char *code, const char *checkout_s,
                              const char *sig, int64_t *checkout)
{
    struct rules *R = rules_of(req->app);
    *checkout = 0;
    if (R == NULL || code == NULL || strlen(code) > 64 ||
        (checkout_s && str_to_i64(str_from(checkout_s), 0, 999, checkout) != 0) ||
        !qr_verify(R->qr_key, code, *checkout, sig))
        return NULL;
    struct db *r = store_reader(req->app->store);
    sqlite3_stmt *st = db_stmt(r, "SELECT name FROM stores WHERE code = $1");
    db_bind_text(st, 1, code, -1);
    const char *name = db_step(r, st, NULL) == 1 ? arena_strdup(&req->arena, db_col_text(st, 0))
                                                 : NULL;
    sqlite3_reset(st);
    store_reader_done(req->app->store, r);
    return name;
}

static void hidden(struct buf *b, const char *name, const char *value)
{
    buf_printf(b, "<input type=\"hidden\" name=\"%s\" value=\"", name);
    html_text(b, value);
    buf_puts(b, "\">");
}

int rules_public_qr_page(struct http_request *req, struct http_response *resp)
{
    const char *code = http_query(req, "s"), *c = http_query(req, "c"), *k = http_query(req, "k");
    int64_t checkout;
    const char *name = check_link(req, code, c, k, &checkout);
    if (name == NULL)
        return message_page(req, resp, 404, "Ссылка не найдена",
                            "Этот QR-код не наш или повреждён. Обратитесь к сотруднику магазина.");
    page_start(req, resp, 200, "Сообщить о проблеме");
    struct buf *b = &resp->body;
    buf_puts(b, "<h1>Что случилось?</h1><p class=\"store\">");
    html_text(b, name);
    if (checkout > 0)
        buf_printf(b, " · касса %lld", (long long)checkout);
    buf_puts(b, "</p><form method=\"post\" action=\"/q\">");
    hidden(b, "s", code);
    hidden(b, "c", c ? c : "0");
    hidden(b, "k", k);
    buf_puts(b, "<label>Телефон, если нужен ответ (необязательно)<input type=\"tel\" "
                "name=\"phone\" autocomplete=\"tel\" maxlength=\"20\"></label><div class=\"grid\">");
    for (size_t i = 0; i < N_PROBLEMS; i++) {
        buf_printf(b, "<button type=\"submit\" name=\"problem\" value=\"%s\">", problems[i].code);
        html_text(b, problems[i].title);
        buf_puts(b, "</button>");
    }
    buf_puts(b, "</div></form>");
    page_end(resp);
    return 0;
}

/* Value of name in an application/x-www-form-urlencoded body, decoded into the arena. */
static const char *form_value(struct http_request *req, const char *name)
{
    const char *p = req->body.data, *end = p ? p + req->body.len : NULL;
    size_t nlen = strlen(name);
    while (p && p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *pair_end = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(pair_end - p));
        if (eq && (size_t)(eq - p) == nlen && memcmp(p, name, nlen) == 0) {
            char *out = arena_alloc(&req->arena, (size_t)(pair_end - eq));
            size_t n = 0;
            for (const char *s = eq + 1; s < pair_end; s++) {
                unsigned v;
                if (*s == '+')
                    out[n++] = ' ';
                else if (*s == '%' && pair_end - s > 2 && sscanf(s + 1, "%2x", &v) == 1) {
                    out[n++] = (char)v;
                    s += 2;
                } else
                    out[n++] = *s;
            }
            out[n] = '\0';
            return utf8_valid(out, n) ? out : NULL;
        }
        p = amp ? amp + 1 : end;
    }
    return NULL;
}

struct signal_job {
    struct request_in in;
    struct request_out out;
};

static int job_signal(struct store_tx *tx, void *arg, struct err_info *err)
{
    struct signal_job *j = arg;
    return store_request_create(tx, &j->in, &j->out, err);
}

int rules_public_qr_submit(struct http_request *req, struct http_response *resp)
{
    struct rules *R = rules_of(req->app);
    const char *code = form_value(req, "s"), *c = form_value(req, "c"), *k = form_value(req, "k");
    const char *problem = form_value(req, "problem"), *phone = form_value(req, "phone");
    char addr[64], key[160];
    http_client_addr(req, addr, sizeof addr);
    snprintf(key, sizeof key, "ip:%s", addr);
    int64_t now = clock_now_ms();
    if (R == NULL || ratelimit_hit(R->limiter, key, now))
        return message_page(req, resp, 429, "Слишком часто",
                            "Мы уже получили ваши сообщения. Попробуйте через минуту.");
    int64_t checkout;
    const char *name = check_link(req, code, c, k, &checkout);
    if (name == NULL)
        return message_page(req, resp, 404, "Ссылка не найдена",
                            "Этот QR-код не наш или повреждён. Обратитесь к сотруднику магазина.");
    /* Per poster: the same allowance per ten minutes (the limiter's minute, scaled);
     * a limiter of its own, so client keys never share its slots and windows. */
    snprintf(key, sizeof key, "poster:%s:%lld", code, (long long)checkout);
    if (ratelimit_hit(R->poster_limiter, key, now / PER_POSTER_WINDOW))
        return message_page(req, resp, 429, "Слишком часто",
                            "С этого плаката уже много сообщений. Сотрудники в курсе.");
    const struct problem *pr = NULL;
    for (size_t i = 0; i < N_PROBLEMS && pr == NULL; i++)
        if (problem && strcmp(problem, problems[i].code) == 0)
            pr = &problems[i];
    if (pr == NULL)
        return message_page(req, resp, 400, "Выберите проблему", "Нажмите одну из кнопок.");
    struct signal_job j = {0};
    char e164[17];
    if (phone && phone[0] && intake_phone_normalise(phone, e164) == 0)
        j.in.customer.ids[0] = arena_strdup(&req->arena, e164); /* model_identity_kinds[0]: phone */
    j.in.channel = "qr";
    j.in.kind = "signal";
    j.in.store_code = code;
    j.in.topic = pr->topic;
    j.in.topic_confidence = 1.0;
    j.in.subject = arena_printf(&req->arena, "QR: %s", pr->title);
    j.in.text = checkout ? arena_printf(&req->arena, "%s (касса %lld)", pr->title, (long long)checkout)
                         : arena_strdup(&req->arena, pr->title);
    j.in.actor = "qr";
    struct buf terms;
    buf_init(&terms, 0);
    text_search_terms(j.in.text, strlen(j.in.text), &terms);
    j.in.search_terms = arena_strdup(&req->arena, buf_cstr(&terms));
    buf_free(&terms);
    int rc = store_write(req->app->store, job_signal, &j, &req->err);
    if (rc != 0)
        return message_page(req, resp, 503, "Не получилось",
                            "Сообщение не сохранилось. Попробуйте ещё раз.");
    http_add_header(req, resp, "X-Otklik-Request",
                    arena_printf(&req->arena, "%lld", (long long)j.out.id));
    return message_page(req, resp, 201, "Спасибо!",
                        "Сотрудники магазина уже получили сообщение и скоро всё исправят.");
}
