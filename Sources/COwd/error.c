/* Per-thread error storage for owd_error_last(). A pthread key (not _Thread_local) so the
 * message buffer is freed when a thread exits. */
#include "owd_internal.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    owd_error error;
    char type[64];
    char *message;
    size_t capacity;
} thread_error;

static pthread_key_t error_key;
static pthread_once_t error_once = PTHREAD_ONCE_INIT;
static const owd_error clear_error = { 0, "", "" };
static const owd_error oom_error = { OWD_ENOMEM, "OutOfMemory", "out of memory while reporting an error" };

static void thread_error_free(void *p) {
    thread_error *e = p;
    if (e) { free(e->message); free(e); }
}

static void make_key(void) { (void)pthread_key_create(&error_key, thread_error_free); }

static thread_error *current(int create) {
    (void)pthread_once(&error_once, make_key);
    thread_error *e = pthread_getspecific(error_key);
    if (!e && create) {
        e = calloc(1, sizeof *e);
        if (e && pthread_setspecific(error_key, e) != 0) { free(e); e = NULL; }
    }
    return e;
}

void owdi_error_set(int code, const char *type, const char *message, size_t length) {
    thread_error *e = current(1);
    if (!e) return;
    if (length + 1 > e->capacity) {
        char *m = realloc(e->message, length + 1);
        if (!m) { e->error = oom_error; return; }
        e->message = m;
        e->capacity = length + 1;
    }
    memcpy(e->message, message, length);
    e->message[length] = '\0';
    strncpy(e->type, type ? type : "", sizeof e->type - 1);
    e->type[sizeof e->type - 1] = '\0';
    e->error.code = code;
    e->error.type = e->type;
    e->error.message = e->message;
}

void owdi_error_clear(void) {
    thread_error *e = current(0);
    if (e && e->error.code != 0) {
        e->error = clear_error;
    }
}

const owd_error *owdi_error_get(void) {
    thread_error *e = current(0);
    if (!e || e->error.code == 0) return &clear_error;
    return &e->error;
}


const char *owdi_version_string(void) {
    return OWD_VERSION_STRING;
}
