#include "owd_crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

int owdc_sha256(const void *data, size_t len, unsigned char *out) {
    unsigned int n = 0;
    return EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) == 1 && n == 32 ? 0 : -1;
}

int owdc_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len, unsigned char *out) {
    unsigned int n = 0;
    return HMAC(EVP_sha256(), key, (int)key_len, data, len, out, &n) && n == 32 ? 0 : -1;
}

int owdc_equal(const void *a, const void *b, size_t len) {
    return CRYPTO_memcmp(a, b, len) == 0;
}
