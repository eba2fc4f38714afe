#define _GNU_SOURCE
#include "owd_agent.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The easy handle runs in a multi handle of its own, so that another thread can wake a
 * waiting transfer (curl_multi_wakeup) instead of waiting for a progress callback. */
struct owda_client {
    CURL *curl;
    CURLM *multi;
};

static pthread_once_t initialised = PTHREAD_ONCE_INIT;
static CURLcode global_status;
static void init_curl(void) { global_status = curl_global_init(CURL_GLOBAL_DEFAULT); }

owda_client *owda_client_new(const char *ca_file, int insecure, int keep_alive, char *err, size_t err_len) {
    pthread_once(&initialised, init_curl);
    if (global_status != CURLE_OK) {
        snprintf(err, err_len, "libcurl: %s", curl_easy_strerror(global_status));
        return NULL;
    }
    owda_client *c = calloc(1, sizeof *c);
    if (!c || !(c->curl = curl_easy_init()) || !(c->multi = curl_multi_init())) {
        if (c && c->curl) curl_easy_cleanup(c->curl);
        free(c);
        snprintf(err, err_len, "libcurl: cannot create a handle");
        return NULL;
    }
    CURL *h = c->curl;
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    if (ca_file && curl_easy_setopt(h, CURLOPT_CAINFO, ca_file) != CURLE_OK) {
        snprintf(err, err_len, "libcurl refuses the CA file %s", ca_file);
        owda_client_free(c);
        return NULL;
    }
    if (!keep_alive) {
        curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L);
        curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);
    }
    if (insecure) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    return c;
}

void owda_client_free(owda_client *c) {
    if (!c) return;
    if (c->curl) curl_easy_cleanup(c->curl);
    if (c->multi) curl_multi_cleanup(c->multi);
    free(c);
}

typedef struct buffer {
    char *data;
    size_t len, cap;
    int failed;
} buffer;

static size_t collect(char *p, size_t size, size_t n, void *userdata) {
    buffer *b = userdata;
    size_t len = size * n;
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + len + 1) cap *= 2;
        char *grown = realloc(b->data, cap);
        if (!grown) { b->failed = 1; return 0; }
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, len);
    b->len += len;
    b->data[b->len] = 0;
    return len;
}

void owda_client_wake(owda_client *c) {
    if (c) curl_multi_wakeup(c->multi);
}

int owda_post(owda_client *c, const char *url, const char *const *headers, size_t header_count,
              const void *body, size_t body_len, long timeout_seconds, const volatile int *stop,
              owda_response *out) {
    memset(out, 0, sizeof *out);
    CURL *h = c->curl;
    struct curl_slist *list = NULL;
    for (size_t i = 0; i < header_count; i++) {
        struct curl_slist *next = curl_slist_append(list, headers[i]);
        if (!next) {
            curl_slist_free_all(list);
            snprintf(out->error, sizeof out->error, "out of memory");
            return OWDA_TRANSPORT;
        }
        list = next;
    }
    /* No "Expect: 100-continue" round trip on larger bodies (a log). */
    list = curl_slist_append(list, "Expect:");
    buffer b = {0};
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body_len ? body : "");
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, timeout_seconds);
    char detail[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, detail);
    CURLcode rc = CURLE_OK;
    int aborted = 0;
    CURLMcode mc = curl_multi_add_handle(c->multi, h);
    while (mc == CURLM_OK) {
        int running = 0;
        mc = curl_multi_perform(c->multi, &running);
        if (mc != CURLM_OK || !running) break;
        if (stop && *stop) { aborted = 1; break; }
        mc = curl_multi_poll(c->multi, NULL, 0, 1000, NULL);
        if (stop && *stop) { aborted = 1; break; }
    }
    if (mc != CURLM_OK) {
        snprintf(detail, sizeof detail, "libcurl: %s", curl_multi_strerror(mc));
        rc = CURLE_FAILED_INIT;
    } else if (!aborted) {
        int left = 0;
        CURLMsg *m;
        rc = CURLE_RECV_ERROR;
        while ((m = curl_multi_info_read(c->multi, &left))) {
            if (m->msg == CURLMSG_DONE && m->easy_handle == h) rc = m->data.result;
        }
    }
    curl_multi_remove_handle(c->multi, h);
    if (aborted) rc = CURLE_ABORTED_BY_CALLBACK;
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
    curl_slist_free_all(list);
    if (rc == CURLE_ABORTED_BY_CALLBACK) {
        free(b.data);
        snprintf(out->error, sizeof out->error, "stopped");
        return OWDA_ABORTED;
    }
    if (rc != CURLE_OK || b.failed) {
        free(b.data);
        snprintf(out->error, sizeof out->error, "%s", b.failed ? "out of memory" : detail[0] ? detail : curl_easy_strerror(rc));
        return OWDA_TRANSPORT;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
    if (!b.data) b.data = calloc(1, 1);
    out->body = b.data;
    out->body_len = b.len;
    return OWDA_OK;
}

void owda_response_free(owda_response *r) {
    if (!r) return;
    free(r->body);
    r->body = NULL;
    r->body_len = 0;
}

int owda_spawn(const char *path, char *const envp[], const char *cwd, pid_t *out_pid, int *out_fd,
               char *err, size_t err_len) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        int e = errno;
        snprintf(err, err_len, "pipe: %s", strerror(e));
        return e;
    }
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_addchdir_np(&actions, cwd);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 2);
    /* The agent's own descriptors (its connections, the state folder) stay its own. */
    posix_spawn_file_actions_addclosefrom_np(&actions, 3);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    sigdelset(&all, SIGKILL);
    sigdelset(&all, SIGSTOP);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    char *argv[] = {(char *)path, NULL};
    pid_t pid = 0;
    int rc = posix_spawn(&pid, path, &actions, &attr, argv, envp);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        snprintf(err, err_len, "%s", strerror(rc));
        return rc;
    }
    fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK);
    *out_pid = pid;
    *out_fd = fds[0];
    return 0;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st; (void)ftw;
    int rc = flag == FTW_DP ? rmdir(path) : unlink(path);
    return rc != 0 && errno != ENOENT ? -1 : 0;
}

int owda_remove_tree(const char *path) {
    if (nftw(path, remove_one, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) != 0) {
        return errno == ENOENT ? 0 : -1;
    }
    return 0;
}
