#ifndef CSQLITE_H
#define CSQLITE_H
#include <sqlite3.h>
/* SQLITE_TRANSIENT/SQLITE_STATIC are casts of integers to function pointers: not importable. */
static inline sqlite3_destructor_type csqlite_transient(void) { return SQLITE_TRANSIENT; }
static inline sqlite3_destructor_type csqlite_static(void) { return SQLITE_STATIC; }
#endif
