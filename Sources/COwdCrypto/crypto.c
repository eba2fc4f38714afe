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

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* PEM_read_bio_PrivateKey asks this for a passphrase: none is given, so an encrypted key
 * fails to load rather than prompting on the terminal. */
static int no_passphrase(char *buf, int size, int rwflag, void *u) {
    (void)buf; (void)size; (void)rwflag;
    *(int *)u = 1;
    return -1;
}

int owdc_check_tls_pair(const char *cert, const char *key, long long *not_after, int *expired,
                        char *err, size_t err_len) {
    if (err_len) err[0] = 0;
    *not_after = 0;
    *expired = 0;
    int rc = -1, asked = 0;
    X509 *x = NULL;
    EVP_PKEY *k = NULL;
    BIO *cb = BIO_new_mem_buf(cert, -1), *kb = BIO_new_mem_buf(key, -1);
    if (!cb || !kb) { snprintf(err, err_len, "out of memory"); goto done; }
    x = PEM_read_bio_X509(cb, NULL, NULL, NULL);
    if (!x) { snprintf(err, err_len, "the certificate file holds no PEM certificate (-----BEGIN CERTIFICATE-----)"); goto done; }
    k = PEM_read_bio_PrivateKey(kb, NULL, no_passphrase, &asked);
    if (!k) {
        if (asked) snprintf(err, err_len, "the key file holds an encrypted private key: owd serve needs it unencrypted (openssl pkey -in KEY -out PLAIN), readable by its user only");
        else if (strstr(key, "-----BEGIN CERTIFICATE-----")) snprintf(err, err_len, "the key file holds a certificate, not a private key (are --tls-cert and --tls-key swapped?)");
        else snprintf(err, err_len, "the key file holds no PEM private key (-----BEGIN PRIVATE KEY-----)");
        goto done;
    }
    if (X509_check_private_key(x, k) != 1) {
        snprintf(err, err_len, "the private key does not match the certificate (its public key is another)");
        goto done;
    }
    const ASN1_TIME *end = X509_get0_notAfter(x);
    struct tm tm;
    if (end && ASN1_TIME_to_tm(end, &tm) == 1) *not_after = (long long)timegm(&tm);
    if (end && X509_cmp_current_time(end) < 0) *expired = 1;
    rc = 0;
done:
    ERR_clear_error();
    X509_free(x);
    EVP_PKEY_free(k);
    BIO_free(cb);
    BIO_free(kb);
    return rc;
}
