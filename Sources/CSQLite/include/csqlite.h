#ifndef CSQLITE_H
#define CSQLITE_H
#include <sqlite3.h>
/* SQLITE_TRANSIENT/SQLITE_STATIC are casts of integers to function pointers: not importable. */
static inline sqlite3_destructor_type csqlite_transient(void) { return SQLITE_TRANSIENT; }
static inline sqlite3_destructor_type csqlite_static(void) { return SQLITE_STATIC; }
/* sqlite3_db_config is variadic: not importable. Closing then leaves the WAL as it is. */
static inline int csqlite_no_checkpoint_on_close(sqlite3 *db) {
    return sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, (int *)0);
}
#endif
