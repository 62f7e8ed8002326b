/* service_templates: Put/Get/List/DeleteTemplate. A change is durable --
 * wherever the backend keeps templates -- before the table takes it and the
 * caller is answered (a template_job); reads answer from the table (a
 * read_job). Both answer on nd-ws, like every answer. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "nd.h"
#include "service/service_internal.h"

/* --- Put and Delete --- */

struct template_job {
    struct backend_template t;
    struct service_reply to;
    struct templates *table;
    char id[TEMPLATE_ID_MAX + 1];
    char *json; /* Put: the persisted form; NULL for a delete */
    int created;
};

static void change_answer(struct backend_req *r)
{
    struct template_job *j = ND_CONTAINER_OF(r, struct template_job, t.req);
    int err = atomic_load(&r->err);
    json_t *body = NULL;
    if (!err && j->json)
        body = json_pack("{s:o?, s:b}", "template", templates_get(j->table, j->id), "created",
                         j->created);
    else if (!err)
        body = json_pack("{s:s}", "id", j->id);
    service__reply(&j->to, body, err ? r->why : NULL);
    free(j->json);
    free(j);
}

/* hands the change to the backend: 0, or -ESHUTDOWN / -ENOMEM with @err (then @j is still ours) */
static int change(struct service *svc, struct template_job *j, char *err, size_t errlen)
{
    j->t.id = j->id;
    j->t.json = j->json;
    j->t.req.done = change_answer;
    int rc = backend_template_put(svc->backend, &j->t);
    if (rc == -ENOTCONN) {
        snprintf(err, errlen, "%s is unreachable: templates cannot be changed until it is back",
                 backend_name(svc->backend));
        return -ESHUTDOWN;
    }
    if (rc < 0) {
        snprintf(err, errlen, "the template could not be queued for the store");
        return -ENOMEM;
    }
    return 0;
}

static int check_put(struct service *svc, struct template_job *j, const json_t *req, char *err,
                     size_t errlen)
{
    json_t *t = json_object_get(req, "template");
    if (t && !json_is_object(t)) {
        snprintf(err, errlen, "template must be an object {id, title, message}");
        return -EINVAL;
    }
    int rc = templates_check_put(t ? t : req, nd_wall_ms(), j->id, &j->json, err, errlen);
    if (rc < 0)
        return rc;
    json_t *old = templates_get(svc->templates, j->id);
    j->created = old == NULL;
    json_decref(old);
    return 0;
}

static int check_delete(struct service *svc, struct template_job *j, const json_t *req, char *err,
                        size_t errlen)
{
    int rc = templates_check_id(req, j->id, err, errlen);
    if (rc < 0)
        return rc;
    json_t *t = templates_get(svc->templates, j->id);
    if (!t) {
        snprintf(err, errlen, "template \"%s\" not found", j->id);
        return -ENOENT;
    }
    json_decref(t);
    return 0;
}

static int change_call(struct service *svc, const struct service_reply *to, const json_t *req,
                       const struct token_claims *caller, char *err, size_t errlen)
{
    struct template_job *j = calloc(1, sizeof *j);
    if (!j) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    j->to = *to;
    j->table = svc->templates;
    int rc = to->op->id == OP_PUT_TEMPLATE ? check_put(svc, j, req, err, errlen)
                                           : check_delete(svc, j, req, err, errlen);
    if (rc == 0) {
        service__audit(svc, to->op, caller, j->id); /* before: once submitted, @j is not ours */
        rc = change(svc, j, err, errlen);
    }
    if (rc < 0) {
        free(j->json);
        free(j);
    }
    return rc;
}

/* --- Get and List: from the table --- */

struct read_job {
    struct inbox_job job;
    struct service_reply to;
    json_t *body;
};

static void read_answer(struct inbox_job *job, void *ctx)
{
    struct read_job *j = ND_CONTAINER_OF(job, struct read_job, job);
    (void)ctx;
    service__reply(&j->to, j->body, NULL);
    free(j);
}

static int read_call(struct service *svc, const struct service_reply *to, const json_t *req,
                     const struct token_claims *caller, char *err, size_t errlen)
{
    char id[TEMPLATE_ID_MAX + 1] = "";
    json_t *body;
    if (to->op->id == OP_GET_TEMPLATE) {
        int rc = templates_check_id(req, id, err, errlen);
        if (rc < 0)
            return rc;
        json_t *t = templates_get(svc->templates, id);
        if (!t) {
            snprintf(err, errlen, "template \"%s\" not found", id);
            return -ENOENT;
        }
        body = json_pack("{s:o}", "template", t);
    } else {
        body = json_pack("{s:o?}", "templates", templates_list(svc->templates));
    }
    struct read_job *j = body ? calloc(1, sizeof *j) : NULL;
    if (!j) {
        json_decref(body);
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    j->to = *to;
    j->body = body;
    j->job.run = read_answer;
    service__audit(svc, to->op, caller, id);
    backend_defer(svc->backend, &j->job);
    return 0;
}

int service__template_call(struct service *svc, const struct service_reply *to, const json_t *req,
                           const struct token_claims *caller, char *err, size_t errlen)
{
    if (to->op->id == OP_PUT_TEMPLATE || to->op->id == OP_DELETE_TEMPLATE)
        return change_call(svc, to, req, caller, err, errlen);
    return read_call(svc, to, req, caller, err, errlen);
}
