/* pg_bench: the C half of `make bench-pg` (issue 18); bench/pg_bench.py drives it.
 *
 *   pg_bench build   STORE N                 one stack, its app and two instances, then N
 *                                            deployments through CreateDeployment
 *                                            (durability off: building is not measured)
 *   pg_bench reads   STORE RUNS [small]      DescribeDeployments by StackId on a fresh
 *                                            handle: seconds per call, RUNS samples
 *                                            (small: DescribeStacks of one stack)
 *   pg_bench creates STORE THREADS SECONDS   durable CreateDeployment from THREADS
 *                                            threads on one handle (group commit)
 *   pg_bench floor   URI THREADS SECONDS     the same rows through plain libpq: per
 *                                            create, on its own connection per thread,
 *                                            BEGIN; the change_seq bump; the deployment
 *                                            and its two commands; COMMIT
 *   pg_bench notify  URI N                   N NOTIFY commits: how often a listener that
 *                                            looks without a round trip misses one
 *
 * Each prints one JSON line on stdout.
 */
#define _GNU_SOURCE
#include <owd.h>
#include <libpq-fe.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DIE(...) do { fprintf(stderr, "pg_bench: " __VA_ARGS__); fputc('\n', stderr); exit(1); } while (0)

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static owd_store *open_store(const char *path, owd_durability durability) {
    owd_store_options o = OWD_STORE_OPTIONS_INIT;
    o.durability = durability;
    owd_store *s = NULL;
    if (owd_store_open(&s, path, &o) != OWD_OK) DIE("open %s: %s", path, owd_error_last()->message);
    return s;
}

static json_t *call(owd_store *s, const char *op, json_t *request) {
    json_t *out = NULL;
    if (owd_call(&out, s, op, request) != OWD_OK) DIE("%s: %s", op, owd_error_last()->message);
    json_decref(request);
    return out;
}

static char *call_for(owd_store *s, const char *op, json_t *request, const char *key) {
    json_t *r = call(s, op, request);
    char *v = strdup(json_string_value(json_object_get(r, key)));
    json_decref(r);
    return v;
}

typedef struct fixture { char *stack, *app, *instances[2]; } fixture;

static void make_stack(owd_store *s, fixture *f) {
    f->stack = call_for(s, "CreateStack",
        json_pack("{s:s, s:s, s:s, s:s}", "Name", "bench", "Region", "us-east-1",
                  "ServiceRoleArn", "arn:aws:iam::123456789012:role/aws-opsworks-service-role",
                  "DefaultInstanceProfileArn", "arn:aws:iam::123456789012:instance-profile/aws-opsworks-ec2-role"),
        "StackId");
    char *layer = call_for(s, "CreateLayer",
        json_pack("{s:s, s:s, s:s, s:s}", "StackId", f->stack, "Type", "custom", "Name", "web", "Shortname", "web"),
        "LayerId");
    f->app = call_for(s, "CreateApp", json_pack("{s:s, s:s, s:s}", "StackId", f->stack, "Name", "shop", "Type", "other"),
                      "AppId");
    for (int i = 0; i < 2; i++) {
        f->instances[i] = call_for(s, "CreateInstance", json_pack("{s:s, s:[s], s:s}", "StackId", f->stack,
                                   "LayerIds", layer, "InstanceType", "t3.small"), "InstanceId");
        json_decref(call(s, "StartInstance", json_pack("{s:s}", "InstanceId", f->instances[i])));
    }
    free(layer);
}

static void create_deployment(owd_store *s, const fixture *f, long n) {
    char comment[64];
    snprintf(comment, sizeof comment, "release %ld", n);
    json_decref(call(s, "CreateDeployment",
        json_pack("{s:s, s:s, s:{s:s, s:{s:[s]}}, s:s, s:[s,s]}", "StackId", f->stack, "AppId", f->app,
                  "Command", "Name", "deploy", "Args", "migrate", "true", "Comment", comment,
                  "InstanceIds", f->instances[0], f->instances[1])));
}

static int cmd_build(const char *path, long n) {
    owd_store *s = open_store(path, OWD_DURABILITY_OFF);
    fixture f;
    make_stack(s, &f);
    for (long i = 0; i < n; i++) create_deployment(s, &f, i);
    printf("{\"name\": \"build\", \"stack\": \"%s\", \"deployments\": %ld}\n", f.stack, n);
    owd_store_close(s);
    return 0;
}

static int cmd_reads(const char *path, int runs, int small) {
    owd_store *s = open_store(path, OWD_DURABILITY_FULL);
    json_t *stacks = call(s, "DescribeStacks", json_object());
    const char *stack = json_string_value(json_object_get(json_array_get(json_object_get(stacks, "Stacks"), 0), "StackId"));
    /* small: one stack by ID (the answer is tiny: what a read costs beyond the cache) */
    json_t *request = small ? json_pack("{s:[s]}", "StackIds", stack) : json_pack("{s:s}", "StackId", stack);
    const char *op = small ? "DescribeStacks" : "DescribeDeployments";
    size_t results = 0;
    printf("{\"name\": \"reads\", \"samples\": [");
    for (int i = -3; i < runs; i++) {   /* three warm-up calls */
        json_t *out = NULL;
        double t0 = now_s();
        if (owd_call(&out, s, op, request) != OWD_OK) DIE("describe: %s", owd_error_last()->message);
        double t = now_s() - t0;
        results = json_array_size(json_object_get(out, small ? "Stacks" : "Deployments"));
        json_decref(out);
        if (i >= 0) printf("%s%.9f", i ? ", " : "", t);
    }
    printf("], \"results\": %zu}\n", results);
    json_decref(request);
    json_decref(stacks);
    owd_store_close(s);
    return 0;
}

static atomic_int stop;

typedef struct worker {
    pthread_t tid;
    owd_store *store;
    const fixture *f;
    const char *uri;
    long n;
    size_t count, cap;
    double *lat;
} worker;

static void record(worker *w, double t) {
    if (w->count == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 1024;
        w->lat = realloc(w->lat, w->cap * sizeof *w->lat);
    }
    w->lat[w->count++] = t;
}

static void *owd_main(void *arg) {
    worker *w = arg;
    while (!atomic_load(&stop)) {
        double t0 = now_s();
        create_deployment(w->store, w->f, w->n++);
        record(w, now_s() - t0);
    }
    return NULL;
}

static PGresult *must(PGconn *c, PGresult *r, ExecStatusType want, const char *what) {
    if (PQresultStatus(r) != want) DIE("%s: %s", what, PQerrorMessage(c));
    return r;
}

/* A distinct UUID-shaped ID per (thread, counter, kind). */
static void fake_uuid(char out[37], long thread, long n, int kind) {
    snprintf(out, 37, "%08lx-%04x-4%03x-8%03lx-%012lx", (unsigned long)thread & 0xffffffff, kind & 0xffff,
             (unsigned)(n >> 48) & 0xfff, (unsigned long)(n >> 36) & 0xfff, (unsigned long)n & 0xffffffffffffUL);
}

/* The rows CreateDeployment writes for two online instances, as a plain libpq client
 * would write them: prepared statements, one transaction per create. */
static void *floor_main(void *arg) {
    worker *w = arg;
    PGconn *c = PQconnectdb(w->uri);
    if (PQstatus(c) != CONNECTION_OK) DIE("connect: %s", PQerrorMessage(c));
    PQclear(must(c, PQprepare(c, "bump", "UPDATE meta SET value=value+1 WHERE key='change_seq' RETURNING value", 0, NULL),
                 PGRES_COMMAND_OK, "prepare"));
    PQclear(must(c, PQprepare(c, "dep",
        "INSERT INTO deployments(id, stack_id, app_id, created_at, completed_at, status, command, args,"
        " instance_ids, iam_user_arn, comment, custom_json, pending, change_seq, app_version)"
        " VALUES($1,$2,$3,$4,NULL,0,6,$5,$6,NULL,$7,NULL,2,$8,1) RETURNING seq", 0, NULL), PGRES_COMMAND_OK, "prepare"));
    PQclear(must(c, PQprepare(c, "cmd",
        "INSERT INTO commands(id, deployment_seq, deployment_id, stack_id, instance_id, created_at,"
        " completed_at, status, exit_code, type) VALUES($1,$2,$3,$4,$5,$6,NULL,'pending',NULL,'deploy')", 0, NULL),
                 PGRES_COMMAND_OK, "prepare"));
    static const char args[] = "\\x0100000007000000" "6d696772617465" "0100000004000000" "74727565";
    const char *stack = "2f1b6d3a-4b5c-4d6e-8f70-112233445566", *app = "3a2b1c0d-9e8f-4a7b-8c6d-5e4f3a2b1c0d";
    const char *inst[2] = { "4b3c2d1e-0f9a-4b8c-9d7e-6f5a4b3c2d1e", "5c4d3e2f-1a0b-4c9d-8e7f-6a5b4c3d2e1f" };
    char instances[80];
    snprintf(instances, sizeof instances, "%s,%s", inst[0], inst[1]);
    long thread = w->n / 100000000L;
    while (!atomic_load(&stop)) {
        double t0 = now_s();
        char id[37], created[24], comment[32];
        fake_uuid(id, thread, w->n, 0);
        snprintf(created, sizeof created, "%ld", (long)time(NULL));
        snprintf(comment, sizeof comment, "release %ld", w->n++);
        PQclear(must(c, PQexec(c, "BEGIN"), PGRES_COMMAND_OK, "BEGIN"));
        PGresult *b = must(c, PQexecPrepared(c, "bump", 0, NULL, NULL, NULL, 0), PGRES_TUPLES_OK, "bump");
        char change[24];
        snprintf(change, sizeof change, "%s", PQgetvalue(b, 0, 0));
        PQclear(b);
        const char *dv[8] = { id, stack, app, created, args, instances, comment, change };
        PGresult *d = must(c, PQexecPrepared(c, "dep", 8, dv, NULL, NULL, 0), PGRES_TUPLES_OK, "insert deployment");
        char seq[24];
        snprintf(seq, sizeof seq, "%s", PQgetvalue(d, 0, 0));
        PQclear(d);
        for (int i = 0; i < 2; i++) {
            char cid[37];
            fake_uuid(cid, thread, w->n, 1 + i);
            const char *cv[6] = { cid, seq, id, stack, inst[i], created };
            PQclear(must(c, PQexecPrepared(c, "cmd", 6, cv, NULL, NULL, 0), PGRES_COMMAND_OK, "insert command"));
        }
        PQclear(must(c, PQexec(c, "COMMIT"), PGRES_COMMAND_OK, "COMMIT"));
        record(w, now_s() - t0);
    }
    PQfinish(c);
    return NULL;
}

static int cmd_writers(const char *mode, const char *target, int threads, double seconds) {
    int floor = strcmp(mode, "floor") == 0;
    owd_store *s = NULL;
    fixture f;
    if (!floor) {
        s = open_store(target, OWD_DURABILITY_FULL);
        make_stack(s, &f);
        create_deployment(s, &f, 0);   /* warm */
    }
    worker *w = calloc((size_t)threads, sizeof *w);
    atomic_store(&stop, 0);
    double t0 = now_s();
    for (int i = 0; i < threads; i++) {
        w[i] = (worker){ .store = s, .f = &f, .uri = target, .n = 1 + i * 100000000L };
        if (pthread_create(&w[i].tid, NULL, floor ? floor_main : owd_main, &w[i]) != 0) DIE("pthread_create");
    }
    struct timespec pause = { (time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9) };
    nanosleep(&pause, NULL);
    atomic_store(&stop, 1);
    size_t total = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(w[i].tid, NULL);
        total += w[i].count;
    }
    double elapsed = now_s() - t0;
    double *all = malloc((total ? total : 1) * sizeof *all);
    size_t k = 0;
    for (int i = 0; i < threads; i++) {
        memcpy(all + k, w[i].lat, w[i].count * sizeof *all);
        k += w[i].count;
        free(w[i].lat);
    }
    qsort(all, total, sizeof *all, cmp_double);
    printf("{\"name\": \"%s\", \"threads\": %d, \"creates\": %zu, \"seconds\": %.6f, \"p50\": %.9f, \"p99\": %.9f}\n",
           floor ? "floor" : "owd", threads, total, elapsed, total ? all[total / 2] : 0,
           total ? all[(size_t)((double)(total - 1) * 0.99)] : 0);
    free(all);
    free(w);
    owd_store_close(s);
    return 0;
}

/* LISTEN/NOTIFY instead of the change-sequence round trip? A writer commits a NOTIFY; the
 * moment its COMMIT returns, a listener looks for the notification without a round trip
 * (PQconsumeInput, PQnotifies), as a read would. Counts how often it is not there yet
 * (a read then would miss a change committed before it started), and the delay until it
 * arrives. */
static int cmd_notify(const char *uri, int n) {
    PGconn *w = PQconnectdb(uri), *l = PQconnectdb(uri);
    if (PQstatus(w) != CONNECTION_OK || PQstatus(l) != CONNECTION_OK) DIE("connect: %s", PQerrorMessage(w));
    PQclear(must(l, PQexec(l, "LISTEN owd_bench"), PGRES_COMMAND_OK, "LISTEN"));
    int missed = 0;
    double *lag = calloc((size_t)n, sizeof *lag);
    for (int i = 0; i < n; i++) {
        PQclear(must(w, PQexec(w, "NOTIFY owd_bench"), PGRES_COMMAND_OK, "NOTIFY"));
        double t0 = now_s();
        PGnotify *note = NULL;
        PQconsumeInput(l);
        if (!(note = PQnotifies(l))) missed++;
        while (!note) {
            PQconsumeInput(l);
            note = PQnotifies(l);
        }
        lag[i] = now_s() - t0;
        PQfreemem(note);
    }
    qsort(lag, (size_t)n, sizeof *lag, cmp_double);
    printf("{\"name\": \"notify\", \"commits\": %d, \"missed\": %d, \"lag_p50\": %.9f, \"lag_p99\": %.9f}\n",
           n, missed, lag[n / 2], lag[(size_t)((double)(n - 1) * 0.99)]);
    free(lag);
    PQfinish(w);
    PQfinish(l);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 4 && strcmp(argv[1], "notify") == 0) return cmd_notify(argv[2], atoi(argv[3]));
    if (argc == 4 && strcmp(argv[1], "build") == 0) return cmd_build(argv[2], atol(argv[3]));
    if ((argc == 4 || argc == 5) && strcmp(argv[1], "reads") == 0)
        return cmd_reads(argv[2], atoi(argv[3]), argc == 5 && strcmp(argv[4], "small") == 0);
    if (argc == 5 && (strcmp(argv[1], "creates") == 0 || strcmp(argv[1], "floor") == 0))
        return cmd_writers(argv[1], argv[2], atoi(argv[3]), atof(argv[4]));
    fprintf(stderr, "usage: see the comment at the top of bench/pg_bench.c\n");
    return 2;
}
