/* owd serve's HTTP layer: libmicrohttpd below, one C callback above. Only the owd
 * executable links this (libowd.so never does). The C side owns the connections, the
 * bounds it can enforce before any request is parsed (idle timeout, header memory, the
 * body's size by Content-Length and by counting) and the body buffer; everything about
 * the request's meaning is the handler's (Sources/OwdServer). */
#ifndef OWD_HTTP_H
#define OWD_HTTP_H
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

typedef struct owdh_field {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
} owdh_field;

/* What the handler sees of a request. Everything is borrowed for the handler's call. */
typedef struct owdh_request {
    const char *method;
    const char *path;               /* without the query */
    const owdh_field *headers;      /* in arrival order, names as sent */
    size_t header_count;
    const owdh_field *query;        /* decoded query arguments, in order */
    size_t query_count;
    const unsigned char *body;      /* never NULL; body_len 0 for an empty body */
    size_t body_len;
    /* 0, or the status of a bound already broken: 413 (body), 431 (headers). */
    unsigned int refused;
    /* The transport: 1 when the connection is TLS (the server's --tls-cert); 1 when the
     * peer's address is a loopback one (127.0.0.0/8, ::1, ::ffff:127.0.0.0/104). */
    int tls;
    int peer_loopback;
    char peer[64];                  /* the peer's numeric address, NUL-terminated; "" unknown */
} owdh_request;

enum { OWDH_JSON = 0, OWDH_TEXT = 1, OWDH_METRICS = 2 /* Prometheus' text format 0.0.4 */ };

/* What the handler answers. body is malloc'd (or NULL with body_len 0) and freed by the server. */
typedef struct owdh_response {
    unsigned int status;
    int content;                    /* OWDH_JSON, OWDH_TEXT or OWDH_METRICS */
    char *body;
    size_t body_len;
    char request_id[40];            /* NUL-terminated; "" for none */
    char error_type[64];            /* NUL-terminated; "" for none */
    /* Set by the handler instead of an answer: the request is answered later, from any
     * thread, by owdh_answer(ticket, ...). Its connection is suspended meanwhile: it holds
     * no pool thread, and the pool's other connections go on being served. */
    int deferred;
} owdh_response;

/* A request whose answer was deferred; valid until owdh_answer is called with it. */
typedef struct owdh_ticket owdh_ticket;

typedef void (*owdh_handler)(void *context, const owdh_request *request, owdh_response *response,
                             owdh_ticket *ticket);

typedef struct owdh_options {
    const char *host;               /* numeric IPv4 or IPv6 address, or a name */
    unsigned short port;            /* 0: any free port */
    unsigned int threads;           /* the internal pool's size (epoll, one per thread) */
    unsigned int idle_timeout;      /* seconds without traffic before a connection is closed */
    size_t max_body;                /* bytes; more is 413 */
    size_t max_headers;             /* bytes of header lines; more is 431 */
    unsigned int max_connections;
    owdh_handler handler;
    void *context;
    /* HTTPS only (libmicrohttpd's TLS, GnuTLS) when both are set: PEM text, NUL-terminated,
     * borrowed until owdh_start returns; NULL: plain HTTP. */
    const char *tls_cert;
    const char *tls_key;
} owdh_options;

typedef struct owdh_server owdh_server;

/* Starts listening and serving. NULL on failure with the reason in err. */
owdh_server *owdh_start(const owdh_options *options, char *err, size_t err_len);
/* The port bound (the one chosen for port 0). */
unsigned short owdh_port(const owdh_server *server);
/* Stops accepting new connections; the open ones go on, each closed after its next answer. */
void owdh_quiesce(owdh_server *server);
/* Requests begun and not yet answered and sent. */
unsigned int owdh_in_flight(const owdh_server *server);
/* 1 when the address is a loopback one (127.0.0.0/8, ::1, IPv4-mapped 127.0.0.0/8). */
int owdh_is_loopback(const struct sockaddr *address);
/* Answers a deferred request (exactly once per ticket; any thread), taking the response's
 * body. Every deferred request must be answered before owdh_stop. */
void owdh_answer(owdh_ticket *ticket, owdh_response *response);
/* Deferred requests not yet answered. */
unsigned int owdh_waiting(const owdh_server *server);
/* Closes every connection and frees the server (NULL: no-op). */
void owdh_stop(owdh_server *server);

#endif
