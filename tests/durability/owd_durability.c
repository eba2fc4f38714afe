/* owd-durability: the processes that the durability tests (run.py) start against one
 * store file. Each subcommand is one kind of client:
 *
 *   repl PATH [BUSY_MS [DURABILITY]]   opens PATH, prints "OPEN OK" or
 *                                      "OPEN ERR <code> <type> <message>", then answers
 *                                      lines "<Operation> <json>" from stdin with
 *                                      "OK <json>" or "ERR <code> <type> <message>".
 *   crash PATH [THREADS]               the crash child: creates deployments and
 *                                      completes commands for ever, printing each
 *                                      acknowledged change ("D <id>", "C <id> <status>");
 *                                      with THREADS, that many threads on one handle at
 *                                      once (their commits share syncs: group commit).
 *   writer PATH N                      creates N deployments on its own stack, describing
 *                                      each (and its stack) while other processes write.
 *   threads PATH THREADS OPS           THREADS threads on one handle mixing creates,
 *                                      completes and describes; checks every invariant.
 *   bench PATH N DURABILITY [THREADS]  creates N deployments (from each of THREADS
 *                                      threads on one handle); prints the rate.
 *
 * Any failure prints "FAIL ..." on stderr and exits 1.
 */
#include <owd.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DIE(...) do { fprintf(stderr, "FAIL: " __VA_ARGS__); fputc('\n', stderr); exit(1); } while (0)

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static owd_store *open_store(const char *path, int busy_ms, int durability) {
    owd_store_options opts = OWD_STORE_OPTIONS_INIT;
    opts.busy_timeout_ms = busy_ms;
    opts.durability = (owd_durability)durability;
    owd_store *store = NULL;
    if (owd_store_open(&store, path, &opts) != OWD_OK) {
        const owd_error *e = owd_error_last();
        DIE("open %s: %d %s %s", path, e->code, e->type, e->message);
    }
    return store;
}

/* Runs `operation` with a request built by printf; any failure is fatal (the tests that
 * expect failures use the repl). Returns the response (new reference). */
static json_t *call(owd_store *store, const char *operation, const char *fmt, ...) {
    char request[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(request, sizeof request, fmt, ap);
    va_end(ap);
    json_t *req = json_loads(request, 0, NULL);
    if (!req) DIE("bad request JSON %s", request);
    json_t *resp = NULL;
    int rc = owd_call(&resp, store, operation, req);
    json_decref(req);
    if (rc != OWD_OK) {
        const owd_error *e = owd_error_last();
        DIE("%s %s: %d %s %s", operation, request, rc, e->type, e->message);
    }
    return resp;
}

static char *call_for(owd_store *store, const char *operation, const char *member, const char *fmt, ...) {
    char request[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(request, sizeof request, fmt, ap);
    va_end(ap);
    json_t *resp = call(store, operation, "%s", request);
    const char *v = json_string_value(json_object_get(resp, member));
    if (!v) DIE("%s: no %s in response", operation, member);
    char *copy = strdup(v);
    json_decref(resp);
    return copy;
}

/* A stack with one layer and `n` online instances; returns the stack ID (malloc'd). */
static char *make_stack(owd_store *store, int n) {
    char *stack = call_for(store, "CreateStack", "StackId",
        "{\"Name\": \"durability\", \"Region\": \"us-east-1\","
        " \"ServiceRoleArn\": \"arn:aws:iam::123456789012:role/aws-opsworks-service-role\","
        " \"DefaultInstanceProfileArn\": \"arn:aws:iam::123456789012:instance-profile/aws-opsworks-ec2-role\"}");
    char *layer = call_for(store, "CreateLayer", "LayerId",
        "{\"StackId\": \"%s\", \"Type\": \"custom\", \"Name\": \"web\", \"Shortname\": \"web\"}", stack);
    for (int i = 0; i < n; i++) {
        char *instance = call_for(store, "CreateInstance", "InstanceId",
            "{\"StackId\": \"%s\", \"LayerIds\": [\"%s\"], \"InstanceType\": \"t3.small\"}", stack, layer);
        json_decref(call(store, "StartInstance", "{\"InstanceId\": \"%s\"}", instance));
        free(instance);
    }
    free(layer);
    return stack;
}

static char *create_deployment(owd_store *store, const char *stack) {
    return call_for(store, "CreateDeployment", "DeploymentId",
                    "{\"StackId\": \"%s\", \"Command\": {\"Name\": \"configure\"}}", stack);
}

/* The command IDs of a deployment (a new reference to the Commands array). */
static json_t *commands_of(owd_store *store, const char *deployment) {
    json_t *resp = call(store, "DescribeCommands", "{\"DeploymentId\": \"%s\"}", deployment);
    json_t *commands = json_incref(json_object_get(resp, "Commands"));
    json_decref(resp);
    if (!json_is_array(commands)) DIE("DescribeCommands: no Commands");
    return commands;
}

static owd_status status_of(owd_store *store, const char *deployment) {
    owd_deployment_list *list = NULL;
    const char *ids[1] = {deployment};
    if (owd_describe_deployments(&list, store, NULL, NULL, ids, 1) != OWD_OK)
        DIE("owd_describe_deployments %s: %s", deployment, owd_error_last()->message);
    if (owd_deployment_list_count(list) != 1) DIE("deployment %s not described", deployment);
    owd_status s = owd_deployment_status(owd_deployment_list_get(list, 0));
    owd_deployment_list_free(list);
    return s;
}

static size_t count_stack(owd_store *store, const char *stack) {
    owd_deployment_list *list = NULL;
    if (owd_describe_deployments(&list, store, stack, NULL, NULL, 0) != OWD_OK)
        DIE("owd_describe_deployments stack %s: %s", stack, owd_error_last()->message);
    size_t n = owd_deployment_list_count(list);
    owd_deployment_list_free(list);
    return n;
}

/* ---------------------------------------------------------------------------------- */

static int repl(const char *path, int busy_ms, int durability) {
    owd_store_options opts = OWD_STORE_OPTIONS_INIT;
    opts.busy_timeout_ms = busy_ms;
    opts.durability = (owd_durability)durability;
    owd_store *store = NULL;
    if (owd_store_open(&store, path, &opts) != OWD_OK) {
        const owd_error *e = owd_error_last();
        printf("OPEN ERR %d %s %s\n", e->code, e->type, e->message);
        return 1;
    }
    printf("OPEN OK\n");
    fflush(stdout);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, stdin)) > 0) {
        if (line[n - 1] == '\n') line[n - 1] = '\0';
        char *space = strchr(line, ' ');
        const char *request = "{}";
        if (space) { *space = '\0'; request = space + 1; }
        char *out = NULL;
        int rc = owd_call_json(&out, store, line, request);
        if (rc == OWD_OK) {
            printf("OK %s\n", out);
        } else {
            const owd_error *e = owd_error_last();
            printf("ERR %d %s %s\n", rc, e->type, e->message);
        }
        owd_free(out);
        fflush(stdout);
    }
    free(line);
    owd_store_close(store);
    return 0;
}

/* One line per acknowledged change, whole (threads share stdout): printed only after
 * the call returned success, so every line is a change the parent will look for after
 * the kill. */
static void acknowledge(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    flockfile(stdout);
    vprintf(fmt, ap);
    fflush(stdout);
    funlockfile(stdout);
    va_end(ap);
}

struct crash_args {
    owd_store *store;
    const char *stack;
    unsigned seed;
};

static void *crash_loop(void *arg) {
    struct crash_args *a = arg;
    for (;;) {
        char *d = create_deployment(a->store, a->stack);
        acknowledge("D %s\n", d);
        json_t *commands = commands_of(a->store, d);
        /* Most deployments finish; some stay running with a command or two done. */
        size_t todo = json_array_size(commands);
        if (rand_r(&a->seed) % 4 == 0) todo = (size_t)rand_r(&a->seed) % todo;
        for (size_t i = 0; i < todo; i++) {
            const char *id = json_string_value(json_object_get(json_array_get(commands, i), "CommandId"));
            const char *status = rand_r(&a->seed) % 5 == 0 ? "failed" : "successful";
            json_decref(call(a->store, "CompleteCommand", "{\"CommandId\": \"%s\", \"Status\": \"%s\", \"ExitCode\": %d}",
                             id, status, status[0] == 'f' ? 1 : 0));
            acknowledge("C %s %s\n", id, status);
        }
        json_decref(commands);
        free(d);
    }
    return NULL;
}

static _Noreturn void crash(const char *path, int nthreads) {
    owd_store *store = open_store(path, 5000, OWD_DURABILITY_FULL);
    char *stack = make_stack(store, 3);
    if (nthreads < 1 || nthreads > 256) DIE("crash: THREADS must be 1..256");
    struct crash_args args[256];
    pthread_t tids[256];
    for (int i = 0; i < nthreads; i++) {
        args[i] = (struct crash_args){store, stack, (unsigned)getpid() * 31u + (unsigned)i};
        if (i > 0 && pthread_create(&tids[i], NULL, crash_loop, &args[i]) != 0) DIE("pthread_create");
    }
    crash_loop(&args[0]);
    abort();
}

static int writer(const char *path, int n) {
    owd_store *store = open_store(path, 5000, OWD_DURABILITY_FULL);
    char *stack = make_stack(store, 2);
    double t0 = now_s();
    size_t others_max = 0;
    for (int i = 1; i <= n; i++) {
        char *d = create_deployment(store, stack);
        if (status_of(store, d) != OWD_STATUS_RUNNING) DIE("new deployment %s is not running", d);
        free(d);
        if (i % 25 == 0) {
            size_t c = count_stack(store, stack);
            if (c != (size_t)i) DIE("stack %s holds %zu deployments, expected %d", stack, c, i);
            json_t *all = call(store, "DescribeDeployments", "{}");
            size_t total = json_array_size(json_object_get(all, "Deployments"));
            json_decref(all);
            if (total < (size_t)i || total < others_max) DIE("DescribeDeployments went back: %zu", total);
            others_max = total;
        }
    }
    printf("DONE %s %d %.3f\n", stack, n, now_s() - t0);
    owd_store_close(store);
    free(stack);
    return 0;
}

/* ---------------------------------------------------------------------------------- */
/* Threads on one handle                                                              */

struct shared {
    owd_store *store;
    const char *stack;
    int ops;
    pthread_mutex_t lock;
    /* every deployment created, with the status it must have */
    size_t count, cap;
    char **ids;
    owd_status *expected;
};

static void record(struct shared *s, const char *id, owd_status expected) {
    pthread_mutex_lock(&s->lock);
    if (s->count == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 256;
        s->ids = realloc(s->ids, s->cap * sizeof *s->ids);
        s->expected = realloc(s->expected, s->cap * sizeof *s->expected);
    }
    s->ids[s->count] = strdup(id);
    s->expected[s->count++] = expected;
    pthread_mutex_unlock(&s->lock);
}

static void *thread_main(void *arg) {
    struct shared *s = arg;
    unsigned seed = (unsigned)(size_t)pthread_self();
    for (int op = 0; op < s->ops; op++) {
        char *d = create_deployment(s->store, s->stack);
        /* Read your own write at once, through the cache. */
        if (status_of(s->store, d) != OWD_STATUS_RUNNING) DIE("new deployment %s is not running", d);
        json_t *commands = commands_of(s->store, d);
        size_t n = json_array_size(commands);
        size_t todo = rand_r(&seed) % 3 == 0 ? (size_t)rand_r(&seed) % n : n;
        int failed = 0;
        for (size_t i = 0; i < todo; i++) {
            const char *id = json_string_value(json_object_get(json_array_get(commands, i), "CommandId"));
            int fail = rand_r(&seed) % 4 == 0;
            failed |= fail;
            json_decref(call(s->store, "CompleteCommand", "{\"CommandId\": \"%s\", \"Status\": \"%s\"}",
                             id, fail ? "failed" : "successful"));
            owd_status st = status_of(s->store, d);
            owd_status want = i + 1 < n ? OWD_STATUS_RUNNING : failed ? OWD_STATUS_FAILED : OWD_STATUS_SUCCESSFUL;
            if (st != want) DIE("deployment %s is %s after %zu of %zu commands, expected %s", d,
                                owd_status_name(st), i + 1, n, owd_status_name(want));
        }
        record(s, d, todo < n ? OWD_STATUS_RUNNING : failed ? OWD_STATUS_FAILED : OWD_STATUS_SUCCESSFUL);
        json_decref(commands);
        free(d);
        if (op % 10 == 0) {
            json_t *all = call(s->store, "DescribeDeployments", "{\"StackId\": \"%s\"}", s->stack);
            json_decref(all);
        }
    }
    return NULL;
}

static int threads(const char *path, int nthreads, int ops) {
    struct shared s = {0};
    s.store = open_store(path, 5000, OWD_DURABILITY_FULL);
    s.stack = make_stack(s.store, 3);
    s.ops = ops;
    pthread_mutex_init(&s.lock, NULL);
    pthread_t t[64];
    if (nthreads > 64) nthreads = 64;
    double t0 = now_s();
    for (int i = 0; i < nthreads; i++) pthread_create(&t[i], NULL, thread_main, &s);
    for (int i = 0; i < nthreads; i++) pthread_join(t[i], NULL);
    double elapsed = now_s() - t0;

    /* Invariants: every deployment present once, each with the status its commands
     * roll up to; the counts by status agree. */
    owd_deployment_list *list = NULL;
    if (owd_describe_deployments(&list, s.store, s.stack, NULL, NULL, 0) != OWD_OK)
        DIE("describe: %s", owd_error_last()->message);
    size_t n = owd_deployment_list_count(list);
    if (n != s.count || n != (size_t)nthreads * (size_t)ops)
        DIE("%zu deployments described, %zu created, %d expected", n, s.count, nthreads * ops);
    size_t by_status[3] = {0}, want_status[3] = {0};
    for (size_t i = 0; i < n; i++) {
        const owd_deployment *d = owd_deployment_list_get(list, i);
        owd_status st = owd_deployment_status(d);
        by_status[st]++;
        if ((st == OWD_STATUS_RUNNING) != (owd_deployment_completed_at(d) == NULL))
            DIE("deployment %s: status %s but CompletedAt %s", owd_deployment_id(d), owd_status_name(st),
                owd_deployment_completed_at(d) ? owd_deployment_completed_at(d) : "absent");
        if (i > 0 && strcmp(owd_deployment_created_at(owd_deployment_list_get(list, i - 1)),
                            owd_deployment_created_at(d)) < 0)
            DIE("DescribeDeployments is not newest first");
    }
    for (size_t i = 0; i < s.count; i++) {
        want_status[s.expected[i]]++;
        owd_status st = status_of(s.store, s.ids[i]);
        if (st != s.expected[i]) DIE("deployment %s is %s, expected %s", s.ids[i], owd_status_name(st),
                                     owd_status_name(s.expected[i]));
    }
    for (int i = 0; i < 3; i++)
        if (by_status[i] != want_status[i]) DIE("%zu %s deployments, expected %zu", by_status[i],
                                                owd_status_name((owd_status)i), want_status[i]);
    owd_deployment_list_free(list);
    printf("DONE %s %zu deployments (%zu running, %zu successful, %zu failed) in %.3f s\n", s.stack, n,
           by_status[0], by_status[1], by_status[2], elapsed);
    owd_store_close(s.store);
    return 0;
}

struct bench_args {
    owd_store *store;
    const char *stack;
    int n;
};

static void *bench_thread(void *arg) {
    struct bench_args *a = arg;
    for (int i = 0; i < a->n; i++) free(create_deployment(a->store, a->stack));
    return NULL;
}

/* N creates from each of THREADS threads on one handle (their commits may share syncs). */
static int bench(const char *path, int n, int durability, int nthreads) {
    owd_store *store = open_store(path, 5000, durability);
    char *stack = make_stack(store, 2);
    if (nthreads < 1 || nthreads > 256) DIE("bench: THREADS must be 1..256");
    pthread_t tids[256];
    struct bench_args args = {store, stack, n};
    double t0 = now_s();
    for (int i = 1; i < nthreads; i++)
        if (pthread_create(&tids[i], NULL, bench_thread, &args) != 0) DIE("pthread_create");
    bench_thread(&args);
    for (int i = 1; i < nthreads; i++) pthread_join(tids[i], NULL);
    double elapsed = now_s() - t0;
    int total = n * nthreads;
    if (count_stack(store, stack) != (size_t)total) DIE("%zu deployments, %d created", count_stack(store, stack), total);
    printf("%d creates in %.3f s: %.0f/s\n", total, elapsed, total / elapsed);
    owd_store_close(store);
    free(stack);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 3 && strcmp(argv[1], "repl") == 0)
        return repl(argv[2], argc > 3 ? atoi(argv[3]) : 5000, argc > 4 ? atoi(argv[4]) : 0);
    if ((argc == 3 || argc == 4) && strcmp(argv[1], "crash") == 0) crash(argv[2], argc == 4 ? atoi(argv[3]) : 1);
    if (argc == 4 && strcmp(argv[1], "writer") == 0) return writer(argv[2], atoi(argv[3]));
    if (argc == 5 && strcmp(argv[1], "threads") == 0) return threads(argv[2], atoi(argv[3]), atoi(argv[4]));
    if ((argc == 5 || argc == 6) && strcmp(argv[1], "bench") == 0)
        return bench(argv[2], atoi(argv[3]), atoi(argv[4]), argc == 6 ? atoi(argv[5]) : 1);
    fprintf(stderr, "usage: see the comment at the top of owd_durability.c\n");
    return 2;
}
