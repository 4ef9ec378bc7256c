/* openapi.c — builds the OpenAPI 3.0 document from the route table and its descriptions with json-c, so that
 * Postman and other tools can import the API as they imported API Gateway's export. See openapi.h. */
#include "config.h"

#include "openapi.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "jsonx.h"
#include "router.h"

struct route_doc {
    const char *method, *path, *operation_id, *summary, *parameters, *body, *answers;
};

static const struct route_doc docs[] = {
#define DOC(method, path, id, summary, parameters, body, answers) \
    {#method, path, id, summary, parameters, body, answers},
#include "openapi_routes.def"
#undef DOC
};

/* openapi_components.json as a C string, made by the build (Makefile.am) from the readable file. */
static const char components_json[] =
#include "src/worker/openapi_components.inc"
    ;

/* What any request can be answered besides its route's own answers: the gateway's (403, 413, 429, 502, 504)
 * and the worker's limits and failures (414, 431, 500, 503). */
static const char common_answers[] = "403:Forbidden 413:RequestTooLong 414:UriTooLong 429:TooManyRequests "
                                     "431:HeaderTooLarge 500:InternalError 502:BadGateway 503:Unavailable "
                                     "504:GatewayTimeout";

static json_object *ref(const char *kind, const char *name, size_t len)
{
    char text[160];
    int n = snprintf(text, sizeof text, "#/components/%s/%.*s", kind, (int)len, name);
    json_object *o = json_object_new_object();
    if (n < 0 || (size_t)n >= sizeof text || json_add(o, "$ref", json_object_new_string(text)) != 0) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

/* Add "STATUS:NAME ..." to responses, leaving statuses it already has. */
static int add_answers(json_object *responses, const char *list)
{
    for (const char *p = list; *p;) {
        p += strspn(p, " ");
        size_t n = strcspn(p, " ");
        const char *colon = memchr(p, ':', n);
        if (!n)
            break;
        if (!colon || colon - p != 3)
            return -1;
        char status[4];
        memcpy(status, p, 3);
        status[3] = '\0';
        if (!json_object_object_get_ex(responses, status, NULL) &&
            json_add(responses, status, ref("responses", colon + 1, (size_t)(p + n - colon - 1))) != 0)
            return -1;
        p += n;
    }
    return 0;
}

static json_object *operation(const struct route_doc *d)
{
    json_object *op = json_object_new_object();
    json_object *params = json_object_new_array();
    json_object *responses = json_object_new_object();
    int ok = op && json_add(op, "operationId", json_object_new_string(d->operation_id)) == 0 &&
             json_add(op, "summary", json_object_new_string(d->summary)) == 0 &&
             json_add(op, "tags", json_object_new_array_ext(1)) == 0;
    if (ok) {
        /* Part 1 is the tutorial's API (and GET /clones, which it had); part 2 the resource API. */
        int part2 = strncmp(d->path, "/clones", 7) == 0 && strcmp(d->path, "/clones") != 0;
        part2 |= strcmp(d->path, "/clones") == 0 && strcmp(d->method, "POST") == 0;
        json_object *tag = json_object_new_string(part2 ? "resource API" : "tutorial API");
        if (!tag || json_object_array_add(json_object_object_get(op, "tags"), tag) != 0) {
            json_object_put(tag);
            ok = 0;
        }
    }
    for (const char *p = d->parameters; ok && *p;) {
        p += strspn(p, " ");
        size_t n = strcspn(p, " ");
        json_object *param = n ? ref("parameters", p, n) : NULL;
        if (n && (!param || json_object_array_add(params, param) != 0)) {
            json_object_put(param);
            ok = 0;
        }
        p += n;
    }
    if (ok && json_object_array_length(params) > 0) {
        ok = json_add(op, "parameters", params) == 0;
        params = NULL;
    }
    if (ok && d->body[0]) {
        json_object *body = json_object_new_object();
        json_object *content = json_object_new_object();
        ok = json_add(body, "required", json_object_new_boolean(1)) == 0;
        ok = json_add(body, "content", content) == 0 && ok; /* takes content either way */
        const char *types[] = {"application/json", strcmp(d->body, "MergePatch") == 0 ? "application/merge-patch+json"
                                                                                       : NULL};
        for (size_t i = 0; ok && i < 2 && types[i]; i++) {
            json_object *media = json_object_new_object();
            if (json_add(media, "schema", ref("schemas", d->body, strlen(d->body))) != 0) {
                json_object_put(media);
                ok = 0;
            } else {
                ok = json_add(content, types[i], media) == 0;
            }
        }
        ok = json_add(op, "requestBody", body) == 0 && ok;
    }
    ok = ok && add_answers(responses, d->answers) == 0 && add_answers(responses, common_answers) == 0;
    if (ok) {
        ok = json_add(op, "responses", responses) == 0;
        responses = NULL;
    }
    json_object_put(params);
    json_object_put(responses);
    if (!ok) {
        json_object_put(op);
        return NULL;
    }
    return op;
}

/* The CORS preflight of a path: no key, the path's parameters, the CORS headers. */
static json_object *preflight(const char *path)
{
    char id[96] = "preflight";
    size_t n = strlen(id);
    int upper = 1; /* preflightClonesCloneID: each segment's first letter in capitals */
    for (const char *p = path; *p && n + 1 < sizeof id; p++) {
        if (!isalnum((unsigned char)*p)) {
            upper = 1;
            continue;
        }
        id[n++] = upper ? (char)toupper((unsigned char)*p) : *p;
        upper = 0;
    }
    id[n] = '\0';
    json_object *op = json_object_new_object();
    json_object *responses = json_object_new_object();
    int ok = json_add(op, "operationId", json_object_new_string(id)) == 0 &&
             json_add(op, "summary",
                      json_object_new_string("CORS preflight: answered by the gateway, no key needed")) == 0 &&
             json_add(op, "security", json_object_new_array()) == 0 &&
             json_add(responses, "200", ref("responses", "Preflight", strlen("Preflight"))) == 0;
    if (ok && strstr(path, "{cloneID}")) {
        json_object *params = json_object_new_array();
        json_object *param = ref("parameters", "cloneIDPath", strlen("cloneIDPath"));
        if (!params || !param || json_object_array_add(params, param) != 0) {
            json_object_put(param);
            ok = 0;
        }
        ok = json_add(op, "parameters", params) == 0 && ok;
    }
    if (ok) {
        ok = json_add(op, "responses", responses) == 0;
        responses = NULL;
    }
    json_object_put(responses);
    if (!ok) {
        json_object_put(op);
        return NULL;
    }
    return op;
}

static void lower(const char *in, char *out, size_t len)
{
    size_t i = 0;
    for (; in[i] && i + 1 < len; i++)
        out[i] = (char)tolower((unsigned char)in[i]);
    out[i] = '\0';
}

/* {"url": "https://{host}STAGE", "variables": {"host": {"default": server_name[:port]}}}. */
static json_object *servers(const struct conf *c)
{
    char host[sizeof c->server_name + sizeof c->listen + 2];
    const char *colon = strrchr(c->listen, ':');
    const char *port = colon ? colon + 1 : c->listen;
    if (strspn(port, "0123456789") == strlen(port) && *port && strcmp(port, "443") != 0)
        snprintf(host, sizeof host, "%s:%s", c->server_name, port);
    else
        snprintf(host, sizeof host, "%s", c->server_name);
    char url[sizeof c->stage + 16];
    snprintf(url, sizeof url, "https://{host}%s", c->stage);
    json_object *list = json_object_new_array();
    json_object *server = json_object_new_object();
    json_object *vars = json_object_new_object();
    json_object *h = json_object_new_object();
    int ok = json_add(h, "default", json_object_new_string(host)) == 0 &&
             json_add(h, "description", json_object_new_string("the gateway's host name (server_name) and port")) == 0;
    ok = json_add(vars, "host", h) == 0 && ok;
    ok = ok && json_add(server, "url", json_object_new_string(url)) == 0 &&
         json_add(server, "description",
                  json_object_new_string(c->stage[0] ? "the gateway, with the configured stage as the path prefix"
                                                     : "the gateway (no stage configured)")) == 0;
    ok = json_add(server, "variables", vars) == 0 && ok;
    if (ok && json_object_array_add(list, server) == 0)
        return list;
    json_object_put(list);
    return NULL;
}

int openapi_document(const struct conf *c, struct buf *out, char *err, size_t errlen)
{
    size_t count;
    const struct route *routes = router_routes(&count);
    size_t ndocs = sizeof docs / sizeof docs[0];
#define SAME(d, r) (strcmp((d).method, (r).method) == 0 && strcmp((d).path, (r).pattern) == 0)
    /* Every route described, every description a route: the two tables must not drift. */
    for (size_t i = 0; i < count; i++) {
        size_t k = 0;
        while (k < ndocs && !SAME(docs[k], routes[i]))
            k++;
        if (k == ndocs) {
            snprintf(err, errlen, "route %s %s has no description in openapi_routes.def", routes[i].method,
                     routes[i].pattern);
            return -1;
        }
    }
    for (size_t k = 0; k < ndocs; k++) {
        size_t i = 0;
        while (i < count && !SAME(docs[k], routes[i]))
            i++;
        if (i == count) {
            snprintf(err, errlen, "openapi_routes.def describes %s %s, which routes.def does not have", docs[k].method,
                     docs[k].path);
            return -1;
        }
    }
    json_object *components = json_tokener_parse(components_json);
    if (!components) {
        snprintf(err, errlen, "openapi_components.json is not valid JSON (or no memory)");
        return -1;
    }
    json_object *doc = json_object_new_object();
    json_object *info = json_object_new_object();
    json_object *security = json_object_new_array();
    json_object *requirement = json_object_new_object();
    json_object *paths = json_object_new_object();
    int ok = json_add(doc, "openapi", json_object_new_string("3.0.3")) == 0;
    ok = ok && json_add(info, "title", json_object_new_string("clone-jobs")) == 0 &&
         json_add(info, "version", json_object_new_string(PACKAGE_VERSION)) == 0 &&
         json_add(info, "description",
                  json_object_new_string("CRUD on the clone-jobs DynamoDB table, as the API Gateway + Lambda "
                                         "setup served it (part 1, the tutorial's API) and as a resource API "
                                         "(part 2). Every route needs the x-api-key header; every answer "
                                         "carries x-amzn-RequestId and the CORS headers.")) == 0;
    ok = json_add(doc, "info", info) == 0 && ok;
    ok = ok && json_add(doc, "servers", servers(c)) == 0;
    ok = json_add(requirement, "apiKey", json_object_new_array()) == 0 && ok;
    if (json_object_array_add(security, requirement) != 0) {
        json_object_put(requirement);
        ok = 0;
    }
    ok = json_add(doc, "security", security) == 0 && ok;
    ok = json_add(doc, "paths", paths) == 0 && ok;
    for (size_t i = 0; ok && i < count; i++) {
        json_object *item = json_object_object_get(paths, routes[i].pattern);
        if (!item) {
            item = json_object_new_object();
            ok = json_add(paths, routes[i].pattern, item) == 0 &&
                 json_add(item, "options", preflight(routes[i].pattern)) == 0;
        }
        size_t k = 0;
        while (!SAME(docs[k], routes[i]))
            k++;
        char method[16];
        lower(routes[i].method, method, sizeof method);
        ok = ok && json_add(item, method, operation(&docs[k])) == 0;
    }
    ok = json_add(doc, "components", components) == 0 && ok;
    const char *text = ok ? json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                                    JSON_C_TO_STRING_NOSLASHESCAPE)
                          : NULL;
    int rc = text && buf_append_str(out, text) == 0 && buf_append(out, "\n", 1) == 0 ? 0 : -1;
    if (rc != 0)
        snprintf(err, errlen, "out of memory building the OpenAPI document");
    json_object_put(doc);
    return rc;
}
