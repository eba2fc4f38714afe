#define _GNU_SOURCE
#include "owd_http.h"

#include <microhttpd.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct owdh_server {
    struct MHD_Daemon *daemon;
    owdh_options options;
    char *tls_cert, *tls_key;       /* copies, kept for the daemon's life */
    unsigned short port;
    _Atomic unsigned int in_flight;
    /* Set by owdh_quiesce: every later answer closes its connection (a kept connection
     * would otherwise go on bringing requests, e.g. an agent's next poll, to a server
     * that is stopping). */
    _Atomic int quiesced;
    /* Deferred requests (owdh_answer): their connections' suspension and resumption, and
     * the answer handed over, happen under this lock. MHD takes its own locks inside
     * MHD_suspend_connection and MHD_resume_connection and calls none of ours while it
     * holds them, so the order is always this lock, then MHD's. */
    pthread_mutex_t lock;
    unsigned int suspended;
};

/* One per request: its body so far, what is known of its bounds, and a deferred answer. */
typedef struct request_state {
    unsigned char *body;
    size_t len, cap;
    unsigned int refused;
    owdh_server *server;
    struct MHD_Connection *connection;
    unsigned int suspended : 1;     /* MHD_suspend_connection done, no resume yet */
    unsigned int answered : 1;      /* owdh_answer gave `later` */
    owdh_response later;
} request_state;

typedef struct fields {
    owdh_field *items;
    size_t count, cap;
} fields;

static enum MHD_Result collect(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_len,
                               const char *value, size_t value_len) {
    (void)kind;
    fields *f = cls;
    if (f->count == f->cap) return MHD_NO;
    f->items[f->count++] = (owdh_field){key, key_len, value ? value : "", value ? value_len : 0};
    return MHD_YES;
}

static enum MHD_Result measure(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
    (void)kind;
    *(size_t *)cls += strlen(key) + (value ? strlen(value) : 0) + 4; /* "name: value\r\n" */
    return MHD_YES;
}

static void gather(struct MHD_Connection *c, enum MHD_ValueKind kind, fields *f, owdh_field *stack, size_t stack_cap) {
    int n = MHD_get_connection_values(c, kind, NULL, NULL);
    f->count = 0;
    f->items = stack;
    f->cap = stack_cap;
    if (n > 0 && (size_t)n > stack_cap) {
        f->items = malloc(sizeof(owdh_field) * (size_t)n);
        f->cap = f->items ? (size_t)n : 0;
    }
    if (n > 0 && f->cap) MHD_get_connection_values_n(c, kind, collect, f);
}

/* Queues an answer; its body is handed to MHD (freed by it, or here on failure). */
static enum MHD_Result send_answer(owdh_server *s, struct MHD_Connection *c, owdh_response *out) {
    struct MHD_Response *resp = out->body
        ? MHD_create_response_from_buffer(out->body_len, out->body, MHD_RESPMEM_MUST_FREE)
        : MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!resp) { free(out->body); out->body = NULL; return MHD_NO; }
    out->body = NULL;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                            out->content == OWDH_TEXT ? "text/plain; charset=utf-8"
                            : out->content == OWDH_METRICS ? "text/plain; version=0.0.4; charset=utf-8"
                            : "application/x-amz-json-1.1");
    if (out->request_id[0]) MHD_add_response_header(resp, "x-amzn-RequestId", out->request_id);
    if (out->error_type[0]) MHD_add_response_header(resp, "X-Amzn-ErrorType", out->error_type);
    if (atomic_load(&s->quiesced)) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ok = MHD_queue_response(c, out->status, resp);
    MHD_destroy_response(resp);
    return ok;
}

static enum MHD_Result answer(owdh_server *s, struct MHD_Connection *c, const char *method, const char *url,
                              request_state *st) {
    owdh_field hstack[32], qstack[8];
    fields h, q;
    gather(c, MHD_HEADER_KIND, &h, hstack, 32);
    gather(c, MHD_GET_ARGUMENT_KIND, &q, qstack, 8);
    static const unsigned char empty[1] = {0};
    owdh_request r = {
        .method = method, .path = url,
        .headers = h.items, .header_count = h.count,
        .query = q.items, .query_count = q.count,
        .body = st->body ? st->body : empty, .body_len = st->body ? st->len : 0,
        .refused = st->refused,
        .tls = s->tls_cert != NULL,
    };
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;
        r.peer_loopback = owdh_is_loopback(sa);
        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, r.peer, sizeof r.peer);
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, r.peer, sizeof r.peer);
    }
    owdh_response out;
    memset(&out, 0, sizeof out);
    out.status = 500;
    s->options.handler(s->options.context, &r, &out, (owdh_ticket *)st);
    if (h.items != hstack) free(h.items);
    if (q.items != qstack) free(q.items);
    /* The body is no longer needed: free it now rather than when the connection moves on. */
    free(st->body);
    st->body = NULL;
    st->len = st->cap = 0;
    if (out.deferred) {
        /* Answered later, from another thread: the connection leaves this thread's event
         * loop until then (it holds no thread while it waits), unless the answer came already. */
        pthread_mutex_lock(&s->lock);
        if (!st->answered) {
            MHD_suspend_connection(c);
            st->suspended = 1;
            s->suspended++;
            pthread_mutex_unlock(&s->lock);
            return MHD_YES;
        }
        pthread_mutex_unlock(&s->lock);
        return send_answer(s, c, &st->later);
    }
    return send_answer(s, c, &out);
}

static enum MHD_Result access_handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                      const char *version, const char *upload_data, size_t *upload_data_size,
                                      void **con_cls) {
    (void)version;
    owdh_server *s = cls;
    request_state *st = *con_cls;
    if (!st) {
        st = calloc(1, sizeof *st);
        if (!st) return MHD_NO;
        st->server = s;
        st->connection = c;
        *con_cls = st;
        atomic_fetch_add(&s->in_flight, 1);
        size_t header_bytes = 0;
        MHD_get_connection_values(c, MHD_HEADER_KIND, measure, &header_bytes);
        if (header_bytes > s->options.max_headers) st->refused = 431;
        const char *length = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (!st->refused && length) {
            char *end = NULL;
            unsigned long long n = strtoull(length, &end, 10);
            if (end != length && n > s->options.max_body) st->refused = 413;
        }
        /* Refused before the body is read: answered now, the connection then closes. */
        if (st->refused) return answer(s, c, method, url, st);
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (st->refused) return MHD_YES; /* counted past the bound: the rest is dropped */
        if (n > s->options.max_body - st->len) {
            st->refused = 413;
            free(st->body);
            st->body = NULL;
            st->len = st->cap = 0;
            return MHD_YES;
        }
        if (st->len + n > st->cap) {
            size_t cap = st->cap ? st->cap : 4096;
            while (cap < st->len + n) cap *= 2;
            if (cap > s->options.max_body) cap = s->options.max_body;
            unsigned char *b = realloc(st->body, cap);
            if (!b) return MHD_NO;
            st->body = b;
            st->cap = cap;
        }
        memcpy(st->body + st->len, upload_data, n);
        st->len += n;
        return MHD_YES;
    }
    /* Resumed by owdh_answer: its answer goes out now. */
    if (st->answered) return send_answer(s, c, &st->later);
    return answer(s, c, method, url, st);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe) {
    (void)c; (void)toe;
    owdh_server *s = cls;
    request_state *st = *con_cls;
    if (!st) return;
    free(st->body);
    free(st->later.body);
    free(st);
    *con_cls = NULL;
    atomic_fetch_sub(&s->in_flight, 1);
}

/* The private key's copy: zeroed before the memory goes back. */
static void free_secret(char *p) {
    if (p) explicit_bzero(p, strlen(p));
    free(p);
}

int owdh_is_loopback(const struct sockaddr *sa) {
    if (!sa) return 0;
    if (sa->sa_family == AF_INET) {
        const unsigned char *a = (const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr;
        return a[0] == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_LOOPBACK(a)) return 1;
        return IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127;
    }
    return 0;
}

owdh_server *owdh_start(const owdh_options *o, char *err, size_t err_len) {
    if (err_len) err[0] = 0;
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    char port[8];
    snprintf(port, sizeof port, "%u", (unsigned)o->port);
    int rc = getaddrinfo(o->host, port, &hints, &ai);
    if (rc != 0 || !ai) {
        snprintf(err, err_len, "cannot resolve host %s: %s", o->host, gai_strerror(rc));
        return NULL;
    }
    owdh_server *s = calloc(1, sizeof *s);
    if (!s) { freeaddrinfo(ai); snprintf(err, err_len, "out of memory"); return NULL; }
    s->options = *o;
    pthread_mutex_init(&s->lock, NULL);
    /* Suspend/resume: a deferred request (PollCommands' long-poll) holds no pool thread. */
    unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_ALLOW_SUSPEND_RESUME;
    s->options.tls_cert = s->options.tls_key = NULL;
    if (o->tls_cert && o->tls_key) {
        if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
            freeaddrinfo(ai);
            pthread_mutex_destroy(&s->lock);
            free(s);
            snprintf(err, err_len, "this libmicrohttpd was built without TLS support");
            return NULL;
        }
        s->tls_cert = strdup(o->tls_cert);
        s->tls_key = strdup(o->tls_key);
        if (!s->tls_cert || !s->tls_key) {
            freeaddrinfo(ai);
            free(s->tls_cert); free_secret(s->tls_key);
            pthread_mutex_destroy(&s->lock);
            free(s);
            snprintf(err, err_len, "out of memory");
            return NULL;
        }
        flags |= MHD_USE_TLS;
    }
    if (ai->ai_family == AF_INET6) flags |= MHD_USE_IPv6;
    /* The connection's memory pool holds its header lines and read buffer: the header
     * bound is checked exactly by the handler, this only caps what a client can make MHD hold. */
    /* MHD zeroes the whole pool for every request: no bigger than the bound needs. */
    size_t pool = o->max_headers + 16384;
    s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, access_handler, s,
                                 MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                                 MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)(o->threads ? o->threads : 1),
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)o->idle_timeout,
                                 MHD_OPTION_CONNECTION_MEMORY_LIMIT, pool,
                                 MHD_OPTION_CONNECTION_LIMIT, (unsigned int)o->max_connections,
                                 MHD_OPTION_NOTIFY_COMPLETED, completed, s,
                                 /* Plain HTTP: the options stop here (MHD_OPTION_END). */
                                 s->tls_cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, s->tls_cert,
                                 MHD_OPTION_HTTPS_MEM_KEY, s->tls_key,
                                 MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!s->daemon) {
        if (s->tls_cert)
            snprintf(err, err_len, "cannot listen on %s port %u with TLS (the port in use, not an address of this machine, "
                     "or a certificate or key GnuTLS refuses)", o->host, (unsigned)o->port);
        else
            snprintf(err, err_len, "cannot listen on %s port %u (in use, or not an address of this machine)",
                     o->host, (unsigned)o->port);
        free(s->tls_cert); free_secret(s->tls_key);
        pthread_mutex_destroy(&s->lock);
        free(s);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : o->port;
    return s;
}

unsigned short owdh_port(const owdh_server *s) { return s ? s->port : 0; }

void owdh_quiesce(owdh_server *s) {
    if (!s || !s->daemon) return;
    atomic_store(&s->quiesced, 1);
    MHD_socket fd = MHD_quiesce_daemon(s->daemon);
    if (fd != MHD_INVALID_SOCKET) close(fd);
}

unsigned int owdh_in_flight(const owdh_server *s) { return s ? atomic_load(&((owdh_server *)s)->in_flight) : 0; }

void owdh_answer(owdh_ticket *ticket, owdh_response *response) {
    request_state *st = (request_state *)ticket;
    if (!st || !response) return;
    owdh_server *s = st->server;
    pthread_mutex_lock(&s->lock);
    st->later = *response;
    st->answered = 1;
    response->body = NULL;
    if (st->suspended) {
        st->suspended = 0;
        s->suspended--;
        /* MHD's thread for this connection calls access_handler again, which sends `later`. */
        MHD_resume_connection(st->connection);
    }
    pthread_mutex_unlock(&s->lock);
}

unsigned int owdh_waiting(const owdh_server *s) {
    if (!s) return 0;
    pthread_mutex_lock(&((owdh_server *)s)->lock);
    unsigned int n = s->suspended;
    pthread_mutex_unlock(&((owdh_server *)s)->lock);
    return n;
}

void owdh_stop(owdh_server *s) {
    if (!s) return;
    if (s->daemon) MHD_stop_daemon(s->daemon);
    pthread_mutex_destroy(&s->lock);
    free(s->tls_cert);
    free_secret(s->tls_key);
    free(s);
}
