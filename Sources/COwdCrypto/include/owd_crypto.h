/* SHA-256, HMAC-SHA256 and a constant-time compare from OpenSSL's libcrypto, for the
 * SigV4 verifier of owd serve (libowd.so does not link this). */
#ifndef OWD_CRYPTO_H
#define OWD_CRYPTO_H
#include <stddef.h>

/* out: 32 bytes. Return 0 on success. */
int owdc_sha256(const void *data, size_t len, unsigned char *out);
int owdc_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len, unsigned char *out);
/* 1 when the len bytes at a and b are equal; the time taken depends on len only. */
int owdc_equal(const void *a, const void *b, size_t len);

/* len random bytes from the kernel (getrandom); 0 on success. */
int owdc_random(void *out, size_t len);

/* owd serve --tls-cert/--tls-key: checks, with OpenSSL's parsers, that cert (PEM text,
 * NUL-terminated) holds a certificate (a chain: the server's first), key (PEM text) an
 * unencrypted private key, and that the key is the certificate's. 0 when they are; else
 * -1 with the reason in err. The serving itself is libmicrohttpd's (GnuTLS): this only
 * turns its one "cannot start" into an error that says what is wrong. Sets *not_after to
 * the certificate's expiry (seconds since 1970) and *expired to 1 when it has passed. */
int owdc_check_tls_pair(const char *cert, const char *key, long long *not_after, int *expired,
                        char *err, size_t err_len);

#endif
