/*
 * owd.h -- OpsWorks deployments, in-process.
 *
 * This header is the authoritative description of libowd's C ABI. owd records
 * deployments the way AWS OpsWorks Stacks did and answers DescribeDeployments and its
 * neighbours with AWS's request shapes, response shapes and errors. The behaviour of
 * every operation is the contract in behaviour.md (see README.md).
 *
 * Conventions
 *   - Every fallible function returns int: 0 (OWD_OK) on success, a negative
 *     owd_error_code otherwise. Details of the last failure are in owd_error_last().
 *   - Output parameters come first and are called `out` (libgit2's order: the result,
 *     then what it is made from), in every function that has one.
 *   - On failure *out is set to NULL (when `out` itself is not NULL), with one
 *     exception: owd_call_json sets *out to the AWS JSON 1.1 error body of the failure,
 *     so that a program serving the wire can answer it as it is.
 *   - What comes back through **out belongs to the caller and has exactly one release
 *     function: owd_store_close, owd_deployment_list_free, owd_free (text),
 *     json_decref / owd_json_decref (json_t). All release functions accept NULL.
 *   - What an accessor returns directly is borrowed: it lives as long as its parent.
 *   - Memory that libowd allocates is released by libowd (owd_free), never by free().
 *   - Strings are NUL-terminated UTF-8.
 *
 * Threading
 *   One owd_store handle may be used from any number of threads at once. Handles made
 *   by owd_store_as share the data of their parent and may be used concurrently with
 *   it. Several processes may open the same store file at once. An owd_deployment_list
 *   is immutable: it may be read from many threads at once; freeing it must not race
 *   with reading it. owd_error_last() is per thread.
 *
 * Limits
 *   Every request is bounded; input past a limit is refused before owd allocates for it,
 *   with OWD_EVALIDATION ("ValidationException") and a message naming the member and the
 *   maximum, and nothing is changed.
 *   - A string member: 65,536 bytes of UTF-8 (CustomJson: 122,880). Strings must be
 *     valid UTF-8 without NUL bytes. Member names (and map keys) likewise.
 *   - A list member (DeploymentIds, InstanceIds, LayerIds, ...): 10,000 entries.
 *   - A map member (Command.Args, Attributes): 1,000 entries.
 *   - Nesting inside a request: 16 levels (the deepest request shape needs 5).
 *   - owd_call_json's request text: 16 MiB (16,777,216 bytes), checked before parsing.
 *     Text that jansson cannot parse (including nesting past jansson's own depth limit,
 *     2,048) is OWD_EINVAL.
 *   - C string arguments (path, operation, iam_user_arn): 65,536 bytes (OWD_EINVAL); the
 *     IDs given to owd_describe_deployments follow the member limits above.
 */
#ifndef OWD_H
#define OWD_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Version of this header: major * 1000000 + minor * 1000 + patch.
 * owd_version_number() returns the library's; they are equal when header and
 * library match. */
#define OWD_VERSION_MAJOR 0
#define OWD_VERSION_MINOR 1
#define OWD_VERSION_PATCH 0
#define OWD_VERSION_NUMBER 1000
#define OWD_VERSION_STRING "0.1.0"

/* Return codes. The first three and OWD_EUNSUPPORTED are AWS's error codes; the others
 * are failures AWS never had. owd_error_last()->type spells each one as a string. New
 * codes are added below the lowest one; none is ever renumbered. */
typedef enum owd_error_code {
    OWD_OK = 0,
    OWD_EVALIDATION = -1, /* "ValidationException": the request is malformed or breaks a rule */
    OWD_ENOTFOUND = -2,   /* "ResourceNotFoundException": an ID named in the request does not exist */
    OWD_EACCESS = -3,     /* "AccessDeniedException": the caller's permission level refuses it */
    OWD_EINVAL = -4,      /* "InvalidArgument": a NULL pointer, bad options, an unknown operation
                             ("UnknownOperationException"), or request text that is not JSON */
    OWD_EBUSY = -5,       /* "StoreBusy": another writer held the store past the busy timeout;
                             nothing was changed; retrying may succeed */
    OWD_ESTORE = -6,      /* "StoreError": the store file cannot be opened, read or written: not an
                             owd store, a newer schema, corrupt, read-only, disk full, I/O error */
    OWD_ENOMEM = -7,      /* "OutOfMemory" */
    OWD_EINTERNAL = -8,   /* "InternalError": a bug in owd; please report it */
    OWD_EUNSUPPORTED = -9 /* "UnsupportedOperationException": an operation of AWS's OpsWorks
                             model that owd does not serve, because owd manages no AWS
                             resources (volumes, Elastic IPs, RDS, ECS, load balancers, auto
                             scaling, GrantAccess); a name the model lacks is OWD_EINVAL
                             ("UnknownOperationException") */
} owd_error_code;

/* The last failure on the calling thread. */
typedef struct owd_error {
    int code;            /* the negative owd_error_code the failing call returned */
    const char *type;    /* the error code as a string, e.g. "ValidationException" */
    const char *message; /* for people: names the parameter or ID at fault */
} owd_error;

/* Never NULL. After a success, or before any failure, code is OWD_OK with type "" and
 * message "". Valid until the calling thread's next call into libowd. */
const owd_error *owd_error_last(void);

/* A static description of a return code (any int; unknown codes get a generic text). */
const char *owd_strerror(int code);

/* Releases memory that libowd returned as text (owd_call_json's *out). NULL is a no-op. */
void owd_free(void *ptr);

/* json_decref for callers that cannot use jansson's inline function (ctypes, FFI).
 * Releases one reference; NULL is a no-op. */
void owd_json_decref(json_t *json);

/* The library's version: OWD_VERSION_NUMBER and OWD_VERSION_STRING of the header it was
 * built with. The string is static. */
int owd_version_number(void);
const char *owd_version_string(void);

/* ---------------------------------------------------------------------------------- */
/* Stores                                                                             */

typedef struct owd_store owd_store;

/* How hard a committed change is pushed to disk. */
typedef enum owd_durability {
    /* Default. A change whose call returned success survives a crash of the process and
     * a power cut (SQLite WAL, synchronous=FULL: one fsync per committing call). */
    OWD_DURABILITY_FULL = 0,
    /* Survives a crash of the process; a power cut may lose the last calls that
     * returned success (never corrupts the store). Faster: no fsync per call. */
    OWD_DURABILITY_NORMAL = 1,
    /* No fsync at all: a power cut or OS crash may corrupt the store. Tests only. */
    OWD_DURABILITY_OFF = 2
} owd_durability;

/* Unix time in seconds, for tests that need fixed times. A value outside OWD_CLOCK_MIN ...
 * OWD_CLOCK_MAX (1970-01-01T00:00:00Z ... 9999-12-31T23:59:59Z) is taken as the nearest end
 * of that range. */
typedef int64_t (*owd_clock_fn)(void *context);
#define OWD_CLOCK_MIN 0LL
#define OWD_CLOCK_MAX 253402300799LL

typedef struct owd_store_options {
    unsigned int version;     /* OWD_STORE_OPTIONS_VERSION */
    const char *iam_user_arn; /* the caller; NULL: the embedding program itself, which may
                                 do everything. Copied by owd_store_open. */
    owd_clock_fn clock;       /* NULL: the system clock */
    void *clock_context;      /* passed to clock; must outlive the store */
    int busy_timeout_ms;      /* how long a writer waits for another (>= 0; default 5000) */
    owd_durability durability; /* default OWD_DURABILITY_FULL */
} owd_store_options;

#define OWD_STORE_OPTIONS_VERSION 1
#define OWD_STORE_OPTIONS_INIT { OWD_STORE_OPTIONS_VERSION, NULL, NULL, NULL, 5000, OWD_DURABILITY_FULL }

/* Fills *opts with the defaults of OWD_STORE_OPTIONS_INIT, for callers that cannot use
 * macros. Returns OWD_EINVAL when opts is NULL or version is not a version this library
 * knows. */
int owd_store_options_init(owd_store_options *opts, unsigned int version);

/* Opens (creating if needed) the store at `path`.
 *   path: a file name; NULL or ":memory:" opens a new private in-memory store.
 *         "" is refused (OWD_EINVAL, "path is empty: ..."): an empty path is most
 *         often an unset variable, and taking it as in-memory would lose the data.
 *         A new file is created with mode 0600. An existing empty file becomes a new
 *         store. A file that is not an owd store, or has a newer schema, is refused
 *         (OWD_ESTORE) and left untouched; an older schema is upgraded.
 *         Or a PostgreSQL connection URI, "postgresql://..." or "postgres://..." in
 *         libpq's syntax (sslmode, PGPASSWORD and ~/.pgpass work as for psql): the
 *         store lives in the first schema of the session's search_path (created when
 *         missing, e.g. "?options=-csearch_path%3Downame"), its tables made on first
 *         use. libpq (libpq.so.5, or the file OWD_LIBPQ names) is loaded on first use
 *         of such a URI; when it cannot be, OWD_ESTORE says so. Any number of
 *         processes on any number of machines may share it (behaviour.md section 15);
 *         busy_timeout_ms is how long a writer waits for another (lock_timeout). A lost
 *         connection fails the call in progress with OWD_ESTORE; the next reconnects.
 *   options: NULL for the defaults.
 * On success *out is a new handle, released with owd_store_close.
 * Errors: OWD_EINVAL (out NULL, bad options, path "" or not UTF-8, iam_user_arn not UTF-8), OWD_ESTORE,
 * OWD_EBUSY, OWD_ENOMEM. */
int owd_store_open(owd_store **out, const char *path, const owd_store_options *options);

/* A second handle on the same data (in-memory stores too) acting as `iam_user_arn`
 * (NULL: the embedding program). Clock, durability and busy timeout are shared with
 * `store`. The new handle is independent of `store`: either may be closed first.
 * Errors: OWD_EINVAL (out or store NULL, iam_user_arn not UTF-8). */
int owd_store_as(owd_store **out, owd_store *store, const char *iam_user_arn);

/* Closes the handle. NULL is a no-op. Lists obtained from it stay valid. */
void owd_store_close(owd_store *store);

/* ---------------------------------------------------------------------------------- */
/* Operations by AWS name                                                             */

/* Runs `operation` (an AWS operation name of behaviour.md, e.g. "DescribeDeployments",
 * "CreateDeployment", or owd's "AcknowledgeCommand"/"CompleteCommand") with `request`
 * (a JSON object; borrowed, not modified; NULL means {}).
 * On success returns 0 and *out is the response object (new reference).
 * On failure returns a negative code, *out is NULL, and owd_error_last() holds the AWS
 * error code (type) and message. The store is unchanged by a failed call. */
int owd_call(json_t **out, owd_store *store, const char *operation, const json_t *request);

/* The same with JSON text (UTF-8). The one rule for the text:
 *   - NULL or "" means {};
 *   - text longer than 16 MiB is OWD_EVALIDATION, refused before parsing;
 *   - text that is not one JSON value (a syntax error, trailing text, invalid UTF-8,
 *     \u0000, a duplicated key, nesting past jansson's limit) is OWD_EINVAL ("request is
 *     not valid JSON: ...");
 *   - JSON that is not an object ([], "x", 1, true, null) is OWD_EVALIDATION ("The
 *     request must be a JSON object, not <type>"), as owd_call answers such a json_t.
 * On success *out is the response text; on an operation failure (a negative return)
 * *out is the AWS JSON 1.1 error body {"__type": "<type>", "message": "<text>"}.
 * *out is NULL only when `out` is NULL or memory ran out. Free *out with owd_free. */
int owd_call_json(char **out, owd_store *store, const char *operation, const char *request);

/* ---------------------------------------------------------------------------------- */
/* DescribeDeployments through opaque handles                                         */

typedef struct owd_deployment_list owd_deployment_list;
typedef struct owd_deployment owd_deployment;

typedef enum owd_status {
    OWD_STATUS_RUNNING = 0,
    OWD_STATUS_SUCCESSFUL = 1,
    OWD_STATUS_FAILED = 2
} owd_status;

typedef enum owd_command_type {
    OWD_COMMAND_INSTALL_DEPENDENCIES = 0,
    OWD_COMMAND_UPDATE_DEPENDENCIES = 1,
    OWD_COMMAND_UPDATE_CUSTOM_COOKBOOKS = 2,
    OWD_COMMAND_EXECUTE_RECIPES = 3,
    OWD_COMMAND_CONFIGURE = 4,
    OWD_COMMAND_SETUP = 5,
    OWD_COMMAND_DEPLOY = 6,
    OWD_COMMAND_ROLLBACK = 7,
    OWD_COMMAND_START = 8,
    OWD_COMMAND_STOP = 9,
    OWD_COMMAND_RESTART = 10,
    OWD_COMMAND_UNDEPLOY = 11
} owd_command_type;

/* "running", "successful", "failed"; NULL for a value outside the enum. Static. */
const char *owd_status_name(owd_status status);
/* "install_dependencies", ..., "undeploy"; NULL for a value outside the enum. Static. */
const char *owd_command_type_name(owd_command_type type);

/* DescribeDeployments with the same rules as owd_call: at most one of stack_id, app_id
 * and deployment_ids may be given. stack_id/app_id NULL: not given. deployment_ids NULL:
 * not given; non-NULL with deployment_id_count 0: an empty list given. Entries of
 * deployment_ids must not be NULL (OWD_EINVAL).
 * On success *out is a snapshot, newest first, released with owd_deployment_list_free:
 * later changes to the store do not alter it, and it stays valid after the store is
 * closed. Errors: as owd_call. */
int owd_describe_deployments(owd_deployment_list **out, owd_store *store, const char *stack_id,
                             const char *app_id, const char *const *deployment_ids,
                             size_t deployment_id_count);

/* The number of deployments in the list (0 for NULL). */
size_t owd_deployment_list_count(const owd_deployment_list *list);
/* The deployment at `index` (borrowed from the list); NULL when list is NULL or index
 * is out of range. */
const owd_deployment *owd_deployment_list_get(const owd_deployment_list *list, size_t index);
/* {"Deployments": [...]} exactly as owd_call answers (new reference); NULL when list is
 * NULL or memory ran out. */
json_t *owd_deployment_list_to_json(const owd_deployment_list *list);
/* Releases the list and every deployment in it. NULL is a no-op. */
void owd_deployment_list_free(owd_deployment_list *list);

/* Accessors. Each takes a deployment borrowed from a list and returns a value borrowed
 * from it (strings live as long as the list). A NULL deployment gives NULL, -1 or 0. */
const char *owd_deployment_id(const owd_deployment *d);
const char *owd_deployment_stack_id(const owd_deployment *d);
const char *owd_deployment_app_id(const owd_deployment *d);       /* NULL when absent */
const char *owd_deployment_created_at(const owd_deployment *d);   /* "2013-07-25T18:57:34+00:00" */
const char *owd_deployment_completed_at(const owd_deployment *d); /* NULL while running */
int64_t owd_deployment_duration(const owd_deployment *d);         /* seconds; -1 while running */
const char *owd_deployment_iam_user_arn(const owd_deployment *d); /* NULL when absent */
const char *owd_deployment_comment(const owd_deployment *d);      /* NULL when absent */
const char *owd_deployment_custom_json(const owd_deployment *d);  /* NULL when absent */
owd_status owd_deployment_status(const owd_deployment *d);        /* OWD_STATUS_RUNNING for NULL */
owd_command_type owd_deployment_command_name(const owd_deployment *d);
/* Command.Args: `count` keys, each with a list of values, in the order given. */
size_t owd_deployment_command_arg_count(const owd_deployment *d);
const char *owd_deployment_command_arg_name(const owd_deployment *d, size_t index);
size_t owd_deployment_command_arg_value_count(const owd_deployment *d, size_t index);
const char *owd_deployment_command_arg_value(const owd_deployment *d, size_t index,
                                             size_t value_index);
/* InstanceIds, in target order. */
size_t owd_deployment_instance_count(const owd_deployment *d);
const char *owd_deployment_instance_id(const owd_deployment *d, size_t index);

/* The deployment as DescribeDeployments answers it (new reference); NULL for NULL or when
 * memory ran out. */
json_t *owd_deployment_to_json(const owd_deployment *d);

#ifdef __cplusplus
}
#endif

#endif /* OWD_H */
