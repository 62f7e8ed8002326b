/* ops_check: the checks of a notification's members, on typed values
 * (struct op_val), so a REST body and a protobuf message meet the same rules
 * and the same messages; and the data written as JSON text from the checked
 * values, without building a jansson object. Pure; any thread. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/token.h"
#include "notify/ops_internal.h"

struct op_val ops_val_json(const json_t *v)
{
    struct op_val o;
    memset(&o, 0, sizeof o);
    switch (v ? json_typeof(v) : JSON_NULL) {
    case JSON_STRING:
        o.kind = OV_STRING;
        o.s = json_string_value(v);
        o.len = json_string_length(v);
        break;
    case JSON_INTEGER:
        o.kind = OV_INT;
        o.i = json_integer_value(v);
        break;
    case JSON_REAL:
        o.kind = OV_REAL;
        o.d = json_real_value(v);
        break;
    case JSON_TRUE:
    case JSON_FALSE:
        o.kind = OV_BOOL;
        o.i = json_is_true(v);
        break;
    case JSON_ARRAY:
        o.kind = OV_LIST;
        o.json = v;
        o.len = json_array_size(v);
        break;
    case JSON_OBJECT: o.kind = OV_OTHER; break;
    case JSON_NULL: o.kind = v ? OV_NULL : OV_ABSENT; break;
    }
    return o;
}

int ops_typed(const struct op_spec *op)
{
    return (op->flags & OP_NOTIFY) && !(op->flags & (OP_ANY_TYPE | OP_MULTI)) && !op->fixed_data;
}

void ops_req_from_json(const struct op_spec *op, const json_t *req, struct op_req *out)
{
    memset(out, 0, sizeof *out);
    out->op = op;
    out->user_id = ops_val_json(json_object_get(req, "user_id"));
    out->priority = ops_val_json(json_object_get(req, "priority"));
    out->group = ops_val_json(json_object_get(req, "group"));
    out->feed = ops_val_json(json_object_get(req, "feed"));
    for (size_t i = 0; i < OP_FIELDS_MAX && op->fields[i].name; i++)
        out->fields[i] = ops_val_json(json_object_get(req, op->fields[i].name));
}

static int given(const struct op_val *v)
{
    return v->kind != OV_ABSENT && v->kind != OV_NULL;
}

static struct op_val string_val(const char *s)
{
    struct op_val o = {.kind = OV_STRING, .s = s, .len = strlen(s)};
    return o;
}

int ops__check_string(const struct field_spec *f, const struct op_val *v, char *err, size_t errlen)
{
    if (v->kind != OV_STRING)
        return ops_errorf(err, errlen, "%s must be a string", f->name);
    if ((long long)v->len > f->max)
        return ops_errorf(err, errlen, "%s is %zu bytes, the limit is %lld", f->name, v->len,
                          f->max);
    if (memchr(v->s, 0, v->len))
        return ops_errorf(err, errlen, "%s must not contain NUL characters", f->name);
    if (f->kind == FK_URL && v->len && !ops_url_valid(v->s))
        return ops_errorf(err, errlen, "%s must be an http:// or https:// URL", f->name);
    if (f->required && v->len == 0)
        return ops_errorf(err, errlen, "%s is required", f->name);
    return 0;
}

int ops__check_user(const struct op_val *v, struct op_msg *out, char *err, size_t errlen)
{
    char num[32];
    const char *id = NULL;
    size_t len = 0;

    if (v->kind == OV_STRING) {
        id = v->s;
        len = v->len;
    } else if (v->kind == OV_INT) {
        len = (size_t)snprintf(num, sizeof num, "%lld", v->i);
        id = num;
    } else if (given(v)) {
        return ops_errorf(err, errlen, "user_id must be a string");
    }
    if (!id || len == 0)
        return ops_errorf(err, errlen, "user_id is required");
    if (!token_user_id_valid(id, len))
        return ops_errorf(err, errlen,
                          "user_id must be 1 to %d characters of A-Z a-z 0-9 _ . @ : -",
                          ND_USER_ID_MAX);
    memcpy(out->user_id, id, len);
    out->user_id[len] = 0;
    return 0;
}

int ops__check_delivery(const struct op_val *priority, const struct op_val *group,
                        const struct op_val *feed, struct op_msg *out, char *err, size_t errlen)
{
    if (given(priority)) {
        const char *p = priority->kind == OV_STRING ? priority->s : NULL;
        if (!p)
            return ops_errorf(err, errlen, "priority must be a string: normal, high or urgent");
        if (!strcmp(p, "urgent"))
            out->priority = PRIORITY_URGENT;
        else if (!strcmp(p, "high"))
            out->priority = PRIORITY_HIGH;
        else if (strcmp(p, "normal") && p[0])
            return ops_errorf(err, errlen, "priority must be one of normal, high, urgent");
    }
    if (given(group)) {
        static const struct field_spec spec = {"group", FK_STRING, 0, 0, ND_GROUP_MAX};
        if (ops__check_string(&spec, group, err, errlen) < 0)
            return -EINVAL;
        memcpy(out->group, group->s, group->len);
        out->group[group->len] = 0;
    }
    out->feed = -1;
    if (given(feed)) {
        if (feed->kind != OV_BOOL)
            return ops_errorf(err, errlen, "feed must be true or false");
        out->feed = (int)feed->i;
    }
    return 0;
}

/* item @i of list @v as a value */
static struct op_val list_item(const struct op_val *v, size_t i)
{
    if (v->json)
        return ops_val_json(json_array_get(v->json, i));
    return string_val(v->strs[i] ? v->strs[i] : "");
}

int ops__check_field(const struct op_spec *op, const struct field_spec *f, const struct op_val *v,
                     struct op_val *out, char *err, size_t errlen)
{
    int has = given(v);
    memset(out, 0, sizeof *out);

    switch (f->kind) {
    case FK_STRING:
    case FK_URL:
        if (!has) {
            if (f->required)
                return ops_errorf(err, errlen, "%s is required", f->name);
            *out = string_val((!strcmp(f->name, "task_type") && op->family) ? op->family : "");
            return 0;
        }
        if (ops__check_string(f, v, err, errlen) < 0)
            return -EINVAL;
        *out = v->len == 0 && !strcmp(f->name, "task_type") && op->family ? string_val(op->family)
                                                                          : *v;
        return 0;

    case FK_LEVEL: {
        const char *s = !has ? "info" : v->kind == OV_STRING ? v->s : NULL;
        if (!s)
            return ops_errorf(err, errlen, "%s must be a string", f->name);
        if (!s[0])
            s = "info";
        static const char *const levels[] = {"info", "warning", "error", "success"};
        for (size_t i = 0; i < 4; i++)
            if (!strcmp(s, levels[i])) {
                *out = string_val(levels[i]);
                return 0;
            }
        return ops_errorf(err, errlen, "%s must be one of info, warning, error, success", f->name);
    }

    case FK_INT: {
        long long n = 0;
        if (has) {
            if (v->kind == OV_INT)
                n = v->i;
            else if (v->kind == OV_REAL && v->d == floor(v->d) && fabs(v->d) < 9e15)
                n = (long long)v->d;
            else
                return ops_errorf(err, errlen, "%s must be an integer", f->name);
        }
        if (n < f->min || n > f->max)
            return ops_errorf(err, errlen, "%s is %lld, it must be from %lld to %lld", f->name, n,
                              f->min, f->max);
        out->kind = OV_INT;
        out->i = n;
        return 0;
    }

    case FK_DOUBLE: {
        double d = 0;
        if (has) {
            if (v->kind != OV_INT && v->kind != OV_REAL)
                return ops_errorf(err, errlen, "%s must be a number", f->name);
            d = v->kind == OV_INT ? (double)v->i : v->d;
        }
        if (!(d >= (double)f->min && d <= (double)f->max))
            return ops_errorf(err, errlen, "%s is %g, it must be from %lld to %lld", f->name, d,
                              f->min, f->max);
        out->kind = OV_REAL;
        out->d = d;
        return 0;
    }

    case FK_URLS: {
        out->kind = OV_LIST; /* an empty list unless set below */
        if (!has || (v->kind == OV_LIST && v->len == 0)) {
            if (f->required)
                return ops_errorf(err, errlen, "%s needs at least one URL", f->name);
            return 0;
        }
        if (v->kind != OV_LIST)
            return ops_errorf(err, errlen, "%s must be an array of URLs", f->name);
        if ((long long)v->len > f->max)
            return ops_errorf(err, errlen, "%s has %zu URLs, the limit is %lld", f->name, v->len,
                              f->max);
        for (size_t i = 0; i < v->len; i++) {
            struct op_val u = list_item(v, i);
            if (u.kind != OV_STRING)
                return ops_errorf(err, errlen, "%s[%zu] must be a string", f->name, i);
            if (u.len > 2048)
                return ops_errorf(err, errlen, "%s[%zu] is longer than 2048 bytes", f->name, i);
            if (!ops_url_valid(u.s))
                return ops_errorf(err, errlen, "%s[%zu] must be an http:// or https:// URL",
                                  f->name, i);
        }
        *out = *v;
        return 0;
    }
    }
    return ops_errorf(err, errlen, "%s: unknown field kind", f->name);
}

int ops_build_req(const struct op_req *req, struct op_msg *out, char *err, size_t errlen)
{
    const struct op_spec *op = req->op;
    memset(out, 0, sizeof *out);
    out->feed = -1;
    out->op = op;
    snprintf(out->type, sizeof out->type, "%s", op->type);
    if (!(op->flags & OP_TO_ALL) && ops__check_user(&req->user_id, out, err, errlen) < 0)
        return -EINVAL;
    if (ops__check_delivery(&req->priority, &req->group, &req->feed, out, err, errlen) < 0)
        return -EINVAL;
    for (size_t i = 0; i < OP_FIELDS_MAX && op->fields[i].name; i++)
        if (ops__check_field(op, &op->fields[i], &req->fields[i], &out->vals[i], err, errlen) < 0)
            return -EINVAL;
    return 0;
}

const struct op_val *ops_msg_val(const struct op_msg *msg, const char *name)
{
    for (size_t i = 0; i < OP_FIELDS_MAX && msg->op->fields[i].name; i++)
        if (!strcmp(msg->op->fields[i].name, name))
            return &msg->vals[i];
    return NULL;
}

/* --- the data object --- */

int ops__data_json(struct op_msg *out, char *err, size_t errlen)
{
    const struct op_spec *op = out->op;
    json_t *data = json_object();
    for (size_t i = 0; data && i < OP_FIELDS_MAX && op->fields[i].name; i++) {
        const struct op_val *v = &out->vals[i];
        json_t *j = NULL;
        switch (v->kind) {
        case OV_STRING: j = json_stringn(v->s, v->len); break;
        case OV_INT: j = json_integer(v->i); break;
        case OV_REAL: j = json_real(v->d); break;
        case OV_LIST:
            if (v->json) {
                j = json_incref((json_t *)v->json);
                break;
            }
            j = json_array();
            for (size_t k = 0; j && k < v->len; k++)
                json_array_append_new(j, json_string(v->strs[k] ? v->strs[k] : ""));
            break;
        default: break;
        }
        if (!j || json_object_set_new(data, op->fields[i].name, j) < 0) {
            json_decref(data);
            data = NULL;
        }
    }
    if (!data)
        return ops_errorf(err, errlen, "out of memory");
    out->data = data;
    return 0;
}

/* what the writer appends to: @cap bytes at @buf, @n written (or needed) so far */
struct text {
    char *buf;
    size_t cap, n;
};

static void put(struct text *t, const char *s, size_t len)
{
    if (t->n + len < t->cap)
        memcpy(t->buf + t->n, s, len);
    t->n += len;
}

/* a JSON string as jansson dumps it without JSON_ENSURE_ASCII: UTF-8 as is,
 * quote, backslash and control characters escaped */
static void put_string(struct text *t, const char *s, size_t len)
{
    put(t, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        put(t, s + run, i - run);
        run = i + 1;
        char seq[8];
        const char *e = c == '"'    ? "\\\""
                        : c == '\\' ? "\\\\"
                        : c == '\b' ? "\\b"
                        : c == '\f' ? "\\f"
                        : c == '\n' ? "\\n"
                        : c == '\r' ? "\\r"
                        : c == '\t' ? "\\t"
                                    : NULL;
        if (!e) {
            snprintf(seq, sizeof seq, "\\u%04X", (unsigned)c);
            e = seq;
        }
        put(t, e, strlen(e));
    }
    put(t, s + run, len - run);
    put(t, "\"", 1);
}

/* a real as jansson's dump with JSON_REAL_PRECISION(15): %.15g, a ".0" when it
 * looks like an integer, the exponent without '+' or leading zeros */
static void put_real(struct text *t, double d)
{
    char b[64];
    int n = snprintf(b, sizeof b - 3, "%.15g", d);
    size_t len = n > 0 ? (size_t)n : 0;
    if (!strchr(b, '.') && !strchr(b, 'e')) {
        memcpy(b + len, ".0", 3);
        len += 2;
    }
    char *start = strchr(b, 'e');
    if (start) {
        start++;
        char *end = start + 1;
        if (*start == '-')
            start++;
        while (*end == '0')
            end++;
        if (end != start) {
            memmove(start, end, len - (size_t)(end - b) + 1);
            len -= (size_t)(end - start);
        }
    }
    put(t, b, len);
}

/* an integer in decimal, as "%lld" writes it */
static void put_int(struct text *t, long long v)
{
    char b[24], *p = b + sizeof b;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do
        *--p = (char)('0' + u % 10);
    while (u /= 10);
    if (v < 0)
        *--p = '-';
    put(t, p, (size_t)(b + sizeof b - p));
}

size_t ops_data_text(const struct op_msg *msg, char *buf, size_t cap)
{
    struct text t = {buf, cap, 0};
    const struct op_spec *op = msg->op;
    put(&t, "{", 1);
    for (size_t i = 0; i < OP_FIELDS_MAX && op->fields[i].name; i++) {
        const struct op_val *v = &msg->vals[i];
        if (i)
            put(&t, ",", 1);
        put_string(&t, op->fields[i].name, strlen(op->fields[i].name));
        put(&t, ":", 1);
        switch (v->kind) {
        case OV_STRING: put_string(&t, v->s, v->len); break;
        case OV_INT: put_int(&t, v->i); break;
        case OV_REAL: put_real(&t, v->d); break;
        case OV_LIST:
            put(&t, "[", 1);
            for (size_t k = 0; k < v->len; k++) {
                struct op_val u = list_item(v, k);
                if (k)
                    put(&t, ",", 1);
                put_string(&t, u.s, u.len);
            }
            put(&t, "]", 1);
            break;
        default: put(&t, "null", 4); break;
        }
    }
    put(&t, "}", 1);
    if (t.n < cap)
        buf[t.n] = 0;
    return t.n;
}
