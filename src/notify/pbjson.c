/* pbjson: walks protobuf-c field descriptors; no per-message code. */
#include "notify/pbjson.h"

#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* the prefix buf's lint gives an enum's values: FeedFilter -> "FEED_FILTER_"; its length */
static size_t enum_prefix(const ProtobufCEnumDescriptor *e, char *out, size_t outlen)
{
    size_t n = 0;
    for (const char *c = e->short_name; *c && n + 3 < outlen; c++) {
        if (isupper((unsigned char)*c) && c != e->short_name)
            out[n++] = '_';
        out[n++] = (char)toupper((unsigned char)*c);
    }
    out[n++] = '_';
    out[n] = 0;
    return n;
}

/* enum value @v of @f's enum by its JSON name ("PRIORITY_HIGH" -> "high") into @out;
 * NULL for the zero value or one the enum has not (left out: the default applies) */
static const char *enum_name(const ProtobufCFieldDescriptor *f, int v, char *out, size_t outlen)
{
    const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(f->descriptor, v);
    if (!ev || v == 0)
        return NULL;
    char prefix[64];
    size_t plen = enum_prefix(f->descriptor, prefix, sizeof prefix);
    const char *name = plen && !strncmp(ev->name, prefix, plen) ? ev->name + plen : NULL;
    if (!name) /* not named after its enum: what follows the first word */
        name = strchr(ev->name, '_') ? strchr(ev->name, '_') + 1 : ev->name;
    size_t n = strnlen(name, outlen - 1);
    for (size_t i = 0; i < n; i++)
        out[i] = (char)tolower((unsigned char)name[i]);
    out[n] = 0;
    return out;
}

static json_t *scalar(const ProtobufCFieldDescriptor *f, const void *p)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32: return json_integer(*(const int32_t *)p);
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32: return json_integer(*(const uint32_t *)p);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64: return json_integer(*(const int64_t *)p);
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64: return json_integer((json_int_t) * (const uint64_t *)p);
    case PROTOBUF_C_TYPE_BOOL: return json_boolean(*(const protobuf_c_boolean *)p);
    case PROTOBUF_C_TYPE_FLOAT: return json_real(*(const float *)p);
    case PROTOBUF_C_TYPE_DOUBLE: return json_real(*(const double *)p);
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)p;
        return json_stringn(s ? s : "", s ? strlen(s) : 0);
    }
    case PROTOBUF_C_TYPE_ENUM: {
        char lower[64];
        return enum_name(f, *(const int *)p, lower, sizeof lower) ? json_string(lower) : NULL;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        /* JSON text (Publish's data): a string the validator parses; bytes that are not
         * UTF-8 stay as they are and fail there, naming the field */
        const ProtobufCBinaryData *b = p;
        return json_stringn_nocheck(b->len ? (const char *)b->data : "", b->len);
    }
    default: return NULL; /* groups have no place in a notification */
    }
}

static int merge(json_t *obj, const ProtobufCMessage *msg)
{
    const ProtobufCMessageDescriptor *d = msg->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const char *base = (const char *)msg + f->offset;

        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)((const char *)msg + f->quantifier_offset);
            const char *arr = *(char *const *)base;
            size_t sz =
                f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_MESSAGE
                    ? sizeof(void *)
                : f->type == PROTOBUF_C_TYPE_INT64 || f->type == PROTOBUF_C_TYPE_SINT64 ||
                        f->type == PROTOBUF_C_TYPE_SFIXED64 || f->type == PROTOBUF_C_TYPE_UINT64 ||
                        f->type == PROTOBUF_C_TYPE_FIXED64 || f->type == PROTOBUF_C_TYPE_DOUBLE
                    ? 8
                : f->type == PROTOBUF_C_TYPE_BOOL ? sizeof(protobuf_c_boolean)
                                                  : 4;
            if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
                /* a map<string, string> (entries {key, value}): a JSON object */
                const ProtobufCMessageDescriptor *e = f->descriptor;
                if (e->n_fields != 2 || e->fields[0].type != PROTOBUF_C_TYPE_STRING ||
                    e->fields[1].type != PROTOBUF_C_TYPE_STRING)
                    continue; /* no other repeated messages in requests */
                json_t *map = json_object();
                if (!map || json_object_set_new(obj, f->name, map) < 0)
                    return -1;
                for (size_t k = 0; k < n; k++) {
                    const char *entry = ((char *const *)arr)[k];
                    const char *key = *(char *const *)(entry + e->fields[0].offset);
                    const char *val = *(char *const *)(entry + e->fields[1].offset);
                    if (json_object_set_new(map, key ? key : "", json_string(val ? val : "")) < 0)
                        return -1;
                }
                continue;
            }
            json_t *list = json_array();
            if (!list)
                return -1;
            for (size_t k = 0; k < n; k++) {
                json_t *v = scalar(f, arr + k * sz);
                if (v)
                    json_array_append_new(list, v);
            }
            json_object_set_new(obj, f->name, list);
            continue;
        }
        if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
            *(const uint32_t *)((const char *)msg + f->quantifier_offset) != f->id)
            continue; /* a oneof member not set (a proto3 optional field left out) */
        if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
            const ProtobufCMessage *sub = *(ProtobufCMessage *const *)base;
            if (sub && merge(obj, sub) < 0)
                return -1;
            continue;
        }
        json_t *v = scalar(f, base);
        if (v && json_object_set_new(obj, f->name, v) < 0)
            return -1;
    }
    return 0;
}

/* --- a typed request (ops.h): the same reading as merge(), no JSON --- */

/* 1 when @s (@n bytes) is UTF-8 as jansson accepts it: what json_stringn() takes */
static int utf8_valid(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        size_t k = c < 0x80 ? 1 : c < 0xc2 ? 0 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : c < 0xf5 ? 4 : 0;
        if (!k || i + k > n)
            return 0;
        uint32_t cp = k == 1 ? c : k == 2 ? c & 0x1f : k == 3 ? c & 0x0f : c & 0x07;
        for (size_t j = 1; j < k; j++) {
            if ((s[i + j] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + j] & 0x3f);
        }
        if ((k == 3 && cp < 0x800) || (k == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += k;
    }
    return 1;
}

/* the member of @r named @name, or NULL when the operation does not read it */
static struct op_val *slot(struct op_req *r, const char *name)
{
    if (!strcmp(name, "user_id"))
        return &r->user_id;
    if (!strcmp(name, "priority"))
        return &r->priority;
    if (!strcmp(name, "group"))
        return &r->group;
    if (!strcmp(name, "feed"))
        return &r->feed;
    for (size_t i = 0; i < OP_FIELDS_MAX && r->op->fields[i].name; i++)
        if (!strcmp(r->op->fields[i].name, name))
            return &r->fields[i];
    return NULL;
}

/* @f's value at @p as merge() would set it; OV_ABSENT where merge leaves it out */
static struct op_val typed_scalar(const ProtobufCFieldDescriptor *f, const void *p,
                                  struct op_req *r, size_t *names)
{
    struct op_val v;
    memset(&v, 0, sizeof v);
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32: v.kind = OV_INT, v.i = *(const int32_t *)p; break;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32: v.kind = OV_INT, v.i = *(const uint32_t *)p; break;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64: v.kind = OV_INT, v.i = (long long)*(const int64_t *)p; break;
    case PROTOBUF_C_TYPE_BOOL: v.kind = OV_BOOL, v.i = *(const protobuf_c_boolean *)p != 0; break;
    case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_DOUBLE:
        v.d = f->type == PROTOBUF_C_TYPE_FLOAT ? *(const float *)p : *(const double *)p;
        v.kind = isfinite(v.d) ? OV_REAL : OV_ABSENT; /* json_real() refuses the others */
        break;
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)p;
        s = s ? s : "";
        size_t n = strlen(s);
        if (utf8_valid((const unsigned char *)s, n)) /* else json_stringn() refuses it */
            v.kind = OV_STRING, v.s = s, v.len = n;
        break;
    }
    case PROTOBUF_C_TYPE_ENUM:
        if (*names < ND_ARRAY_SIZE(r->names) &&
            enum_name(f, *(const int *)p, r->names[*names], sizeof r->names[0])) {
            v.kind = OV_STRING, v.s = r->names[*names], v.len = strlen(v.s);
            ++*names;
        }
        break;
    default: v.kind = OV_OTHER; break; /* bytes: no typed operation has them */
    }
    return v;
}

static int walk(const ProtobufCMessage *msg, struct op_req *r, size_t *names)
{
    const ProtobufCMessageDescriptor *d = msg->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const char *base = (const char *)msg + f->offset;
        struct op_val *to = slot(r, f->name);

        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)((const char *)msg + f->quantifier_offset);
            if (!strcmp(f->name, "params") && n) /* a template's params: by JSON */
                return 1;
            if (!to)
                continue;
            memset(to, 0, sizeof *to);
            to->kind = f->type == PROTOBUF_C_TYPE_STRING ? OV_LIST : OV_OTHER;
            to->strs = *(const char *const *const *)(const void *)base;
            to->len = n;
            continue;
        }
        if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
            *(const uint32_t *)((const char *)msg + f->quantifier_offset) != f->id)
            continue;
        if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
            const ProtobufCMessage *sub = *(ProtobufCMessage *const *)base;
            if (sub && walk(sub, r, names))
                return 1;
            continue;
        }
        if (f->type == PROTOBUF_C_TYPE_STRING && !strcmp(f->name, "template_id") &&
            **(char *const *)base)
            return 1;
        struct op_val v = to ? typed_scalar(f, base, r, names) : (struct op_val){0};
        if (v.kind != OV_ABSENT)
            *to = v;
    }
    return 0;
}

int pbjson_request(const ProtobufCMessage *msg, const struct op_spec *op, struct op_req *out)
{
    size_t names = 0;
    memset(out, 0, sizeof *out);
    out->op = op;
    return walk(msg, out, &names);
}

json_t *pbjson_from_message(const ProtobufCMessage *msg)
{
    json_t *obj = json_object();
    if (obj && merge(obj, msg) < 0) {
        json_decref(obj);
        return NULL;
    }
    return obj;
}

/* an enum's value from its JSON name ("high" -> PRIORITY_HIGH); 0 when unknown */
static int enum_value(const ProtobufCFieldDescriptor *f, const json_t *v)
{
    char name[128];
    const char *s = json_string_value(v);
    size_t n = enum_prefix(f->descriptor, name, sizeof name);
    for (; s && *s && n + 1 < sizeof name; s++)
        name[n++] = (char)toupper((unsigned char)*s);
    name[n] = 0;
    const ProtobufCEnumValue *ev =
        s ? protobuf_c_enum_descriptor_get_value_by_name(f->descriptor, name) : NULL;
    return ev ? ev->value : json_is_integer(v) ? (int)json_integer_value(v) : 0;
}

/* writes one scalar from @v into @dst; strings are borrowed from @v */
static void put_scalar(const ProtobufCFieldDescriptor *f, void *dst, const json_t *v)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32: *(int32_t *)dst = (int32_t)json_integer_value(v); break;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64: *(int64_t *)dst = json_integer_value(v); break;
    case PROTOBUF_C_TYPE_BOOL: *(protobuf_c_boolean *)dst = json_is_true(v); break;
    case PROTOBUF_C_TYPE_DOUBLE: *(double *)dst = json_number_value(v); break;
    case PROTOBUF_C_TYPE_FLOAT: *(float *)dst = (float)json_number_value(v); break;
    case PROTOBUF_C_TYPE_STRING:
        if (json_is_string(v))
            *(const char **)dst = json_string_value(v);
        break;
    case PROTOBUF_C_TYPE_ENUM: *(int *)dst = enum_value(f, v); break;
    default: break;
    }
}

/* what pack allocated, freed after packing */
struct arena {
    void **ptrs;
    size_t n, cap;
};

static void *arena_alloc(struct arena *a, size_t size)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 16;
        void **p = realloc(a->ptrs, cap * sizeof *p);
        if (!p)
            return NULL;
        a->ptrs = p;
        a->cap = cap;
    }
    void *m = calloc(1, size ? size : 1);
    if (m)
        a->ptrs[a->n++] = m;
    return m;
}

/* bytes: a string's bytes, or any other value as its compact JSON text (a
 * feed item's data); -1 on ENOMEM */
static int put_bytes(ProtobufCBinaryData *dst, const json_t *v, struct arena *a)
{
    if (json_is_string(v)) {
        dst->data = (uint8_t *)json_string_value(v);
        dst->len = json_string_length(v);
        return 0;
    }
    /* one pass into a stack buffer when it fits (a ListFeed page has one per item); a
     * longer text is measured first, then written */
    const size_t flags = JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15);
    char small[4096];
    size_t n = json_dumpb(v, small, sizeof small, flags);
    char *text = n ? arena_alloc(a, n) : NULL;
    if (n && !text)
        return -1;
    if (text && n <= sizeof small)
        memcpy(text, small, n);
    else if (text)
        json_dumpb(v, text, n, flags);
    dst->data = (uint8_t *)text;
    dst->len = text ? n : 0;
    return 0;
}

/* a message of @desc filled from @obj by field name; NULL on ENOMEM */
static ProtobufCMessage *build(const ProtobufCMessageDescriptor *desc, const json_t *obj,
                               struct arena *a)
{
    ProtobufCMessage *msg = arena_alloc(a, desc->sizeof_message);
    if (!msg)
        return NULL;
    protobuf_c_message_init(desc, msg);
    for (unsigned i = 0; i < desc->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &desc->fields[i];
        const json_t *v = json_object_get(obj, f->name);
        char *dst = (char *)msg + f->offset;
        if (!v)
            continue;
        if (f->label != PROTOBUF_C_LABEL_REPEATED) {
            if (f->type == PROTOBUF_C_TYPE_BYTES) {
                if (put_bytes((ProtobufCBinaryData *)(void *)dst, v, a) < 0)
                    return NULL;
            } else if (f->type != PROTOBUF_C_TYPE_MESSAGE) {
                put_scalar(f, dst, v);
            } else if (json_is_object(v)) {
                ProtobufCMessage *sub = build(f->descriptor, v, a);
                if (!sub)
                    return NULL;
                *(ProtobufCMessage **)dst = sub;
            }
            continue;
        }
        /* repeated strings or messages: an array of pointers */
        if ((f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE) ||
            !json_is_array(v))
            continue;
        size_t n = json_array_size(v);
        void **arr = arena_alloc(a, n * sizeof *arr);
        if (!arr)
            return NULL;
        for (size_t k = 0; k < n; k++) {
            const json_t *item = json_array_get(v, k);
            if (f->type == PROTOBUF_C_TYPE_STRING)
                arr[k] = (void *)(json_string_value(item) ? json_string_value(item) : "");
            else if (!(arr[k] = build(f->descriptor, json_is_object(item) ? item : NULL, a)))
                return NULL;
        }
        *(size_t *)((char *)msg + f->quantifier_offset) = n;
        *(void ***)dst = arr;
    }
    return msg;
}

unsigned char *pbjson_pack(const ProtobufCMessageDescriptor *desc, const json_t *obj, size_t *len)
{
    struct arena a = {NULL, 0, 0};
    unsigned char *out = NULL;
    ProtobufCMessage *msg = build(desc, obj, &a);
    if (msg) {
        *len = protobuf_c_message_get_packed_size(msg);
        out = malloc(*len ? *len : 1);
        if (out)
            protobuf_c_message_pack(msg, out);
    }
    while (a.n)
        free(a.ptrs[--a.n]);
    free(a.ptrs);
    return out;
}
