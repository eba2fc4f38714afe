/* The bad-input matrix (issue 8), through owd_call_json (text) and owd_call (json_t):
 * for every member of every operation (walking tests/hardening/shapes.json, the table the
 * validator uses): a value of each wrong JSON type, invalid UTF-8 and NUL bytes in its
 * strings, strings of 1 MiB and at the limits, lists of 10,000 and 10,001 entries, maps
 * of 1,000 and 1,001, unknown and missing members at every level; then deep nesting
 * (100,000 levels), unknown operation names, request text that is not an object or not
 * JSON, and a request text over the size limit. Each must fail with the right code and a
 * message naming the fault, and the store's full dump (every Describe answer, and every
 * row of the SQLite file) must be identical before and after.
 *
 * Then injection: quotes, SQL fragments and control characters in IDs, comments,
 * CustomJson, Args, names and ARNs are stored and returned byte for byte, or refused.
 *
 * (The NULL-per-pointer-argument matrix of every exported function is tests/c/test_abi.c.)
 *
 * usage: badinput <shapes.json> <scratch directory>
 */
#include <owd.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int passed, failed;
static owd_store *store;
static char *baseline;
static char stack_id[64], layer_id[64], app_id[64], instance_id[64], deployment_id[64], command_id[64];
static const char *db_path;

#define FAIL(...) do { failed++; fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
                       fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } while (0)
#define CHECK(c, ...) do { if (c) passed++; else FAIL(__VA_ARGS__); } while (0)

/* --- text buffers ------------------------------------------------------------------ */
typedef struct { char *p; size_t n, cap; } buf;
static void put(buf *b, const void *p, size_t n) {
    if (b->n + n + 1 > b->cap) {
        b->cap = (b->n + n + 1) * 2;
        b->p = realloc(b->p, b->cap);
        if (!b->p) abort();
    }
    memcpy(b->p + b->n, p, n);
    b->n += n;
    b->p[b->n] = 0;
}
static void puts_(buf *b, const char *s) { put(b, s, strlen(s)); }

/* --- the store's full dump ------------------------------------------------------------ */
static void describe(buf *b, const char *op, const char *request) {
    char *out = NULL;
    int rc = owd_call_json(&out, store, op, request);
    puts_(b, op);
    puts_(b, rc == 0 ? " " : " FAILED ");
    if (out) puts_(b, out);
    puts_(b, "\n");
    owd_free(out);
}

static void dump_rows(buf *b) {
    sqlite3 *db;
    if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        puts_(b, "cannot open the store file\n");
        sqlite3_close(db);
        return;
    }
    sqlite3_stmt *tables;
    sqlite3_prepare_v2(db, "SELECT name FROM sqlite_master WHERE type='table' ORDER BY name", -1, &tables, NULL);
    while (sqlite3_step(tables) == SQLITE_ROW) {
        char sql[256];
        snprintf(sql, sizeof sql, "SELECT * FROM \"%s\"", (const char *)sqlite3_column_text(tables, 0));
        puts_(b, sql);
        puts_(b, "\n");
        sqlite3_stmt *rows;
        if (sqlite3_prepare_v2(db, sql, -1, &rows, NULL) != SQLITE_OK) continue;
        while (sqlite3_step(rows) == SQLITE_ROW) {
            for (int i = 0; i < sqlite3_column_count(rows); i++) {
                char t[32];
                const void *v = sqlite3_column_blob(rows, i);
                int n = sqlite3_column_bytes(rows, i);
                snprintf(t, sizeof t, "|%d:%d:", sqlite3_column_type(rows, i), n);
                puts_(b, t);
                if (v) put(b, v, (size_t)n);
            }
            puts_(b, "\n");
        }
        sqlite3_finalize(rows);
    }
    sqlite3_finalize(tables);
    sqlite3_close(db);
}

static char *dump(void) {
    buf b = {0};
    char r[256];
    describe(&b, "DescribeStacks", "{}");
    describe(&b, "DescribeUserProfiles", "{}");
    snprintf(r, sizeof r, "{\"StackId\":\"%s\"}", stack_id);
    describe(&b, "DescribeLayers", r);
    describe(&b, "DescribeApps", r);
    describe(&b, "DescribeInstances", r);
    describe(&b, "DescribeDeployments", r);
    describe(&b, "DescribePermissions", r);
    snprintf(r, sizeof r, "{\"DeploymentId\":\"%s\"}", deployment_id);
    describe(&b, "DescribeCommands", r);
    dump_rows(&b);
    return b.p;
}

/* The store has not changed since the baseline. */
static void unchanged(const char *what) {
    char *now = dump();
    CHECK(strcmp(now, baseline) == 0, "the store changed after: %s", what);
    free(now);
}

/* --- calls ------------------------------------------------------------------------------ */
static const char *type_name(int code) {
    switch (code) {
    case OWD_EVALIDATION: return "ValidationException";
    case OWD_ENOTFOUND: return "ResourceNotFoundException";
    case OWD_EACCESS: return "AccessDeniedException";
    default: return NULL;
    }
}

/* Checks the last failure: `code`, the matching type, a message holding `needle`, and (for
 * owd_call_json) the same in the error body `out`. */
static void check_failure(const char *via, const char *op, int rc, int code, const char *needle, const char *out) {
    const owd_error *e = owd_error_last();
    CHECK(rc == code, "%s %.100s: returned %d, expected %d (%s: %.300s) [wanted \"%s\"]", via, op, rc, code, e->type, e->message, needle);
    if (rc != code) return;
    if (type_name(code)) CHECK(strcmp(e->type, type_name(code)) == 0, "%s %s: type %s", via, op, e->type);
    CHECK(e->message[0] && strstr(e->message, needle) != NULL, "%s %.100s: message \"%.300s\" does not name \"%s\"", via, op, e->message, needle);
    if (out) {
        json_t *body = json_loads(out, 0, NULL);
        CHECK(body && json_object_size(body) == 2 && json_is_string(json_object_get(body, "__type")) &&
                  strcmp(json_string_value(json_object_get(body, "__type")), e->type) == 0 &&
                  strcmp(json_string_value(json_object_get(body, "message")), e->message) == 0,
              "%s %s: error body %.300s", via, op, out);
        json_decref(body);
    }
}

static void expect_text(const char *op, const char *request, int code, const char *needle) {
    char *out = NULL;
    int rc = owd_call_json(&out, store, op, request);
    CHECK(out != NULL, "owd_call_json %s: *out NULL", op);
    check_failure("owd_call_json", op, rc, code, needle, out);
    owd_free(out);
}

static void expect_json(const char *op, const json_t *request, int code, const char *needle) {
    json_t *out = (json_t *)1;
    int rc = owd_call(&out, store, op, request);
    CHECK(out == NULL, "owd_call %s: *out set on failure", op);
    if (out != (json_t *)1) json_decref(out);
    check_failure("owd_call", op, rc, code, needle, NULL);
}

/* Both entry points (the text from jansson's dump; a request jansson cannot dump, e.g.
 * invalid UTF-8, goes through owd_call only). */
static void expect(const char *op, const json_t *request, int code, const char *needle) {
    expect_json(op, request, code, needle);
    char *text = json_dumps(request, JSON_COMPACT | JSON_ENCODE_ANY);
    if (text) expect_text(op, text, code, needle);
    free(text);
}

static json_t *ok_call(const char *op, const char *fmt, ...) {
    char request[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(request, sizeof request, fmt, ap);
    va_end(ap);
    char *out = NULL;
    int rc = owd_call_json(&out, store, op, request);
    if (rc != 0) {
        FAIL("%s %s: %s", op, request, out);
        owd_free(out);
        return json_object();
    }
    json_t *j = json_loads(out, 0, NULL);
    owd_free(out);
    return j;
}

static void take(char *dst, json_t *j, const char *member) {
    snprintf(dst, 64, "%s", json_string_value(json_object_get(j, member)) ? json_string_value(json_object_get(j, member)) : "");
    json_decref(j);
}

/* --- the shape walk ---------------------------------------------------------------------- */
/* A member's place in a request: `build(value)` makes {"A": {"B": [value]}} etc. */
typedef struct { const char *keys[8]; int list[8]; int depth; char path[256]; } place;

static json_t *build(const place *p, json_t *value) {
    json_t *v = value;
    for (int i = p->depth - 1; i >= 0; i--) {
        if (p->list[i]) { json_t *a = json_array(); json_array_append_new(a, v); v = a; }
        json_t *o = json_object();
        json_object_set_new_nocheck(o, p->keys[i], v);
        v = o;
    }
    return v;
}

static const char *kind_of(const json_t *shape) { return json_string_value(json_object_get(shape, "kind")); }

static json_t *wrong(int i) {
    switch (i) {
    case 0: return json_string("x");
    case 1: return json_integer(7);
    case 2: return json_real(1.5);
    case 3: return json_true();
    case 4: return json_array();
    default: return json_object();
    }
}
static const char *const wrong_names[] = {"string", "integer", "number", "boolean", "list", "object"};

static int cases;

static void one(const char *op, json_t *request, int code, const char *needle) {
    expect(op, request, code, needle);
    json_decref(request);
    cases++;
}

/* Through owd_call only: jansson cannot write (or would refuse to read) such a request as
 * text; test_text_level covers the text forms. */
static void one_json(const char *op, json_t *request, int code, const char *needle) {
    expect_json(op, request, code, needle);
    json_decref(request);
    cases++;
}

/* A valid value of `shape` with its required members only (so that the one left out is
 * the first fault). */
static json_t *minimal(const json_t *shape) {
    const char *kind = json_string_value(json_object_get(shape, "kind"));
    if (strcmp(kind, "string") == 0) {
        const json_t *values = json_object_get(shape, "values");
        return json_is_array(values) ? json_deep_copy(json_array_get(values, 0)) : json_string("x");
    }
    if (strcmp(kind, "integer") == 0) return json_integer(1);
    if (strcmp(kind, "boolean") == 0) return json_true();
    if (strcmp(kind, "list") == 0) return json_array();
    json_t *o = json_object();
    if (strcmp(kind, "structure") == 0) {
        const json_t *members = json_object_get(shape, "members");
        for (size_t i = 0; i < json_array_size(members); i++) {
            const json_t *m = json_array_get(members, i);
            if (json_is_true(json_object_get(m, "required")))
                json_object_set_new(o, json_string_value(json_object_get(m, "name")), minimal(json_object_get(m, "shape")));
        }
    }
    return o;
}

/* A repeated string of `n` bytes. */
static json_t *long_string(size_t n) {
    char *s = malloc(n);
    memset(s, 'a', n);
    json_t *j = json_stringn(s, n);
    free(s);
    return j;
}

static void walk(const char *op, const json_t *shape, place *p);

static void member_cases(const char *op, const json_t *shape, place *p) {
    const char *kind = kind_of(shape);
    char needle[512];
    /* Each wrong JSON type. */
    for (int w = 0; w < 6; w++) {
        int ok = (strcmp(kind, "string") == 0 && w == 0) || (strcmp(kind, "integer") == 0 && w == 1) ||
                 (strcmp(kind, "boolean") == 0 && w == 3) || (strcmp(kind, "list") == 0 && w == 4) ||
                 ((strcmp(kind, "map") == 0 || strcmp(kind, "structure") == 0) && w == 5);
        if (ok) continue;
        snprintf(needle, sizeof needle, "Invalid type for parameter %s, value type: %s", p->path, wrong_names[w]);
        one(op, build(p, wrong(w)), OWD_EVALIDATION, needle);
    }
    if (strcmp(kind, "string") == 0) {
        /* Invalid UTF-8 and NUL bytes (json_t only: jansson's text would refuse them). */
        static const char *const bad[] = {"\xff", "a\xc3", "\xed\xa0\x80", "\xc0\xaf", "a\0b"};
        static const size_t bad_len[] = {1, 2, 3, 2, 3};
        snprintf(needle, sizeof needle, "Parameter %s is not valid UTF-8 text", p->path);
        for (int i = 0; i < 5; i++) one_json(op, build(p, json_stringn_nocheck(bad[i], bad_len[i])), OWD_EVALIDATION, needle);
        /* A string of 1 MiB, and one byte over the member's limit. */
        size_t max = (size_t)json_integer_value(json_object_get(shape, "max"));
        /* (CompleteCommand's Log may be longer: up to Limits.log, 8 MiB.) */
        if (max < (1 << 20)) {
            snprintf(needle, sizeof needle, "Parameter %s is 1048576 bytes long; the maximum is %zu", p->path, max);
            one(op, build(p, long_string(1 << 20)), OWD_EVALIDATION, needle);
        }
        snprintf(needle, sizeof needle, "Parameter %s is %zu bytes long; the maximum is %zu", p->path, max + 1, max);
        one(op, build(p, long_string(max + 1)), OWD_EVALIDATION, needle);
    } else if (strcmp(kind, "list") == 0) {
        json_t *a = json_array();
        for (int i = 0; i < 10001; i++) json_array_append_new(a, json_string("x"));
        snprintf(needle, sizeof needle, "Parameter %s has 10001 entries; the maximum is 10000", p->path);
        one(op, build(p, a), OWD_EVALIDATION, needle);
    } else if (strcmp(kind, "map") == 0) {
        json_t *m = json_object();
        for (int i = 0; i < 1001; i++) {
            char k[16];
            snprintf(k, sizeof k, "k%d", i);
            json_object_set_new(m, k, json_string("x"));
        }
        snprintf(needle, sizeof needle, "Parameter %s has 1001 entries; the maximum is 1000", p->path);
        one(op, build(p, m), OWD_EVALIDATION, needle);
        /* Invalid UTF-8 and NUL in a key of the map. */
        m = json_object();
        json_object_setn_new_nocheck(m, "k\xff", 2, json_string("x"));
        snprintf(needle, sizeof needle, "A member name in %s is not valid UTF-8 text", p->path);
        one_json(op, build(p, m), OWD_EVALIDATION, needle);
        m = json_object();
        json_object_setn_new_nocheck(m, "k\0x", 3, json_string("x"));
        one_json(op, build(p, m), OWD_EVALIDATION, needle);
    } else if (strcmp(kind, "structure") == 0) {
        /* An unknown member inside, named by its path. */
        json_t *o = json_object();
        json_object_set_new(o, "Bogus", json_true());
        snprintf(needle, sizeof needle, "Unknown parameter in input: \"%s.Bogus\"", p->path);
        one(op, build(p, o), OWD_EVALIDATION, needle);
    }
    walk(op, shape, p);
}

/* Recurses into lists (as [value]), maps (as {"k": value}) and structures. */
static void walk(const char *op, const json_t *shape, place *p) {
    const char *kind = kind_of(shape);
    if (p->depth >= 7) return;
    if (strcmp(kind, "list") == 0 || strcmp(kind, "map") == 0) {
        const json_t *el = json_object_get(shape, "element");
        place q = *p;
        if (strcmp(kind, "list") == 0) {
            /* build() wraps the last key's value in a list: mark it and extend the path. */
            if (q.depth == 0 || q.list[q.depth - 1]) return; /* lists of lists: none in the table */
            q.list[q.depth - 1] = 1;
            if (snprintf(q.path, sizeof q.path, "%s[0]", p->path) >= (int)sizeof q.path) return; /* paths are short */
            if (strcmp(kind_of(el), "structure") == 0) walk(op, el, &q);
            else member_cases(op, el, &q);
        } else {
            q.keys[q.depth] = "k";
            q.list[q.depth] = 0;
            q.depth++;
            if (snprintf(q.path, sizeof q.path, "%s.k", p->path) >= (int)sizeof q.path) return; /* paths are short */
            member_cases(op, el, &q);
        }
        return;
    }
    if (strcmp(kind, "structure") != 0) return;
    const json_t *members = json_object_get(shape, "members");
    for (size_t i = 0; i < json_array_size(members); i++) {
        const json_t *m = json_array_get(members, i);
        const char *name = json_string_value(json_object_get(m, "name"));
        place q = *p;
        q.keys[q.depth] = name;
        q.list[q.depth] = 0;
        q.depth++;
        if (snprintf(q.path, sizeof q.path, "%s%s%s", p->path, p->depth ? "." : "", name) >= (int)sizeof q.path) return; /* paths are short */
        /* A required member left out (alone in its structure): named by its path. */
        if (json_is_true(json_object_get(m, "required"))) {
            char needle[300];
            snprintf(needle, sizeof needle, "Missing required parameter in input: \"%s\"", q.path);
            json_t *rest = minimal(shape);
            json_object_del(rest, name);
            if (p->depth == 0) {
                json_decref(rest);
                rest = json_object(); /* the top: the other required members may come later */
                const json_t *all = json_object_get(shape, "members");
                for (size_t k = 0; k < json_array_size(all); k++) {
                    const json_t *o = json_array_get(all, k);
                    if (o != m && json_is_true(json_object_get(o, "required")))
                        json_object_set_new(rest, json_string_value(json_object_get(o, "name")), minimal(json_object_get(o, "shape")));
                }
            }
            one(op, p->depth ? build(p, rest) : rest, OWD_EVALIDATION, needle);
        }
        member_cases(op, json_object_get(m, "shape"), &q);
    }
}

static void test_matrix(const json_t *shapes) {
    const char *op;
    json_t *shape;
    json_object_foreach((json_t *)shapes, op, shape) {
        place p = {.depth = 0, .path = ""};
        /* Unknown members at the top, with and without a known one beside. */
        json_t *r = json_pack("{s:b}", "Bogus", 1);
        one(op, r, OWD_EVALIDATION, "Unknown parameter in input: \"Bogus\"");
        r = json_object();
        json_object_setn_new_nocheck(r, "\xff", 1, json_true());
        one_json(op, r, OWD_EVALIDATION, "A member name in the request is not valid UTF-8 text");
        r = json_object();
        json_object_setn_new_nocheck(r, "Stack\0Id", 8, json_true());
        one_json(op, r, OWD_EVALIDATION, "A member name in the request is not valid UTF-8 text");
        /* No request at all (NULL, and "" as text, mean {}): a required member is missing.
         * Regression: NULL skipped the validator and crashed in the handler
         * (fuzz/regressions/null-request-UpdateApp-crash-8a9d9d68). */
        const json_t *members = json_object_get(shape, "members");
        for (size_t i = 0; i < json_array_size(members); i++) {
            if (!json_is_true(json_object_get(json_array_get(members, i), "required"))) continue;
            expect_json(op, NULL, OWD_EVALIDATION, "Missing required parameter in input");
            expect_text(op, NULL, OWD_EVALIDATION, "Missing required parameter in input");
            expect_text(op, "", OWD_EVALIDATION, "Missing required parameter in input");
            expect_text(op, "{}", OWD_EVALIDATION, "Missing required parameter in input");
            break;
        }
        walk(op, shape, &p);
        unchanged(op);
    }
    printf("  shape matrix: %d cases x 2 entry points over %zu operations\n", cases, json_object_size(shapes));
}

/* --- the rest of the matrix --------------------------------------------------------------- */
static void test_text_level(void) {
    /* Raw bytes that are not UTF-8 in the text, in a value and in a key; "\u0000". */
    expect_text("DescribeDeployments", "{\"StackId\":\"\xff\xfe\"}", OWD_EINVAL, "request is not valid JSON");
    expect_text("DescribeDeployments", "{\"Stack\xc3\":\"x\"}", OWD_EINVAL, "request is not valid JSON");
    expect_text("DescribeDeployments", "{\"StackId\":\"a\\u0000b\"}", OWD_EINVAL, "request is not valid JSON");
    expect_text("DescribeDeployments", "{\"Stack\\u0000Id\":\"a\"}", OWD_EINVAL, "request is not valid JSON");
    expect_text("CreateDeployment", "{\"StackId\":\"x\",\"Command\":{\"Name\":\"deploy\"},\"Comment\":\"\\ud800\"}",
                OWD_EINVAL, "request is not valid JSON");
    /* Not an object; not JSON; duplicates. */
    /* The one rule of owd_call_json's text (owd.h): JSON that is not an object is a
     * ValidationException naming its type, as owd_call answers such a json_t; text that is
     * not JSON is OWD_EINVAL. */
    static const char *const not_object[][2] = {{"[]", "list"}, {"[1,2]", "list"}, {"1", "integer"},
                                                {"\"x\"", "string"}, {"null", "null"}, {"true", "boolean"},
                                                {"1.5", "number"}};
    for (size_t i = 0; i < sizeof not_object / sizeof *not_object; i++) {
        char needle[64];
        snprintf(needle, sizeof needle, "The request must be a JSON object, not %s", not_object[i][1]);
        expect_text("DescribeStacks", not_object[i][0], OWD_EVALIDATION, needle);
    }
    static const char *const not_json[] = {" ", "{", "{}x", "{} {}", "{\"a\":}", "\xef\xbb\xbf{}",
                                           "{\"StackIds\":[\"a\",]}", "1 2", "\"x"};
    for (size_t i = 0; i < sizeof not_json / sizeof *not_json; i++)
        expect_text("DescribeStacks", not_json[i], OWD_EINVAL, "request is not valid JSON");
    expect_text("DescribeDeployments", "{\"StackId\":\"a\",\"StackId\":\"b\"}", OWD_EINVAL, "duplicate object key");
    json_t *j;
    json_t *non_objects[] = {json_array(), json_string("x"), json_integer(1), json_true(), json_null(), json_real(1)};
    static const char *const names[] = {"list", "string", "integer", "boolean", "null", "number"};
    for (int i = 0; i < 6; i++) {
        char needle[64];
        snprintf(needle, sizeof needle, "The request must be a JSON object, not %s", names[i]);
        expect_json("DescribeStacks", non_objects[i], OWD_EVALIDATION, needle);
        json_decref(non_objects[i]);
    }
    /* Unknown operation names (and names that are not text). */
    static const char *const unknown[] = {"Nope", "", "describeDeployments", "DescribeDeployments ", " DescribeDeployments",
                                          "DeleteEverything", "DescribeDeployments\n", "'; DROP TABLE deployments; --"};
    for (size_t i = 0; i < sizeof unknown / sizeof *unknown; i++) {
        expect_text(unknown[i], "{}", OWD_EINVAL, "Unknown operation");
        j = json_object();
        expect_json(unknown[i], j, OWD_EINVAL, "Unknown operation");
        json_decref(j);
    }
    /* Operations of AWS's model that owd does not serve: their own code, naming them. */
    static const char *const unsupported[] = {"AssignVolume", "GrantAccess", "RegisterRdsDbInstance", "SetLoadBasedAutoScaling"};
    for (size_t i = 0; i < sizeof unsupported / sizeof *unsupported; i++) {
        expect_text(unsupported[i], "{}", OWD_EUNSUPPORTED, "owd manages no AWS resources");
        expect_text(unsupported[i], "{\"Bogus\": [1, {}]}", OWD_EUNSUPPORTED, unsupported[i]);
        j = json_object();
        expect_json(unsupported[i], j, OWD_EUNSUPPORTED, "is not supported");
        json_decref(j);
    }
    char *long_name = malloc((1 << 20) + 1);
    memset(long_name, 'A', 1 << 20);
    long_name[1 << 20] = 0;
    expect_text(long_name, "{}", OWD_EINVAL, "operation is longer than 65536 bytes");
    expect_text("\xff\xfe", "{}", OWD_EINVAL, "operation is not valid UTF-8 text");
    free(long_name);
    unchanged("text-level cases");
}

static void test_deep_nesting(void) {
    /* 100,000 levels as text: jansson refuses past its own depth limit. */
    size_t depth = 100000;
    buf b = {0};
    puts_(&b, "{\"StackIds\":");
    for (size_t i = 0; i < depth; i++) put(&b, "[", 1);
    for (size_t i = 0; i < depth; i++) put(&b, "]", 1);
    puts_(&b, "}");
    expect_text("DescribeStacks", b.p, OWD_EINVAL, "request is not valid JSON");
    b.n = 0;
    for (size_t i = 0; i < depth; i++) put(&b, "{\"a\":", 5);
    for (size_t i = 0; i < depth; i++) put(&b, "}", 1);
    expect_text("DescribeStacks", b.p, OWD_EINVAL, "request is not valid JSON");
    free(b.p);
    /* Within jansson's limit: the first level of the wrong type is named. */
    b = (buf){0};
    puts_(&b, "{\"Command\":{\"Name\":\"deploy\",\"Args\":{\"k\":");
    for (int i = 0; i < 1500; i++) put(&b, "[", 1);
    for (int i = 0; i < 1500; i++) put(&b, "]", 1);
    puts_(&b, "}},\"StackId\":\"x\"}");
    expect_text("CreateDeployment", b.p, OWD_EVALIDATION, "Invalid type for parameter Command.Args.k[0], value type: list");
    free(b.p);
    /* 100,000 levels as a json_t through owd_call (000 deep in jansson, every level held here, so that freeing
     * it does not recurse 100). */
    json_t **levels = malloc(depth * sizeof *levels);
    levels[depth - 1] = json_array();
    for (size_t i = depth - 1; i-- > 0;) {
        levels[i] = json_array();
        json_array_append(levels[i], levels[i + 1]);
    }
    json_t *request = json_pack("{s:{s:s,s:{s:O}},s:s}", "Command", "Name", "deploy", "Args", "k", levels[0], "StackId", "x");
    expect_json("CreateDeployment", request, OWD_EVALIDATION, "Invalid type for parameter Command.Args.k[0], value type: list");
    json_t *r2 = json_pack("{s:O}", "Bogus", levels[0]);
    expect_json("DescribeStacks", r2, OWD_EVALIDATION, "Unknown parameter in input: \"Bogus\"");
    json_t *r3 = json_pack("{s:O}", "StackIds", levels[0]);
    expect_json("DescribeStacks", r3, OWD_EVALIDATION, "Invalid type for parameter StackIds[0], value type: list");
    json_decref(request);
    json_decref(r2);
    json_decref(r3);
    for (size_t i = 0; i < depth; i++) json_decref(levels[i]);
    free(levels);
    unchanged("deep nesting");
}

static void test_sizes(void) {
    /* Limits accepted (shape-wise): 10,000 entries, 1,000 map entries, strings at the limit. */
    json_t *ids = json_array();
    for (int i = 0; i < 10000; i++) json_array_append_new(ids, json_string("'; DROP TABLE deployments; --"));
    json_t *r = json_pack("{s:o}", "DeploymentIds", ids);
    expect("DescribeDeployments", r, OWD_ENOTFOUND, "Unable to find deployment with ID '; DROP TABLE deployments; --");
    json_decref(r);
    json_t *s = long_string(65536);
    r = json_pack("{s:O}", "StackId", s);
    expect("DescribeDeployments", r, OWD_ENOTFOUND, "Unable to find stack with ID aaaa");
    json_decref(r);
    json_decref(s);
    /* The whole request text: at most OWD's limit (16 MiB). */
    size_t n = 16 * 1024 * 1024 + 1;
    char *text = malloc(n + 1);
    memset(text, ' ', n);
    memcpy(text, "{}", 2);
    text[n] = 0;
    expect_text("DescribeStacks", text, OWD_EVALIDATION, "request text is longer than 16777216 bytes");
    text[n - 1] = 0; /* exactly 16 MiB: parsed */
    char *out = NULL;
    CHECK(owd_call_json(&out, store, "DescribeStacks", text) == OWD_OK, "a request of exactly 16 MiB: %s", out);
    owd_free(out);
    free(text);
    unchanged("sizes");
}

/* --- injection -------------------------------------------------------------------------------- */
static const char *const nasty[] = {
    "'; DROP TABLE deployments; --",
    "\" OR \"1\"=\"1",
    "Robert'); DELETE FROM stacks WHERE ('1'='1",
    "\\\"\\\\ \\u0000 %s %n $(rm -rf /) `id`",
    "\x01\x02\x03\x07\x08\t\n\v\f\r\x1b[31m\x1f\x7f",
    "line1\nline2\r\n",
    "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 \xe2\x80\xae",
    "<script>alert(1)</script>",
    "?1 ?2 :a @b $c",
};
#define NASTY (sizeof nasty / sizeof *nasty)

/* Member `name` of `o` is exactly `want` (length and bytes). */
static int same(const json_t *o, const char *name, const char *want) {
    const json_t *v = json_object_get(o, name);
    return json_is_string(v) && json_string_length(v) == strlen(want) && memcmp(json_string_value(v), want, strlen(want)) == 0;
}

static void test_injection(void) {
    for (size_t i = 0; i < NASTY; i++) {
        const char *x = nasty[i];
        /* Stored as given: Comment, CustomJson (a JSON object holding it), Args, stack name,
         * attributes, an IAM user ARN. */
        json_t *custom = json_pack("{s:s}", x, x);
        char *custom_text = json_dumps(custom, JSON_COMPACT);
        json_decref(custom);
        json_t *req = json_pack("{s:s,s:s,s:s,s:{s:s,s:{s:[s]}},s:s}", "StackId", stack_id, "AppId", app_id,
                                "Comment", x, "Command", "Name", "deploy", "Args", x, x, "CustomJson", custom_text);
        json_t *out = NULL;
        int rc = owd_call(&out, store, "CreateDeployment", req);
        CHECK(rc == 0, "CreateDeployment with %s: %s", x, owd_error_last()->message);
        json_decref(req);
        if (rc != 0) { free(custom_text); continue; }
        char id[64];
        snprintf(id, sizeof id, "%s", json_string_value(json_object_get(out, "DeploymentId")));
        json_decref(out);
        /* Returned byte for byte: through owd_call, owd_call_json and the handles. */
        req = json_pack("{s:[s]}", "DeploymentIds", id);
        rc = owd_call(&out, store, "DescribeDeployments", req);
        json_t *d = rc == 0 ? json_array_get(json_object_get(out, "Deployments"), 0) : NULL;
        CHECK(d && same(d, "Comment", x) && same(d, "CustomJson", custom_text), "DescribeDeployments returned another Comment/CustomJson for %s", x);
        json_t *args = json_object_get(json_object_get(d, "Command"), "Args");
        CHECK(json_object_size(args) == 1 && json_is_array(json_object_get(args, x)), "Args key lost for %s", x);
        CHECK(json_array_size(json_object_get(args, x)) == 1 && json_string_length(json_array_get(json_object_get(args, x), 0)) == strlen(x) &&
                  strcmp(json_string_value(json_array_get(json_object_get(args, x), 0)), x) == 0,
              "Args value changed for %s", x);
        json_decref(out);
        char *text = json_dumps(req, JSON_COMPACT), *tout = NULL;
        rc = owd_call_json(&tout, store, "DescribeDeployments", text);
        json_t *parsed = rc == 0 ? json_loads(tout, 0, NULL) : NULL;
        d = json_array_get(json_object_get(parsed, "Deployments"), 0);
        CHECK(d && same(d, "Comment", x) && same(d, "CustomJson", custom_text), "owd_call_json returned another Comment for %s", x);
        json_decref(parsed);
        owd_free(tout);
        free(text);
        json_decref(req);
        owd_deployment_list *list = NULL;
        const char *one_id = id;
        rc = owd_describe_deployments(&list, store, NULL, NULL, &one_id, 1);
        const owd_deployment *h = owd_deployment_list_get(list, 0);
        CHECK(h && strcmp(owd_deployment_comment(h), x) == 0 && strcmp(owd_deployment_custom_json(h), custom_text) == 0 &&
                  strcmp(owd_deployment_command_arg_name(h, 0), x) == 0 && strcmp(owd_deployment_command_arg_value(h, 0, 0), x) == 0,
              "the handles returned another value for %s", x);
        owd_deployment_list_free(list);
        free(custom_text);
        /* IDs holding it: not found, the ID quoted back exactly; nothing interpreted. */
        req = json_pack("{s:[s]}", "DeploymentIds", x);
        char needle[256];
        snprintf(needle, sizeof needle, "Unable to find deployment with ID %s", x);
        expect("DescribeDeployments", req, OWD_ENOTFOUND, needle);
        json_decref(req);
        req = json_pack("{s:s}", "StackId", x);
        snprintf(needle, sizeof needle, "Unable to find stack with ID %s", x);
        expect("DescribeLayers", req, OWD_ENOTFOUND, needle);
        json_decref(req);
        /* A stack and a user profile named with it. */
        req = json_pack("{s:s,s:s,s:s,s:s,s:{s:s}}", "Name", x, "Region", "us-east-1", "ServiceRoleArn", x,
                        "DefaultInstanceProfileArn", x, "Attributes", "Color", x);
        rc = owd_call(&out, store, "CreateStack", req);
        CHECK(rc == 0, "CreateStack named %s: %s", x, owd_error_last()->message);
        json_decref(req);
        if (rc == 0) {
            req = json_pack("{s:[O]}", "StackIds", json_object_get(out, "StackId"));
            json_decref(out);
            rc = owd_call(&out, store, "DescribeStacks", req);
            json_t *st = json_array_get(json_object_get(out, "Stacks"), 0);
            CHECK(rc == 0 && same(st, "Name", x) && same(st, "ServiceRoleArn", x) &&
                      same(json_object_get(st, "Attributes"), "Color", x),
                  "DescribeStacks returned another name for %s", x);
            json_decref(out);
            json_decref(req);
        }
        char arn[256];
        snprintf(arn, sizeof arn, "arn:aws:iam::123456789012:user/%s", x);
        req = json_pack("{s:s,s:s}", "IamUserArn", arn, "SshUsername", x);
        rc = owd_call(&out, store, "CreateUserProfile", req);
        CHECK(rc == 0, "CreateUserProfile %s: %s", arn, owd_error_last()->message);
        json_decref(out);
        json_decref(req);
        req = json_pack("{s:[s]}", "IamUserArns", arn);
        rc = owd_call(&out, store, "DescribeUserProfiles", req);
        json_t *u = json_array_get(json_object_get(out, "UserProfiles"), 0);
        CHECK(rc == 0 && same(u, "IamUserArn", arn) && same(u, "SshUsername", x), "DescribeUserProfiles returned another ARN for %s", x);
        json_decref(out);
        json_decref(req);
    }
    /* The tables are all still there, and hold what they held plus the new rows. */
    json_t *out = NULL;
    json_t *req = json_pack("{s:s}", "StackId", stack_id);
    CHECK(owd_call(&out, store, "DescribeDeployments", req) == 0 &&
              json_array_size(json_object_get(out, "Deployments")) == 1 + NASTY,
          "DescribeDeployments after the injections");
    json_decref(out);
    json_decref(req);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s <shapes.json> <scratch directory>\n", argv[0]);
        return 2;
    }
    json_error_t err;
    json_t *shapes = json_load_file(argv[1], 0, &err);
    if (!shapes) {
        fprintf(stderr, "%s: %s\n", argv[1], err.text);
        return 2;
    }
    static char path[4096];
    snprintf(path, sizeof path, "%s/badinput.owd", argv[2]);
    remove(path);
    db_path = path;
    owd_store_options opts = OWD_STORE_OPTIONS_INIT;
    opts.durability = OWD_DURABILITY_OFF;
    if (owd_store_open(&store, path, &opts) != 0) {
        fprintf(stderr, "owd_store_open %s: %s\n", path, owd_error_last()->message);
        return 2;
    }
    take(stack_id, ok_call("CreateStack", "{\"Name\":\"s\",\"Region\":\"us-east-1\",\"ServiceRoleArn\":\"r\",\"DefaultInstanceProfileArn\":\"p\"}"), "StackId");
    take(layer_id, ok_call("CreateLayer", "{\"StackId\":\"%s\",\"Type\":\"custom\",\"Name\":\"l\",\"Shortname\":\"l\"}", stack_id), "LayerId");
    take(app_id, ok_call("CreateApp", "{\"StackId\":\"%s\",\"Name\":\"a\",\"Type\":\"other\"}", stack_id), "AppId");
    take(instance_id, ok_call("CreateInstance", "{\"StackId\":\"%s\",\"LayerIds\":[\"%s\"],\"InstanceType\":\"t2.micro\"}", stack_id, layer_id), "InstanceId");
    json_decref(ok_call("StartInstance", "{\"InstanceId\":\"%s\"}", instance_id));
    take(deployment_id, ok_call("CreateDeployment", "{\"StackId\":\"%s\",\"AppId\":\"%s\",\"Command\":{\"Name\":\"deploy\"},\"Comment\":\"c\"}", stack_id, app_id), "DeploymentId");
    json_t *c = ok_call("DescribeCommands", "{\"DeploymentId\":\"%s\"}", deployment_id);
    snprintf(command_id, sizeof command_id, "%s", json_string_value(json_object_get(json_array_get(json_object_get(c, "Commands"), 0), "CommandId")));
    json_decref(c);
    json_decref(ok_call("CreateUserProfile", "{\"IamUserArn\":\"arn:aws:iam::123456789012:user/u\"}"));
    json_decref(ok_call("SetPermission", "{\"StackId\":\"%s\",\"IamUserArn\":\"arn:aws:iam::123456789012:user/u\",\"Level\":\"deploy\"}", stack_id));
    baseline = dump();

    printf("-- bad-input matrix\n");
    test_matrix(shapes);
    test_text_level();
    test_deep_nesting();
    test_sizes();
    printf("-- injection\n");
    test_injection();

    free(baseline);
    owd_store_close(store);
    json_decref(shapes);
    remove(path);
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 && passed > 0 ? 0 : 1;
}
