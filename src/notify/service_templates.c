/* service_templates: Put/Get/List/DeleteTemplate. Changes are durable --
 * in the embedded store, or in Redis when scaled out -- before the table
 * takes them and the caller is answered (on nd-ws, like every answer). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/cluster.h"
#include "delivery/envelope.h"
#include "log.h"
#include "notify/service_internal.h"
#include "store/store.h"
#include "ws/server.h"

/* nd-ws: the answer to a template operation */
static void template_answer_run(struct inbox_job *job, void *ctx)
{
    struct service_job *j = ND_CONTAINER_OF(job, struct service_job, job);
    struct service_result r;
    (void)ctx;
    memset(&r, 0, sizeof r);
    r.op = j->op;
    if (j->store_err)
        r.error = j->why;
    else if (j->op->id == OP_PUT_TEMPLATE)
        j->body =
            json_pack("{s:o?, s:b}", "template", templates_get(j->svc->templates, j->template_id),
                      "created", j->created);
    else if (j->op->id == OP_DELETE_TEMPLATE)
        j->body = json_pack("{s:s}", "id", j->template_id);
    r.body = j->body;
    j->done(j->arg, &r);
    service__job_free(j);
}

/* nd-store: the change is durable, or failed; the table follows it */
static void template_kept(void *arg, int err, const char *why)
{
    struct service_job *j = arg;
    struct templates *t = j->svc->templates;
    if (err) {
        j->store_err = err;
        snprintf(j->why, sizeof j->why, "the template could not be %s: %s",
                 j->template_json ? "stored" : "deleted", why ? why : "store error");
    } else if (j->template_json) {
        if (templates_set_json(t, j->template_id, j->template_json, strlen(j->template_json)) < 0) {
            j->store_err = -ENOMEM;
            snprintf(j->why, sizeof j->why, "out of memory");
        }
    } else {
        templates_remove(t, j->template_id);
    }
    j->job.run = template_answer_run;
    service__post(j);
}

/* nd-redis: Redis has change number @version; the table takes it unless a newer
 * change already came on the channel */
static void template_published(void *arg, int err, uint64_t version)
{
    struct service_job *j = arg;
    if (err) {
        j->store_err = err;
        snprintf(j->why, sizeof j->why, "the template could not be %s: %s",
                 j->template_json ? "stored" : "deleted",
                 err == -EIO ? "redis refused the command" : "redis became unavailable");
    } else {
        templates_apply(j->svc->templates, version, j->template_id, j->template_json,
                        j->template_json ? strlen(j->template_json) : 0);
    }
    j->job.run = template_answer_run;
    service__post(j);
}

static int template_persist(struct service *svc, struct service_job *j, char *err, size_t errlen)
{
    struct store *store = ws_store(svc->ws);
    int rc;
    if (svc->cluster)
        rc =
            cluster_template(svc->cluster, j->template_id, j->template_json, template_published, j);
    else if (store)
        rc = store_template(store, j->template_id, j->template_json, template_kept, j);
    else
        rc = -ENOTSUP;
    if (rc == -ENOTCONN || rc == -ENOTSUP) {
        snprintf(err, errlen, "redis is unreachable: templates cannot be changed until it is back");
        return -ESHUTDOWN;
    }
    if (rc < 0) {
        snprintf(err, errlen, "the template could not be queued for the store");
        return -ENOMEM;
    }
    return 0;
}

/* who changed which template: logged before the change is submitted (then @j is not ours) */
static void template_audit(struct service *svc, const struct service_job *j,
                           const struct token_claims *caller)
{
    if (svc->audit_all || j->op->id == OP_PUT_TEMPLATE || j->op->id == OP_DELETE_TEMPLATE)
        nd_log(ND_LOG_INFO, "audit", "{s:s, s:s, s:s}", "op", j->op->name, "caller",
               caller ? caller->user_id : "", "target", j->template_id);
}

int service__template_call(struct service *svc, struct service_job *j, const json_t *req,
                           const struct token_claims *caller, char *err, size_t errlen)
{
    const struct op_spec *op = j->op;
    int rc;
    j->job.run = template_answer_run;
    switch (op->id) {
    case OP_PUT_TEMPLATE: {
        json_t *t = json_object_get(req, "template");
        if (t && !json_is_object(t)) {
            snprintf(err, errlen, "template must be an object {id, title, message}");
            return -EINVAL;
        }
        rc = templates_check_put(t ? t : req, nd_wall_ms(), j->template_id, &j->template_json, err,
                                 errlen);
        if (rc < 0)
            return rc;
        json_t *old = templates_get(svc->templates, j->template_id);
        j->created = old == NULL;
        json_decref(old);
        template_audit(svc, j, caller);
        return template_persist(svc, j, err, errlen);
    }
    case OP_DELETE_TEMPLATE:
    case OP_GET_TEMPLATE: {
        if ((rc = templates_check_id(req, j->template_id, err, errlen)) < 0)
            return rc;
        json_t *t = templates_get(svc->templates, j->template_id);
        if (!t) {
            snprintf(err, errlen, "template \"%s\" not found", j->template_id);
            return -ENOENT;
        }
        if (op->id == OP_DELETE_TEMPLATE) {
            json_decref(t);
            template_audit(svc, j, caller);
            return template_persist(svc, j, err, errlen);
        }
        j->body = json_pack("{s:o}", "template", t);
        break;
    }
    default: /* OP_LIST_TEMPLATES */
        j->body = json_pack("{s:o?}", "templates", templates_list(svc->templates));
        break;
    }
    if (!j->body) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    template_audit(svc, j, caller);
    service__post(j);
    return 0;
}
