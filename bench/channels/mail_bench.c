/*
 * mail_bench.c - e-mail parsing throughput: a typical 20 KB message
 * (multipart/alternative, windows-1251 quoted-printable text, UTF-8 HTML,
 * a base64 attachment) parsed with email_parse() in a loop.
 * Usage: mail_bench [N]   (built and run by bench/channels/run.sh)
 */
#include "channels/channels_int.h"
#include "core/clock.h"

#include <glib.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void qp_cp1251(struct buf *b, const char *utf8)
{
    /* Cyrillic in windows-1251, quoted-printable: what many Russian mail programs send. */
    gsize n = 0;
    char *w = g_convert(utf8, -1, "WINDOWS-1251", "UTF-8", NULL, &n, NULL);
    size_t col = 0;
    for (gsize i = 0; i < n; i++) {
        unsigned char c = (unsigned char)w[i];
        if (c == '\n') {
            buf_puts(b, "\r\n");
            col = 0;
            continue;
        }
        if (col > 70) {
            buf_puts(b, "=\r\n");
            col = 0;
        }
        if (c >= 33 && c <= 126 && c != '=') {
            buf_putc(b, (char)c);
            col++;
        } else if (c == ' ') {
            buf_putc(b, ' ');
            col++;
        } else {
            buf_printf(b, "=%02X", c);
            col += 3;
        }
    }
    g_free(w);
}

int main(int argc, char **argv)
{
    long iters = argc > 1 ? strtol(argv[1], NULL, 10) : 20000;
    struct buf m;
    buf_init(&m, 1 << 20);
    buf_puts(&m, "From: =?UTF-8?B?0JjQstCw0L0g0J/QtdGC0YDQvtCy?= <ivan@example.ru>\r\n"
                 "To: support@shop.example\r\nSubject: =?UTF-8?B?0JbQsNC70L7QsdCwINC90LAg0LfQsNC60LDQtw==?=\r\n"
                 "Date: Fri, 10 May 2024 14:30:00 +0300\r\nMessage-ID: <bench-1@example.ru>\r\n"
                 "In-Reply-To: <otklik.1.abc@shop.example>\r\nReferences: <a@x> <b@y> <otklik.1.abc@shop.example>\r\n"
                 "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"mix\"\r\n\r\n"
                 "--mix\r\nContent-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n"
                 "--alt\r\nContent-Type: text/plain; charset=windows-1251\r\n"
                 "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
    struct buf text;
    buf_init(&text, 1 << 20);
    while (text.len < 6000)
        buf_puts(&text, "Здравствуйте! Заказ № 12345 задерживается уже третий день, курьер не "
                        "звонит, трек не обновляется. Прошу разобраться и вернуть деньги.\n");
    qp_cp1251(&m, buf_cstr(&text));
    buf_puts(&m, "\r\n--alt\r\nContent-Type: text/html; charset=utf-8\r\n"
                 "Content-Transfer-Encoding: 8bit\r\n\r\n<html><body>");
    for (int i = 0; i < 20; i++)
        buf_puts(&m, "<p>Здравствуйте! Заказ&nbsp;<b>№ 12345</b> задерживается &mdash; курьер не "
                     "звонит.</p>\r\n");
    buf_puts(&m, "</body></html>\r\n--alt--\r\n--mix\r\nContent-Type: image/png; name=\"check.png\"\r\n"
                 "Content-Disposition: attachment; filename=\"check.png\"\r\n"
                 "Content-Transfer-Encoding: base64\r\n\r\n");
    while (m.len < 20 * 1024 - 100)
        buf_puts(&m, "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9aw\r\n");
    buf_puts(&m, "--mix--\r\n");
    uint64_t t0 = clock_mono_ns();
    for (long i = 0; i < iters; i++) {
        json_t *items = json_array();
        struct err_info err = {0};
        if (email_parse(m.data, m.len, items, &err) != 0) {
            fprintf(stderr, "parse failed: %s\n", err.message);
            return 1;
        }
        json_decref(items);
    }
    double s = (double)(clock_mono_ns() - t0) / 1e9;
    printf("mail: %ld messages of %zu bytes parsed in %.2f s: %.0f messages/s (one thread)\n", iters,
           m.len, s, (double)iters / s);
    buf_free(&m);
    buf_free(&text);
    return 0;
}
