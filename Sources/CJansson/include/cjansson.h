#ifndef CJANSSON_H
#define CJANSSON_H
#include <jansson.h>
#include <stddef.h>

/* jansson's function-like macros and inline functions do not import into Swift. */
static inline int cjansson_typeof(const json_t *json) { return json ? (int)json_typeof(json) : -1; }
static inline void cjansson_decref(json_t *json) { json_decref(json); }
/* A read prefetch hint, for the record walks that feed jansson (no Swift spelling exists). */
static inline void cjansson_prefetch(const void *p) { __builtin_prefetch(p, 0, 3); }
#endif
