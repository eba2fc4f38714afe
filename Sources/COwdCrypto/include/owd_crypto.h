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

#endif
