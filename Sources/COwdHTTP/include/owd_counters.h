/* Relaxed atomic counters for owd serve's /metrics: one add per request on the request
 * path, no lock (a scrape reads each slot on its own; a total may lag its parts by the
 * requests in flight, never by more). */
#ifndef OWD_COUNTERS_H
#define OWD_COUNTERS_H
#include <stdint.h>

static inline void owdh_counter_add(uint64_t *slot, uint64_t n) {
    __atomic_fetch_add(slot, n, __ATOMIC_RELAXED);
}

static inline uint64_t owdh_counter_load(const uint64_t *slot) {
    return __atomic_load_n(slot, __ATOMIC_RELAXED);
}

#endif
