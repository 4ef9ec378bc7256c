/* openapi.h — the API as an OpenAPI 3.0 document, generated from the route table (routes.def), one description per
 * route (openapi_routes.def) and the shared components (openapi_components.json): `clone-jobs-fcgi --openapi`. */
#ifndef CLONE_JOBS_OPENAPI_H
#define CLONE_JOBS_OPENAPI_H

#include <stddef.h>

#include "buf.h"
#include "conf.h"

/* The document for configuration c (its stage and server name make the server URL), as pretty JSON into out.
 * Returns 0, or -1 with err (a route without a description, a description without a route, no memory). */
int openapi_document(const struct conf *c, struct buf *out, char *err, size_t errlen);

#endif
