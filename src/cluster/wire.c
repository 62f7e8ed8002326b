/* wire: reading and writing the channel's header line. The v1 list below is
 * frozen: it is what v1 readers mean by each number, whatever the operation
 * table of this version looks like. */
#include "cluster/wire.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "delivery/delivery.h"
#include "delivery/msgid.h"

/* notifyd 0.1's enum op_id, in order: never reorder, never append */
static const char *const v1_ops[] = {
    "NotifyBatchGoStart",
    "NotifyBatchGoProgress",
    "NotifyBatchGoComplete",
    "NotifyBatchGoOpenUrl",
    "NotifySiteRankStart",
    "NotifySiteRankProgress",
    "NotifySiteRankComplete",
    "NotifyChengelinkStart",
    "NotifyChengelinkProgress",
    "NotifyChengelinkComplete",
    "SendSystemNotification",
    "NotifyTokenInsufficient",
    "NotifyPlanExpiring",
    "NotifyPlanExpired",
    "Broadcast",
    "SendTestMessage",
    "GetStats",
    "IsUserOnline",
    "NotifyUsers",
    "PutTemplate",
    "GetTemplate",
    "ListTemplates",
    "DeleteTemplate",
};

const char *wire_v1_op(int n)
{
    return n >= 0 && (size_t)n < ND_ARRAY_SIZE(v1_ops) ? v1_ops[n] : NULL;
}

static int v1_number(const char *op)
{
    for (size_t i = 0; op && i < ND_ARRAY_SIZE(v1_ops); i++)
        if (!strcmp(v1_ops[i], op))
            return (int)i;
    return -1;
}

int64_t wire_age_us(int64_t accepted_us, int64_t now_us)
{
    return accepted_us > 0 && now_us > accepted_us ? now_us - accepted_us : 0;
}

int wire_encode(const char *op, int priority, uint64_t coalesce_key, int64_t accepted_us,
                struct wire_fields *out)
{
    size_t n = op ? strlen(op) : 0;
    if (n > WIRE_OP_MAX || (op && strcspn(op, " =\n") != n))
        return -EINVAL;
    snprintf(out->head, sizeof out->head, "%d %d %llx", v1_number(op), priority,
             (unsigned long long)coalesce_key);
    int len = 0;
    if (n)
        len = snprintf(out->tail, sizeof out->tail, " op=%s", op);
    snprintf(out->tail + len, sizeof out->tail - (size_t)len, " at=%lld", (long long)accepted_us);
    return 0;
}

/* the next space-separated field of [*p, end) into [*f, *flen); 0 when there is none */
static int field(const char **p, const char *end, const char **f, size_t *flen)
{
    while (*p < end && **p == ' ')
        (*p)++;
    if (*p == end)
        return 0;
    const char *s = *p;
    while (*p < end && **p != ' ')
        (*p)++;
    *f = s;
    *flen = (size_t)(*p - s);
    return 1;
}

/* a whole field as a number in @base: 0 or -EINVAL */
static int number(const char *f, size_t n, int base, long long *out)
{
    char buf[24], *endp;
    if (n == 0 || n >= sizeof buf)
        return -EINVAL;
    memcpy(buf, f, n);
    buf[n] = 0;
    errno = 0;
    *out = base == 16 ? (long long)strtoull(buf, &endp, 16) : strtoll(buf, &endp, 10);
    return *endp || errno ? -EINVAL : 0;
}

/* one name=value field after the user; unknown names are skipped */
static int named(const char *f, size_t n, struct wire_msg *m)
{
    const char *eq = memchr(f, '=', n);
    long long at;
    if (!eq)
        return 0;
    size_t klen = (size_t)(eq - f), vlen = n - klen - 1;
    if (klen == 2 && !memcmp(f, "op", 2)) {
        if (vlen == 0 || vlen > WIRE_OP_MAX)
            return -EINVAL;
        memcpy(m->op, eq + 1, vlen);
        m->op[vlen] = 0;
    } else if (klen == 2 && !memcmp(f, "at", 2) && number(eq + 1, vlen, 10, &at) == 0 && at > 0) {
        m->accepted_us = at;
    }
    return 0;
}

int wire_decode(const char *p, size_t len, struct wire_msg *m)
{
    const char *start = p, *nl = memchr(p, '\n', len), *f;
    size_t flen;
    long long v1op, prio, key;
    char hex[MSGID_LEN + 1];
    if (!nl)
        return -EINVAL;
    memset(m, 0, sizeof *m);
    if (!field(&p, nl, &f, &flen) || flen != MSGID_LEN)
        return -EINVAL;
    memcpy(hex, f, MSGID_LEN);
    hex[MSGID_LEN] = 0;
    if (msgid_parse(hex, &m->id) < 0 || !field(&p, nl, &f, &flen) ||
        number(f, flen, 10, &v1op) < 0 || !field(&p, nl, &f, &flen) ||
        number(f, flen, 10, &prio) < 0 || !field(&p, nl, &f, &flen) ||
        number(f, flen, 16, &key) < 0 || !field(&p, nl, &f, &flen) || flen > ND_USER_ID_MAX)
        return -EINVAL;
    if (flen != 1 || *f != '*')
        memcpy(m->user_id, f, flen);
    m->priority = prio >= PRIORITY_NORMAL && prio <= PRIORITY_URGENT ? (int)prio : PRIORITY_NORMAL;
    m->coalesce_key = (uint64_t)key;
    while (field(&p, nl, &f, &flen))
        if (named(f, flen, m) < 0)
            return -EINVAL;
    const char *v1name = v1op >= 0 && v1op < 1000 ? wire_v1_op((int)v1op) : NULL;
    if (!m->op[0] && v1name) /* a v1 sender: the number is all there is */
        snprintf(m->op, sizeof m->op, "%s", v1name);
    m->json = nl + 1;
    m->len = len - (size_t)(nl + 1 - start);
    return 0;
}
