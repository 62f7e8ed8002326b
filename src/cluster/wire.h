/* wire: the text of a message on the notifyd:messages channel, one line of
 * fields, a newline, the envelope:
 *
 *   <id: 16 hex> <v1 op number> <priority> <coalesce key: hex> <user, * = all>[ <name>=<value>]...
 *
 * The first five fields are what notifyd 0.1 (format v1) writes and reads;
 * v1 readers stop at the user, so the named fields after it reach only the
 * readers that know them, and a rolling deploy can mix versions:
 *   op=<RPC name>  the operation, by name: adding one never renumbers another
 *                  (v1 readers take the number: its index in the v1 list, -1
 *                  for operations v1 did not have)
 *   at=<unix us>   when the message was accepted (the delivery latency)
 * Readers skip names they do not know; new fields go after these. The
 * publish script of scripts.h joins the parts (it gives the id). Pure; any
 * thread.
 *
 * Not every operation is a message: DisconnectUser (cluster_tell) goes out
 * with id 0 and the `disconnected` message as its envelope; every instance
 * closes the user's connections it holds. A v1 reader (number -1) delivers
 * that message to the user's connections there and closes none; a reader
 * that knows names but not this one skips it. */
#ifndef NOTIFYD_CLUSTER_WIRE_H
#define NOTIFYD_CLUSTER_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "nd.h"

#define WIRE_OP_MAX 63 /* bytes of an operation's name */

/** A message read from the channel. */
struct wire_msg {
    uint64_t id;
    char op[WIRE_OP_MAX + 1]; /* the operation's name; "" when the sender named none */
    int priority;             /* enum priority (normal when out of range) */
    uint64_t coalesce_key;
    char user_id[ND_USER_ID_MAX + 1]; /* "" for every connection */
    int64_t accepted_us;              /* unix us it was accepted; 0 when not given (v1) */
    const char *json;                 /* the envelope: borrowed from the line */
    size_t len;
};

/**
 * Reads the @len bytes at @p (a v1 line or a newer one). 0, or -EINVAL when
 * the line cannot be read; @out is then undefined.
 */
int wire_decode(const char *p, size_t len, struct wire_msg *out);

/** What a sender hands the publish script around the id and the user it adds. */
struct wire_fields {
    char head[64];               /* "<v1 op number> <priority> <coalesce key>" */
    char tail[WIRE_OP_MAX + 48]; /* " op=<name> at=<us>": after the user */
};

/**
 * Fills @out for operation @op (its RPC name, or NULL for none), accepted at
 * unix @accepted_us. -EINVAL when @op is too long or not a plain name.
 */
int wire_encode(const char *op, int priority, uint64_t coalesce_key, int64_t accepted_us,
                struct wire_fields *out);

/**
 * How long ago (us) a message accepted at unix @accepted_us was, at unix
 * @now_us: never negative (another host's clock may run ahead of ours); 0
 * when @accepted_us is 0 (not given).
 */
int64_t wire_age_us(int64_t accepted_us, int64_t now_us);

/** The name v1 gave number @n, or NULL for a number v1 did not use. */
const char *wire_v1_op(int n);

#endif
