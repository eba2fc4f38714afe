/* A tiny assert harness: CHECK records a pass or a failure (with file:line) and goes on;
 * REQUIRE stops the current test function. harness_report() prints the final line
 * "N passed, N failed" and returns the exit status. Thread-safe counters, so checks may
 * run inside threads. */
#ifndef OWD_TEST_HARNESS_H
#define OWD_TEST_HARNESS_H
#include <stdio.h>
#include <string.h>

static int harness_passed, harness_failed;

#define HARNESS_RECORD(ok, text)                                                     \
    ((ok) ? (void)__atomic_add_fetch(&harness_passed, 1, __ATOMIC_RELAXED)           \
          : (void)(__atomic_add_fetch(&harness_failed, 1, __ATOMIC_RELAXED),         \
                   fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, text)))

#define CHECK(cond) HARNESS_RECORD((cond) ? 1 : 0, #cond)
/* Evaluates `cond` once: it may have effects (take_id releases its argument). */
#define REQUIRE(cond) do {                                                            \
        int harness_ok = (cond) ? 1 : 0;                                              \
        HARNESS_RECORD(harness_ok, #cond);                                            \
        if (!harness_ok) return;                                                      \
    } while (0)

/* Two C strings are equal; both NULL counts as equal. */
static inline int harness_streq(const char *a, const char *b) {
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}
#define CHECK_STR(a, b) do {                                                          \
        const char *harness_a = (a), *harness_b = (b);                                \
        int harness_ok = harness_streq(harness_a, harness_b);                         \
        HARNESS_RECORD(harness_ok, #a " == " #b);                                     \
        if (!harness_ok) fprintf(stderr, "     got \"%s\", expected \"%s\"\n",       \
                                 harness_a ? harness_a : "(null)",                    \
                                 harness_b ? harness_b : "(null)");                   \
    } while (0)
#define CHECK_INT(a, b) do {                                                          \
        long long harness_a = (long long)(a), harness_b = (long long)(b);             \
        HARNESS_RECORD(harness_a == harness_b, #a " == " #b);                         \
        if (harness_a != harness_b) fprintf(stderr, "     got %lld, expected %lld\n", \
                                            harness_a, harness_b);                    \
    } while (0)

#define RUN(test) do { fprintf(stderr, "-- %s\n", #test); test(); } while (0)

static inline int harness_report(void) {
    printf("%d passed, %d failed\n", harness_passed, harness_failed);
    return harness_failed == 0 && harness_passed > 0 ? 0 : 1;
}
#endif
