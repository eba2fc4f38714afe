#ifndef CPQ_H
#define CPQ_H
/* libpq, loaded at run time: libowd.so must not need libpq to open file stores, so it
 * declares the few libpq functions it calls (the stable ABI of libpq.so.5, as in
 * libpq-fe.h) and resolves them with dlopen on first use of a postgresql:// store. */
#include <stddef.h>

typedef struct pg_conn PGconn;
typedef struct pg_result PGresult;
typedef unsigned int Oid;

/* libpq-fe.h's values (part of libpq.so.5's ABI). */
enum { CPQ_CONNECTION_OK = 0, CPQ_CONNECTION_BAD = 1 };
enum {
    CPQ_PGRES_EMPTY_QUERY = 0, CPQ_PGRES_COMMAND_OK = 1, CPQ_PGRES_TUPLES_OK = 2,
    CPQ_PGRES_FATAL_ERROR = 7
};
enum { CPQ_TRANS_IDLE = 0, CPQ_TRANS_ACTIVE = 1, CPQ_TRANS_INTRANS = 2, CPQ_TRANS_INERROR = 3,
       CPQ_TRANS_UNKNOWN = 4 };
enum { CPQ_DIAG_SQLSTATE = 'C' };

typedef struct cpq_api {
    PGconn *(*PQconnectdbParams)(const char *const *keywords, const char *const *values, int expand_dbname);
    int (*PQstatus)(const PGconn *conn);
    char *(*PQerrorMessage)(const PGconn *conn);
    void (*PQfinish)(PGconn *conn);
    void (*PQreset)(PGconn *conn);
    int (*PQtransactionStatus)(const PGconn *conn);
    int (*PQbackendPID)(const PGconn *conn);
    void *(*PQsetNoticeProcessor)(PGconn *conn, void (*proc)(void *, const char *), void *arg);
    PGresult *(*PQexec)(PGconn *conn, const char *query);
    PGresult *(*PQprepare)(PGconn *conn, const char *name, const char *query, int nParams, const Oid *paramTypes);
    PGresult *(*PQexecPrepared)(PGconn *conn, const char *name, int nParams, const char *const *paramValues,
                                const int *paramLengths, const int *paramFormats, int resultFormat);
    int (*PQresultStatus)(const PGresult *res);
    char *(*PQresultErrorField)(const PGresult *res, int fieldcode);
    char *(*PQresultErrorMessage)(const PGresult *res);
    void (*PQclear)(PGresult *res);
    int (*PQntuples)(const PGresult *res);
    char *(*PQgetvalue)(const PGresult *res, int row, int column);
    int (*PQgetlength)(const PGresult *res, int row, int column);
    int (*PQgetisnull)(const PGresult *res, int row, int column);
    char *(*PQcmdTuples)(PGresult *res);
    int (*PQlibVersion)(void);
} cpq_api;

/* The loaded API, or NULL with a message in `error` (of `size` bytes) naming what is
 * missing. Loads once per process; thread-safe. */
const cpq_api *cpq_load(char *error, size_t size);

/* A notice processor that drops notices (libpq's default prints them on stderr). */
void cpq_quiet(void *arg, const char *message);
#endif
