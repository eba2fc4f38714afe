/* The in-process figure for `make bench-serve`: owd_call_json("DescribeDeployments",
 * {"StackId": ...}) on the store the server answered from, in MB/s of answer text.
 *
 *   serve_inproc STORE STACK_ID SECONDS      prints "bytes N calls N seconds S" */
#include <owd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc != 4) { fprintf(stderr, "usage: serve_inproc STORE STACK_ID SECONDS\n"); return 2; }
    owd_store *s = NULL;
    if (owd_store_open(&s, argv[1], NULL) != OWD_OK) { fprintf(stderr, "open: %s\n", owd_error_last()->message); return 1; }
    char request[128];
    snprintf(request, sizeof request, "{\"StackId\":\"%s\"}", argv[2]);
    double seconds = atof(argv[3]), start = now_s(), t = start;
    long calls = 0;
    size_t bytes = 0;
    while (t - start < seconds) {
        char *out = NULL;
        if (owd_call_json(s, "DescribeDeployments", request, &out) != OWD_OK) { fprintf(stderr, "%s\n", out); return 1; }
        bytes = strlen(out);
        owd_free(out);
        calls++;
        t = now_s();
    }
    printf("bytes %zu calls %ld seconds %.6f\n", bytes, calls, t - start);
    owd_store_close(s);
    return 0;
}
