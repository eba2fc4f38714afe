/* The floor of `make bench-import`: plain SQLite inserts of the same rows. Copies every
 * row of an imported store (SRC) into a new file (DST) with the same schema, one prepared
 * INSERT per table bound column by column from a SELECT, in one transaction, with owd's
 * settings (WAL, synchronous=FULL). Prints the rows copied and the seconds taken. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static void check(int rc, sqlite3 *db, const char *what) {
    if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
        fprintf(stderr, "import_floor: %s: %s\n", what, sqlite3_errmsg(db));
        exit(1);
    }
}

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: import_floor SRC DST\n"); return 2; }
    sqlite3 *db;
    check(sqlite3_open(argv[2], &db), db, "open");
    check(sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL", 0, 0, 0), db, "pragma");
    char attach[4096];
    snprintf(attach, sizeof attach, "ATTACH '%s' AS src", argv[1]);
    check(sqlite3_exec(db, attach, 0, 0, 0), db, "attach");
    /* The same tables and indexes, made before timing. */
    sqlite3_stmt *ddl;
    check(sqlite3_prepare_v2(db, "SELECT sql FROM src.sqlite_master WHERE sql IS NOT NULL ORDER BY type DESC", -1, &ddl, 0), db, "schema");
    while (sqlite3_step(ddl) == SQLITE_ROW)
        check(sqlite3_exec(db, (const char *)sqlite3_column_text(ddl, 0), 0, 0, 0), db, "create");
    sqlite3_finalize(ddl);
    const char *tables[] = {"stacks", "layers", "apps", "instances", "deployments", "commands"};
    /* The rows are read before timing too (into SQLite's page cache). */
    for (size_t t = 0; t < sizeof tables / sizeof *tables; t++) {
        char sql[256];
        snprintf(sql, sizeof sql, "SELECT count(*), sum(length(CAST(id AS BLOB))) FROM src.%s", tables[t]);
        check(sqlite3_exec(db, sql, 0, 0, 0), db, "warm");
    }
    long long rows = 0;
    double start = now();
    check(sqlite3_exec(db, "BEGIN IMMEDIATE", 0, 0, 0), db, "begin");
    for (size_t t = 0; t < sizeof tables / sizeof *tables; t++) {
        char sql[512];
        sqlite3_stmt *select, *insert;
        snprintf(sql, sizeof sql, "SELECT * FROM src.%s ORDER BY seq", tables[t]);
        check(sqlite3_prepare_v2(db, sql, -1, &select, 0), db, "select");
        int n = sqlite3_column_count(select);
        char values[512] = "";
        for (int i = 0; i < n; i++) strcat(values, i ? ",?" : "?");
        snprintf(sql, sizeof sql, "INSERT INTO main.%s VALUES(%s)", tables[t], values);
        check(sqlite3_prepare_v2(db, sql, -1, &insert, 0), db, "insert");
        while (sqlite3_step(select) == SQLITE_ROW) {
            for (int i = 0; i < n; i++) sqlite3_bind_value(insert, i + 1, sqlite3_column_value(select, i));
            check(sqlite3_step(insert), db, "step");
            sqlite3_reset(insert);
            rows++;
        }
        sqlite3_finalize(select);
        sqlite3_finalize(insert);
    }
    check(sqlite3_exec(db, "COMMIT", 0, 0, 0), db, "commit");
    double seconds = now() - start;
    printf("%lld %.6f\n", rows, seconds);
    sqlite3_close(db);
    return 0;
}
