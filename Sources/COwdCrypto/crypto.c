#include "owd_crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <errno.h>
#include <sys/random.h>

#include <pthread.h>

/* OpenSSL 3 looks the digest up in its providers on every EVP_sha256() use unless it is
 * fetched once (measured: most of the verifier's libcrypto time). */
static EVP_MD *sha256_md;
static pthread_once_t fetched = PTHREAD_ONCE_INIT;
static void fetch(void) { sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL); }

static const EVP_MD *md(void) {
    pthread_once(&fetched, fetch);
    return sha256_md ? sha256_md : EVP_sha256();
}

int owdc_sha256(const void *data, size_t len, unsigned char *out) {
    unsigned int n = 0;
    return EVP_Digest(data, len, out, &n, md(), NULL) == 1 && n == 32 ? 0 : -1;
}

int owdc_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len, unsigned char *out) {
    unsigned int n = 0;
    return HMAC(md(), key, (int)key_len, data, len, out, &n) && n == 32 ? 0 : -1;
}

int owdc_equal(const void *a, const void *b, size_t len) {
    return CRYPTO_memcmp(a, b, len) == 0;
}

int owdc_random(void *out, size_t len) {
    size_t done = 0;
    while (done < len) {
        ssize_t n = getrandom((char *)out + done, len - done, 0);
        if (n > 0) done += (size_t)n;
        else if (errno != EINTR) return -1;
    }
    return 0;
}
