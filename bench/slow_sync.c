/* slow_sync.so: makes every fsync and fdatasync 2 ms slower, as the disks owd will live
 * on are (cloud block storage, spinning disks, a busy host: 1-10 ms a sync), for
 * `make bench-group` (bench/group.py), which LD_PRELOADs it. Each call sleeps
 * OWD_SYNC_DELAY_US microseconds (default 2000), then syncs for real. With
 * OWD_SYNC_COUNT=FILE it writes the number of syncs to FILE at exit, which the benchmark
 * reports as syncs per create. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static atomic_long syncs;

static void delay(void) {
    const char *v = getenv("OWD_SYNC_DELAY_US");
    long us = v ? atol(v) : 2000;
    struct timespec t = { us / 1000000, (us % 1000000) * 1000 };
    while (us > 0 && nanosleep(&t, &t) != 0) {}
    atomic_fetch_add(&syncs, 1);
}

int fsync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    delay();
    return real(fd);
}

int fdatasync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    delay();
    return real(fd);
}

__attribute__((destructor)) static void report(void) {
    const char *path = getenv("OWD_SYNC_COUNT");
    if (!path) return;
    FILE *f = fopen(path, "w");
    if (f) {
        fprintf(f, "%ld\n", atomic_load(&syncs));
        fclose(f);
    }
}
