/* owd_bench: the C half of `make bench` (issue 7). bench/run.py drives it.
 *
 *   owd_bench build   PATH STACKS PER_STACK   a store built through the real API
 *   owd_bench measure SMALL MEDIUM LARGE      reads (1-5, 9) and writes (6); JSON lines
 *   owd_bench open    PATH                    (7): open + first query in a fresh process
 *   owd_bench sqlload PATH                    (7)'s floor: the same rows read by plain C
 *   owd_bench writer  PATH                    (9)'s second process: writes until SIGTERM
 *   owd_bench group   PATH THREADS SECONDS    (10) durable CreateDeployment from THREADS
 *                                             threads on one handle (group commit)
 *   owd_bench group   PATH floor SECONDS      (10)'s floor: plain SQLite, one writer
 *
 * Every measurement is printed as one JSON line on stdout: {"name": ..., "owd": [seconds
 * per sample...], "floor": [...], ...}. Progress goes to stderr.
 *
 * The floors are plain C: the same jansson objects built from C structs already in memory
 * (copied out of owd's handles once, outside the timing), and the same rows inserted through
 * SQLite with the same durability. Timings cover building the answer only; releasing it
 * (json_decref, owd_deployment_list_free) is outside the timing for owd and floor alike.
 */
#define _GNU_SOURCE
#include <owd.h>
#include <sqlite3.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---------------------------------------------------------------------------------- */
/* Small helpers                                                                       */

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static long rss_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, resident = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
        fclose(f);
    }
    return resident * sysconf(_SC_PAGESIZE);
}

static void die(const char *what) {
    const owd_error *e = owd_error_last();
    fprintf(stderr, "owd_bench: %s: %s: %s\n", what, e->type, e->message);
    exit(1);
}

/* The clock the build phase steers: CreatedAt and CompletedAt are whatever it says. */
static int64_t fake_now;
static int64_t fake_clock(void *context) { (void)context; return fake_now; }

static json_t *call(owd_store *s, const char *op, json_t *request) {
    json_t *out = NULL;
    if (owd_call(&out, s, op, request) != OWD_OK) die(op);
    json_decref(request);
    return out;
}

static char *call_for(owd_store *s, const char *op, json_t *request, const char *member) {
    json_t *r = call(s, op, request);
    char *v = strdup(json_string_value(json_object_get(r, member)));
    json_decref(r);
    return v;
}

/* xorshift: the same "random" IDs in every run. */
static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t next_random(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* ---------------------------------------------------------------------------------- */
/* build                                                                               */

typedef struct stack_fixture {
    char *stack, *layer, *app;
    char *instances[2];
} stack_fixture;

static void new_instances(owd_store *s, stack_fixture *f) {
    for (int i = 0; i < 2; i++) {
        f->instances[i] = call_for(s, "CreateInstance",
            json_pack("{s:s, s:[s], s:s}", "StackId", f->stack, "LayerIds", f->layer, "InstanceType", "t3.small"),
            "InstanceId");
        json_decref(call(s, "StartInstance", json_pack("{s:s}", "InstanceId", f->instances[i])));
    }
}

static void make_stack(owd_store *s, stack_fixture *f, const char *name) {
    f->stack = call_for(s, "CreateStack",
        json_pack("{s:s, s:s, s:s, s:s}", "Name", name, "Region", "us-east-1",
                  "ServiceRoleArn", "arn:aws:iam::123456789012:role/aws-opsworks-service-role",
                  "DefaultInstanceProfileArn", "arn:aws:iam::123456789012:instance-profile/aws-opsworks-ec2-role"),
        "StackId");
    f->layer = call_for(s, "CreateLayer",
        json_pack("{s:s, s:s, s:s, s:s}", "StackId", f->stack, "Type", "custom", "Name", "web", "Shortname", "web"),
        "LayerId");
    f->app = call_for(s, "CreateApp", json_pack("{s:s, s:s, s:s}", "StackId", f->stack, "Name", name, "Type", "other"),
                      "AppId");
    new_instances(s, f);
}

static char *create_deployment(owd_store *s, stack_fixture *f, long n) {
    char comment[64];
    snprintf(comment, sizeof comment, "release %ld", n);
    return call_for(s, "CreateDeployment",
        json_pack("{s:s, s:s, s:{s:s, s:{s:[s]}}, s:s, s:[s,s]}", "StackId", f->stack, "AppId", f->app,
                  "Command", "Name", "deploy", "Args", "migrate", "true", "Comment", comment,
                  "InstanceIds", f->instances[0], f->instances[1]),
        "DeploymentId");
}

/* Deployments of one stack since its instances were made, oldest first. */
typedef struct pending_batch {
    char **ids;
    int64_t *created;
    int count;
} pending_batch;

/* Finishes the even-numbered deployments of the batch (one in ten of those failed) by
 * completing their commands, found through DescribeCommands on the batch's instances. */
static void finish_batch(owd_store *s, stack_fixture *f, pending_batch *b, long first_round) {
    for (int i = 0; i < 2; i++) {
        json_t *r = call(s, "DescribeCommands", json_pack("{s:s}", "InstanceId", f->instances[i]));
        json_t *commands = json_object_get(r, "Commands");
        size_t k;
        json_t *c;
        json_array_foreach(commands, k, c) {
            const char *d = json_string_value(json_object_get(c, "DeploymentId"));
            int j = b->count - 1 - (int)k;   /* newest first */
            if (j < 0 || j >= b->count || strcmp(b->ids[j], d) != 0) {
                for (j = 0; j < b->count && strcmp(b->ids[j], d) != 0; j++) {}
                if (j == b->count) continue;
            }
            long round = first_round + j;
            if (round % 2 != 0) continue;
            int failed = i == 0 && round % 20 == 0;
            fake_now = b->created[j] + 30 + (round % 7) * 10 + i;
            json_decref(call(s, "CompleteCommand",
                json_pack("{s:s, s:s, s:i}", "CommandId", json_string_value(json_object_get(c, "CommandId")),
                          "Status", failed ? "failed" : "successful", "ExitCode", failed ? 1 : 0)));
        }
        json_decref(r);
    }
}

enum { BATCH = 100 };
static const int64_t EPOCH = 1546300800;   /* 2019-01-01: a deployment a minute from then */

static int cmd_build(const char *path, int stacks, long per_stack) {
    owd_store_options o = OWD_STORE_OPTIONS_INIT;
    o.durability = OWD_DURABILITY_OFF;
    o.clock = fake_clock;
    fake_now = EPOCH - 86400;
    owd_store *s = NULL;
    unlink(path);
    if (owd_store_open(&s, path, &o) != OWD_OK) die("owd_store_open");
    stack_fixture *f = calloc((size_t)stacks, sizeof *f);
    pending_batch *b = calloc((size_t)stacks, sizeof *b);
    char name[32], sidecar[4096];
    snprintf(sidecar, sizeof sidecar, "%s.stacks", path);
    FILE *out = fopen(sidecar, "w");
    for (int i = 0; i < stacks; i++) {
        snprintf(name, sizeof name, "bench-%03d", i);
        make_stack(s, &f[i], name);
        fprintf(out, "%s\n", f[i].stack);
        b[i].ids = calloc(BATCH, sizeof(char *));
        b[i].created = calloc(BATCH, sizeof(int64_t));
    }
    fclose(out);
    double start = now_s();
    long g = 0;
    for (long round = 0; round < per_stack; round++) {
        for (int i = 0; i < stacks; i++, g++) {
            fake_now = EPOCH + g * 60;
            b[i].created[b[i].count] = fake_now;
            b[i].ids[b[i].count++] = create_deployment(s, &f[i], g);
        }
        if (b[0].count == BATCH || round == per_stack - 1) {
            for (int i = 0; i < stacks; i++) {
                finish_batch(s, &f[i], &b[i], round + 1 - b[i].count);
                for (int j = 0; j < b[i].count; j++) free(b[i].ids[j]);
                b[i].count = 0;
                free(f[i].instances[0]);
                free(f[i].instances[1]);
                /* A new pair per batch keeps DescribeCommands on an instance short. */
                if (round != per_stack - 1) new_instances(s, &f[i]);
            }
            fprintf(stderr, "\r  %s: %ld deployments, %.0f s", path, g, now_s() - start);
        }
    }
    fprintf(stderr, "\n");
    owd_store_close(s);
    printf("{\"name\": \"build\", \"path\": \"%s\", \"deployments\": %ld, \"seconds\": %.3f}\n", path, g, now_s() - start);
    return 0;
}

/* ---------------------------------------------------------------------------------- */
/* The floor: deployments as plain C structs, and the jansson code that answers them   */

typedef struct cstr {
    const char *s;
    size_t n;
} cstr;

typedef struct c_arg {
    cstr name;
    size_t value_count;
    cstr *values;
} c_arg;

typedef struct c_deployment {
    cstr id, stack, app, created, completed, arn, comment, custom_json;
    int64_t duration;
    owd_status status;
    owd_command_type command;
    size_t instance_count;
    cstr *instances;
    size_t arg_count;
    c_arg *args;
} c_deployment;

/* One bump allocator for every copied string and array: no per-string malloc. */
typedef struct arena {
    char *base;
    size_t used, size;
    struct arena *prev;
} arena;

static void *arena_alloc(arena **a, size_t n) {
    n = (n + 7) & ~(size_t)7;
    if (!*a || (*a)->used + n > (*a)->size) {
        arena *b = malloc(sizeof *b);
        b->size = n > (64u << 20) ? n : (64u << 20);
        b->base = malloc(b->size);
        b->used = 0;
        b->prev = *a;
        *a = b;
    }
    void *p = (*a)->base + (*a)->used;
    (*a)->used += n;
    return p;
}

static void arena_free(arena *a) {
    while (a) {
        arena *p = a->prev;
        free(a->base);
        free(a);
        a = p;
    }
}

static cstr copy_str(arena **a, const char *s) {
    cstr c = { NULL, 0 };
    if (!s) return c;
    c.n = strlen(s);
    char *p = arena_alloc(a, c.n + 1);
    memcpy(p, s, c.n + 1);
    c.s = p;
    return c;
}

static void copy_deployment(arena **a, c_deployment *c, const owd_deployment *d) {
    c->id = copy_str(a, owd_deployment_id(d));
    c->stack = copy_str(a, owd_deployment_stack_id(d));
    c->app = copy_str(a, owd_deployment_app_id(d));
    c->created = copy_str(a, owd_deployment_created_at(d));
    c->completed = copy_str(a, owd_deployment_completed_at(d));
    c->arn = copy_str(a, owd_deployment_iam_user_arn(d));
    c->comment = copy_str(a, owd_deployment_comment(d));
    c->custom_json = copy_str(a, owd_deployment_custom_json(d));
    c->duration = owd_deployment_duration(d);
    c->status = owd_deployment_status(d);
    c->command = owd_deployment_command_name(d);
    c->instance_count = owd_deployment_instance_count(d);
    c->instances = arena_alloc(a, c->instance_count * sizeof(cstr));
    for (size_t i = 0; i < c->instance_count; i++) c->instances[i] = copy_str(a, owd_deployment_instance_id(d, i));
    c->arg_count = owd_deployment_command_arg_count(d);
    c->args = arena_alloc(a, c->arg_count * sizeof(c_arg));
    for (size_t i = 0; i < c->arg_count; i++) {
        c->args[i].name = copy_str(a, owd_deployment_command_arg_name(d, i));
        c->args[i].value_count = owd_deployment_command_arg_value_count(d, i);
        c->args[i].values = arena_alloc(a, c->args[i].value_count * sizeof(cstr));
        for (size_t j = 0; j < c->args[i].value_count; j++)
            c->args[i].values[j] = copy_str(a, owd_deployment_command_arg_value(d, i, j));
    }
}

static const char *const status_names[] = { "running", "successful", "failed" };
static const char *const command_names[] = {
    "install_dependencies", "update_dependencies", "update_custom_cookbooks", "execute_recipes", "configure",
    "setup", "deploy", "rollback", "start", "stop", "restart", "undeploy" };

#define STR(c) json_stringn_nocheck((c).s, (c).n)

/* The floor: the same object, the same members in the same order, by the cheapest
 * jansson calls there are (no key or UTF-8 checks, lengths known). */
static json_t *floor_deployment(const c_deployment *d) {
    json_t *o = json_object();
    json_object_set_new_nocheck(o, "DeploymentId", STR(d->id));
    json_object_set_new_nocheck(o, "StackId", STR(d->stack));
    if (d->app.s) json_object_set_new_nocheck(o, "AppId", STR(d->app));
    json_object_set_new_nocheck(o, "CreatedAt", STR(d->created));
    if (d->completed.s) {
        json_object_set_new_nocheck(o, "CompletedAt", STR(d->completed));
        json_object_set_new_nocheck(o, "Duration", json_integer(d->duration));
    }
    if (d->arn.s) json_object_set_new_nocheck(o, "IamUserArn", STR(d->arn));
    if (d->comment.s) json_object_set_new_nocheck(o, "Comment", STR(d->comment));
    if (d->custom_json.s) json_object_set_new_nocheck(o, "CustomJson", STR(d->custom_json));
    json_t *command = json_object();
    const char *name = command_names[d->command];
    json_object_set_new_nocheck(command, "Name", json_stringn_nocheck(name, strlen(name)));
    json_t *args = json_object();
    for (size_t i = 0; i < d->arg_count; i++) {
        json_t *values = json_array();
        for (size_t j = 0; j < d->args[i].value_count; j++) json_array_append_new(values, STR(d->args[i].values[j]));
        json_object_setn_new_nocheck(args, d->args[i].name.s, d->args[i].name.n, values);
    }
    json_object_set_new_nocheck(command, "Args", args);
    json_object_set_new_nocheck(o, "Command", command);
    const char *status = status_names[d->status];
    json_object_set_new_nocheck(o, "Status", json_stringn_nocheck(status, strlen(status)));
    json_t *instances = json_array();
    for (size_t i = 0; i < d->instance_count; i++) json_array_append_new(instances, STR(d->instances[i]));
    json_object_set_new_nocheck(o, "InstanceIds", instances);
    return o;
}

static json_t *floor_response(c_deployment *const *ds, size_t n) {
    json_t *array = json_array();
    json_t *o = json_object();
    json_object_set_new_nocheck(o, "Deployments", array);
    for (size_t i = 0; i < n; i++) json_array_append_new(array, floor_deployment(ds[i]));
    return o;
}

/* ---------------------------------------------------------------------------------- */
/* measure                                                                             */

/* A query both ways: owd's parameters, and the floor's structs (in answer order). */
typedef struct query {
    const char *label;
    owd_store *store;
    json_t *request;            /* for owd_call */
    const char *stack_id;       /* for owd_describe_deployments */
    const char **ids;
    size_t id_count;
    c_deployment **floor;       /* the answer's deployments as C structs */
    size_t count;
} query;

static arena *floor_arena;

/* Resolves the query once through handles and copies its answer into C structs. */
static void prepare_query(query *q) {
    owd_deployment_list *list = NULL;
    if (owd_describe_deployments(&list, q->store, q->stack_id, NULL, q->ids, q->id_count) != OWD_OK)
        die("owd_describe_deployments");
    q->count = owd_deployment_list_count(list);
    q->floor = malloc(q->count * sizeof *q->floor);
    for (size_t i = 0; i < q->count; i++) {
        q->floor[i] = arena_alloc(&floor_arena, sizeof(c_deployment));
        copy_deployment(&floor_arena, q->floor[i], owd_deployment_list_get(list, i));
    }
    /* The floor must be the same answer: checked once, outside any timing. */
    json_t *owd = owd_deployment_list_to_json(list);
    json_t *fl = floor_response(q->floor, q->count);
    json_t *via_call = NULL;
    if (owd_call(&via_call, q->store, "DescribeDeployments", q->request) != OWD_OK) die("DescribeDeployments");
    if (!json_equal(owd, fl) || !json_equal(via_call, fl)) {
        fprintf(stderr, "owd_bench: %s: the floor's answer differs from owd's\n", q->label);
        exit(1);
    }
    json_decref(owd);
    json_decref(fl);
    json_decref(via_call);
    owd_deployment_list_free(list);
}

typedef enum { WAY_JSON, WAY_HANDLES, WAY_FLOOR, WAY_TEXT } way;

/* A request larger than the small bins makes glibc consolidate its fast bins (volatile: the
 * compiler may not drop the pair). */
static void consolidate_heap(void) {
    void *volatile p = malloc(64 * 1024);
    free(p);
}

/* One sample: `reps` answers, timed; returns seconds per answer. */
static double sample(query *q, way w, int reps) {
    json_t **outs = calloc((size_t)reps, sizeof *outs);
    owd_deployment_list **lists = calloc((size_t)reps, sizeof *lists);
    char **texts = calloc((size_t)reps, sizeof *texts);
    char *request_text = w == WAY_TEXT ? json_dumps(q->request, JSON_COMPACT) : NULL;
    double t0 = now_s();
    for (int r = 0; r < reps; r++) {
        switch (w) {
        case WAY_JSON:
            if (owd_call(&outs[r], q->store, "DescribeDeployments", q->request) != OWD_OK) die("DescribeDeployments");
            break;
        case WAY_HANDLES:
            if (owd_describe_deployments(&lists[r], q->store, q->stack_id, NULL, q->ids, q->id_count) != OWD_OK)
                die("owd_describe_deployments");
            break;
        case WAY_FLOOR:
            outs[r] = floor_response(q->floor, q->count);
            break;
        case WAY_TEXT:
            if (owd_call_json(&texts[r], q->store, "DescribeDeployments", request_text) != OWD_OK) die("DescribeDeployments");
            break;
        }
    }
    double t = (now_s() - t0) / reps;
    for (int r = 0; r < reps; r++) {
        json_decref(outs[r]);
        owd_deployment_list_free(lists[r]);
        owd_free(texts[r]);
    }
    free(outs);
    free(lists);
    free(texts);
    free(request_text);
    /* Those frees left glibc's fast bins full; the next large request would consolidate
     * them inside the next sample's timing, whichever way it measures. Do it here. */
    consolidate_heap();
    return t;
}

static void print_samples(const char *key, const double *v, int n) {
    printf(", \"%s\": [", key);
    for (int i = 0; i < n; i++) printf("%s%.9f", i ? ", " : "", v[i]);
    printf("]");
}

enum { MAX_RUNS = 32 };

/* Runs owd (json_t), owd (handles) and the floor, interleaved, `runs` samples each. */
static void measure_query(const char *name, query *q, int runs, const char *extra) {
    int reps = q->count >= 100000 ? 1 : q->count >= 10000 ? 3 : q->count >= 1000 ? 20 : q->count >= 100 ? 100 : 500;
    double js[MAX_RUNS], hs[MAX_RUNS], fs[MAX_RUNS];
    sample(q, WAY_JSON, 1);   /* warm */
    sample(q, WAY_FLOOR, 1);
    for (int i = 0; i < runs; i++) {   /* the order alternates: neither way always goes first */
        if (i % 2 == 0) {
            js[i] = sample(q, WAY_JSON, reps);
            fs[i] = sample(q, WAY_FLOOR, reps);
        } else {
            fs[i] = sample(q, WAY_FLOOR, reps);
            js[i] = sample(q, WAY_JSON, reps);
        }
        hs[i] = sample(q, WAY_HANDLES, reps);
    }
    printf("{\"name\": \"%s\", \"query\": \"%s\", \"results\": %zu, \"reps\": %d", name, q->label, q->count, reps);
    print_samples("owd", js, runs);
    print_samples("handles", hs, runs);
    print_samples("floor", fs, runs);
    printf("%s}\n", extra ? extra : "");
    fflush(stdout);
}

static owd_store *open_default(const char *path, double *seconds) {
    owd_store *s = NULL;
    double t0 = now_s();
    if (owd_store_open(&s, path, NULL) != OWD_OK) die("owd_store_open");
    if (seconds) *seconds = now_s() - t0;
    return s;
}

static char *first_stack(const char *path) {
    char sidecar[4096], line[256];
    snprintf(sidecar, sizeof sidecar, "%s.stacks", path);
    FILE *f = fopen(sidecar, "r");
    if (!f || !fgets(line, sizeof line, f)) { fprintf(stderr, "owd_bench: no %s\n", sidecar); exit(1); }
    fclose(f);
    line[strcspn(line, "\n")] = 0;
    return strdup(line);
}

static query stack_query(const char *label, owd_store *s, const char *stack) {
    query q = { .label = label, .store = s, .stack_id = stack };
    q.request = json_pack("{s:s}", "StackId", stack);
    prepare_query(&q);
    return q;
}

static query ids_query(const char *label, owd_store *s, const char **all, size_t all_count, size_t n) {
    query q = { .label = label, .store = s, .id_count = n };
    q.ids = malloc(n * sizeof *q.ids);
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++) {
        /* Distinct IDs, so that the answer has exactly n deployments. */
        size_t j;
        do {
            q.ids[i] = all[next_random() % all_count];
            for (j = 0; j < i && q.ids[j] != q.ids[i]; j++) {}
        } while (j < i);
        json_array_append_new(list, json_string(q.ids[i]));
    }
    q.request = json_pack("{s:o}", "DeploymentIds", list);
    prepare_query(&q);
    return q;
}

static query all_query(const char *label, owd_store *s) {
    query q = { .label = label, .store = s };
    q.request = json_object();
    prepare_query(&q);
    return q;
}

/* (6): CreateDeployment, one durable call each, against plain SQLite inserting the same
 * rows with the same durability, one transaction each. */
static const char *floor_schema =
    "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;"
    "INSERT INTO meta VALUES('change_seq', 0);"
    "CREATE TABLE deployments(seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, stack_id TEXT NOT NULL,"
    " app_id TEXT, created_at INTEGER NOT NULL, completed_at INTEGER, status INTEGER NOT NULL,"
    " command INTEGER NOT NULL, args BLOB NOT NULL, instance_ids TEXT NOT NULL, iam_user_arn TEXT,"
    " comment TEXT, custom_json TEXT, pending INTEGER NOT NULL, change_seq INTEGER NOT NULL, app_version INTEGER);"
    "CREATE INDEX deployments_change ON deployments(change_seq);"
    "CREATE TABLE commands(seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, deployment_seq INTEGER NOT NULL,"
    " deployment_id TEXT NOT NULL, stack_id TEXT NOT NULL, instance_id TEXT NOT NULL,"
    " created_at INTEGER NOT NULL, acknowledged_at INTEGER, completed_at INTEGER, status TEXT NOT NULL,"
    " exit_code INTEGER, log_url TEXT, type TEXT NOT NULL);"
    "CREATE INDEX commands_deployment ON commands(deployment_seq, seq);"
    "CREATE INDEX commands_instance ON commands(instance_id, deployment_seq);";

static void fake_uuid(char out[37]) {
    uint64_t a = next_random(), b = next_random();
    snprintf(out, 37, "%08" PRIx64 "-%04" PRIx64 "-4%03" PRIx64 "-a%03" PRIx64 "-%012" PRIx64,
             a >> 32, (a >> 16) & 0xffff, a & 0xfff, (b >> 48) & 0xfff, b & (uint64_t)0xffffffffffff);
}

static void sql_ok(sqlite3 *db, int rc, const char *what) {
    if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
        fprintf(stderr, "owd_bench: %s: %s\n", what, sqlite3_errmsg(db));
        exit(1);
    }
}

typedef struct sql_floor {
    sqlite3 *db;
    sqlite3_stmt *begin, *commit, *change, *bump, *dep, *cmd;
    int64_t n;
} sql_floor;

static void sql_floor_open(sql_floor *f, const char *path) {
    unlink(path);
    sql_ok(f->db, sqlite3_open(path, &f->db), "sqlite3_open");
    sql_ok(f->db, sqlite3_exec(f->db, floor_schema, NULL, NULL, NULL), "schema");
    sqlite3_prepare_v2(f->db, "BEGIN IMMEDIATE", -1, &f->begin, NULL);
    sqlite3_prepare_v2(f->db, "COMMIT", -1, &f->commit, NULL);
    sqlite3_prepare_v2(f->db, "SELECT value FROM meta WHERE key='change_seq'", -1, &f->change, NULL);
    sqlite3_prepare_v2(f->db, "UPDATE meta SET value=? WHERE key='change_seq'", -1, &f->bump, NULL);
    sqlite3_prepare_v2(f->db,
        "INSERT INTO deployments(id, stack_id, app_id, created_at, completed_at, status, command, args,"
        " instance_ids, iam_user_arn, comment, custom_json, pending, change_seq, app_version)"
        " VALUES(?,?,?,?,NULL,0,6,?,?,NULL,?,NULL,2,?,1)", -1, &f->dep, NULL);
    sqlite3_prepare_v2(f->db,
        "INSERT INTO commands(id, deployment_seq, deployment_id, stack_id, instance_id, created_at,"
        " completed_at, status, exit_code, type) VALUES(?,?,?,?,?,?,NULL,'pending',NULL,'deploy')", -1, &f->cmd, NULL);
}

static void step(sqlite3 *db, sqlite3_stmt *s) {
    sql_ok(db, sqlite3_step(s), "step");
    sqlite3_reset(s);
}

static const char *STACK = "2f1b6d3a-4b5c-4d6e-8f70-112233445566", *APP = "3a2b1c0d-9e8f-4a7b-8c6d-5e4f3a2b1c0d";
static const char *INST[2] = { "4b3c2d1e-0f9a-4b8c-9d7e-6f5a4b3c2d1e", "5c4d3e2f-1a0b-4c9d-8e7f-6a5b4c3d2e1f" };
static const unsigned char ARGS[] = { 1,0,0,0, 7,0,0,0, 'm','i','g','r','a','t','e', 1,0,0,0, 4,0,0,0, 't','r','u','e' };

static void sql_floor_insert(sql_floor *f) {
    char id[37], c0[37], c1[37], instances[80];
    fake_uuid(id);
    snprintf(instances, sizeof instances, "%s,%s", INST[0], INST[1]);
    step(f->db, f->begin);
    sqlite3_step(f->change);
    int64_t change = sqlite3_column_int64(f->change, 0) + 1;
    sqlite3_reset(f->change);
    sqlite3_stmt *d = f->dep;
    sqlite3_bind_text(d, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(d, 2, STACK, -1, SQLITE_STATIC);
    sqlite3_bind_text(d, 3, APP, -1, SQLITE_STATIC);
    sqlite3_bind_int64(d, 4, (int64_t)time(NULL));
    sqlite3_bind_blob(d, 5, ARGS, sizeof ARGS, SQLITE_STATIC);
    sqlite3_bind_text(d, 6, instances, -1, SQLITE_STATIC);
    sqlite3_bind_text(d, 7, "release", -1, SQLITE_STATIC);
    sqlite3_bind_int64(d, 8, change);
    step(f->db, d);
    int64_t seq = sqlite3_last_insert_rowid(f->db);
    for (int i = 0; i < 2; i++) {
        fake_uuid(i ? c1 : c0);
        sqlite3_bind_text(f->cmd, 1, i ? c1 : c0, -1, SQLITE_STATIC);
        sqlite3_bind_int64(f->cmd, 2, seq);
        sqlite3_bind_text(f->cmd, 3, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(f->cmd, 4, STACK, -1, SQLITE_STATIC);
        sqlite3_bind_text(f->cmd, 5, INST[i], -1, SQLITE_STATIC);
        sqlite3_bind_int64(f->cmd, 6, (int64_t)time(NULL));
        step(f->db, f->cmd);
    }
    sqlite3_bind_int64(f->bump, 1, change);
    step(f->db, f->bump);
    step(f->db, f->commit);
}

static void measure_create(const char *dir, int runs) {
    char owd_path[4096], sql_path[4096];
    snprintf(owd_path, sizeof owd_path, "%s/create-owd.db", dir);
    snprintf(sql_path, sizeof sql_path, "%s/create-sqlite.db", dir);
    unlink(owd_path);
    owd_store *durable = open_default(owd_path, NULL);
    owd_store *memory = open_default(":memory:", NULL);
    stack_fixture fd, fm;
    make_stack(durable, &fd, "durable");
    make_stack(memory, &fm, "memory");
    sql_floor sf = { 0 };
    sql_floor_open(&sf, sql_path);
    const int durable_reps = 100, memory_reps = 2000;
    double os[MAX_RUNS], fs[MAX_RUNS], ms[MAX_RUNS];
    long n = 0;
    free(create_deployment(durable, &fd, n++));   /* warm */
    sql_floor_insert(&sf);
    for (int r = 0; r < runs; r++) {
        double t0 = now_s();
        for (int i = 0; i < durable_reps; i++) free(create_deployment(durable, &fd, n++));
        os[r] = (now_s() - t0) / durable_reps;
        t0 = now_s();
        for (int i = 0; i < durable_reps; i++) sql_floor_insert(&sf);
        fs[r] = (now_s() - t0) / durable_reps;
        t0 = now_s();
        for (int i = 0; i < memory_reps; i++) free(create_deployment(memory, &fm, n++));
        ms[r] = (now_s() - t0) / memory_reps;
    }
    printf("{\"name\": \"create\", \"reps\": %d, \"memory_reps\": %d", durable_reps, memory_reps);
    print_samples("owd", os, runs);
    print_samples("floor", fs, runs);
    print_samples("memory", ms, runs);
    printf("}\n");
    fflush(stdout);
    owd_store_close(durable);
    owd_store_close(memory);
    sqlite3_close(sf.db);   /* statements are leaked with the process */
    unlink(owd_path);
    unlink(sql_path);
}

/* (10) Group commit: durable creates from THREADS threads sharing one handle, each call
 * timed; or (THREADS "floor") the same rows through plain SQLite, WAL, synchronous=FULL,
 * one transaction per row, one writer. Runs SECONDS, then prints one JSON line: creates,
 * seconds, and the latency percentiles of every call. */
typedef struct group_worker {
    pthread_t tid;
    owd_store *store;
    stack_fixture *fixture;
    sql_floor *floor;
    long n;
    double *lat;
    size_t count, cap;
} group_worker;

static atomic_int group_stop;

static void *group_main(void *arg) {
    group_worker *w = arg;
    while (!atomic_load_explicit(&group_stop, memory_order_relaxed)) {
        double t0 = now_s();
        if (w->floor) sql_floor_insert(w->floor);
        else free(create_deployment(w->store, w->fixture, w->n++));
        double t = now_s() - t0;
        if (w->count == w->cap) {
            w->cap = w->cap ? w->cap * 2 : 4096;
            w->lat = realloc(w->lat, w->cap * sizeof *w->lat);
            if (!w->lat) { fprintf(stderr, "owd_bench: out of memory\n"); exit(1); }
        }
        w->lat[w->count++] = t;
    }
    return NULL;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int cmd_group(const char *path, const char *threads, double seconds) {
    int floor = strcmp(threads, "floor") == 0, n = floor ? 1 : atoi(threads);
    if (n < 1 || n > 256) { fprintf(stderr, "owd_bench: group: THREADS must be 1..256 or floor\n"); return 2; }
    unlink(path);
    owd_store *s = NULL;
    stack_fixture f;
    sql_floor sf = { 0 };
    if (floor) {
        sql_floor_open(&sf, path);
        sql_floor_insert(&sf);   /* warm */
    } else {
        s = open_default(path, NULL);
        make_stack(s, &f, "group");
        free(create_deployment(s, &f, 0));   /* warm */
    }
    group_worker *w = calloc((size_t)n, sizeof *w);
    atomic_store(&group_stop, 0);
    double t0 = now_s();
    for (int i = 0; i < n; i++) {
        w[i] = (group_worker){ .store = s, .fixture = &f, .floor = floor ? &sf : NULL, .n = 1 + i * 100000000L };
        if (pthread_create(&w[i].tid, NULL, group_main, &w[i]) != 0) { perror("pthread_create"); exit(1); }
    }
    struct timespec pause = { (time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9) };
    nanosleep(&pause, NULL);
    atomic_store(&group_stop, 1);
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        pthread_join(w[i].tid, NULL);
        total += w[i].count;
    }
    double elapsed = now_s() - t0;
    double *all = malloc((total ? total : 1) * sizeof *all);
    size_t k = 0;
    for (int i = 0; i < n; i++) {
        memcpy(all + k, w[i].lat, w[i].count * sizeof *all);
        k += w[i].count;
        free(w[i].lat);
    }
    qsort(all, total, sizeof *all, cmp_double);
    double p50 = total ? all[total / 2] : 0, p99 = total ? all[(size_t)((double)(total - 1) * 0.99)] : 0;
    printf("{\"name\": \"group\", \"threads\": %s%s%s, \"creates\": %zu, \"seconds\": %.6f, "
           "\"p50\": %.9f, \"p99\": %.9f, \"max\": %.9f}\n",
           floor ? "\"" : "", threads, floor ? "\"" : "", total, elapsed, p50, p99, total ? all[total - 1] : 0);
    fflush(stdout);
    free(all);
    free(w);
    if (floor) sqlite3_close_v2(sf.db);   /* statements are leaked with the process */
    else owd_store_close(s);
    return 0;
}

static const char *self_path;

/* Starts `owd_bench writer PATH`, returns once it has committed its first deployments. */
static pid_t start_writer(const char *path, int *fd_out) {
    int p[2];
    if (pipe(p) != 0) { perror("pipe"); exit(1); }
    pid_t pid = fork();
    if (pid == 0) {
        dup2(p[1], 1);
        close(p[0]);
        execl(self_path, self_path, "writer", path, (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    char buf[64];
    ssize_t n = read(p[0], buf, sizeof buf);   /* "ready" */
    if (n <= 0) { fprintf(stderr, "owd_bench: the writer did not start\n"); exit(1); }
    *fd_out = p[0];
    return pid;
}

static long stop_writer(pid_t pid, int fd) {
    kill(pid, SIGTERM);
    char buf[256] = { 0 };
    size_t got = 0;
    ssize_t n;
    while ((n = read(fd, buf + got, sizeof buf - 1 - got)) > 0) got += (size_t)n;
    waitpid(pid, NULL, 0);
    close(fd);
    char *line = strstr(buf, "written ");
    return line ? atol(line + 8) : -1;
}

static int cmd_measure(const char *small, const char *medium, const char *large, const char *dir, int runs) {
    if (runs > MAX_RUNS) runs = MAX_RUNS;
    double open_small, open_medium, open_large;
    owd_store *s_small = open_default(small, &open_small);
    owd_store *s_medium = open_default(medium, &open_medium);
    owd_store *s_large = open_default(large, &open_large);
    printf("{\"name\": \"opens\", \"small\": %.6f, \"medium\": %.6f, \"large\": %.6f}\n", open_small, open_medium, open_large);

    /* Every ID of the large store, for the random-ID queries. */
    owd_deployment_list *every = NULL;
    if (owd_describe_deployments(&every, s_large, NULL, NULL, NULL, 0) != OWD_OK) die("owd_describe_deployments");
    size_t total = owd_deployment_list_count(every);
    const char **ids = malloc(total * sizeof *ids);
    for (size_t i = 0; i < total; i++) ids[i] = owd_deployment_id(owd_deployment_list_get(every, i));

    fprintf(stderr, "  preparing queries and their floors (C structs)\n");
    query q_stack = stack_query("StackId", s_large, first_stack(large));
    query q_ids100 = ids_query("DeploymentIds (100 random)", s_large, ids, total, 100);
    query q_small_stack = stack_query("StackId (10,000-deployment store)", s_small, first_stack(small));
    query q_medium_stack = stack_query("StackId (100,000-deployment store)", s_medium, first_stack(medium));
    if (getenv("OWD_BENCH_QUICK")) {   /* A/B of an optimisation: 1, 2, 3 and 5 only */
        measure_query("q1", &q_stack, runs, NULL);
        measure_query("q3", &q_ids100, runs, NULL);
        double a[MAX_RUNS], c[MAX_RUNS];
        for (int i = 0; i < runs; i++) {
            if (i % 2) a[i] = sample(&q_small_stack, WAY_JSON, 3);
            c[i] = sample(&q_stack, WAY_JSON, 3);
            if (!(i % 2)) a[i] = sample(&q_small_stack, WAY_JSON, 3);
        }
        printf("{\"name\": \"scaling\"");
        print_samples("small", a, runs);
        print_samples("large", c, runs);
        printf("}\n");
        return 0;
    }
    query q_all = all_query("no parameter", s_large);
    query q_ids10 = ids_query("DeploymentIds (10 random)", s_large, ids, total, 10);
    query q_ids1000 = ids_query("DeploymentIds (1,000 random)", s_large, ids, total, 1000);
    query q_medium_all = all_query("no parameter (100,000-deployment store)", s_medium);

    fprintf(stderr, "  (1)-(4) quiet\n");
    measure_query("q1", &q_stack, runs, NULL);
    measure_query("q3", &q_ids100, runs, NULL);
    measure_query("q4", &q_all, runs < 5 ? runs : 5, NULL);
    fprintf(stderr, "  sizes\n");
    measure_query("size", &q_ids10, runs, NULL);
    measure_query("size", &q_ids1000, runs, NULL);
    measure_query("size", &q_medium_all, runs < 5 ? runs : 5, NULL);

    fprintf(stderr, "  (5) scaling\n");
    /* Interleaved across the three stores so that noise hits them alike. */
    {
        double a[MAX_RUNS], b[MAX_RUNS], c[MAX_RUNS];
        for (int i = 0; i < runs; i++) {
            query *order[3] = { &q_small_stack, &q_medium_stack, &q_stack };
            double *into[3] = { &a[i], &b[i], &c[i] };
            for (int k = 0; k < 3; k++) {   /* rotated: no store always goes first */
                int j = (k + i) % 3;
                *into[j] = sample(order[j], WAY_JSON, 3);
            }
        }
        printf("{\"name\": \"scaling\", \"results\": %zu", q_stack.count);
        print_samples("small", a, runs);
        print_samples("medium", b, runs);
        print_samples("large", c, runs);
        printf("}\n");
        fflush(stdout);
    }

    fprintf(stderr, "  (9) the same with a second process writing\n");
    {
        int fd;
        pid_t w = start_writer(large, &fd);
        double t0 = now_s();
        measure_query("busy_q1", &q_stack, runs, NULL);
        measure_query("busy_q3", &q_ids100, runs, NULL);
        /* The writer adds deployments: the no-parameter answer grows by what it wrote. */
        measure_query("busy_q4", &q_all, runs < 5 ? runs : 5, NULL);
        double busy = now_s() - t0;
        long written = stop_writer(w, fd);
        printf("{\"name\": \"writer\", \"written\": %ld, \"seconds\": %.3f}\n", written, busy);
        fflush(stdout);
    }

    fprintf(stderr, "  (6) CreateDeployment\n");
    measure_create(dir, runs);

    owd_deployment_list_free(every);
    owd_store_close(s_small);
    owd_store_close(s_medium);
    owd_store_close(s_large);
    return 0;
}

/* ---------------------------------------------------------------------------------- */
/* open, sqlload, writer                                                               */

static int cmd_open(const char *path) {
    long before = rss_bytes();
    double t0 = now_s();
    owd_store *s = open_default(path, NULL);
    double t1 = now_s();
    json_t *request = json_pack("{s:s}", "StackId", first_stack(path));
    json_t *out = NULL;
    if (owd_call(&out, s, "DescribeDeployments", request) != OWD_OK) die("DescribeDeployments");
    double t2 = now_s();
    size_t n = json_array_size(json_object_get(out, "Deployments"));
    json_decref(out);
    json_decref(request);
    long after = rss_bytes();
    printf("{\"name\": \"open\", \"open\": %.6f, \"first_query\": %.6f, \"results\": %zu, \"rss_before\": %ld, \"rss_after\": %ld}\n",
           t1 - t0, t2 - t1, n, before, after);
    owd_store_close(s);
    return 0;
}

/* The floor of (7): every deployment row read by plain C into C structs. */
static int cmd_sqlload(const char *path) {
    long before = rss_bytes();
    double t0 = now_s();
    sqlite3 *db;
    sql_ok(NULL, sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), "open");
    sqlite3_stmt *s;
    sql_ok(db, sqlite3_prepare_v2(db,
        "SELECT seq, change_seq, created_at, completed_at, status, command, id, stack_id, app_id,"
        " iam_user_arn, comment, custom_json, args, instance_ids FROM deployments", -1, &s, NULL), "prepare");
    arena *a = NULL;
    size_t n = 0, cap = 1 << 16;
    c_deployment *ds = malloc(cap * sizeof *ds);
    while (sqlite3_step(s) == SQLITE_ROW) {
        if (n == cap) ds = realloc(ds, (cap *= 2) * sizeof *ds);
        c_deployment *d = &ds[n++];
        memset(d, 0, sizeof *d);
        d->id = copy_str(&a, (const char *)sqlite3_column_text(s, 6));
        d->stack = copy_str(&a, (const char *)sqlite3_column_text(s, 7));
        d->app = copy_str(&a, (const char *)sqlite3_column_text(s, 8));
        d->arn = copy_str(&a, (const char *)sqlite3_column_text(s, 9));
        d->comment = copy_str(&a, (const char *)sqlite3_column_text(s, 10));
        d->custom_json = copy_str(&a, (const char *)sqlite3_column_text(s, 11));
        int blob = sqlite3_column_bytes(s, 12);
        void *args = arena_alloc(&a, (size_t)blob);
        memcpy(args, sqlite3_column_blob(s, 12), (size_t)blob);
        d->instances = arena_alloc(&a, sizeof(cstr));
        d->instances[0] = copy_str(&a, (const char *)sqlite3_column_text(s, 13));
        d->instance_count = 1;
        d->duration = sqlite3_column_type(s, 3) == SQLITE_NULL ? -1 : sqlite3_column_int64(s, 3) - sqlite3_column_int64(s, 2);
        d->status = (owd_status)sqlite3_column_int(s, 4);
        d->command = (owd_command_type)sqlite3_column_int(s, 5);
    }
    sqlite3_finalize(s);
    double t1 = now_s();
    long after = rss_bytes();
    printf("{\"name\": \"sqlload\", \"open\": %.6f, \"rows\": %zu, \"rss_before\": %ld, \"rss_after\": %ld}\n",
           t1 - t0, n, before, after);
    sqlite3_close(db);
    arena_free(a);
    free(ds);
    return 0;
}

static volatile sig_atomic_t stop;
static void on_term(int sig) { (void)sig; stop = 1; }

/* Opens the store with the defaults (durable), makes its own stack, and creates
 * deployments one call each until SIGTERM; prints "ready" after the first ten. */
static int cmd_writer(const char *path) {
    signal(SIGTERM, on_term);
    owd_store *s = open_default(path, NULL);
    stack_fixture f;
    make_stack(s, &f, "writer");
    long n = 0;
    while (!stop) {
        free(create_deployment(s, &f, n++));
        if (n == 10) { printf("ready\n"); fflush(stdout); }
    }
    printf("written %ld\n", n);
    fflush(stdout);
    owd_store_close(s);
    return 0;
}

/* One query, `reps` times, one way (json: owd_call; text: owd_call_json; handles;
 * floor): for valgrind --tool=callgrind and perf. */
static int cmd_profile(const char *path, const char *what, const char *how, int reps) {
    owd_store *s = open_default(path, NULL);
    query q;
    if (strcmp(what, "stack") == 0) q = stack_query("StackId", s, first_stack(path));
    else if (strcmp(what, "all") == 0) q = all_query("no parameter", s);
    else {
        owd_deployment_list *every = NULL;
        if (owd_describe_deployments(&every, s, NULL, NULL, NULL, 0) != OWD_OK) die("owd_describe_deployments");
        size_t total = owd_deployment_list_count(every);
        const char **ids = malloc(total * sizeof *ids);
        for (size_t i = 0; i < total; i++) ids[i] = strdup(owd_deployment_id(owd_deployment_list_get(every, i)));
        owd_deployment_list_free(every);
        q = ids_query("DeploymentIds", s, ids, total, (size_t)atol(what));
    }
    way w = strcmp(how, "json") == 0 ? WAY_JSON : strcmp(how, "handles") == 0 ? WAY_HANDLES
          : strcmp(how, "text") == 0 ? WAY_TEXT : WAY_FLOOR;
    double t = sample(&q, w, reps);
    printf("{\"name\": \"profile\", \"what\": \"%s\", \"how\": \"%s\", \"results\": %zu, \"seconds\": %.9f}\n",
           what, how, q.count, t);
    owd_store_close(s);
    return 0;
}

int main(int argc, char **argv) {
    self_path = argv[0];
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 5 && strcmp(argv[1], "build") == 0) return cmd_build(argv[2], atoi(argv[3]), atol(argv[4]));
    if (argc >= 6 && strcmp(argv[1], "measure") == 0)
        return cmd_measure(argv[2], argv[3], argv[4], argv[5], argc > 6 ? atoi(argv[6]) : 15);
    if (argc == 3 && strcmp(argv[1], "open") == 0) return cmd_open(argv[2]);
    if (argc == 3 && strcmp(argv[1], "sqlload") == 0) return cmd_sqlload(argv[2]);
    if (argc == 3 && strcmp(argv[1], "writer") == 0) return cmd_writer(argv[2]);
    if (argc == 5 && strcmp(argv[1], "group") == 0) return cmd_group(argv[2], argv[3], atof(argv[4]));
    if (argc == 6 && strcmp(argv[1], "profile") == 0) return cmd_profile(argv[2], argv[3], argv[4], atoi(argv[5]));
    fprintf(stderr, "usage: owd_bench build PATH STACKS PER_STACK | measure SMALL MEDIUM LARGE DIR [RUNS]"
                    " | open PATH | sqlload PATH | writer PATH | group PATH THREADS|floor SECONDS"
                    " | profile PATH stack|all|N json|handles|text|floor REPS\n");
    return 2;
}
