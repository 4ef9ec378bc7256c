/* expr.h — DynamoDB expressions built from placeholders only: names become #n0, #n1..., values :v0...,
 * so no client input ever reaches an expression's text. */
#ifndef CLONE_JOBS_EXPR_H
#define CLONE_JOBS_EXPR_H

#include <stddef.h>
#include <json-c/json.h>

#include "ddb.h"

struct expr_builder {
    json_object *names;
    json_object *values;
    int name_count;
    int value_count;
    int failed;       /* out of memory at some step: the expression must not be sent */
};

void expr_init(struct expr_builder *eb);
void expr_free(struct expr_builder *eb);
/* The placeholder for an attribute name ("#n0"), reused for a name seen before; "" once failed. */
const char *expr_name(struct expr_builder *eb, const char *name, char out[16]);
/* The placeholder for a value; av is consumed (NULL marks the builder failed). "" once failed. */
const char *expr_value(struct expr_builder *eb, json_object *av, char out[16]);
/* Fill e's names and values (NULL when none were used); they stay the builder's. */
void expr_apply(struct expr_builder *eb, struct ddb_expr *e);

/* An attribute value of one scalar type: {"S": text} or {"N": text} (caller owns), or NULL. */
json_object *expr_scalar_av(const char *type, const char *text, size_t len);

#endif
