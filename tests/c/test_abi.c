/* Tests of every function of include/owd.h, through the installed-style C ABI only.
 * Each test is named after what it proves. The last line printed is "N passed, N failed". */
#include <owd.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "harness.h"

/* A pointer no call may leave in an `out` after a failure. */
#define SENTINEL ((void *)(uintptr_t)0x5a5a5a5a)

/* ------------------------------------------------------------------------------------ */
/* Helpers                                                                              */

/* The last error has this code, the type, and a message containing `needle`. */
static int error_is(int code, const char *type, const char *needle) {
    const owd_error *e = owd_error_last();
    int ok = e != NULL && e->code == code && e->type && strcmp(e->type, type) == 0 && e->message &&
             (needle == NULL || strstr(e->message, needle) != NULL);
    if (!ok) {
        fprintf(stderr, "     last error: code %d type \"%s\" message \"%s\"; expected code %d type \"%s\" naming \"%s\"\n",
                e ? e->code : 0, e && e->type ? e->type : "(null)", e && e->message ? e->message : "(null)",
                code, type, needle ? needle : "");
    }
    return ok;
}
#define CHECK_EINVAL_NAMING(arg) CHECK(error_is(OWD_EINVAL, "InvalidArgument", arg))

static int error_clear(void) {
    const owd_error *e = owd_error_last();
    return e && e->code == OWD_OK && e->type && e->message && e->type[0] == 0 && e->message[0] == 0;
}

/* owd_call with a request built by json_pack; NULL (and a reported failure) on error. */
static json_t *callf(owd_store *store, const char *operation, const char *format, ...) {
    va_list ap;
    va_start(ap, format);
    json_error_t error;
    json_t *request = json_vpack_ex(&error, 0, format, ap);
    va_end(ap);
    if (!request) {
        fprintf(stderr, "     json_pack: %s\n", error.text);
        return NULL;
    }
    json_t *response = SENTINEL;
    int rc = owd_call(&response, store, operation, request);
    json_decref(request);
    if (rc != OWD_OK) {
        fprintf(stderr, "     %s failed: %d %s: %s\n", operation, rc, owd_error_last()->type, owd_error_last()->message);
        CHECK(response == NULL);
        return NULL;
    }
    return response;
}

/* Copies string member `member` of `response` into `out` and releases the response. */
static int take_id(json_t *response, const char *member, char *out, size_t size) {
    const char *s = json_string_value(json_object_get(response, member));
    int ok = s != NULL && strlen(s) < size;
    if (ok) strcpy(out, s);
    json_decref(response);
    return ok;
}

/* The test clock: a fixed time the tests move, and a count of calls proving the
 * context arrives. */
typedef struct {
    int64_t now;
    int calls;
} test_clock;

static int64_t clock_read(void *context) {
    test_clock *c = context;
    __atomic_add_fetch(&c->calls, 1, __ATOMIC_RELAXED);
    return __atomic_load_n(&c->now, __ATOMIC_RELAXED);
}

#define T0 1374778654 /* 2013-07-25T18:57:34+00:00, AWS's published example */

/* A stack, a layer, an app, two online instances, one finished deployment with Args,
 * Comment and CustomJson (15 seconds long), and one running deployment. */
typedef struct {
    owd_store *store;
    test_clock clock;
    char stack[64], layer[64], app[64], instance[2][64];
    char finished[64], running[64];
} fixture;

static int complete_commands(owd_store *store, const char *deployment, const char *status) {
    json_t *described = callf(store, "DescribeCommands", "{s:s}", "DeploymentId", deployment);
    if (!described) return 0;
    int ok = 1;
    size_t i;
    json_t *command;
    json_array_foreach(json_object_get(described, "Commands"), i, command) {
        json_t *r = callf(store, "CompleteCommand", "{s:O,s:s,s:i}", "CommandId", json_object_get(command, "CommandId"),
                          "Status", status, "ExitCode", 0);
        ok = ok && r != NULL;
        json_decref(r);
    }
    json_decref(described);
    return ok;
}

/* The store a fixture opens: in memory; with OWD_TEST_STORE set (a postgresql:// URI, by
 * `make test-c-pg`), a new schema of that database, which the store creates. */
static const char *fixture_store(char *buffer, size_t size) {
    const char *base = getenv("OWD_TEST_STORE");
    if (!base || !*base) return ":memory:";
    static unsigned counter;
    snprintf(buffer, size, "%s%coptions=-csearch_path%%3Dc%ld_%u", base, strchr(base, '?') ? '&' : '?',
             (long)getpid(), __sync_add_and_fetch(&counter, 1));
    return buffer;
}

static int fixture_open(fixture *f) {
    memset(f, 0, sizeof *f);
    f->clock.now = T0;
    owd_store_options options = OWD_STORE_OPTIONS_INIT;
    options.clock = clock_read;
    options.clock_context = &f->clock;
    options.durability = OWD_DURABILITY_OFF;
    char path[1024];
    if (owd_store_open(&f->store, fixture_store(path, sizeof path), &options) != OWD_OK) return 0;
    owd_store *s = f->store;
    if (!take_id(callf(s, "CreateStack", "{s:s,s:s,s:s,s:s}", "Name", "shop", "Region", "us-east-1",
                       "ServiceRoleArn", "arn:aws:iam::123456789012:role/aws-opsworks-service-role",
                       "DefaultInstanceProfileArn", "arn:aws:iam::123456789012:instance-profile/aws-opsworks-ec2-role"),
                 "StackId", f->stack, sizeof f->stack)) return 0;
    if (!take_id(callf(s, "CreateLayer", "{s:s,s:s,s:s,s:s}", "StackId", f->stack, "Type", "custom", "Name", "web",
                       "Shortname", "web"), "LayerId", f->layer, sizeof f->layer)) return 0;
    if (!take_id(callf(s, "CreateApp", "{s:s,s:s,s:s}", "StackId", f->stack, "Name", "shop", "Type", "other"),
                 "AppId", f->app, sizeof f->app)) return 0;
    for (int i = 0; i < 2; i++) {
        if (!take_id(callf(s, "CreateInstance", "{s:s,s:[s],s:s}", "StackId", f->stack, "LayerIds", f->layer,
                           "InstanceType", "t3.small"), "InstanceId", f->instance[i], sizeof f->instance[i])) return 0;
        json_t *r = callf(s, "StartInstance", "{s:s}", "InstanceId", f->instance[i]);
        if (!r) return 0;
        json_decref(r);
    }
    if (!take_id(callf(s, "CreateDeployment", "{s:s,s:s,s:{s:s,s:{s:[s],s:[s,s]}},s:s,s:s}", "StackId", f->stack,
                       "AppId", f->app, "Command", "Name", "deploy", "Args", "migrate", "true", "extra", "a", "b",
                       "Comment", "release 42", "CustomJson", "{\"key\": \"value\"}"),
                 "DeploymentId", f->finished, sizeof f->finished)) return 0;
    f->clock.now = T0 + 15;
    if (!complete_commands(s, f->finished, "successful")) return 0;
    f->clock.now = T0 + 20;
    if (!take_id(callf(s, "CreateDeployment", "{s:s,s:{s:s},s:[s]}", "StackId", f->stack, "Command", "Name",
                       "configure", "InstanceIds", f->instance[1]),
                 "DeploymentId", f->running, sizeof f->running)) return 0;
    return 1;
}

/* ------------------------------------------------------------------------------------ */
/* Versions, codes, release functions                                                   */

static void version_number_and_string_match_the_header(void) {
    CHECK_INT(owd_version_number(), OWD_VERSION_NUMBER);
    CHECK_INT(OWD_VERSION_NUMBER, OWD_VERSION_MAJOR * 1000000 + OWD_VERSION_MINOR * 1000 + OWD_VERSION_PATCH);
    CHECK_STR(owd_version_string(), OWD_VERSION_STRING);
    char expected[32];
    snprintf(expected, sizeof expected, "%d.%d.%d", OWD_VERSION_MAJOR, OWD_VERSION_MINOR, OWD_VERSION_PATCH);
    CHECK_STR(owd_version_string(), expected);
    CHECK(owd_version_string() == owd_version_string()); /* static */
}

static void strerror_describes_every_code(void) {
    for (int code = OWD_EUNSUPPORTED; code <= OWD_OK; code++) {
        const char *s = owd_strerror(code);
        CHECK(s != NULL && s[0] != 0);
    }
    CHECK(strstr(owd_strerror(OWD_EVALIDATION), "ValidationException") != NULL);
    CHECK(strstr(owd_strerror(OWD_ENOTFOUND), "ResourceNotFoundException") != NULL);
    CHECK(strstr(owd_strerror(OWD_EACCESS), "AccessDeniedException") != NULL);
    CHECK(strstr(owd_strerror(OWD_EUNSUPPORTED), "UnsupportedOperationException") != NULL);
    const char *unknown[] = { owd_strerror(1), owd_strerror(-10), owd_strerror(INT_MIN), owd_strerror(INT_MAX) };
    for (size_t i = 0; i < 4; i++) CHECK(unknown[i] != NULL && unknown[i][0] != 0);
    CHECK(strcmp(owd_strerror(OWD_EINVAL), owd_strerror(OWD_EBUSY)) != 0);
}

static void error_last_is_never_null_and_clear_before_any_failure(void) {
    const owd_error *e = owd_error_last();
    REQUIRE(e != NULL);
    CHECK(error_clear());
}

static void error_last_is_cleared_by_a_success(void) {
    CHECK_INT(owd_store_options_init(NULL, OWD_STORE_OPTIONS_VERSION), OWD_EINVAL);
    CHECK(owd_error_last()->code == OWD_EINVAL);
    owd_store_options options;
    CHECK_INT(owd_store_options_init(&options, OWD_STORE_OPTIONS_VERSION), OWD_OK);
    CHECK(error_clear());
}

static void free_and_json_decref_accept_null_and_release(void) {
    owd_free(NULL);
    owd_json_decref(NULL);
    json_t *object = json_object();
    json_incref(object);
    owd_json_decref(object);
    CHECK_INT(object->refcount, 1);
    owd_json_decref(object); /* the last reference: valgrind proves it is freed */

    owd_store *store = NULL;
    REQUIRE(owd_store_open(&store, NULL, NULL) == OWD_OK);
    char *text = NULL;
    CHECK_INT(owd_call_json(&text, store, "DescribeDeployments", NULL), OWD_OK);
    CHECK_STR(text, "{\"Deployments\":[]}");
    owd_free(text);
    owd_store_close(store);
}

/* ------------------------------------------------------------------------------------ */
/* Options and stores                                                                   */

static void store_options_init_fills_the_defaults_of_the_macro(void) {
    const owd_store_options expected = OWD_STORE_OPTIONS_INIT;
    owd_store_options options;
    memset(&options, 0xab, sizeof options);
    CHECK_INT(owd_store_options_init(&options, OWD_STORE_OPTIONS_VERSION), OWD_OK);
    CHECK_INT(options.version, expected.version);
    CHECK_INT(options.version, OWD_STORE_OPTIONS_VERSION);
    CHECK(options.iam_user_arn == NULL && expected.iam_user_arn == NULL);
    CHECK(options.clock == NULL && options.clock_context == NULL);
    CHECK_INT(options.busy_timeout_ms, expected.busy_timeout_ms);
    CHECK_INT(options.busy_timeout_ms, 5000);
    CHECK_INT(options.durability, OWD_DURABILITY_FULL);
}

static void store_options_init_refuses_null_and_bad_versions(void) {
    CHECK_INT(owd_store_options_init(NULL, OWD_STORE_OPTIONS_VERSION), OWD_EINVAL);
    CHECK_EINVAL_NAMING("opts");
    unsigned int bad[] = { 0, OWD_STORE_OPTIONS_VERSION + 1, 1000, UINT_MAX };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        owd_store_options options = OWD_STORE_OPTIONS_INIT;
        options.busy_timeout_ms = 42;
        CHECK_INT(owd_store_options_init(&options, bad[i]), OWD_EINVAL);
        CHECK_EINVAL_NAMING("version");
        CHECK_INT(options.busy_timeout_ms, 42); /* left untouched */
    }
}

static void store_open_refuses_null_out(void) {
    CHECK_INT(owd_store_open(NULL, ":memory:", NULL), OWD_EINVAL);
    CHECK_EINVAL_NAMING("out");
    CHECK_INT(owd_store_open(NULL, NULL, NULL), OWD_EINVAL);
    CHECK_EINVAL_NAMING("out");
}

static void store_open_with_null_path_and_options_is_a_private_memory_store(void) {
    owd_store *a = SENTINEL, *b = SENTINEL;
    CHECK_INT(owd_store_open(&a, NULL, NULL), OWD_OK);
    CHECK(error_clear());
    CHECK_INT(owd_store_open(&b, ":memory:", NULL), OWD_OK);
    REQUIRE(a != NULL && a != SENTINEL && b != NULL && b != SENTINEL && a != b);
    char stack[64];
    CHECK(take_id(callf(a, "CreateStack", "{s:s,s:s,s:s,s:s}", "Name", "a", "Region", "us-east-1", "ServiceRoleArn",
                        "arn:aws:iam::123456789012:role/r", "DefaultInstanceProfileArn",
                        "arn:aws:iam::123456789012:instance-profile/p"), "StackId", stack, sizeof stack));
    json_t *request = json_pack("{s:s}", "StackId", stack), *out = NULL;
    CHECK_INT(owd_call(&out, a, "DescribeApps", request), OWD_OK);
    json_decref(out);
    CHECK_INT(owd_call(&out, b, "DescribeApps", request), OWD_ENOTFOUND); /* b is another store */
    json_decref(request);
    owd_store_close(a);
    owd_store_close(b);
}

/* "" names no file, and is not taken as in-memory (an unset variable would lose data). */
static void store_open_refuses_an_empty_path(void) {
    owd_store *store = SENTINEL;
    CHECK_INT(owd_store_open(&store, "", NULL), OWD_EINVAL);
    CHECK(store == NULL);
    CHECK_EINVAL_NAMING("path is empty");
    CHECK_EINVAL_NAMING(":memory:");
}

static void store_open_refuses_bad_options(void) {
    struct { const char *name; owd_store_options options; const char *needle; } cases[] = {
        { "version 0", OWD_STORE_OPTIONS_INIT, "version" },
        { "version 2", OWD_STORE_OPTIONS_INIT, "version" },
        { "durability 3", OWD_STORE_OPTIONS_INIT, "durability" },
        { "durability -1", OWD_STORE_OPTIONS_INIT, "durability" },
        { "busy_timeout_ms -1", OWD_STORE_OPTIONS_INIT, "busy_timeout_ms" },
        { "busy_timeout_ms INT_MIN", OWD_STORE_OPTIONS_INIT, "busy_timeout_ms" },
    };
    cases[0].options.version = 0;
    cases[1].options.version = OWD_STORE_OPTIONS_VERSION + 1;
    cases[2].options.durability = (owd_durability)3;
    cases[3].options.durability = (owd_durability)-1;
    cases[4].options.busy_timeout_ms = -1;
    cases[5].options.busy_timeout_ms = INT_MIN;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        owd_store *store = SENTINEL;
        int rc = owd_store_open(&store, ":memory:", &cases[i].options);
        if (rc != OWD_EINVAL) fprintf(stderr, "     case %s\n", cases[i].name);
        CHECK_INT(rc, OWD_EINVAL);
        CHECK(store == NULL);
        CHECK_EINVAL_NAMING(cases[i].needle);
    }
}

/* Paths, ARNs and operation names are arguments, not AWS request members: text that is
 * not UTF-8 is OWD_EINVAL (it once was a ValidationException). Request members stay
 * ValidationException. */
static void text_arguments_that_are_not_utf8_are_invalid_arguments(void) {
    owd_store *store = SENTINEL;
    CHECK_INT(owd_store_open(&store, "/tmp/owd-\xff.db", NULL), OWD_EINVAL);
    CHECK_EINVAL_NAMING("path");
    CHECK(store == NULL);
    owd_store_options options = OWD_STORE_OPTIONS_INIT;
    options.iam_user_arn = "arn:aws:iam::123456789012:user/\xff";
    store = SENTINEL;
    CHECK_INT(owd_store_open(&store, NULL, &options), OWD_EINVAL);
    CHECK_EINVAL_NAMING("iam_user_arn");
    CHECK(store == NULL);

    REQUIRE(owd_store_open(&store, NULL, NULL) == OWD_OK);
    owd_store *as = SENTINEL;
    CHECK_INT(owd_store_as(&as, store, "\xfe\xff"), OWD_EINVAL);
    CHECK_EINVAL_NAMING("iam_user_arn");
    CHECK(as == NULL);
    json_t *out = SENTINEL;
    CHECK_INT(owd_call(&out, store, "Describe\xff", NULL), OWD_EINVAL);
    CHECK_EINVAL_NAMING("operation");
    CHECK(out == NULL);
    char *text = NULL;
    CHECK_INT(owd_call_json(&text, store, "Describe\xff", "{}"), OWD_EINVAL);
    CHECK_EINVAL_NAMING("operation");
    owd_free(text);
    owd_deployment_list *list = SENTINEL;
    CHECK_INT(owd_describe_deployments(&list, store, "\xff", NULL, NULL, 0), OWD_EVALIDATION);
    CHECK(error_is(OWD_EVALIDATION, "ValidationException", "stack_id"));
    CHECK(list == NULL);
    owd_store_close(store);
}

static void store_open_accepts_every_durability_and_a_zero_timeout(void) {
    owd_durability values[] = { OWD_DURABILITY_FULL, OWD_DURABILITY_NORMAL, OWD_DURABILITY_OFF };
    for (size_t i = 0; i < 3; i++) {
        owd_store_options options = OWD_STORE_OPTIONS_INIT;
        options.durability = values[i];
        options.busy_timeout_ms = 0;
        owd_store *store = NULL;
        CHECK_INT(owd_store_open(&store, NULL, &options), OWD_OK);
        CHECK(store != NULL);
        owd_store_close(store);
    }
}

static void store_file_is_created_0600_and_a_foreign_file_is_refused(void) {
    char dir[] = "/tmp/owd-test-XXXXXX";
    REQUIRE(mkdtemp(dir) != NULL);
    char path[256], foreign[256];
    snprintf(path, sizeof path, "%s/store.db", dir);
    snprintf(foreign, sizeof foreign, "%s/foreign.txt", dir);

    owd_store_options options = OWD_STORE_OPTIONS_INIT;
    options.durability = OWD_DURABILITY_NORMAL;
    owd_store *store = NULL;
    CHECK_INT(owd_store_open(&store, path, &options), OWD_OK);
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    json_t *r = callf(store, "CreateStack", "{s:s,s:s,s:s,s:s}", "Name", "file", "Region", "eu-west-1",
                      "ServiceRoleArn", "arn:aws:iam::123456789012:role/r", "DefaultInstanceProfileArn",
                      "arn:aws:iam::123456789012:instance-profile/p");
    CHECK(r != NULL);
    owd_store_close(store);

    /* Reopened: the stack is still there. */
    store = NULL;
    CHECK_INT(owd_store_open(&store, path, NULL), OWD_OK);
    json_t *request = json_pack("{s:O}", "StackId", json_object_get(r, "StackId"));
    json_t *out = NULL;
    CHECK_INT(owd_call(&out, store, "DescribeApps", request), OWD_OK);
    json_decref(out);
    json_decref(request);
    json_decref(r);
    owd_store_close(store);

    FILE *f = fopen(foreign, "w");
    REQUIRE(f != NULL);
    fputs("this is not an owd store, and it must stay as it is\n", f);
    fclose(f);
    store = SENTINEL;
    CHECK_INT(owd_store_open(&store, foreign, NULL), OWD_ESTORE);
    CHECK(store == NULL);
    CHECK(owd_error_last()->code == OWD_ESTORE && strcmp(owd_error_last()->type, "StoreError") == 0);
    CHECK(stat(foreign, &st) == 0 && st.st_size == 52);

    char missing_dir[300];
    snprintf(missing_dir, sizeof missing_dir, "%s/no/such/dir/store.db", dir);
    store = SENTINEL;
    CHECK_INT(owd_store_open(&store, missing_dir, NULL), OWD_ESTORE);
    CHECK(store == NULL);

    unlink(foreign);
    char side[300];
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
    unlink(path);
    rmdir(dir);
}

static void store_as_refuses_null_out_and_null_store(void) {
    owd_store *base = NULL;
    REQUIRE(owd_store_open(&base, NULL, NULL) == OWD_OK);
    CHECK_INT(owd_store_as(NULL, base, "arn:aws:iam::123456789012:user/x"), OWD_EINVAL);
    CHECK_EINVAL_NAMING("out");
    owd_store *as = SENTINEL;
    CHECK_INT(owd_store_as(&as, NULL, "arn:aws:iam::123456789012:user/x"), OWD_EINVAL);
    CHECK_EINVAL_NAMING("store");
    CHECK(as == NULL);
    CHECK_INT(owd_store_as(NULL, NULL, NULL), OWD_EINVAL);
    /* NULL iam_user_arn: the embedding program. */
    as = NULL;
    CHECK_INT(owd_store_as(&as, base, NULL), OWD_OK);
    CHECK(as != NULL && as != base);
    json_t *r = callf(as, "CreateUserProfile", "{s:s}", "IamUserArn", "arn:aws:iam::123456789012:user/y");
    CHECK(r != NULL);
    json_decref(r);
    owd_store_close(as);
    owd_store_close(base);
}

static void store_close_accepts_null(void) {
    owd_store_close(NULL);
    CHECK(1);
}

static void store_as_acts_as_the_user_on_the_same_data(void) {
    fixture f;
    REQUIRE(fixture_open(&f));
    const char *deployer = "arn:aws:iam::123456789012:user/deployer";
    const char *stranger = "arn:aws:iam::123456789012:user/stranger";
    json_t *r = callf(f.store, "CreateUserProfile", "{s:s}", "IamUserArn", deployer);
    CHECK(r != NULL);
    json_decref(r);
    r = callf(f.store, "CreateUserProfile", "{s:s}", "IamUserArn", stranger);
    json_decref(r);
    r = callf(f.store, "SetPermission", "{s:s,s:s,s:s}", "StackId", f.stack, "IamUserArn", deployer, "Level", "deploy");
    CHECK(r != NULL);
    json_decref(r);

    owd_store *as = NULL, *other = NULL;
    REQUIRE(owd_store_as(&as, f.store, deployer) == OWD_OK);
    REQUIRE(owd_store_as(&other, f.store, stranger) == OWD_OK);

    /* deploy level: may create deployments, which carry the caller's ARN... */
    char id[64];
    f.clock.now = T0 + 30; /* the clock is shared with the parent */
    CHECK(take_id(callf(as, "CreateDeployment", "{s:s,s:s,s:{s:s}}", "StackId", f.stack, "AppId", f.app, "Command",
                        "Name", "restart"), "DeploymentId", id, sizeof id));
    const char *ids[] = { id };
    owd_deployment_list *list = NULL;
    CHECK_INT(owd_describe_deployments(&list, f.store, NULL, NULL, ids, 1), OWD_OK);
    const owd_deployment *d = owd_deployment_list_get(list, 0);
    CHECK_STR(owd_deployment_iam_user_arn(d), deployer);
    CHECK_STR(owd_deployment_created_at(d), "2013-07-25T18:58:04+00:00");
    CHECK_INT(owd_deployment_command_name(d), OWD_COMMAND_RESTART);
    owd_deployment_list_free(list);

    /* ...but not create an app. */
    json_t *request = json_pack("{s:s,s:s,s:s}", "StackId", f.stack, "Name", "x", "Type", "other");
    json_t *out = SENTINEL;
    CHECK_INT(owd_call(&out, as, "CreateApp", request), OWD_EACCESS);
    CHECK(out == NULL);
    CHECK(error_is(OWD_EACCESS, "AccessDeniedException", deployer));
    CHECK(error_is(OWD_EACCESS, "AccessDeniedException", "opsworks:CreateApp"));
    json_decref(request);

    /* A user without a grant is refused the stack and sees nothing without a parameter. */
    list = SENTINEL;
    CHECK_INT(owd_describe_deployments(&list, other, f.stack, NULL, NULL, 0), OWD_EACCESS);
    CHECK(list == NULL);
    CHECK(error_is(OWD_EACCESS, "AccessDeniedException", stranger));
    CHECK_INT(owd_describe_deployments(&list, other, NULL, NULL, NULL, 0), OWD_OK);
    CHECK_INT(owd_deployment_list_count(list), 0);
    owd_deployment_list_free(list);

    /* The handles are independent: the parent may be closed first. */
    owd_store_close(f.store);
    list = NULL;
    CHECK_INT(owd_describe_deployments(&list, as, f.stack, NULL, NULL, 0), OWD_OK);
    CHECK_INT(owd_deployment_list_count(list), 3);
    owd_deployment_list_free(list);
    owd_store_close(as);
    owd_store_close(other);
}

/* ------------------------------------------------------------------------------------ */
/* owd_call and owd_call_json                                                           */

static void call_refuses_null_arguments(void) {
    owd_store *store = NULL;
    REQUIRE(owd_store_open(&store, NULL, NULL) == OWD_OK);
    json_t *request = json_object();
    json_t *out = SENTINEL;
    CHECK_INT(owd_call(&out, NULL, "DescribeStacks", request), OWD_EINVAL);
    CHECK_EINVAL_NAMING("store");
    CHECK(out == NULL);
    out = SENTINEL;
    CHECK_INT(owd_call(&out, store, NULL, request), OWD_EINVAL);
    CHECK_EINVAL_NAMING("operation");
    CHECK(out == NULL);
    CHECK_INT(owd_call(NULL, store, "DescribeStacks", request), OWD_EINVAL);
    CHECK_EINVAL_NAMING("out");
    CHECK_INT(owd_call(NULL, NULL, NULL, NULL), OWD_EINVAL);
    /* NULL request means {}. */
    out = NULL;
    CHECK_INT(owd_call(&out, store, "DescribeDeployments", NULL), OWD_OK);
    CHECK(error_clear());
    json_t *expected = json_pack("{s:[]}", "Deployments");
    CHECK(json_equal(out, expected));
    json_decref(expected);
    json_decref(out);
    CHECK_INT(request->refcount, 1); /* borrowed, not kept */
    json_decref(request);
    owd_store_close(store);
}

static void call_reports_unknown_operations_and_aws_errors(void) {
    owd_store *store = NULL;
    REQUIRE(owd_store_open(&store, NULL, NULL) == OWD_OK);
    json_t *out = SENTINEL;
    CHECK_INT(owd_call(&out, store, "DescribeEverything", NULL), OWD_EINVAL);
    CHECK(error_is(OWD_EINVAL, "UnknownOperationException", "DescribeEverything"));
    CHECK(out == NULL);
    /* An operation of AWS's model that owd does not serve: its own code, naming it. */
    out = SENTINEL;
    CHECK_INT(owd_call(&out, store, "AssignVolume", NULL), OWD_EUNSUPPORTED);
    CHECK(error_is(OWD_EUNSUPPORTED, "UnsupportedOperationException", "AssignVolume is not supported: owd manages no AWS resources"));
    CHECK(out == NULL);

    json_t *request = json_pack("{s:s}", "StackId", "6ed0df4c-9ef7-4812-8dac-d54a05be1029");
    out = SENTINEL;
    CHECK_INT(owd_call(&out, store, "DescribeDeployments", request), OWD_ENOTFOUND);
    CHECK(error_is(OWD_ENOTFOUND, "ResourceNotFoundException",
                   "Unable to find stack with ID 6ed0df4c-9ef7-4812-8dac-d54a05be1029"));
    CHECK(out == NULL);
    json_decref(request);

    request = json_pack("{s:s,s:s}", "StackId", "a", "AppId", "b");
    CHECK_INT(owd_call(&out, store, "DescribeDeployments", request), OWD_EVALIDATION);
    CHECK(error_is(OWD_EVALIDATION, "ValidationException",
                   "Please provide either one or more deployment IDs or one stack ID or one app ID"));
    json_decref(request);

    request = json_pack("{s:i}", "Bogus", 1);
    CHECK_INT(owd_call(&out, store, "DescribeDeployments", request), OWD_EVALIDATION);
    CHECK(error_is(OWD_EVALIDATION, "ValidationException", "Bogus"));
    json_decref(request);

    /* A request that is not an object is refused, never crashes. */
    request = json_array();
    out = SENTINEL;
    int rc = owd_call(&out, store, "DescribeDeployments", request);
    CHECK(rc == OWD_EVALIDATION || rc == OWD_EINVAL);
    CHECK(owd_error_last()->code == rc && owd_error_last()->message[0] != 0);
    CHECK(out == NULL);
    json_decref(request);
    owd_store_close(store);
}

static void call_json_refuses_null_arguments_with_an_error_body(void) {
    owd_store *store = NULL;
    REQUIRE(owd_store_open(&store, NULL, NULL) == OWD_OK);
    struct { owd_store *store; const char *operation; const char *needle; } cases[] = {
        { NULL, "DescribeStacks", "store" },
        { store, NULL, "operation" },
    };
    for (size_t i = 0; i < 2; i++) {
        char *out = SENTINEL;
        CHECK_INT(owd_call_json(&out, cases[i].store, cases[i].operation, "{}"), OWD_EINVAL);
        CHECK_EINVAL_NAMING(cases[i].needle);
        REQUIRE(out != NULL && out != SENTINEL);
        json_t *body = json_loads(out, 0, NULL);
        CHECK_INT(json_object_size(body), 2);
        CHECK_STR(json_string_value(json_object_get(body, "__type")), "InvalidArgument");
        CHECK_STR(json_string_value(json_object_get(body, "message")), owd_error_last()->message);
        json_decref(body);
        owd_free(out);
    }
    CHECK_INT(owd_call_json(NULL, store, "DescribeStacks", "{}"), OWD_EINVAL);
    CHECK_EINVAL_NAMING("out");
    CHECK_INT(owd_call_json(NULL, NULL, NULL, NULL), OWD_EINVAL);
    /* NULL and "" mean {}. */
    char *out = NULL;
    CHECK_INT(owd_call_json(&out, store, "DescribeDeployments", NULL), OWD_OK);
    CHECK_STR(out, "{\"Deployments\":[]}");
    owd_free(out);
    out = NULL;
    CHECK_INT(owd_call_json(&out, store, "DescribeDeployments", ""), OWD_OK);
    CHECK_STR(out, "{\"Deployments\":[]}");
    owd_free(out);
    owd_store_close(store);
}

/* owd_call_json's failure: the return code, owd_error_last() and exactly the body
 * {"__type","message"}. */
static void check_error_body(owd_store *store, const char *operation, const char *request, int code,
                             const char *type, const char *needle) {
    char *out = SENTINEL;
    CHECK_INT(owd_call_json(&out, store, operation, request), code);
    CHECK(error_is(code, type, needle));
    if (out == NULL || out == SENTINEL) {
        CHECK(!"an error body");
        return;
    }
    json_error_t error;
    json_t *body = json_loads(out, JSON_REJECT_DUPLICATES, &error);
    CHECK(json_is_object(body));
    CHECK_INT(json_object_size(body), 2);
    CHECK_STR(json_string_value(json_object_get(body, "__type")), type);
    CHECK_STR(json_string_value(json_object_get(body, "message")), owd_error_last()->message);
    json_decref(body);
    owd_free(out);
}

static void call_json_error_body_is_aws_json_1_1(void) {
    owd_store *store = NULL;
    REQUIRE(owd_store_open(&store, NULL, NULL) == OWD_OK);
    check_error_body(store, "DescribeDeployments", "{\"StackId\": \"nope\"}", OWD_ENOTFOUND,
                     "ResourceNotFoundException", "Unable to find stack with ID nope");
    check_error_body(store, "DescribeDeployments", "{\"StackId\": \"a\", \"DeploymentIds\": []}", OWD_EVALIDATION,
                     "ValidationException", "Please provide either");
    check_error_body(store, "DescribeDeployments", "{\"StackId\": 7}", OWD_EVALIDATION, "ValidationException", "StackId");
    check_error_body(store, "DescribeDeployments", "{not json", OWD_EINVAL, "InvalidArgument", "request");
    check_error_body(store, "DescribeDeployments", "{\"a\": 1, \"a\": 2}", OWD_EINVAL, "InvalidArgument", "request");
    check_error_body(store, "NoSuchOperation", "{}", OWD_EINVAL, "UnknownOperationException", "NoSuchOperation");
    check_error_body(store, "GrantAccess", "{\"InstanceId\": \"i\"}", OWD_EUNSUPPORTED, "UnsupportedOperationException",
                     "GrantAccess is not supported");
    /* A message with quotes and a backslash is escaped in the body. */
    check_error_body(store, "DescribeDeployments", "{\"StackId\": \"q\\\"\\\\\"}", OWD_ENOTFOUND,
                     "ResourceNotFoundException", "q\"\\");
    owd_store_close(store);
}

/* owd_call and owd_call_json answer the same: same code, same response, same error. */
static void check_equivalent(owd_store *store, const char *operation, const char *request_text) {
    json_t *request = json_loads(request_text, 0, NULL);
    REQUIRE(request != NULL);
    json_t *response = NULL;
    int rc = owd_call(&response, store, operation, request);
    owd_error first = *owd_error_last();
    char type[64], message[1024];
    snprintf(type, sizeof type, "%s", first.type);
    snprintf(message, sizeof message, "%s", first.message);

    char *text = NULL;
    int rc_json = owd_call_json(&text, store, operation, request_text);
    CHECK_INT(rc_json, rc);
    REQUIRE(text != NULL);
    json_t *parsed = json_loads(text, 0, NULL);
    if (rc == OWD_OK) {
        CHECK(json_equal(parsed, response));
        char *compact = json_dumps(response, JSON_COMPACT);
        CHECK_STR(text, compact);
        free(compact);
    } else {
        CHECK(response == NULL);
        CHECK_STR(owd_error_last()->type, type);
        CHECK_STR(owd_error_last()->message, message);
        CHECK_STR(json_string_value(json_object_get(parsed, "__type")), type);
    }
    json_decref(parsed);
    owd_free(text);
    json_decref(response);
    json_decref(request);
}

static void call_and_call_json_are_equivalent(void) {
    fixture f;
    REQUIRE(fixture_open(&f));
    char request[512];
    check_equivalent(f.store, "DescribeDeployments", "{}");
    snprintf(request, sizeof request, "{\"StackId\": \"%s\"}", f.stack);
    check_equivalent(f.store, "DescribeDeployments", request);
    snprintf(request, sizeof request, "{\"AppId\": \"%s\"}", f.app);
    check_equivalent(f.store, "DescribeDeployments", request);
    snprintf(request, sizeof request, "{\"DeploymentIds\": [\"%s\", \"%s\"]}", f.running, f.finished);
    check_equivalent(f.store, "DescribeDeployments", request);
    snprintf(request, sizeof request, "{\"DeploymentId\": \"%s\"}", f.finished);
    check_equivalent(f.store, "DescribeCommands", request);
    check_equivalent(f.store, "DescribeStacks", "{}");
    check_equivalent(f.store, "DescribeInstances", "{}");
    snprintf(request, sizeof request, "{\"StackId\": \"%s\"}", f.stack);
    check_equivalent(f.store, "DescribeApps", request);
    check_equivalent(f.store, "DescribeLayers", request);
    check_equivalent(f.store, "DescribeDeployments", "{\"DeploymentIds\": [\"unknown\"]}");
    check_equivalent(f.store, "DescribeDeployments", "{\"StackId\": \"x\", \"AppId\": \"y\"}");
    check_equivalent(f.store, "CreateDeployment", "{\"StackId\": \"x\"}");
    owd_store_close(f.store);
}

/* Section 12 from C: the instance operations through owd_call and owd_call_json, and a
 * stopped instance's pending command failing its deployment, as the typed API sees it. */
static void section_12_instance_operations_work_through_the_abi(void) {
    fixture f;
    REQUIRE(fixture_open(&f));
    char box[64], request[512];
    REQUIRE(take_id(callf(f.store, "RegisterInstance", "{s:s,s:s}", "StackId", f.stack, "Hostname", "box"),
                    "InstanceId", box, sizeof box));
    json_t *r = callf(f.store, "AssignInstance", "{s:s,s:[s]}", "InstanceId", box, "LayerIds", f.layer);
    CHECK(r != NULL && json_object_size(r) == 0);
    json_decref(r);
    r = callf(f.store, "GetHostnameSuggestion", "{s:s}", "LayerId", f.layer);
    CHECK_STR(json_string_value(json_object_get(r, "Hostname")), "web3");
    json_decref(r);
    snprintf(request, sizeof request, "{\"InstanceId\": \"%s\"}", box);
    check_equivalent(f.store, "RebootInstance", request);
    check_equivalent(f.store, "DeleteInstance", request);   /* online: the same ValidationException */
    check_equivalent(f.store, "DescribeOperatingSystems", "{}");
    check_equivalent(f.store, "DescribeMyUserProfile", "{}"); /* no identity: ValidationException */

    /* The running deployment waits on instance 1 only: stopping it ends the deployment. */
    f.clock.now = T0 + 30;
    r = callf(f.store, "StopInstance", "{s:s}", "InstanceId", f.instance[1]);
    CHECK(r != NULL);
    json_decref(r);
    owd_deployment_list *list = NULL;
    const char *ids[] = {f.running};
    REQUIRE(owd_describe_deployments(&list, f.store, NULL, NULL, ids, 1) == OWD_OK);
    const owd_deployment *d = owd_deployment_list_get(list, 0);
    CHECK_INT(owd_deployment_status(d), OWD_STATUS_FAILED);
    CHECK_INT(owd_deployment_duration(d), 10);
    owd_deployment_list_free(list);
    r = callf(f.store, "DeregisterInstance", "{s:s}", "InstanceId", f.instance[1]);
    CHECK(r != NULL);
    json_decref(r);
    json_t *gone = SENTINEL;
    json_t *q = json_pack("{s:s}", "InstanceId", f.instance[1]);
    CHECK_INT(owd_call(&gone, f.store, "DescribeCommands", q), OWD_ENOTFOUND);
    CHECK(gone == NULL && error_is(OWD_ENOTFOUND, "ResourceNotFoundException", f.instance[1]));
    json_decref(q);
    owd_store_close(f.store);
}

/* ------------------------------------------------------------------------------------ */
/* Typed DescribeDeployments                                                            */

static void describe_deployments_refuses_null_arguments(void) {
    fixture f;
    REQUIRE(fixture_open(&f));
    owd_deployment_list *list = SENTINEL;
    CHECK_INT(owd_describe_deployments(&list, NULL, NULL, NULL, NULL, 0), OWD_EINVAL);
    CHECK_EINVAL_NAMING("store");
    CHECK(list == NULL);
    CHECK_INT(owd_describe_deployments(NULL, f.store, NULL, NULL, NULL, 0), OWD_EINVAL);
    CHECK_EINVAL_NAMING("out");
    const char *ids[] = { f.finished, NULL };
    list = SENTINEL;
    CHECK_INT(owd_describe_deployments(&list, f.store, NULL, NULL, ids, 2), OWD_EINVAL);
    CHECK_EINVAL_NAMING("deployment_ids[1]");
    CHECK(list == NULL);
    list = SENTINEL;
    CHECK_INT(owd_describe_deployments(&list, f.store, NULL, NULL, NULL, 3), OWD_EINVAL);
    CHECK_EINVAL_NAMING("deployment_ids");
    CHECK(list == NULL);
    /* An absurd count is refused before the array is read (SIZE_MAX once trapped). */
    list = SENTINEL;
    CHECK_INT(owd_describe_deployments(&list, f.store, NULL, NULL, ids, SIZE_MAX), OWD_EVALIDATION);
    CHECK(error_is(OWD_EVALIDATION, "ValidationException", "DeploymentIds"));
    CHECK(list == NULL);
    CHECK_INT(owd_describe_deployments(&list, f.store, NULL, NULL, ids, 10001), OWD_EVALIDATION);
    CHECK(error_is(OWD_EVALIDATION, "ValidationException", "DeploymentIds"));
    /* stack_id, app_id and deployment_ids NULL: not given, so every deployment. */
    list = NULL;
    CHECK_INT(owd_describe_deployments(&list, f.store, NULL, NULL, NULL, 0), OWD_OK);
    CHECK(error_clear());
    CHECK_INT(owd_deployment_list_count(list), 2);
    owd_deployment_list_free(list);
    owd_store_close(f.store);
}

static void describe_deployments_follows_the_rules_of_describe(void) {
    fixture f;
    REQUIRE(fixture_open(&f));
    owd_deployment_list *list = NULL;
    const char *empty[1] = { NULL };
    CHECK_INT(owd_describe_deployments(&list, f.store, NULL, NULL, empty, 0), OWD_OK);
    CHECK(list != NULL);
    CHECK_INT(owd_deployment_list_count(list), 0);
    CHECK(owd_deployment_list_get(list, 0) == NULL);
    json_t *json = owd_deployment_list_to_json(list);
    json_t *expected = json_pack("{s:[]}", "Deployments");
    CHECK(json_equal(json, expected));
    json_decref(json);
    json_decref(expected);
    owd_deployment_list_free(list);

    /* Given twice: described once. Newest first. */
    const char *twice[] = { f.finished, f.running, f.finished };
    list = NULL;
    CHECK_INT(owd_describe_deployments(&list, f.store, NULL, NULL, twice, 3), OWD_OK);
    CHECK_INT(owd_deployment_list_count(list), 2);
    CHECK_STR(owd_deployment_id(owd_deployment_list_get(list, 0)), f.running);
    CHECK_STR(owd_deployment_id(owd_deployment_list_get(list, 1)), f.finished);
    owd_deployment_list_free(list);

    const char *unknown[] = { f.finished, "unknown-1", "unknown-2" };
    list = SENTINEL;
    CHECK_INT(owd_describe_deployments(&list, f.store, NULL, NULL, unknown, 3), OWD_ENOTFOUND);
    CHECK(error_is(OWD_ENOTFOUND, "ResourceNotFoundException", "Unable to find deployment with ID unknown-1"));
    CHECK(list == NULL);

    list = SENTINEL;
    CHECK_INT(owd_describe_deployments(&list, f.store, f.stack, f.app, NULL, 0), OWD_EVALIDATION);
    CHECK(error_is(OWD_EVALIDATION, "ValidationException",
                   "Please provide either one or more deployment IDs or one stack ID or one app ID"));
    CHECK(list == NULL);
    CHECK_INT(owd_describe_deployments(&list, f.store, f.stack, NULL, empty, 0), OWD_EVALIDATION);
    CHECK_INT(owd_describe_deployments(&list, f.store, NULL, "no-such-app", NULL, 0), OWD_ENOTFOUND);
    CHECK(error_is(OWD_ENOTFOUND, "ResourceNotFoundException", "Unable to find app with ID no-such-app"));

    list = NULL;
    CHECK_INT(owd_describe_deployments(&list, f.store, NULL, f.app, NULL, 0), OWD_OK);
    CHECK_INT(owd_deployment_list_count(list), 1);
    CHECK_STR(owd_deployment_id(owd_deployment_list_get(list, 0)), f.finished);
    owd_deployment_list_free(list);
    owd_store_close(f.store);
}

/* Every accessor of `d` against its JSON object `j` as DescribeDeployments answers it. */
static void check_accessors(const owd_deployment *d, json_t *j) {
    CHECK_STR(owd_deployment_id(d), json_string_value(json_object_get(j, "DeploymentId")));
    CHECK_STR(owd_deployment_stack_id(d), json_string_value(json_object_get(j, "StackId")));
    CHECK_STR(owd_deployment_app_id(d), json_string_value(json_object_get(j, "AppId")));
    CHECK_STR(owd_deployment_created_at(d), json_string_value(json_object_get(j, "CreatedAt")));
    CHECK_STR(owd_deployment_completed_at(d), json_string_value(json_object_get(j, "CompletedAt")));
    json_t *duration = json_object_get(j, "Duration");
    CHECK_INT(owd_deployment_duration(d), duration ? json_integer_value(duration) : -1);
    CHECK_STR(owd_deployment_iam_user_arn(d), json_string_value(json_object_get(j, "IamUserArn")));
    CHECK_STR(owd_deployment_comment(d), json_string_value(json_object_get(j, "Comment")));
    CHECK_STR(owd_deployment_custom_json(d), json_string_value(json_object_get(j, "CustomJson")));
    CHECK_STR(owd_status_name(owd_deployment_status(d)), json_string_value(json_object_get(j, "Status")));
    json_t *command = json_object_get(j, "Command");
    CHECK_STR(owd_command_type_name(owd_deployment_command_name(d)), json_string_value(json_object_get(command, "Name")));

    json_t *args = json_object_get(command, "Args");
    CHECK(json_is_object(args));
    size_t count = owd_deployment_command_arg_count(d);
    CHECK_INT(count, json_object_size(args));
    /* In the order given: the same order as the JSON object's keys. */
    void *iter = json_object_iter(args);
    for (size_t i = 0; i < count; i++, iter = json_object_iter_next(args, iter)) {
        const char *name = owd_deployment_command_arg_name(d, i);
        CHECK_STR(name, iter ? json_object_iter_key(iter) : NULL);
        json_t *values = json_object_get(args, name ? name : "");
        size_t n = owd_deployment_command_arg_value_count(d, i);
        CHECK_INT(n, json_array_size(values));
        for (size_t k = 0; k < n; k++)
            CHECK_STR(owd_deployment_command_arg_value(d, i, k), json_string_value(json_array_get(values, k)));
        CHECK(owd_deployment_command_arg_value(d, i, n) == NULL);
        CHECK(owd_deployment_command_arg_value(d, i, SIZE_MAX) == NULL);
    }
    CHECK(owd_deployment_command_arg_name(d, count) == NULL);
    CHECK(owd_deployment_command_arg_name(d, SIZE_MAX) == NULL);
    CHECK_INT(owd_deployment_command_arg_value_count(d, count), 0);
    CHECK_INT(owd_deployment_command_arg_value_count(d, SIZE_MAX), 0);
    CHECK(owd_deployment_command_arg_value(d, count, 0) == NULL);
    CHECK(owd_deployment_command_arg_value(d, SIZE_MAX, 0) == NULL);

    json_t *instances = json_object_get(j, "InstanceIds");
    size_t instance_count = owd_deployment_instance_count(d);
    CHECK_INT(instance_count, json_array_size(instances));
    for (size_t i = 0; i < instance_count; i++)
        CHECK_STR(owd_deployment_instance_id(d, i), json_string_value(json_array_get(instances, i)));
    CHECK(owd_deployment_instance_id(d, instance_count) == NULL);
    CHECK(owd_deployment_instance_id(d, SIZE_MAX) == NULL);

    json_t *own = owd_deployment_to_json(d);
    CHECK(json_equal(own, j));
    if (own) CHECK_INT(own->refcount, 1); /* a new reference */
    json_decref(own);
}

static void deployment_accessors_match_the_json_of_owd_call(void) {
    fixture f;
    REQUIRE(fixture_open(&f));
    json_t *response = callf(f.store, "DescribeDeployments", "{s:s}", "StackId", f.stack);
    REQUIRE(response != NULL);
    owd_deployment_list *list = NULL;
    REQUIRE(owd_describe_deployments(&list, f.store, f.stack, NULL, NULL, 0) == OWD_OK);

    json_t *deployments = json_object_get(response, "Deployments");
    CHECK_INT(owd_deployment_list_count(list), json_array_size(deployments));
    CHECK_INT(owd_deployment_list_count(list), 2);
    for (size_t i = 0; i < owd_deployment_list_count(list); i++)
        check_accessors(owd_deployment_list_get(list, i), json_array_get(deployments, i));
    json_t *all = owd_deployment_list_to_json(list);
    CHECK(json_equal(all, response));
    if (all) CHECK_INT(all->refcount, 1);
    json_decref(all);

    /* The values the fixture made, spelled out. */
    const owd_deployment *running = owd_deployment_list_get(list, 0), *done = owd_deployment_list_get(list, 1);
    CHECK_STR(owd_deployment_id(running), f.running);
    CHECK_STR(owd_deployment_stack_id(running), f.stack);
    CHECK(owd_deployment_app_id(running) == NULL);
    CHECK_STR(owd_deployment_created_at(running), "2013-07-25T18:57:54+00:00");
    CHECK(owd_deployment_completed_at(running) == NULL);
    CHECK_INT(owd_deployment_duration(running), -1);
    CHECK(owd_deployment_iam_user_arn(running) == NULL);
    CHECK(owd_deployment_comment(running) == NULL);
    CHECK(owd_deployment_custom_json(running) == NULL);
    CHECK_INT(owd_deployment_status(running), OWD_STATUS_RUNNING);
    CHECK_INT(owd_deployment_command_name(running), OWD_COMMAND_CONFIGURE);
    CHECK_INT(owd_deployment_command_arg_count(running), 0);
    CHECK_INT(owd_deployment_instance_count(running), 1);
    CHECK_STR(owd_deployment_instance_id(running, 0), f.instance[1]);

    CHECK_STR(owd_deployment_id(done), f.finished);
    CHECK_STR(owd_deployment_app_id(done), f.app);
    CHECK_STR(owd_deployment_created_at(done), "2013-07-25T18:57:34+00:00");
    CHECK_STR(owd_deployment_completed_at(done), "2013-07-25T18:57:49+00:00");
    CHECK_INT(owd_deployment_duration(done), 15);
    CHECK_STR(owd_deployment_comment(done), "release 42");
    CHECK_STR(owd_deployment_custom_json(done), "{\"key\": \"value\"}");
    CHECK_INT(owd_deployment_status(done), OWD_STATUS_SUCCESSFUL);
    CHECK_INT(owd_deployment_command_name(done), OWD_COMMAND_DEPLOY);
    CHECK_INT(owd_deployment_command_arg_count(done), 2);
    CHECK_STR(owd_deployment_command_arg_name(done, 0), "migrate");
    CHECK_STR(owd_deployment_command_arg_name(done, 1), "extra");
    CHECK_INT(owd_deployment_command_arg_value_count(done, 1), 2);
    CHECK_STR(owd_deployment_command_arg_value(done, 1, 1), "b");
    CHECK_INT(owd_deployment_instance_count(done), 2);
    CHECK_STR(owd_deployment_instance_id(done, 0), f.instance[0]);
    CHECK_STR(owd_deployment_instance_id(done, 1), f.instance[1]);

    /* Out of range. */
    CHECK(owd_deployment_list_get(list, 2) == NULL);
    CHECK(owd_deployment_list_get(list, SIZE_MAX) == NULL);
    CHECK(owd_deployment_list_get(list, (size_t)1 << 40) == NULL);

    owd_deployment_list_free(list);
    json_decref(response);
    owd_store_close(f.store);
}

static void failed_deployment_status_and_every_command_name(void) {
    fixture f;
    REQUIRE(fixture_open(&f));
    f.clock.now = T0 + 100;
    CHECK(complete_commands(f.store, f.running, "failed"));
    const char *ids[] = { f.running };
    owd_deployment_list *list = NULL;
    REQUIRE(owd_describe_deployments(&list, f.store, NULL, NULL, ids, 1) == OWD_OK);
    const owd_deployment *d = owd_deployment_list_get(list, 0);
    CHECK_INT(owd_deployment_status(d), OWD_STATUS_FAILED);
    CHECK_INT(owd_deployment_duration(d), 80);
    CHECK_STR(owd_deployment_completed_at(d), "2013-07-25T18:59:14+00:00");
    owd_deployment_list_free(list);

    /* One deployment of each command: the enum and its name agree with the JSON. */
    static const char *names[] = { "install_dependencies", "update_dependencies", "update_custom_cookbooks",
                                   "execute_recipes", "configure", "setup", "deploy", "rollback", "start",
                                   "stop", "restart", "undeploy" };
    for (int type = OWD_COMMAND_INSTALL_DEPENDENCIES; type <= OWD_COMMAND_UNDEPLOY; type++) {
        CHECK_STR(owd_command_type_name((owd_command_type)type), names[type]);
        int app = type >= OWD_COMMAND_DEPLOY;
        char id[64];
        json_t *r;
        if (type == OWD_COMMAND_EXECUTE_RECIPES)
            r = callf(f.store, "CreateDeployment", "{s:s,s:{s:s,s:{s:[s]}}}", "StackId", f.stack, "Command", "Name",
                      names[type], "Args", "recipes", "phpapp::appsetup");
        else if (app)
            r = callf(f.store, "CreateDeployment", "{s:s,s:s,s:{s:s}}", "StackId", f.stack, "AppId", f.app,
                      "Command", "Name", names[type]);
        else
            r = callf(f.store, "CreateDeployment", "{s:s,s:{s:s}}", "StackId", f.stack, "Command", "Name", names[type]);
        REQUIRE(take_id(r, "DeploymentId", id, sizeof id));
        const char *one[] = { id };
        list = NULL;
        REQUIRE(owd_describe_deployments(&list, f.store, NULL, NULL, one, 1) == OWD_OK);
        json_t *response = callf(f.store, "DescribeDeployments", "{s:[s]}", "DeploymentIds", id);
        check_accessors(owd_deployment_list_get(list, 0), json_array_get(json_object_get(response, "Deployments"), 0));
        CHECK_INT(owd_deployment_command_name(owd_deployment_list_get(list, 0)), type);
        json_decref(response);
        owd_deployment_list_free(list);
    }
    owd_store_close(f.store);
}

static void status_and_command_names_refuse_values_outside_the_enum(void) {
    CHECK_STR(owd_status_name(OWD_STATUS_RUNNING), "running");
    CHECK_STR(owd_status_name(OWD_STATUS_SUCCESSFUL), "successful");
    CHECK_STR(owd_status_name(OWD_STATUS_FAILED), "failed");
    CHECK(owd_status_name((owd_status)3) == NULL);
    CHECK(owd_status_name((owd_status)-1) == NULL);
    CHECK(owd_status_name((owd_status)INT_MAX) == NULL);
    CHECK_STR(owd_command_type_name(OWD_COMMAND_INSTALL_DEPENDENCIES), "install_dependencies");
    CHECK_STR(owd_command_type_name(OWD_COMMAND_UNDEPLOY), "undeploy");
    CHECK(owd_command_type_name((owd_command_type)12) == NULL);
    CHECK(owd_command_type_name((owd_command_type)-1) == NULL);
    CHECK(owd_command_type_name((owd_command_type)INT_MAX) == NULL);
    CHECK(owd_status_name(OWD_STATUS_FAILED) == owd_status_name(OWD_STATUS_FAILED)); /* static */
}

static void list_and_deployment_functions_accept_null(void) {
    CHECK_INT(owd_deployment_list_count(NULL), 0);
    CHECK(owd_deployment_list_get(NULL, 0) == NULL);
    CHECK(owd_deployment_list_to_json(NULL) == NULL);
    owd_deployment_list_free(NULL);
    CHECK(owd_deployment_id(NULL) == NULL);
    CHECK(owd_deployment_stack_id(NULL) == NULL);
    CHECK(owd_deployment_app_id(NULL) == NULL);
    CHECK(owd_deployment_created_at(NULL) == NULL);
    CHECK(owd_deployment_completed_at(NULL) == NULL);
    CHECK_INT(owd_deployment_duration(NULL), -1);
    CHECK(owd_deployment_iam_user_arn(NULL) == NULL);
    CHECK(owd_deployment_comment(NULL) == NULL);
    CHECK(owd_deployment_custom_json(NULL) == NULL);
    CHECK_INT(owd_deployment_status(NULL), OWD_STATUS_RUNNING);
    CHECK_INT(owd_deployment_command_name(NULL), 0);
    CHECK_INT(owd_deployment_command_arg_count(NULL), 0);
    CHECK(owd_deployment_command_arg_name(NULL, 0) == NULL);
    CHECK_INT(owd_deployment_command_arg_value_count(NULL, 0), 0);
    CHECK(owd_deployment_command_arg_value(NULL, 0, 0) == NULL);
    CHECK_INT(owd_deployment_instance_count(NULL), 0);
    CHECK(owd_deployment_instance_id(NULL, 0) == NULL);
    CHECK(owd_deployment_to_json(NULL) == NULL);
}

static void list_is_a_snapshot_that_outlives_its_store(void) {
    fixture f;
    REQUIRE(fixture_open(&f));
    owd_deployment_list *list = NULL;
    REQUIRE(owd_describe_deployments(&list, f.store, f.stack, NULL, NULL, 0) == OWD_OK);
    json_t *before = owd_deployment_list_to_json(list);
    REQUIRE(before != NULL);
    const owd_deployment *running = owd_deployment_list_get(list, 0);
    const char *id = owd_deployment_id(running);

    /* Changes after the snapshot: the running deployment finishes, a new one starts. */
    f.clock.now = T0 + 60;
    CHECK(complete_commands(f.store, f.running, "successful"));
    json_t *r = callf(f.store, "CreateDeployment", "{s:s,s:{s:s}}", "StackId", f.stack, "Command", "Name", "setup");
    CHECK(r != NULL);
    json_decref(r);
    json_t *now = callf(f.store, "DescribeDeployments", "{s:s}", "StackId", f.stack);
    CHECK_INT(json_array_size(json_object_get(now, "Deployments")), 3);
    json_decref(now);

    CHECK_INT(owd_deployment_list_count(list), 2);
    CHECK_INT(owd_deployment_status(running), OWD_STATUS_RUNNING);
    CHECK(owd_deployment_completed_at(running) == NULL);
    CHECK(owd_deployment_id(running) == id); /* the same borrowed string */
    json_t *after = owd_deployment_list_to_json(list);
    CHECK(json_equal(before, after));
    json_decref(after);

    /* The store closes; the list and its strings stay valid until freed. */
    owd_store_close(f.store);
    CHECK_STR(owd_deployment_id(running), f.running);
    CHECK_STR(owd_deployment_stack_id(owd_deployment_list_get(list, 1)), f.stack);
    CHECK_STR(owd_deployment_command_arg_value(owd_deployment_list_get(list, 1), 0, 0), "true");
    after = owd_deployment_list_to_json(list);
    CHECK(json_equal(before, after));
    json_decref(after);
    json_t *one = owd_deployment_to_json(owd_deployment_list_get(list, 1));
    CHECK(json_equal(one, json_array_get(json_object_get(before, "Deployments"), 1)));
    json_decref(one);
    json_decref(before);
    owd_deployment_list_free(list);
}

static void clock_callback_receives_its_context(void) {
    fixture f;
    REQUIRE(fixture_open(&f));
    CHECK(f.clock.calls > 0);
    int calls = f.clock.calls;
    f.clock.now = 1700000000; /* 2023-11-14T22:13:20+00:00 */
    char id[64];
    CHECK(take_id(callf(f.store, "CreateDeployment", "{s:s,s:{s:s}}", "StackId", f.stack, "Command", "Name", "setup"),
                  "DeploymentId", id, sizeof id));
    CHECK(f.clock.calls > calls);
    json_t *r = callf(f.store, "DescribeDeployments", "{s:[s]}", "DeploymentIds", id);
    CHECK_STR(json_string_value(json_object_get(json_array_get(json_object_get(r, "Deployments"), 0), "CreatedAt")),
              "2023-11-14T22:13:20+00:00");
    json_decref(r);
    owd_store_close(f.store);

    /* owd_store_options_init then a clock: works for FFI-style callers too. */
    test_clock other = { 0, 0 }; /* the epoch */
    owd_store_options options;
    REQUIRE(owd_store_options_init(&options, OWD_STORE_OPTIONS_VERSION) == OWD_OK);
    options.clock = clock_read;
    options.clock_context = &other;
    owd_store *store = NULL;
    REQUIRE(owd_store_open(&store, NULL, &options) == OWD_OK);
    char stack[64];
    CHECK(take_id(callf(store, "CreateStack", "{s:s,s:s,s:s,s:s}", "Name", "epoch", "Region", "us-east-1",
                        "ServiceRoleArn", "arn:aws:iam::123456789012:role/r", "DefaultInstanceProfileArn",
                        "arn:aws:iam::123456789012:instance-profile/p"), "StackId", stack, sizeof stack));
    CHECK(other.calls > 0);
    r = callf(store, "CreateApp", "{s:s,s:s,s:s}", "StackId", stack, "Name", "epoch", "Type", "other");
    json_decref(r);
    r = callf(store, "DescribeApps", "{s:s}", "StackId", stack);
    CHECK_STR(json_string_value(json_object_get(json_array_get(json_object_get(r, "Apps"), 0), "CreatedAt")),
              "1970-01-01T00:00:00+00:00");
    json_decref(r);
    owd_store_close(store);
}

/* Whatever int64_t the clock returns, nothing traps (INT64_MIN once did) and timestamps
 * stay within 1970-01-01T00:00:00 ... 9999-12-31T23:59:59, as the header says. */
static void clock_values_out_of_range_are_clamped(void) {
    fixture f;
    REQUIRE(fixture_open(&f));
    char id[64];
    f.clock.now = INT64_MIN;
    REQUIRE(take_id(callf(f.store, "CreateDeployment", "{s:s,s:{s:s}}", "StackId", f.stack, "Command", "Name", "setup"),
                    "DeploymentId", id, sizeof id));
    f.clock.now = INT64_MAX;
    CHECK(complete_commands(f.store, id, "successful"));
    const char *ids[] = { id };
    owd_deployment_list *list = NULL;
    REQUIRE(owd_describe_deployments(&list, f.store, NULL, NULL, ids, 1) == OWD_OK);
    const owd_deployment *d = owd_deployment_list_get(list, 0);
    CHECK_STR(owd_deployment_created_at(d), "1970-01-01T00:00:00+00:00");
    CHECK_STR(owd_deployment_completed_at(d), "9999-12-31T23:59:59+00:00");
    CHECK_INT(owd_deployment_duration(d), 253402300799LL);
    CHECK_INT(owd_deployment_status(d), OWD_STATUS_SUCCESSFUL);
    owd_deployment_list_free(list);

    /* Before 1970 is 1970: a completed deployment never looks running. */
    f.clock.now = -86400;
    REQUIRE(take_id(callf(f.store, "CreateDeployment", "{s:s,s:{s:s}}", "StackId", f.stack, "Command", "Name", "setup"),
                    "DeploymentId", id, sizeof id));
    CHECK(complete_commands(f.store, id, "failed"));
    list = NULL;
    REQUIRE(owd_describe_deployments(&list, f.store, NULL, NULL, ids, 1) == OWD_OK);
    d = owd_deployment_list_get(list, 0);
    CHECK_STR(owd_deployment_created_at(d), "1970-01-01T00:00:00+00:00");
    CHECK_STR(owd_deployment_completed_at(d), "1970-01-01T00:00:00+00:00");
    CHECK_INT(owd_deployment_duration(d), 0);
    CHECK_INT(owd_deployment_status(d), OWD_STATUS_FAILED);
    owd_deployment_list_free(list);
    owd_store_close(f.store);
}

/* ------------------------------------------------------------------------------------ */
/* Threads                                                                              */

typedef struct {
    owd_store *store;
    int index;
    int ok;
} thread_work;

static void *thread_errors(void *p) {
    thread_work *w = p;
    w->ok = 1;
    /* A new thread starts clear, whatever other threads did. */
    if (!error_clear()) w->ok = 0;
    char stack[32];
    snprintf(stack, sizeof stack, "thread-%d", w->index);
    for (int round = 0; round < 20; round++) {
        owd_deployment_list *list = NULL;
        if (owd_describe_deployments(&list, w->store, stack, NULL, NULL, 0) != OWD_ENOTFOUND) w->ok = 0;
        const owd_error *e = owd_error_last();
        char expected[64];
        snprintf(expected, sizeof expected, "Unable to find stack with ID %s", stack);
        if (e->code != OWD_ENOTFOUND || strcmp(e->message, expected) != 0) w->ok = 0;
        if (owd_describe_deployments(&list, w->store, NULL, NULL, NULL, 0) != OWD_OK) w->ok = 0;
        if (owd_deployment_list_count(list) != 2) w->ok = 0;
        owd_deployment_list_free(list);
        if (!error_clear()) w->ok = 0;
    }
    /* Leave an error behind: the main thread must not see it. */
    owd_store_options_init(NULL, 1);
    return NULL;
}

static void error_last_is_per_thread_and_a_store_is_shared(void) {
    fixture f;
    REQUIRE(fixture_open(&f));
    CHECK_INT(owd_call(NULL, f.store, "NoSuchOperation", NULL), OWD_EINVAL); /* main's own error */
    CHECK_EINVAL_NAMING("out");
    char main_message[256];
    snprintf(main_message, sizeof main_message, "%s", owd_error_last()->message);

    enum { THREADS = 4 };
    pthread_t threads[THREADS];
    thread_work work[THREADS];
    for (int i = 0; i < THREADS; i++) {
        work[i] = (thread_work){ f.store, i, 0 };
        REQUIRE(pthread_create(&threads[i], NULL, thread_errors, &work[i]) == 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(threads[i], NULL);
        CHECK(work[i].ok);
    }
    CHECK_INT(owd_error_last()->code, OWD_EINVAL);
    CHECK_STR(owd_error_last()->message, main_message);
    owd_store_close(f.store);
}

int main(void) {
    RUN(error_last_is_never_null_and_clear_before_any_failure);
    RUN(version_number_and_string_match_the_header);
    RUN(strerror_describes_every_code);
    RUN(error_last_is_cleared_by_a_success);
    RUN(free_and_json_decref_accept_null_and_release);
    RUN(store_options_init_fills_the_defaults_of_the_macro);
    RUN(store_options_init_refuses_null_and_bad_versions);
    RUN(store_open_refuses_null_out);
    RUN(store_open_with_null_path_and_options_is_a_private_memory_store);
    RUN(store_open_refuses_an_empty_path);
    RUN(store_open_refuses_bad_options);
    RUN(text_arguments_that_are_not_utf8_are_invalid_arguments);
    RUN(store_open_accepts_every_durability_and_a_zero_timeout);
    RUN(store_file_is_created_0600_and_a_foreign_file_is_refused);
    RUN(store_as_refuses_null_out_and_null_store);
    RUN(store_close_accepts_null);
    RUN(store_as_acts_as_the_user_on_the_same_data);
    RUN(call_refuses_null_arguments);
    RUN(call_reports_unknown_operations_and_aws_errors);
    RUN(call_json_refuses_null_arguments_with_an_error_body);
    RUN(call_json_error_body_is_aws_json_1_1);
    RUN(call_and_call_json_are_equivalent);
    RUN(section_12_instance_operations_work_through_the_abi);
    RUN(describe_deployments_refuses_null_arguments);
    RUN(describe_deployments_follows_the_rules_of_describe);
    RUN(deployment_accessors_match_the_json_of_owd_call);
    RUN(failed_deployment_status_and_every_command_name);
    RUN(status_and_command_names_refuse_values_outside_the_enum);
    RUN(list_and_deployment_functions_accept_null);
    RUN(list_is_a_snapshot_that_outlives_its_store);
    RUN(clock_callback_receives_its_context);
    RUN(clock_values_out_of_range_are_clamped);
    RUN(error_last_is_per_thread_and_a_store_is_shared);
    return harness_report();
}
