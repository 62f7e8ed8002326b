/* ops internals shared by ops.c (the table, Publish, DisconnectUser, the JSON
 * entry) and ops_check.c (the checks every notification's fields pass, on
 * typed values). Not for other modules: they use notify/ops.h. */
#ifndef NOTIFYD_NOTIFY_OPS_INTERNAL_H
#define NOTIFYD_NOTIFY_OPS_INTERNAL_H

#include "notify/ops.h"

/** @v against string field @f (kind, length, NUL, URL, required): 0 or -EINVAL. */
int ops__check_string(const struct field_spec *f, const struct op_val *v, char *err, size_t errlen);

/** user_id (a string, or an integer written in decimal) into out->user_id: 0 or -EINVAL. */
int ops__check_user(const struct op_val *v, struct op_msg *out, char *err, size_t errlen);

/** priority, group and feed into @out: 0 or -EINVAL. */
int ops__check_delivery(const struct op_val *priority, const struct op_val *group,
                        const struct op_val *feed, struct op_msg *out, char *err, size_t errlen);

/** Data field @f of @op: @v checked, its value (or default) into *@out: 0 or -EINVAL. */
int ops__check_field(const struct op_spec *op, const struct field_spec *f, const struct op_val *v,
                     struct op_val *out, char *err, size_t errlen);

/** out->data as a JSON object built from out->vals: 0, or -EINVAL naming ENOMEM. */
int ops__data_json(struct op_msg *out, char *err, size_t errlen);

#endif
