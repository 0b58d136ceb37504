/*
 * qr.c - QR posters for store signals.  The link on a poster names the
 * store and checkout and carries a signature (libsodium crypto_auth, keyed
 * with a secret kept in the database, truncated to 128 bits), so the public
 * page accepts only links we printed.  The poster is SVG (A4, text and the
 * code as one path) or PNG (the code alone, for other layouts); `otklik qr`
 * writes one to a file and the API serves one.
 */
#include "rules/rules_int.h"

#include "core/buf.h"
#include "core/clock.h"
#include "core/str.h"

#include <png.h>
#include <qrencode.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SIG_BYTES 16

static int job_key(struct store_tx *tx, void *arg, struct err_info *err)
{
    unsigned char *key = arg;
    struct db *db = store_tx_db(tx);
    sqlite3_stmt *st = db_stmt(db, "SELECT value FROM rules_secrets WHERE name = 'qr'");
    if (db_step(db, st, NULL) == 1 && sqlite3_column_bytes(st, 0) == crypto_auth_KEYBYTES) {
        memcpy(key, sqlite3_column_blob(st, 0), crypto_auth_KEYBYTES);
        sqlite3_reset(st);
        return 0;
    }
    sqlite3_reset(st);
    crypto_auth_keygen(key);
    st = db_stmt(db, "INSERT INTO rules_secrets (name, value, created_at_ms) VALUES ('qr', $1, $2)");
    db_bind_blob(st, 1, key, crypto_auth_KEYBYTES);
    db_bind_i64(st, 2, clock_now_ms());
    return db_run(db, st, err);
}

int qr_key_load(struct store *s, unsigned char key[32], struct err_info *err)
{
    if (sodium_init() < 0)
        return err_set(err, ERR_INTERNAL, "", "libsodium cannot start");
    return store_write(s, job_key, key, err);
}

static void mac(const unsigned char key[32], const char *store_code, int64_t checkout,
                unsigned char out[crypto_auth_BYTES])
{
    char msg[160];
    int n = snprintf(msg, sizeof msg, "qr1\n%s\n%lld", store_code, (long long)checkout);
    crypto_auth(out, (const unsigned char *)msg, (unsigned long long)n, key);
}

void qr_sign(const unsigned char key[32], const char *store_code, int64_t checkout, char out[32])
{
    unsigned char m[crypto_auth_BYTES];
    mac(key, store_code, checkout, m);
    sodium_bin2base64(out, 32, m, SIG_BYTES, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

bool qr_verify(const unsigned char key[32], const char *store_code, int64_t checkout,
               const char *sig)
{
    unsigned char want[crypto_auth_BYTES], got[SIG_BYTES];
    size_t len = 0;
    if (sig == NULL || strlen(sig) != 22 ||
        sodium_base642bin(got, sizeof got, sig, strlen(sig), NULL, &len, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        len != SIG_BYTES)
        return false;
    mac(key, store_code, checkout, want);
    return sodium_memcmp(want, got, SIG_BYTES) == 0;
}

/* Percent-encode everything but unreserved characters. */
static void url_part(struct buf *b, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_' || *p == '.' || *p == '~')
            buf_putc(b, (char)*p);
        else
            buf_printf(b, "%%%02X", *p);
    }
}


static void link_for(struct buf *b, const unsigned char key[32], const char *base_url,
                     const char *store_code, int64_t checkout)
{
    char sig[32];
    qr_sign(key, store_code, checkout, sig);
    size_t n = strlen(base_url);
    while (n > 0 && base_url[n - 1] == '/')
        n--;
    buf_put(b, base_url, n);
    buf_puts(b, "/q?s=");
    url_part(b, store_code);
    buf_printf(b, "&c=%lld&k=%s", (long long)checkout, sig);
}

struct png_out {
    struct buf *b;
};

static void png_write(png_structp png, png_bytep data, size_t len)
{
    struct png_out *o = png_get_io_ptr(png);
    buf_put(o->b, data, len);
}

static void png_flush(png_structp png)
{
    (void)png;
}

static int render_png(const QRcode *q, struct buf *out, struct err_info *err)
{
    const int scale = 10, margin = 4;
    int size = (q->width + 2 * margin) * scale;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    unsigned char *row = xmalloc((size_t)size);
    int rc = 0;
    if (png == NULL || info == NULL || setjmp(png_jmpbuf(png))) {
        rc = err_set(err, ERR_INTERNAL, "format", "cannot write the PNG");
        goto out;
    }
    struct png_out o = {out};
    png_set_write_fn(png, &o, png_write, png_flush);
    png_set_IHDR(png, info, (png_uint_32)size, (png_uint_32)size, 8, PNG_COLOR_TYPE_GRAY,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < size; y++) {
        int my = y / scale - margin;
        for (int x = 0; x < size; x++) {
            int mx = x / scale - margin;
            bool dark = mx >= 0 && my >= 0 && mx < q->width && my < q->width &&
                        (q->data[my * q->width + mx] & 1);
            row[x] = dark ? 0 : 255;
        }
        png_write_row(png, row);
    }
    png_write_end(png, info);
out:
    png_destroy_write_struct(&png, &info);
    free(row);
    return rc;
}

static void render_svg(const QRcode *q, const char *link, const char *store_name,
                       int64_t checkout, struct buf *b)
{
    /* A4 in millimetres; the code is 150 mm wide, centred. */
    double side = 150.0, cell = side / q->width, x0 = (210.0 - side) / 2, y0 = 80.0;
    buf_puts(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"210mm\" height=\"297mm\" "
                "viewBox=\"0 0 210 297\">\n<rect width=\"210\" height=\"297\" fill=\"#fff\"/>\n"
                "<text x=\"105\" y=\"35\" font-family=\"sans-serif\" font-size=\"13\" "
                "text-anchor=\"middle\" font-weight=\"bold\">Что-то не так?</text>\n"
                "<text x=\"105\" y=\"52\" font-family=\"sans-serif\" font-size=\"7\" "
                "text-anchor=\"middle\">Наведите камеру и сообщите нам в одно касание</text>\n"
                "<text x=\"105\" y=\"66\" font-family=\"sans-serif\" font-size=\"6\" "
                "text-anchor=\"middle\">");
    html_text(b, store_name);
    if (checkout > 0)
        buf_printf(b, " · касса %lld", (long long)checkout);
    buf_puts(b, "</text>\n<path fill=\"#000\" shape-rendering=\"crispEdges\" d=\"");
    for (int y = 0; y < q->width; y++)
        for (int x = 0; x < q->width; x++)
            if (q->data[y * q->width + x] & 1)
                buf_printf(b, "M%.3f %.3fh%.3fv%.3fh-%.3fz", x0 + x * cell, y0 + y * cell, cell,
                           cell, cell);
    buf_puts(b, "\"/>\n<text x=\"105\" y=\"250\" font-family=\"monospace\" font-size=\"3\" "
                "text-anchor=\"middle\">");
    html_text(b, link);
    buf_puts(b, "</text>\n</svg>\n");
}

int rules_qr_poster(const unsigned char key[32], const char *base_url, const char *store_code,
                    const char *store_name, int64_t checkout, bool is_png, char **out,
                    size_t *out_len, struct err_info *err)
{
    struct buf link, b;
    buf_init(&link, 2048);
    buf_init(&b, 8 << 20);
    link_for(&link, key, base_url, store_code, checkout);
    int rc = 0;
    QRcode *q = buf_error(&link) == 0 ? QRcode_encodeString(buf_cstr(&link), 0, QR_ECLEVEL_M,
                                                            QR_MODE_8, 1)
                                      : NULL;
    if (q == NULL) {
        rc = err_set(err, ERR_INVALID, "base_url", "the link is too long for a QR code");
        goto done;
    }
    if (is_png)
        rc = render_png(q, &b, err);
    else
        render_svg(q, buf_cstr(&link), store_name, checkout, &b);
    QRcode_free(q);
    if (rc == 0 && buf_error(&b) != 0)
        rc = err_set(err, ERR_TOOBIG, "", "the poster is too large");
    if (rc == 0)
        *out = buf_steal(&b, out_len);
done:
    buf_free(&link);
    buf_free(&b);
    return rc;
}
