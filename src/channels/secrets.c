/*
 * secrets.c - channel credentials at rest: sealed with crypto_secretbox
 * under a key kept next to the database, plus the constant-time compare and
 * HMAC helpers the adapters verify webhooks with.
 */
#include "channels/channels_int.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int secrets_key_load(const char *db_path, unsigned char key[32], struct err_info *err)
{
    if (sodium_init() < 0)
        return err_set(err, ERR_INTERNAL, "", "libsodium did not initialise");
    char path[600];
    snprintf(path, sizeof path, "%s.channels-key", db_path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t n = read(fd, key, 32);
        close(fd);
        if (n != 32)
            return err_set(err, ERR_IO, "", "channel key file %s is damaged", path);
        return 0;
    }
    if (errno != ENOENT)
        return err_set(err, ERR_IO, "", "cannot read channel key file %s", path);
    /* First use: create it exclusively so two processes never pick different keys. */
    randombytes_buf(key, 32);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        if (errno == EEXIST)
            return secrets_key_load(db_path, key, err);
        return err_set(err, ERR_IO, "", "cannot create channel key file %s", path);
    }
    ssize_t n = write(fd, key, 32);
    int rc = fsync(fd);
    close(fd);
    if (n != 32 || rc != 0)
        return err_set(err, ERR_IO, "", "cannot write channel key file %s", path);
    return 0;
}

char *secrets_seal(const unsigned char key[32], const char *json)
{
    size_t len = strlen(json);
    size_t blen = crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + len;
    unsigned char *box = xmalloc(blen);
    randombytes_buf(box, crypto_secretbox_NONCEBYTES);
    crypto_secretbox_easy(box + crypto_secretbox_NONCEBYTES, (const unsigned char *)json, len, box,
                          key);
    size_t olen = sodium_base64_encoded_len(blen, sodium_base64_VARIANT_ORIGINAL);
    char *out = xmalloc(olen);
    sodium_bin2base64(out, olen, box, blen, sodium_base64_VARIANT_ORIGINAL);
    sodium_memzero(box, blen);
    free(box);
    return out;
}

json_t *secrets_open(const unsigned char key[32], const char *sealed)
{
    size_t slen = strlen(sealed);
    unsigned char *box = xmalloc(slen + 1);
    size_t blen = 0;
    json_t *out = NULL;
    if (sodium_base642bin(box, slen + 1, sealed, slen, NULL, &blen, NULL,
                          sodium_base64_VARIANT_ORIGINAL) == 0 &&
        blen >= crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES) {
        size_t plen = blen - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES;
        char *plain = xmalloc(plen + 1);
        if (crypto_secretbox_open_easy((unsigned char *)plain, box + crypto_secretbox_NONCEBYTES,
                                       blen - crypto_secretbox_NONCEBYTES, box, key) == 0) {
            plain[plen] = '\0';
            out = json_loads(plain, 0, NULL);
            if (out && !json_is_object(out)) {
                json_decref(out);
                out = NULL;
            }
        }
        sodium_memzero(plain, plen + 1);
        free(plain);
    }
    free(box);
    return out;
}

bool ct_streq(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return false;
    size_t la = strlen(a), lb = strlen(b);
    if (la != lb || la == 0)
        return false;
    return sodium_memcmp(a, b, la) == 0;
}

void hmac_sha256_hex(const char *key, const void *msg, size_t len, char out[65])
{
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)key, strlen(key));
    crypto_auth_hmacsha256_update(&st, msg, len);
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_bin2hex(out, 65, mac, sizeof mac);
}
