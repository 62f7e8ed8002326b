/* pbjson: a protobuf-c message as a flat JSON object, by field name, so a
 * gRPC request reaches ops_build() exactly like a REST body; or, for a
 * notification, as a typed request read the same way without JSON
 * (pbjson_request). Pure; any thread. */
#ifndef NOTIFYD_NOTIFY_PBJSON_H
#define NOTIFYD_NOTIFY_PBJSON_H

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>

#include "notify/ops.h"

/**
 * Converts @msg to a new JSON object (caller decrefs). Fields of nested
 * messages are merged into the top level (TaskProgressData -> task_id, ...);
 * enums become the lowercase value name without its enum's prefix
 * (LEVEL_INFO -> "info", FEED_FILTER_UNREAD -> "unread"), and the zero value
 * is left out; a map<string, string> becomes an object; bytes become a
 * string of those bytes, unchecked (JSON text: the validator parses it); a
 * proto3 optional field (a one-field oneof in gen/) is there only when set.
 * NULL on ENOMEM.
 */
json_t *pbjson_from_message(const ProtobufCMessage *msg);

/**
 * Reads @msg, a request of typed operation @op (ops_typed), into @out the way
 * pbjson_from_message() and ops_req_from_json() would, without JSON: nested
 * messages merged, enums by name, the zero value and unset optionals left out.
 * Strings are borrowed from @msg (enum names from @out). Returns 0, or 1 when
 * the request names a template (template_id or params): that one goes by JSON.
 */
int pbjson_request(const ProtobufCMessage *msg, const struct op_spec *op, struct op_req *out);

/**
 * Packs the fields of @desc found in @obj (by name: strings, integers,
 * bools, doubles, enums from their names as above, bytes from a string or
 * as the compact JSON text of any other value, repeated strings; messages
 * from objects, repeated messages from arrays of objects) into a new
 * buffer; other fields keep
 * their defaults. Returns the packed bytes (caller frees) and their length
 * in *len, or NULL on ENOMEM.
 */
unsigned char *pbjson_pack(const ProtobufCMessageDescriptor *desc, const json_t *obj, size_t *len);

#endif
