/* pbjson: walks protobuf-c field descriptors; no per-message code. */
#include "notify/pbjson.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

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
        int v = *(const int *)p;
        const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(f->descriptor, v);
        if (!ev || v == 0)
            return NULL; /* unspecified: leave it out, the default applies */
        const char *name = strchr(ev->name, '_');
        name = name ? name + 1 : ev->name;
        char lower[64];
        size_t n = strnlen(name, sizeof lower - 1);
        for (size_t i = 0; i < n; i++)
            lower[i] = (char)tolower((unsigned char)name[i]);
        lower[n] = 0;
        return json_string(lower);
    }
    default: return NULL; /* bytes and groups have no place in a notification */
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
            if (f->type == PROTOBUF_C_TYPE_MESSAGE)
                continue; /* no repeated messages in notification requests */
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

json_t *pbjson_from_message(const ProtobufCMessage *msg)
{
    json_t *obj = json_object();
    if (obj && merge(obj, msg) < 0) {
        json_decref(obj);
        return NULL;
    }
    return obj;
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
    default: break;
    }
}

unsigned char *pbjson_pack(const ProtobufCMessageDescriptor *desc, const json_t *obj, size_t *len)
{
    ProtobufCMessage *msg = calloc(1, desc->sizeof_message);
    const char **lists[8];
    size_t n_lists = 0;
    unsigned char *out = NULL;

    if (!msg)
        return NULL;
    protobuf_c_message_init(desc, msg);
    for (unsigned i = 0; i < desc->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &desc->fields[i];
        const json_t *v = json_object_get(obj, f->name);
        char *dst = (char *)msg + f->offset;
        if (!v || f->type == PROTOBUF_C_TYPE_MESSAGE)
            continue;
        if (f->label != PROTOBUF_C_LABEL_REPEATED) {
            put_scalar(f, dst, v);
            continue;
        }
        /* repeated strings: an array of borrowed pointers */
        if (f->type != PROTOBUF_C_TYPE_STRING || !json_is_array(v) || n_lists == 8)
            continue;
        size_t n = json_array_size(v);
        const char **arr = calloc(n ? n : 1, sizeof *arr);
        if (!arr)
            goto done;
        lists[n_lists++] = arr;
        for (size_t k = 0; k < n; k++)
            arr[k] = json_string_value(json_array_get(v, k));
        *(size_t *)((char *)msg + f->quantifier_offset) = n;
        *(const char ***)dst = arr;
    }
    *len = protobuf_c_message_get_packed_size(msg);
    out = malloc(*len ? *len : 1);
    if (out)
        protobuf_c_message_pack(msg, out);
done:
    while (n_lists)
        free(lists[--n_lists]);
    free(msg);
    return out;
}
