/* owd agent's system layer: an HTTPS/HTTP client on libcurl (one easy handle, so one
 * keep-alive connection, per client), and the start of a hook in its own process group.
 * Only the owd program links this (libowd.so never does). */
#ifndef OWD_AGENT_H
#define OWD_AGENT_H
#include <stddef.h>
#include <sys/types.h>

typedef struct owda_client owda_client;

/* ca_file: the PEM bundle to trust (NULL: the system's store); insecure: no check of the
 * server's certificate or name; keep_alive 0: a new connection for every request, closed
 * after it. NULL on failure, with the reason in err. */
owda_client *owda_client_new(const char *ca_file, int insecure, int keep_alive, char *err, size_t err_len);
/* NULL: no-op. */
void owda_client_free(owda_client *client);

typedef struct owda_response {
    long status;          /* the HTTP status */
    char *body;           /* malloc'd, NUL-terminated; release with owda_response_free */
    size_t body_len;
    char error[256];      /* the transport error, when owda_post returned -1 */
} owda_response;

#define OWDA_OK 0
#define OWDA_TRANSPORT (-1)
#define OWDA_ABORTED (-2)

/* POSTs body to url with headers ("Name: value" each) on the client's connection (opened
 * again when the server closed it). timeout_seconds bounds the whole transfer; when
 * *stop becomes nonzero the transfer is abandoned (OWDA_ABORTED): at once after
 * owda_client_wake, else within a second.
 * OWDA_OK: out->status and out->body are set, whatever the status. Not thread-safe: one
 * client per thread. */
int owda_post(owda_client *client, const char *url, const char *const *headers, size_t header_count,
              const void *body, size_t body_len, long timeout_seconds, const volatile int *stop,
              owda_response *out);
void owda_response_free(owda_response *response);

/* Wakes the client's transfer in progress (if any) so that it looks at *stop: the one call
 * that may come from another thread. */
void owda_client_wake(owda_client *client);

/* Starts path (no arguments) with envp, in cwd, stdin /dev/null, stdout and stderr both
 * the write end of one pipe whose read end is *out_fd (O_CLOEXEC, nonblocking), in a new
 * process group (its id is the child's pid), default signal dispositions and an empty
 * signal mask, no other descriptor open. 0, or an errno value (err says what failed). */
int owda_spawn(const char *path, char *const envp[], const char *cwd, pid_t *out_pid, int *out_fd,
               char *err, size_t err_len);

/* Removes path and everything below it, never following a symbolic link. 0 or -1 (errno). */
int owda_remove_tree(const char *path);

#endif
