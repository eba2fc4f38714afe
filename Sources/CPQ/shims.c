#define _GNU_SOURCE
#include "cpq.h"
#include <stdlib.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static cpq_api api;
static const cpq_api *loaded;
static char failure[512];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void load(void) {
    /* libpq.so.5: the SONAME Debian's libpq5 (and every libpq since 8.x) installs;
     * OWD_LIBPQ names another file (a libpq outside the loader's path). */
    const char *file = secure_getenv("OWD_LIBPQ");
    if (!file || !*file) file = "libpq.so.5";
    void *lib = dlopen(file, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        snprintf(failure, sizeof failure,
                 "PostgreSQL stores need libpq (%s, Debian's package libpq5), which cannot be loaded: %s",
                 file, dlerror());
        return;
    }
#define SYM(name)                                                                              \
    do {                                                                                       \
        *(void **)&api.name = dlsym(lib, #name);                                               \
        if (!api.name) {                                                                       \
            snprintf(failure, sizeof failure, "%s lacks %s (libpq 10 or later is needed)", file, #name); \
            return;                                                                            \
        }                                                                                      \
    } while (0)
    SYM(PQconnectdbParams); SYM(PQstatus); SYM(PQerrorMessage); SYM(PQfinish); SYM(PQreset);
    SYM(PQtransactionStatus); SYM(PQbackendPID); SYM(PQsetNoticeProcessor); SYM(PQexec);
    SYM(PQprepare); SYM(PQexecPrepared); SYM(PQresultStatus); SYM(PQresultErrorField);
    SYM(PQresultErrorMessage); SYM(PQclear); SYM(PQntuples); SYM(PQgetvalue); SYM(PQgetlength);
    SYM(PQgetisnull); SYM(PQcmdTuples); SYM(PQlibVersion);
#undef SYM
    loaded = &api;
}

const cpq_api *cpq_load(char *error, size_t size) {
    pthread_once(&once, load);
    if (!loaded && error && size) snprintf(error, size, "%s", failure);
    return loaded;
}

void cpq_quiet(void *arg, const char *message) {
    (void)arg;
    (void)message;
}
