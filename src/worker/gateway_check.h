/* gateway_check.h — gateway = worker: the promises nginx keeps in front of the pool otherwise (x-api-key, plans'
 * rate and burst, API Gateway's 403 and 429 bodies), for Apache and classic hosting where nothing is in front.
 *
 * Keys: the key store clone-jobs-admin manages (keys_dir/keys.tsv and plans.tsv, read by keystore_read.c).
 * The request must carry exactly one x-api-key header; its SHA-256 is compared with every active key's
 * digest with CRYPTO_memcmp and no early exit, so the time taken says nothing about which key or how much
 * of one matched. A change of either file (its inode, size, mtime or ctime: clone-jobs-admin replaces them
 * by rename) is seen at the next request, without a restart. A store that cannot be read answers 500.
 * Rate and burst: rate_table.h, one count for every process on the box. Quotas: as with nginx (quota.h),
 * from the key's plan. Routing (403 Missing Authentication Token) and the CORS preflight come first, as in
 * API Gateway; the identity parameters a gateway in front would pass (CLONE_JOBS_CLIENT, CLONE_JOBS_PLAN,
 * CLONE_JOBS_QUOTA) are ignored in this mode, whoever set them. */
#ifndef CLONE_JOBS_GATEWAY_CHECK_H
#define CLONE_JOBS_GATEWAY_CHECK_H

#include <stddef.h>

#include "conf.h"
#include "http.h"
#include "stats.h"

struct gateway_state;

/* One worker process's state (its threads share it): the key store as last read, the mapped rate table.
 * Returns NULL with err when the rate table or the key store cannot be opened. */
struct gateway_state *gateway_state_new(const struct conf *conf, char *err, size_t errlen);
void gateway_state_free(struct gateway_state *g);

/* Forget any identity the request's parameters claim (client, quota): only gateway_check sets them. */
void gateway_forget_identity(struct http_request *req);

/* Check the key and the plan's rate for a request that matched a route. Returns 1 to go on, with
 * req->client (the key's name) and req->quota (its plan's "N/PERIOD", or "") set; 0 when resp holds the
 * answer: 403 Forbidden, 429 Too Many Requests, 500 (the key store cannot be read) or 503 (the rate table's
 * lock was not had). */
int gateway_check(struct gateway_state *g, struct http_request *req, struct http_response *resp,
                  struct request_stats *st);

#endif
