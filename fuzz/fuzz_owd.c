/* libFuzzer targets for owd_call_json (and owd_call) over every operation.
 *
 * One source, two targets:
 *   fuzz-raw         (this file as is): libFuzzer's byte mutations of the input.
 *   fuzz-structured  (-DOWD_FUZZ_STRUCTURED): a custom mutator that parses the request
 *                    with jansson and mutates it as JSON, walking owd's shape table
 *                    (tests/hardening/shapes.json, $OWD_FUZZ_SHAPES): wrong types,
 *                    unknown and missing members, valid values of the right shape,
 *                    interesting strings (quotes, SQL, control characters, sizes at the
 *                    limits), long lists, deep nesting, another operation's name. One
 *                    mutation in eight is libFuzzer's own byte mutation (invalid UTF-8,
 *                    broken syntax).
 *
 * Input format (the corpus files are readable): the operation name, a newline, the
 * request text. Without a newline the whole input is the operation and the request is
 * NULL. In the request, $STACK $LAYER $APP $INSTANCE $DEPLOYMENT $COMMAND $USER stand for
 * the IDs (and the user ARN) of a fixture made in every fresh store, so mutations reach
 * past "Unable to find ...". A fresh in-memory store is made every RESET_EVERY inputs.
 *
 * Invariants checked on every call (a violation aborts: libFuzzer reports it as a crash):
 *   - the return code is OWD_OK or one of the documented negative codes, never
 *     OWD_EINTERNAL, OWD_ESTORE or OWD_ENOMEM (an in-memory store, small inputs);
 *   - owd_call_json always sets *out; it is JSON text (valid UTF-8);
 *   - on failure it is exactly {"__type": T, "message": M}, T is the code's type string,
 *     M is not empty, and owd_error_last() holds the same code, type and message;
 *   - on success it is a JSON object holding no null, and owd_error_last() is OWD_OK;
 *   - owd_call on the same request agrees on those invariants (*out NULL on failure).
 */
#include <owd.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RESET_EVERY 2000

static owd_store *store, *user_store;
static char ids[7][128]; /* STACK LAYER APP INSTANCE DEPLOYMENT COMMAND USER */
static const char *const placeholders[7] = {"$STACK", "$LAYER", "$APP", "$INSTANCE",
                                            "$DEPLOYMENT", "$COMMAND", "$USER"};
static const char *const user_arn = "arn:aws:iam::123456789012:user/fuzz";
static unsigned long runs;

static void die(const char *what, const char *op, const char *detail) {
    fprintf(stderr, "owd fuzz invariant broken: %s (operation %s): %s\n", what, op ? op : "(null)",
            detail ? detail : "");
    abort();
}

static const char *type_of(int code) {
    switch (code) {
    case OWD_EVALIDATION: return "ValidationException";
    case OWD_ENOTFOUND: return "ResourceNotFoundException";
    case OWD_EACCESS: return "AccessDeniedException";
    case OWD_EINVAL: return NULL; /* "InvalidArgument" or "UnknownOperationException" */
    case OWD_EBUSY: return "StoreBusy";
    case OWD_EUNSUPPORTED: return "UnsupportedOperationException";
    default: return "";
    }
}

static int has_null(const json_t *j) {
    if (json_is_null(j)) return 1;
    if (json_is_array(j)) {
        for (size_t i = 0; i < json_array_size(j); i++)
            if (has_null(json_array_get(j, i))) return 1;
    } else if (json_is_object(j)) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)j, k, v) if (has_null(v)) return 1;
    }
    return 0;
}

static void check_code(int rc, const char *op) {
    char b[32];
    snprintf(b, sizeof b, "%d", rc);
    if (rc > 0 || rc < OWD_EUNSUPPORTED) die("return code out of range", op, b);
    if (rc == OWD_EINTERNAL || rc == OWD_ESTORE || rc == OWD_ENOMEM) {
        const owd_error *e = owd_error_last();
        die("unexpected failure", op, e->message);
    }
    const owd_error *e = owd_error_last();
    if (e == NULL || e->code != rc || e->type == NULL || e->message == NULL) die("owd_error_last disagrees", op, b);
    if (rc != 0) {
        const char *want = type_of(rc);
        if (want ? strcmp(e->type, want) != 0
                 : strcmp(e->type, "InvalidArgument") != 0 && strcmp(e->type, "UnknownOperationException") != 0)
            die("error type does not match the code", op, e->type);
        if (e->message[0] == 0) die("empty error message", op, e->type);
    } else if (e->type[0] != 0 || e->message[0] != 0) {
        die("owd_error_last not cleared by a success", op, e->message);
    }
}

/* Runs both entry points on one request and checks the invariants. */
static int call(owd_store *s, const char *op, const char *request, json_t **response) {
    char *out = NULL;
    int rc = owd_call_json(&out, s, op, request);
    check_code(rc, op);
    if (out == NULL) die("owd_call_json left *out NULL", op, NULL);
    json_error_t err;
    json_t *body = json_loads(out, 0, &err);
    if (body == NULL || !json_is_object(body)) die("*out is not a JSON object", op, out);
    if (rc != 0) {
        const owd_error *e = owd_error_last();
        json_t *t = json_object_get(body, "__type"), *m = json_object_get(body, "message");
        if (json_object_size(body) != 2 || !json_is_string(t) || !json_is_string(m))
            die("error body is not {__type, message}", op, out);
        if (strcmp(json_string_value(t), e->type) != 0) die("__type does not match owd_error_last", op, out);
        if (strcmp(json_string_value(m), e->message) != 0) die("message does not match owd_error_last", op, out);
    } else if (has_null(body)) {
        die("a successful response holds null", op, out);
    }
    if (response) *response = body;
    else json_decref(body);
    owd_free(out);
    return rc;
}

/* owd_call with the request parsed by jansson itself (NUL bytes allowed: owd must refuse
 * them, not truncate them). */
static void call_json_t(owd_store *s, const char *op, const char *request, size_t length) {
    json_error_t err;
    json_t *req = NULL;
    if (request && length) {
        req = json_loadb(request, length, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
        if (req == NULL) return;
    }
    json_t *out = (json_t *)0x1;
    int rc = owd_call(&out, s, op, req);
    check_code(rc, op);
    if (rc != 0 && out != NULL) die("owd_call failed but set *out", op, NULL);
    if (rc == 0 && (out == NULL || !json_is_object(out) || has_null(out))) die("owd_call success: bad *out", op, NULL);
    json_decref(out);
    json_decref(req);
}

static const char *id_of(owd_store *s, const char *op, const char *request, const char *member) {
    json_t *r = NULL;
    if (call(s, op, request, &r) != 0) die("fixture failed", op, owd_error_last()->message);
    static char buf[128];
    json_t *v = json_object_get(r, member);
    if (json_is_array(v)) v = json_object_get(json_array_get(v, 0), "CommandId");
    snprintf(buf, sizeof buf, "%s", json_string_value(v) ? json_string_value(v) : "");
    json_decref(r);
    return buf;
}

static void reset(void) {
    owd_store_close(user_store);
    owd_store_close(store);
    if (owd_store_open(&store, NULL, NULL) != 0) die("owd_store_open", NULL, owd_error_last()->message);
    char req[1024];
    snprintf(ids[0], 128, "%s",
             id_of(store, "CreateStack",
                   "{\"Name\":\"fuzz\",\"Region\":\"us-east-1\",\"ServiceRoleArn\":\"arn:aws:iam::123456789012:role/r\","
                   "\"DefaultInstanceProfileArn\":\"arn:aws:iam::123456789012:instance-profile/p\"}",
                   "StackId"));
    snprintf(req, sizeof req, "{\"StackId\":\"%s\",\"Type\":\"custom\",\"Name\":\"l\",\"Shortname\":\"l\"}", ids[0]);
    snprintf(ids[1], 128, "%s", id_of(store, "CreateLayer", req, "LayerId"));
    snprintf(req, sizeof req, "{\"StackId\":\"%s\",\"Name\":\"a\",\"Type\":\"other\"}", ids[0]);
    snprintf(ids[2], 128, "%s", id_of(store, "CreateApp", req, "AppId"));
    snprintf(req, sizeof req, "{\"StackId\":\"%s\",\"LayerIds\":[\"%s\"],\"InstanceType\":\"t2.micro\"}", ids[0], ids[1]);
    snprintf(ids[3], 128, "%s", id_of(store, "CreateInstance", req, "InstanceId"));
    snprintf(req, sizeof req, "{\"InstanceId\":\"%s\"}", ids[3]);
    call(store, "StartInstance", req, NULL); /* online: deployments need one */
    snprintf(req, sizeof req, "{\"StackId\":\"%s\",\"AppId\":\"%s\",\"Command\":{\"Name\":\"deploy\"}}", ids[0], ids[2]);
    snprintf(ids[4], 128, "%s", id_of(store, "CreateDeployment", req, "DeploymentId"));
    snprintf(req, sizeof req, "{\"DeploymentId\":\"%s\"}", ids[4]);
    snprintf(ids[5], 128, "%s", id_of(store, "DescribeCommands", req, "Commands"));
    snprintf(ids[6], 128, "%s", user_arn);
    snprintf(req, sizeof req, "{\"IamUserArn\":\"%s\",\"AllowSelfManagement\":true}", user_arn);
    call(store, "CreateUserProfile", req, NULL); /* self-managed: the My* operations run as the user */
    snprintf(req, sizeof req, "{\"StackId\":\"%s\",\"IamUserArn\":\"%s\",\"Level\":\"manage\"}", ids[0], user_arn);
    call(store, "SetPermission", req, NULL);
    if (owd_store_as(&user_store, store, user_arn) != 0) die("owd_store_as", NULL, owd_error_last()->message);
}

/* The request with placeholders replaced by the fixture's IDs (malloc'd, NUL-terminated;
 * bytes after an embedded NUL are kept, *length counts them). */
static char *substitute(const uint8_t *data, size_t size, size_t *length) {
    char *out = malloc(size * 10 + 1), *o = out; /* "$APP" (4 bytes) becomes 36 */
    if (!out) abort();
    for (size_t i = 0; i < size;) {
        int hit = -1;
        if (data[i] == '$')
            for (int p = 0; p < 7; p++) {
                size_t n = strlen(placeholders[p]);
                if (size - i >= n && memcmp(data + i, placeholders[p], n) == 0 && (hit < 0 || n > strlen(placeholders[hit])))
                    hit = p;
            }
        if (hit >= 0) {
            size_t n = strlen(ids[hit]);
            memcpy(o, ids[hit], n);
            o += n;
            i += strlen(placeholders[hit]);
        } else {
            *o++ = (char)data[i++];
        }
    }
    *o = 0;
    *length = (size_t)(o - out);
    return out;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (store == NULL || runs++ % RESET_EVERY == 0) reset();
    const uint8_t *nl = memchr(data, '\n', size);
    size_t oplen = nl ? (size_t)(nl - data) : size;
    char *op = malloc(oplen + 1);
    if (!op) abort();
    memcpy(op, data, oplen);
    op[oplen] = 0;
    /* A trailing " as-user" on the operation line runs it as the fixture's IAM user. */
    owd_store *s = store;
    size_t l = strlen(op);
    if (l >= 8 && strcmp(op + l - 8, " as-user") == 0) {
        op[l - 8] = 0;
        s = user_store;
    }
    /* A PollCommands that may wait (WaitTimeSeconds up to 20 s) would only sleep, and
     * past -timeout be reported as a hang: not run. Its request goes through the same
     * validator as every other operation's; the wait is tested in AgentProtocolTests. */
    if (nl && strcmp(op, "PollCommands") == 0) {
        json_t *parsed = json_loadb((const char *)nl + 1, size - oplen - 1, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
        int waits = json_is_object(parsed) && json_object_get(parsed, "WaitTimeSeconds") != NULL;
        json_decref(parsed);
        if (waits) {
            free(op);
            return 0;
        }
    }
    if (nl) {
        size_t length;
        char *request = substitute(nl + 1, size - oplen - 1, &length);
        call(s, op, request, NULL);
        call_json_t(s, op, request, length);
        free(request);
    } else {
        call(s, op, NULL, NULL);
        call_json_t(s, op, NULL, 0);
    }
    free(op);
    return 0;
}

#ifndef OWD_FUZZ_STRUCTURED
int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    return 0;
}
#else
/* ---------------------------------------------------------------------------------- */
/* The structure-aware mutator                                                         */

size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed);

static json_t *shapes; /* {"Operation": shape} from shapes.json */
static uint64_t rng;

static uint64_t next(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}
static size_t pick(size_t n) { return n ? (size_t)(next() % n) : 0; }

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    const char *path = getenv("OWD_FUZZ_SHAPES");
    json_error_t err;
    shapes = json_load_file(path ? path : "tests/hardening/shapes.json", 0, &err);
    if (!shapes) {
        fprintf(stderr, "fuzz-structured: cannot load the shape table (%s): %s\n", path ? path : "tests/hardening/shapes.json", err.text);
        exit(2);
    }
    return 0;
}

static const char *const interesting[] = {
    "$STACK", "$LAYER", "$APP", "$INSTANCE", "$DEPLOYMENT", "$COMMAND", "$USER", "",
    "x", "'; DROP TABLE deployments; --", "\" OR 1=1 --", "\\", "\"", "%s%n%x", "\x01\x02\x1f\x7f",
    "\t\r\n", "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", "{\"a\":1}", "[1,2]", "null", "deploy", "manage",
    "successful", "failed", "skipped", "deny", "show", "iam_only", "git", "ebs", "UTC",
    "6ed0df4c-9ef7-4812-8dac-d54a05be1029", "6ED0DF4C-9EF7-4812-8DAC-D54A05BE1029",
    "arn:aws:iam::123456789012:user/other", "arn:aws:iam::123456789012:root", "us-east-1",
    "2013-07-25T18:57:34+00:00", "0", "-1", "9999999999999999999999",
};

static json_t *interesting_string(void) {
    size_t n = pick(24);
    if (n == 0) {
        /* Sizes at and beyond the limits. */
        static const size_t sizes[] = {65535, 65536, 65537, 122880, 122881};
        size_t len = sizes[pick(5)];
        char *b = malloc(len);
        if (!b) abort();
        memset(b, "a'\"\\\x01"[pick(5)], len);
        json_t *s = json_stringn_nocheck(b, len);
        free(b);
        return s;
    }
    return json_string_nocheck(interesting[pick(sizeof interesting / sizeof *interesting)]);
}

static json_t *wrong_type(void) {
    static const json_int_t ints[] = {0, 1, -1, 2147483647, 2147483648LL, -2147483649LL, INT64_MAX, INT64_MIN};
    switch (pick(9)) {
    case 0: return json_null();
    case 1: return json_true();
    case 2: return json_false();
    case 3: return json_integer(ints[pick(8)]);
    case 4: return json_real(pick(2) ? 1.5 : -0.0);
    case 5: return interesting_string();
    case 6: return json_array();
    case 7: return json_object();
    default: return json_pack("[{}]");
    }
}

/* A valid value for `shape`, to go where it belongs. */
static json_t *generate(const json_t *shape, int depth) {
    const char *kind = json_string_value(json_object_get(shape, "kind"));
    if (!kind || depth > 6) return json_null();
    if (strcmp(kind, "string") == 0) {
        const json_t *values = json_object_get(shape, "values");
        if (json_is_array(values) && pick(8) != 0) return json_deep_copy(json_array_get(values, pick(json_array_size(values))));
        return pick(3) ? json_string_nocheck(interesting[pick(7)]) : interesting_string();
    }
    if (strcmp(kind, "integer") == 0) return json_integer((json_int_t)pick(200) - 20);
    if (strcmp(kind, "boolean") == 0) return json_boolean(pick(2));
    if (strcmp(kind, "list") == 0) {
        json_t *a = json_array();
        for (size_t i = 0, n = pick(4); i < n; i++) json_array_append_new(a, generate(json_object_get(shape, "element"), depth + 1));
        return a;
    }
    json_t *o = json_object();
    if (strcmp(kind, "map") == 0) {
        static const char *const keys[] = {"recipes", "migrate", "k", "", "'; DROP TABLE x; --"};
        for (size_t i = 0, n = pick(3); i < n; i++)
            json_object_set_new(o, keys[pick(5)], generate(json_object_get(shape, "element"), depth + 1));
        return o;
    }
    const json_t *members = json_object_get(shape, "members");
    for (size_t i = 0; i < json_array_size(members); i++) {
        const json_t *m = json_array_get(members, i);
        if (json_is_true(json_object_get(m, "required")) || pick(3) == 0)
            json_object_set_new(o, json_string_value(json_object_get(m, "name")),
                                generate(json_object_get(m, "shape"), depth + 1));
    }
    return o;
}

/* Every node of the request with its shape (NULL where the tree left the shape). */
typedef struct { json_t *node, *parent; const json_t *shape; const char *key; size_t index; } site;
static site sites[4096];
static size_t nsites;

static void collect(json_t *node, json_t *parent, const json_t *shape, const char *key, size_t index) {
    if (nsites == sizeof sites / sizeof *sites) return;
    sites[nsites++] = (site){node, parent, shape, key, index};
    const char *kind = shape ? json_string_value(json_object_get(shape, "kind")) : NULL;
    if (json_is_array(node)) {
        const json_t *el = kind && strcmp(kind, "list") == 0 ? json_object_get(shape, "element") : NULL;
        for (size_t i = 0; i < json_array_size(node) && i < 64; i++) collect(json_array_get(node, i), node, el, NULL, i);
    } else if (json_is_object(node)) {
        const char *k;
        json_t *v;
        json_object_foreach(node, k, v) {
            const json_t *sub = NULL;
            if (kind && strcmp(kind, "map") == 0) sub = json_object_get(shape, "element");
            else if (kind && strcmp(kind, "structure") == 0) {
                const json_t *members = json_object_get(shape, "members");
                for (size_t i = 0; i < json_array_size(members); i++)
                    if (strcmp(json_string_value(json_object_get(json_array_get(members, i), "name")), k) == 0)
                        sub = json_object_get(json_array_get(members, i), "shape");
            }
            collect(v, node, sub, k, 0);
        }
    }
}

/* Puts `value` where site `s` is (the root when it has no parent); steals `value`. */
static json_t *replace(json_t *root, site *s, json_t *value) {
    if (!value) return root;
    if (s->parent == NULL) {
        json_decref(root);
        return value;
    }
    if (json_is_array(s->parent)) json_array_set_new(s->parent, s->index, value);
    else json_object_set_new_nocheck(s->parent, s->key, value);
    return root;
}

static json_t *mutate(json_t *root, const json_t *shape, const char **op) {
    nsites = 0;
    collect(root, NULL, shape, NULL, 0);
    site *s = &sites[pick(nsites)];
    const char *kind = s->shape ? json_string_value(json_object_get(s->shape, "kind")) : NULL;
    switch (pick(12)) {
    case 0: /* a fresh valid request */
        json_decref(root);
        return generate(shape, 0);
    case 1: case 2: /* a value of the wrong type (or any type) */
        return replace(root, s, wrong_type());
    case 3: case 4: /* a valid value of the right shape */
        return s->shape ? replace(root, s, generate(s->shape, 0)) : replace(root, s, wrong_type());
    case 5: /* an interesting string */
        return replace(root, s, interesting_string());
    case 6: /* add a member: one of the shape's, or an unknown one */
        if (json_is_object(s->node)) {
            const json_t *members = kind && strcmp(kind, "structure") == 0 ? json_object_get(s->shape, "members") : NULL;
            if (members && json_array_size(members) && pick(4)) {
                const json_t *m = json_array_get(members, pick(json_array_size(members)));
                json_object_set_new(s->node, json_string_value(json_object_get(m, "name")), generate(json_object_get(m, "shape"), 1));
            } else {
                json_object_set_new_nocheck(s->node, pick(2) ? "Unknown" : "stackid", wrong_type());
            }
        }
        return root;
    case 7: /* drop a member or an entry */
        if (s->parent && json_is_object(s->parent)) json_object_del(s->parent, s->key);
        else if (s->parent) json_array_remove(s->parent, s->index);
        return root;
    case 8: /* a long list: copies of one entry, up to and beyond the limit */
        if (json_is_array(s->node) && json_array_size(s->node)) {
            static const size_t sizes[] = {2, 100, 1000, 10000, 10001};
            size_t n = sizes[pick(5)];
            json_t *e = json_array_get(s->node, 0);
            /* Bounded: copies of a big entry (itself a long list) would grow without end. */
            char *et = json_dumps(e, JSON_COMPACT | JSON_ENCODE_ANY);
            size_t el = et ? strlen(et) + 1 : 150000;
            free(et);
            if (el * n > 150000) n = 150000 / el;
            /* Copies, not references: a later mutation inside one shared entry would grow
             * every one of them at once (a 4 GB dump was seen). */
            while (json_array_size(s->node) < n) json_array_append_new(s->node, json_deep_copy(e));
        }
        return root;
    case 9: /* deeper nesting */
        {
            json_t *v = json_incref(s->node);
            for (size_t i = 0, n = 1 + pick(20); i < n; i++) v = pick(2) ? json_pack("[o]", v) : json_pack("{so}", "Name", v);
            return replace(root, s, v);
        }
    case 10: /* another operation with this request */
        {
            size_t n = pick(json_object_size(shapes)), i = 0;
            const char *k;
            json_t *v;
            json_object_foreach(shapes, k, v) if (i++ == n) *op = k;
            return root;
        }
    default: /* a string with one byte changed to a control character or a quote */
        if (json_is_string(s->node) && json_string_length(s->node)) {
            size_t len = json_string_length(s->node);
            char *b = malloc(len);
            if (!b) abort();
            memcpy(b, json_string_value(s->node), len);
            b[pick(len)] = "\x01\n\"\\'\x7f"[pick(6)];
            json_t *v = json_stringn_nocheck(b, len);
            free(b);
            return replace(root, s, v);
        }
        return root;
    }
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed) {
    rng = (uint64_t)seed * 0x9E3779B97F4A7C15ULL + 1;
    if (pick(8) == 0) return LLVMFuzzerMutate(data, size, max_size);
    const uint8_t *nl = memchr(data, '\n', size);
    char op_buf[256];
    size_t oplen = nl ? (size_t)(nl - data) : size;
    if (oplen >= sizeof op_buf) return LLVMFuzzerMutate(data, size, max_size);
    memcpy(op_buf, data, oplen);
    op_buf[oplen] = 0;
    int as_user = oplen >= 8 && strcmp(op_buf + oplen - 8, " as-user") == 0;
    if (as_user) op_buf[oplen - 8] = 0;
    const char *op = op_buf;
    const json_t *shape = json_object_get(shapes, op);
    json_error_t err;
    json_t *root = nl ? json_loadb((const char *)nl + 1, size - oplen - 1, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err) : json_object();
    if (!root) return LLVMFuzzerMutate(data, size, max_size);
    for (size_t i = 0, n = 1 + pick(3); i < n && root; i++) root = mutate(root, shape, &op), shape = json_object_get(shapes, op);
    if (pick(16) == 0) as_user = !as_user;
    char *text = root ? json_dumps(root, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    json_decref(root);
    if (!text) return LLVMFuzzerMutate(data, size, max_size);
    int n = snprintf((char *)data, max_size, "%s%s\n%s", op, as_user ? " as-user" : "", text);
    free(text);
    if (n < 0 || (size_t)n >= max_size) return LLVMFuzzerMutate(data, size, max_size);
    return (size_t)n;
}
#endif
