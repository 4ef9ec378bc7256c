/* expr.c — the placeholder builder for condition, update and filter expressions, and scalar values.
 * Handlers write the expression's shape with the placeholders this hands out; data goes in the maps. */
#include "config.h"

#include "expr.h"

#include <stdio.h>
#include <string.h>

#include "jsonx.h"

void expr_init(struct expr_builder *eb)
{
    memset(eb, 0, sizeof *eb);
    eb->names = json_object_new_object();
    eb->values = json_object_new_object();
    if (!eb->names || !eb->values)
        eb->failed = 1;
}

void expr_free(struct expr_builder *eb)
{
    json_object_put(eb->names);
    json_object_put(eb->values);
    memset(eb, 0, sizeof *eb);
}

const char *expr_name(struct expr_builder *eb, const char *name, char out[16])
{
    out[0] = '\0';
    if (eb->failed)
        return out;
    json_object_object_foreach(eb->names, k, v) {
        if (strcmp(json_object_get_string(v), name) == 0) {
            snprintf(out, 16, "%s", k);
            return out;
        }
    }
    snprintf(out, 16, "#n%d", eb->name_count++);
    if (json_add(eb->names, out, json_object_new_string(name)) != 0) {
        eb->failed = 1;
        out[0] = '\0';
    }
    return out;
}

const char *expr_value(struct expr_builder *eb, json_object *av, char out[16])
{
    out[0] = '\0';
    if (eb->failed) {
        json_object_put(av);
        return out;
    }
    snprintf(out, 16, ":v%d", eb->value_count++);
    if (json_add(eb->values, out, av) != 0) {
        eb->failed = 1;
        out[0] = '\0';
    }
    return out;
}

void expr_apply(struct expr_builder *eb, struct ddb_expr *e)
{
    e->names = eb->name_count ? eb->names : NULL;
    e->values = eb->value_count ? eb->values : NULL;
}

json_object *expr_scalar_av(const char *type, const char *text, size_t len)
{
    json_object *av = json_object_new_object();
    if (json_add(av, type, json_object_new_string_len(text, (int)len)) != 0) {
        json_object_put(av);
        return NULL;
    }
    return av;
}
