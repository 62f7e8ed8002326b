/* templates: a uthash table under a rwlock; renders copy what they need
 * out of it first, so no lock is held while rendering. */
#include "notify/templates.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uthash.h>

#define TITLE_MAX 256
#define MESSAGE_MAX 4096
#define PARAM_VALUE_MAX 4096

struct tmpl {
    char *title, *message;
    int64_t updated_ms;
    UT_hash_handle hh;
    char id[];
};

struct templates {
    pthread_rwlock_t lock;
    struct tmpl *all; /* {lock} */
    uint64_t version; /* {lock} cluster: the last change applied */
};

struct templates *templates_new(void)
{
    struct templates *t = calloc(1, sizeof *t);
    if (t)
        pthread_rwlock_init(&t->lock, NULL);
    return t;
}

static void tmpl_free(struct tmpl *x)
{
    free(x->title);
    free(x->message);
    free(x);
}

void templates_clear(struct templates *t)
{
    struct tmpl *x, *tmp;
    pthread_rwlock_wrlock(&t->lock);
    HASH_ITER (hh, t->all, x, tmp) {
        /* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): false, a uthash head's hh.prev is NULL */
        HASH_DEL(t->all, x);
        tmpl_free(x);
    }
    pthread_rwlock_unlock(&t->lock);
}

void templates_free(struct templates *t)
{
    if (!t)
        return;
    templates_clear(t);
    pthread_rwlock_destroy(&t->lock);
    free(t);
}

static int id_valid(const char *id, size_t len)
{
    if (len == 0 || len > TEMPLATE_ID_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return 0;
    }
    return 1;
}

/* a table entry from its persisted JSON; NULL with -errno in *rc */
static struct tmpl *tmpl_parse(const char *id, const char *json, size_t len, int *rc)
{
    json_t *o = json_loadb(json, len, 0, NULL);
    const char *title = json_string_value(json_object_get(o, "title"));
    const char *message = json_string_value(json_object_get(o, "message"));
    json_t *at = json_object_get(o, "updated_at");
    if (!id_valid(id, strlen(id)) || !title || !message || !json_is_integer(at)) {
        json_decref(o);
        *rc = -EINVAL;
        return NULL;
    }
    size_t n = strlen(id);
    struct tmpl *x = calloc(1, sizeof *x + n + 1);
    if (x) {
        memcpy(x->id, id, n + 1);
        x->title = strdup(title);
        x->message = strdup(message);
        x->updated_ms = json_integer_value(at);
    }
    json_decref(o);
    if (!x || !x->title || !x->message) {
        if (x)
            tmpl_free(x);
        *rc = -ENOMEM;
        return NULL;
    }
    return x;
}

/* {lock held for writing} puts @x (or removes @id when @x is NULL) */
static void put_locked(struct templates *t, const char *id, struct tmpl *x)
{
    struct tmpl *old = NULL;
    if (x) {
        HASH_REPLACE(hh, t->all, id[0], strlen(x->id), x, old);
    } else {
        HASH_FIND_STR(t->all, id, old);
        if (old)
            HASH_DEL(t->all, old);
    }
    if (old)
        tmpl_free(old);
}

int templates_set_json(struct templates *t, const char *id, const char *json, size_t len)
{
    int rc = 0;
    struct tmpl *x = tmpl_parse(id, json, len, &rc);
    if (!x)
        return rc;
    pthread_rwlock_wrlock(&t->lock);
    put_locked(t, id, x);
    pthread_rwlock_unlock(&t->lock);
    return 0;
}

int templates_apply(struct templates *t, uint64_t version, const char *id, const char *json,
                    size_t len)
{
    int rc = 0;
    struct tmpl *x = json ? tmpl_parse(id, json, len, &rc) : NULL;
    if (json && !x)
        return rc;
    pthread_rwlock_wrlock(&t->lock);
    int newer = version > t->version;
    if (newer) {
        put_locked(t, id, x);
        t->version = version;
    }
    pthread_rwlock_unlock(&t->lock);
    if (!newer && x)
        tmpl_free(x);
    return newer;
}

int templates_replace(struct templates *t, uint64_t version, const char *const *ids,
                      const char *const *jsons, const size_t *lens, size_t n)
{
    struct tmpl *all = NULL, *x, *tmp, *old;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        if (!(x = tmpl_parse(ids[i], jsons[i], lens[i], &rc))) {
            if (rc == -ENOMEM)
                goto nomem;
            rc = 0;
            continue; /* not a template: skipped, the others still count */
        }
        HASH_REPLACE(hh, all, id[0], strlen(x->id), x, old);
        if (old)
            tmpl_free(old);
    }
    pthread_rwlock_wrlock(&t->lock);
    old = t->all;
    t->all = all;
    t->version = version;
    pthread_rwlock_unlock(&t->lock);
    all = old;
nomem:
    HASH_ITER (hh, all, x, tmp) {
        /* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): false, a uthash head's hh.prev is NULL */
        HASH_DEL(all, x);
        tmpl_free(x);
    }
    return rc;
}

uint64_t templates_version(struct templates *t)
{
    pthread_rwlock_rdlock(&t->lock);
    uint64_t v = t->version;
    pthread_rwlock_unlock(&t->lock);
    return v;
}

void templates_remove(struct templates *t, const char *id)
{
    pthread_rwlock_wrlock(&t->lock);
    put_locked(t, id, NULL);
    pthread_rwlock_unlock(&t->lock);
}

static json_t *show(const struct tmpl *x)
{
    return json_pack("{s:s, s:s, s:s, s:I}", "id", x->id, "title", x->title, "message", x->message,
                     "updated_at", (json_int_t)x->updated_ms);
}

json_t *templates_get(struct templates *t, const char *id)
{
    struct tmpl *x = NULL;
    json_t *o = NULL;
    pthread_rwlock_rdlock(&t->lock);
    HASH_FIND_STR(t->all, id, x);
    if (x)
        o = show(x);
    pthread_rwlock_unlock(&t->lock);
    return o;
}

static int by_id(const void *a, const void *b)
{
    return strcmp(json_string_value(json_object_get(*(json_t *const *)a, "id")),
                  json_string_value(json_object_get(*(json_t *const *)b, "id")));
}

json_t *templates_list(struct templates *t)
{
    pthread_rwlock_rdlock(&t->lock);
    size_t n = HASH_COUNT(t->all), k = 0;
    json_t **items = calloc(n + 1, sizeof *items);
    for (struct tmpl *x = t->all; items && x; x = x->hh.next)
        if ((items[k] = show(x)))
            k++;
    pthread_rwlock_unlock(&t->lock);
    json_t *list = items ? json_array() : NULL;
    if (items)
        qsort(items, k, sizeof *items, by_id);
    for (size_t i = 0; i < k; i++) {
        if (list)
            json_array_append(list, items[i]);
        json_decref(items[i]);
    }
    free(items);
    return list;
}

int templates_check_id(const json_t *req, char id[TEMPLATE_ID_MAX + 1], char *err, size_t errlen)
{
    json_t *v = json_object_get(req, "id");
    if (!json_is_string(v) || !json_string_length(v))
        return ops_errorf(err, errlen, "id is required");
    if (!id_valid(json_string_value(v), json_string_length(v)))
        return ops_errorf(err, errlen, "id must be 1 to %d characters of A-Z a-z 0-9 _ . -",
                          TEMPLATE_ID_MAX);
    memcpy(id, json_string_value(v), json_string_length(v) + 1);
    return 0;
}

/* a template text field: a string within @max bytes, placeholders well formed */
static int check_text(const json_t *req, const char *name, size_t max, int required,
                      const char **out, char *err, size_t errlen)
{
    json_t *v = json_object_get(req, name);
    char why[160];
    *out = "";
    if (!v || json_is_null(v)) {
        if (required)
            return ops_errorf(err, errlen, "%s is required", name);
        return 0;
    }
    if (!json_is_string(v))
        return ops_errorf(err, errlen, "%s must be a string", name);
    size_t len = json_string_length(v);
    if (len > max)
        return ops_errorf(err, errlen, "%s is %zu bytes, the limit is %zu", name, len, max);
    if (required && len == 0)
        return ops_errorf(err, errlen, "%s is required", name);
    if (memchr(json_string_value(v), 0, len))
        return ops_errorf(err, errlen, "%s must not contain NUL characters", name);
    if (template_check(json_string_value(v), len, why, sizeof why) < 0)
        return ops_errorf(err, errlen, "%s: %s", name, why);
    *out = json_string_value(v);
    return 0;
}

int templates_check_put(const json_t *req, int64_t now_ms, char id[TEMPLATE_ID_MAX + 1],
                        char **json, char *err, size_t errlen)
{
    const char *title, *message;
    if (!json_is_object(req))
        return ops_errorf(err, errlen, "the request must be a JSON object");
    if (templates_check_id(req, id, err, errlen) < 0 ||
        check_text(req, "title", TITLE_MAX, 0, &title, err, errlen) < 0 ||
        check_text(req, "message", MESSAGE_MAX, 1, &message, err, errlen) < 0)
        return -EINVAL;
    json_t *o = json_pack("{s:s, s:s, s:I}", "title", title, "message", message, "updated_at",
                          (json_int_t)now_ms);
    *json = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return *json ? 0 : -ENOMEM;
}

/* params as an object of strings: REST callers may send numbers and booleans */
static int text_params(const json_t *v, json_t **out, char *err, size_t errlen)
{
    *out = json_object();
    if (!*out)
        return -ENOMEM;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_object(v))
        return ops_errorf(err, errlen, "params must be an object of name: value");
    if (json_object_size(v) > TEMPLATE_PARAMS_MAX)
        return ops_errorf(err, errlen, "params has %zu entries, the limit is %d",
                          json_object_size(v), TEMPLATE_PARAMS_MAX);
    const char *name;
    json_t *val;
    json_object_foreach ((json_t *)v, name, val) {
        char num[64];
        const char *s = NULL;
        if (json_is_string(val))
            s = json_string_value(val);
        else if (json_is_integer(val))
            snprintf(num, sizeof num, "%lld", (long long)json_integer_value(val)), s = num;
        else if (json_is_real(val))
            snprintf(num, sizeof num, "%.15g", json_real_value(val)), s = num;
        else if (json_is_boolean(val))
            s = json_is_true(val) ? "true" : "false";
        else
            return ops_errorf(err, errlen, "params.%.64s must be a string, number or boolean",
                              name);
        size_t len = json_is_string(val) ? json_string_length(val) : strlen(s);
        if (len > PARAM_VALUE_MAX)
            return ops_errorf(err, errlen, "params.%.64s is %zu bytes, the limit is %d", name, len,
                              PARAM_VALUE_MAX);
        json_object_set_new(*out, name, json_stringn(s, len));
    }
    return 0;
}

static int op_has_field(const struct op_spec *op, const char *name)
{
    for (const struct field_spec *f = op->fields; f->name; f++)
        if (!strcmp(f->name, name))
            return 1;
    return 0;
}

static int given(const json_t *req, const char *name)
{
    json_t *v = json_object_get(req, name);
    return v && !json_is_null(v) && !(json_is_string(v) && json_string_length(v) == 0) &&
           !(json_is_object(v) && json_object_size(v) == 0); /* protobuf's empty map */
}

int templates_prepare(struct templates *t, const struct op_spec *op, const json_t *req,
                      struct template_use *use, char *err, size_t errlen)
{
    memset(use, 0, sizeof *use);
    json_t *v = json_object_get(req, "template_id");
    if (!given(req, "template_id")) {
        if (given(req, "params"))
            return ops_errorf(err, errlen, "params needs a template_id");
        return 0;
    }
    if (!(op->flags & OP_TEMPLATED))
        return ops_errorf(err, errlen, "%s does not take a template_id", op->name);
    if (!json_is_string(v) || !id_valid(json_string_value(v), json_string_length(v)))
        return ops_errorf(err, errlen,
                          "template_id must be 1 to %d characters of A-Z a-z 0-9 _ . -",
                          TEMPLATE_ID_MAX);
    if (given(req, "message") || given(req, "title"))
        return ops_errorf(err, errlen, "give template_id or title/message, not both");
    const char *id = json_string_value(v);
    memcpy(use->id, id, json_string_length(v) + 1);

    struct tmpl *x = NULL;
    pthread_rwlock_rdlock(&t->lock);
    HASH_FIND_STR(t->all, id, x);
    if (x) {
        use->title = strdup(x->title);
        use->message = strdup(x->message);
    }
    pthread_rwlock_unlock(&t->lock);
    if (!x)
        return ops_errorf(err, errlen, "template_id \"%s\": no such template", id);
    int rc = -ENOMEM;
    if (!use->title || !use->message)
        goto fail;
    if ((rc = text_params(json_object_get(req, "params"), &use->params, err, errlen)) < 0)
        goto fail;
    use->has_title = op_has_field(op, "title");
    use->per_user = template_uses(use->message, strlen(use->message), "user_id") ||
                    (use->has_title && template_uses(use->title, strlen(use->title), "user_id"));
    if (use->per_user && (op->flags & OP_TO_ALL)) {
        rc = ops_errorf(err, errlen,
                        "template \"%s\" uses {{user_id}}, which a broadcast cannot fill", id);
        goto fail;
    }
    return 1;
fail:
    if (rc == -ENOMEM)
        snprintf(err, errlen, "out of memory");
    templates_use_clear(use);
    return rc;
}

struct lookup_ctx {
    const json_t *params;
    const char *user_id;
};

static const char *lookup(void *arg, const char *name, size_t nlen, size_t *vlen)
{
    struct lookup_ctx *l = arg;
    if (nlen == 7 && !memcmp(name, "user_id", 7) && l->user_id[0]) {
        *vlen = strlen(l->user_id);
        return l->user_id;
    }
    char key[TEMPLATE_NAME_MAX + 1];
    memcpy(key, name, nlen);
    key[nlen] = 0;
    json_t *v = json_object_get(l->params, key);
    if (!v)
        return NULL;
    *vlen = json_string_length(v);
    return json_string_value(v);
}

static int render_one(const struct template_use *use, const char *field, const char *text,
                      size_t max, json_t *req, struct lookup_ctx *l, char *err, size_t errlen)
{
    char *out = NULL, why[160];
    size_t len = 0;
    int rc = template_render(text, strlen(text), lookup, l, max, &out, &len, why, sizeof why);
    if (rc < 0)
        return rc == -ENOMEM
                   ? (snprintf(err, errlen, "out of memory"), -ENOMEM)
                   : ops_errorf(err, errlen, "template \"%s\": %s %s", use->id, field, why);
    rc = json_object_set_new(req, field, json_stringn(out, len)) < 0 ? -ENOMEM : 0;
    free(out);
    return rc;
}

int templates_render(const struct template_use *use, json_t *req, const char *user_id, char *err,
                     size_t errlen)
{
    struct lookup_ctx l = {use->params, user_id ? user_id : ""};
    int rc =
        use->has_title ? render_one(use, "title", use->title, TITLE_MAX, req, &l, err, errlen) : 0;
    if (rc < 0)
        return rc;
    return render_one(use, "message", use->message, MESSAGE_MAX, req, &l, err, errlen);
}

void templates_use_clear(struct template_use *use)
{
    free(use->title);
    free(use->message);
    json_decref(use->params);
    memset(use, 0, sizeof *use);
}
