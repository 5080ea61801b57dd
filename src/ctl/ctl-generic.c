/* SPDX-License-Identifier: MIT */

/* classes, query, list, show, get, set, create, delete, call: one implementation for every class,
 * driven by PropertySchema and MethodSchema. No class is known by name here. */

#include <errno.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ctl/ctl-bus.h"
#include "ctl/ctl-generic.h"
#include "ctl/ctl-job.h"
#include "ctl/ctl-output.h"
#include "ctl/ctl-schema.h"
#include "ctl/ctl-value.h"

/* The columns `list` shows after the key properties, where a class has them. */
static const char *const summary_properties[] = {
        "Name",        "LocalizedDisplayName", "DriverClass", "DriverVersion", "Architectures", "ServerName", "PackageType", "Architecture", "ImageOSVersion", "Version", "SourceVersion",
        "State",       "Time",       "MessageID",   "Severity",     "LanguageID",     "ContentRoot", "Description",
};
#define MAX_DEFAULT_COLUMNS 7

/* --- instances --------------------------------------------------------------------------------- */

/* Loads CLASS, resolves KEY, and loads the class the instance really is (a query on a base class
 * finds derived ones, whose properties the base schema does not list). */
static int instance_open(Ctl *c, const char *class_name, const char *key, CtlClass **ret_class, char **ret_path) {
        _cleanup_(ctl_class_freep) CtlClass *k = NULL;
        _cleanup_free_ char *path = NULL, *concrete = NULL;
        int r;

        r = ctl_class_load(c, class_name, &k);
        if (r < 0)
                return r;
        r = ctl_resolve_instance(c, k, key, &path);
        if (r < 0)
                return r;
        concrete = ctl_path_class(path);
        if (concrete && !streq(concrete, k->name)) {
                ctl_class_free(TAKE_PTR(k));
                r = ctl_class_load(c, concrete, &k);
                if (r < 0)
                        return r;
        }
        *ret_class = TAKE_PTR(k);
        *ret_path = TAKE_PTR(path);
        return 0;
}

static int get_property_json(Ctl *c, const char *path, const CtlProperty *p, json_object **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_free_ char *iface = ctl_class_interface(p->owner);
        int r;

        if (!iface)
                return ctl_oom();
        r = ctl_get_property(c, path, iface, p->name, &reply);
        if (r < 0)
                return r;
        return ctl_value_read_json(reply, ret);
}

/* Every property of an instance in schema order, lazy ones by explicit Get when `lazy`. */
static int instance_read(Ctl *c, const CtlClass *k, const char *path, bool lazy, json_object **ret) {
        _cleanup_(json_object_putp) json_object *all = json_object_new_object(), *props = json_object_new_object();
        int r;

        if (!all || !props)
                return ctl_oom();
        for (char **level = k->hierarchy; level && *level; level++) {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
                _cleanup_free_ char *iface = ctl_class_interface(*level);

                if (!iface)
                        return ctl_oom();
                r = ctl_get_all(c, path, iface, &reply);
                if (r < 0)
                        return r;
                r = ctl_value_read_dict(reply, all);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < k->n_properties; i++) {
                const CtlProperty *p = &k->properties[i];
                json_object *v = NULL;

                if (p->flags & CTL_PROP_CREATE_ONLY)
                        continue;
                if (json_object_object_get_ex(all, p->name, &v))
                        r = json_add(props, p->name, json_object_get(v));
                else if (lazy) {
                        r = get_property_json(c, path, p, &v);
                        if (r >= 0)
                                r = json_add(props, p->name, v);
                } else
                        continue;
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(props);
        return 0;
}

static int add_identity(json_object *o, const char *path) {
        _cleanup_free_ char *cls = ctl_path_class(path);
        int r = 0;

        if (cls)
                r = json_add(o, "__CLASS", json_object_new_string(cls));
        if (r >= 0)
                r = json_add(o, "__PATH", json_object_new_string(path));
        return r;
}

/* "Name: value" lines with the names aligned, for one object. */
static int print_fields(const Ctl *c, json_object *o, const CtlClass *k) {
        size_t width = 0;

        json_object_object_foreach(o, name, v) {
                (void) v;
                if (strlen(name) > width)
                        width = strlen(name);
        }
        json_object_object_foreach(o, key, value) {
                const CtlProperty *p = k ? ctl_class_property(k, key) : NULL;
                _cleanup_free_ char *text = ctl_value_format(value, p ? p->type : _CIM_TYPE_INVALID, false);
                if (!text)
                        return ctl_oom();
                printf("%*s: %s\n", (int) width, key, text);
        }
        return fflush(stdout) == 0 ? 0 : ctl_errorf(CTL_EXIT_FAILED, CTL_ERROR_FAILED, "cannot write: %m");
}

/* A call of `member` whose argument is PROP=VALUE… as an a{sv} (Put, Create), each value typed by
 * the schema. A name the schema does not know goes as a string: the daemon answers
 * InvalidProperty, which is its call to make. */
static int assignments_call_new(Ctl *c, const CtlClass *k, const char *path, const char *iface, const char *member,
                                char *const *assignments, sd_bus_message **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        r = ctl_message_new(c, &m, path, iface, member);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r < 0)
                return ctl_bus_error(NULL, r);
        for (char *const *a = assignments; a && *a; a++) {
                _cleanup_free_ char *name = NULL, *absolute = NULL;
                const char *eq = strchr(*a, '='), *value;
                const CtlProperty *p;

                if (!eq || eq == *a)
                        return ctl_usage("'%s' is not PROPERTY=VALUE", *a);
                name = strndup(*a, (size_t) (eq - *a));
                if (!name)
                        return ctl_oom();
                value = eq + 1;
                p = ctl_class_property(k, name);
                if (p && (p->flags & CTL_PROP_PATH) && streq(p->signature, "s") && *value) {
                        absolute = ctl_absolute_path(value);
                        if (!absolute)
                                return ctl_oom();
                        value = absolute;
                }
                r = sd_bus_message_open_container(m, 'e', "sv");
                if (r >= 0)
                        r = sd_bus_message_append(m, "s", p ? p->name : name);
                if (r < 0)
                        return ctl_bus_error(NULL, r);
                r = ctl_value_append_variant(m, p ? p->signature : "s", p ? p->type : _CIM_TYPE_INVALID, value,
                                             p ? p->name : name);
                if (r < 0)
                        return r;
                r = sd_bus_message_close_container(m);
                if (r < 0)
                        return ctl_bus_error(NULL, r);
        }
        r = sd_bus_message_close_container(m);
        if (r < 0)
                return ctl_bus_error(NULL, r);
        *ret = TAKE_PTR(m);
        return 0;
}

/* --- queries ----------------------------------------------------------------------------------- */

/* One page's rows from an ExecQueryPage reply, into the array rows. */
static int read_rows(sd_bus_message *reply, json_object *rows) {
        const char *path;
        int r;

        if ((r = ctl_enter_container(reply, 'a', "(oa{sv})")) < 0)
                return r;
        while ((r = sd_bus_message_enter_container(reply, 'r', "oa{sv}")) > 0) {
                json_object *row = json_object_new_object();

                if (!row || json_object_array_add(rows, row) < 0) {
                        json_object_put(row);
                        return ctl_oom();
                }
                r = sd_bus_message_read(reply, "o", &path);
                if (r < 0)
                        return ctl_bus_error(NULL, r);
                r = ctl_value_read_dict(reply, row);
                if (r >= 0)
                        r = add_identity(row, path);
                if (r < 0)
                        return r;
                if ((r = ctl_exit_container(reply)) < 0)
                        return r;
        }
        return ctl_end_container(reply, r);
}

int ctl_query_pages(Ctl *c, const char *wql, CtlPageFunc f, void *userdata) {
        _cleanup_free_ char *cursor = strdup("");
        int r;

        if (!cursor)
                return ctl_oom();
        do {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
                json_object *rows = json_object_new_array();
                const char *next;

                if (!rows)
                        return ctl_oom();
                /* MaxRows 0: the daemon's page size */
                r = ctl_call(c, SMSPROV_ROOT, SMSPROV_SITE_IFACE, "ExecQueryPage", &reply, "ssu", wql, cursor, 0);
                if (r >= 0)
                        r = read_rows(reply, rows);
                if (r >= 0 && (r = sd_bus_message_read(reply, "s", &next)) < 0)
                        r = ctl_bus_error(NULL, r);
                if (r < 0) {
                        json_object_put(rows);
                        return r;
                }
                free(cursor);
                cursor = strdup(next);
                if (!cursor) {
                        json_object_put(rows);
                        return ctl_oom();
                }
                r = f(rows, *cursor != 0, userdata);
                if (r < 0)
                        return r;
        } while (*cursor);
        return 0;
}

static int collect_page(json_object *rows, bool more, void *userdata) {
        json_object *all = userdata;
        int r = 0;

        for (size_t i = 0; r >= 0 && i < json_object_array_length(rows); i++)
                if (json_object_array_add(all, json_object_get(json_object_array_get_idx(rows, i))) < 0)
                        r = ctl_oom();
        json_object_put(rows);
        return r;
}

/* The rows of a WQL query as JSON objects: the selected properties, then __CLASS and __PATH. */
int ctl_query_rows(Ctl *c, const char *wql, json_object **ret) {
        _cleanup_(json_object_putp) json_object *rows = json_object_new_array();
        int r;

        if (!rows)
                return ctl_oom();
        r = ctl_query_pages(c, wql, collect_page, rows);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(rows);
        return 0;
}

/* Prints the rows of a query as its pages come, holding one page at a time: a table with the
 * given columns (NULL: every property of the first page's rows), or JSON. A result of one page
 * prints exactly as one document or table would; with more, the table keeps the first page's
 * column widths and the JSON array is written a row at a time. */
typedef struct RowPrinter {
        Ctl *c;
        char **columns;        /* borrowed, or names */
        char **names;
        const char *noun;
        Table *table;
        CtlClassCache cache;
        size_t n_rows;         /* all pages, for the footer when there are no columns */
        bool json_open;        /* "[" written */
} RowPrinter;

static void row_printer_done(RowPrinter *p) {
        table_free(p->table);
        strv_free(p->names);
        ctl_class_cache_done(&p->cache);
}

/* The union of the rows' properties, in the order they first appear. */
static int row_columns(json_object *rows, char ***ret) {
        size_t n_rows = json_object_array_length(rows), n = 0, allocated = 16;
        _cleanup_strv_free_ char **names = calloc(allocated, sizeof(char *));

        if (!names)
                return ctl_oom();
        for (size_t i = 0; i < n_rows; i++) {
                json_object_object_foreach(json_object_array_get_idx(rows, i), key, value) {
                        bool seen = false;
                        (void) value;
                        if (strncmp(key, "__", 2) == 0)
                                continue;
                        for (size_t j = 0; j < n && !seen; j++)
                                seen = streq(names[j], key);
                        if (seen)
                                continue;
                        if (n + 1 >= allocated) {
                                char **more = realloc(names, 2 * allocated * sizeof(char *));
                                if (!more)
                                        return ctl_oom();
                                names = more;
                                allocated *= 2;
                        }
                        if (!(names[n++] = strdup(key)))
                                return ctl_oom();
                        names[n] = NULL;
                }
        }
        *ret = TAKE_PTR(names);
        return 0;
}

static int row_printer_json(RowPrinter *p, json_object *rows, bool more) {
        int flags = JSON_C_TO_STRING_NOSLASHESCAPE | (p->c->json_pretty ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED
                                                                        : JSON_C_TO_STRING_PLAIN);

        if (!p->json_open && !more)
                return ctl_json_print(p->c, rows); /* one page: one document, as before */

        for (size_t i = 0; i < json_object_array_length(rows); i++) {
                const char *s = json_object_to_json_string_ext(json_object_array_get_idx(rows, i), flags);
                if (!s) {
                        json_object_put(rows);
                        return ctl_oom();
                }
                fputs(p->json_open ? "," : "[", stdout);
                if (p->c->json_pretty)
                        fputc('\n', stdout);
                fputs(s, stdout);
                p->json_open = true;
        }
        json_object_put(rows);
        if (!more)
                puts(p->json_open ? (p->c->json_pretty ? "\n]" : "]") : "[]");
        return fflush(stdout) == 0 ? 0 : ctl_errorf(CTL_EXIT_FAILED, CTL_ERROR_FAILED, "cannot write: %m");
}

static int row_printer_page(json_object *rows, bool more, void *userdata) {
        _cleanup_(json_object_putp) json_object *page = rows;
        RowPrinter *p = userdata;
        size_t n_rows = json_object_array_length(page), n;
        int r;

        if (p->c->json)
                return row_printer_json(p, TAKE_PTR(page), more);

        if (!p->table) {
                if (!p->columns) {
                        r = row_columns(page, &p->names);
                        if (r < 0)
                                return r;
                        p->columns = p->names;
                }
                n = strv_length(p->columns);
                p->table = table_new(n, (const char *const *) p->columns);
                if (!p->table)
                        return ctl_oom();
        }
        n = strv_length(p->columns);
        p->n_rows += n_rows;
        if (n == 0) {
                if (!more && p->c->legend)
                        printf("%zu %s listed.\n", p->n_rows, p->noun);
                return 0;
        }

        for (size_t i = 0; i < n_rows; i++) {
                json_object *row = json_object_array_get_idx(page, i), *cls = NULL;
                const CtlClass *k;

                json_object_object_get_ex(row, "__CLASS", &cls);
                k = ctl_class_cache_get(p->c, &p->cache, cls ? json_object_get_string(cls) : NULL);
                for (size_t col = 0; col < n; col++) {
                        const CtlProperty *prop = k ? ctl_class_property(k, p->columns[col]) : NULL;
                        json_object *v = NULL;

                        if (!json_object_object_get_ex(row, p->columns[col], &v))
                                r = table_add(p->table, "");
                        else
                                r = table_add_take(p->table,
                                                   ctl_value_format(v, prop ? prop->type : _CIM_TYPE_INVALID, false));
                        if (r < 0)
                                return r;
                }
        }
        return more ? table_flush(p->table, p->c) : table_print(p->table, p->c, p->noun);
}

static int print_query(Ctl *c, const char *wql, char **columns, const char *noun) {
        _cleanup_(row_printer_done) RowPrinter p = { .c = c, .columns = columns, .noun = noun };

        return ctl_query_pages(c, wql, row_printer_page, &p);
}

static int split_columns(const char *text, char ***ret) {
        _cleanup_strv_free_ char **l = calloc(strlen(text) + 2, sizeof(char *));
        _cleanup_free_ char *copy = strdup(text);
        size_t n = 0;

        if (!l || !copy)
                return ctl_oom();
        for (char *save = NULL, *w = strtok_r(copy, ", ", &save); w; w = strtok_r(NULL, ", ", &save))
                if (!(l[n++] = strdup(w)))
                        return ctl_oom();
        *ret = TAKE_PTR(l);
        return 0;
}

/* The default columns of `list`: the keys, then the summary properties the class has. */
static int default_columns(const Ctl *c, const CtlClass *k, char ***ret) {
        _cleanup_strv_free_ char **l = calloc(k->n_properties + 1, sizeof(char *));
        size_t n = 0;

        if (!l)
                return ctl_oom();
        for (size_t i = 0; i < k->n_properties; i++) {
                const CtlProperty *p = &k->properties[i];
                if ((p->flags & (CTL_PROP_LAZY | CTL_PROP_LARGE | CTL_PROP_CREATE_ONLY | CTL_PROP_WRITE_ONLY)) &&
                    !(p->flags & CTL_PROP_KEY))
                        continue;
                if (c->all_columns || (p->flags & CTL_PROP_KEY))
                        if (!(l[n++] = strdup(p->name)))
                                return ctl_oom();
        }
        for (size_t i = 0; !c->all_columns && i < ELEMENTSOF(summary_properties) && n < MAX_DEFAULT_COLUMNS; i++) {
                const CtlProperty *p = ctl_class_property(k, summary_properties[i]);
                if (!p || (p->flags & (CTL_PROP_KEY | CTL_PROP_LAZY | CTL_PROP_LARGE | CTL_PROP_CREATE_ONLY)))
                        continue;
                if (!(l[n++] = strdup(p->name)))
                        return ctl_oom();
        }
        *ret = TAKE_PTR(l);
        return 0;
}

int ctl_list(Ctl *c, const char *class_name, const char *where) {
        _cleanup_(ctl_class_freep) CtlClass *k = NULL;
        _cleanup_strv_free_ char **columns = NULL;
        _cleanup_free_ char *wql = NULL;
        int r;

        r = ctl_class_load(c, class_name, &k);
        if (r < 0)
                return r;
        if (asprintf(&wql, "SELECT * FROM %s%s%s", k->name, where ? " WHERE " : "", where ? where : "") < 0)
                return ctl_oom();
        if (!c->json) {
                r = c->columns ? split_columns(c->columns, &columns) : default_columns(c, k, &columns);
                if (r < 0)
                        return r;
        }
        return print_query(c, wql, columns, "instances");
}

/* --- classes ----------------------------------------------------------------------------------- */

static json_object *class_to_json(const CtlClass *k) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object(), *props = json_object_new_array(),
                                                *methods = json_object_new_array();

        if (!o || !props || !methods)
                return NULL;
        for (size_t i = 0; i < k->n_properties; i++) {
                const CtlProperty *p = &k->properties[i];
                json_object *e = json_object_new_object(), *q = json_object_new_array();
                if (!e || !q || json_object_array_add(props, e) < 0) {
                        json_object_put(e);
                        json_object_put(q);
                        return NULL;
                }
                for (char **s = p->qualifiers; s && *s; s++)
                        json_object_array_add(q, json_object_new_string(*s));
                if (json_add(e, "Name", json_object_new_string(p->name)) < 0 ||
                    json_add(e, "Type", json_object_new_string(p->cim_type)) < 0 ||
                    json_add(e, "Qualifiers", q) < 0 || json_add(e, "Class", json_object_new_string(p->owner)) < 0)
                        return NULL;
        }
        for (size_t i = 0; i < k->n_methods; i++) {
                const CtlMethod *meth = &k->methods[i];
                json_object *e = json_object_new_object();
                if (!e || json_object_array_add(methods, e) < 0) {
                        json_object_put(e);
                        return NULL;
                }
                if (json_add(e, "Name", json_object_new_string(meth->name)) < 0 ||
                    json_add(e, "IsStatic", json_object_new_boolean(meth->is_static)) < 0 ||
                    json_add(e, "InSignature", json_object_new_string(meth->in_signature)) < 0 ||
                    json_add(e, "OutSignature", json_object_new_string(meth->out_signature)) < 0 ||
                    json_add(e, "Class", json_object_new_string(meth->owner)) < 0)
                        return NULL;
        }
        if (json_add(o, "Name", json_object_new_string(k->name)) < 0 ||
            json_add(o, "SuperClass", json_object_new_string(k->super_class)) < 0 ||
            json_add(o, "Abstract", json_object_new_boolean(k->abstract)) < 0 ||
            json_add(o, "PropertySchema", TAKE_PTR(props)) < 0 || json_add(o, "MethodSchema", TAKE_PTR(methods)) < 0)
                return NULL;
        return TAKE_PTR(o);
}

static char *join_qualifiers(char **q) {
        size_t len = 1;
        char *s, *w;

        for (char **i = q; i && *i; i++)
                len += strlen(*i) + 1;
        s = w = malloc(len);
        if (!s)
                return NULL;
        *s = 0;
        for (char **i = q; i && *i; i++)
                w += sprintf(w, "%s%s", i == q ? "" : ",", *i);
        return s;
}

/* classes CLASS: its properties and methods. */
static int describe_class(Ctl *c, const char *class_name) {
        static const char *const headers[] = { "Name", "Kind", "Type", "Qualifiers", "Class" };
        _cleanup_(ctl_class_freep) CtlClass *k = NULL;
        _cleanup_(table_freep) Table *t = NULL;
        int r;

        r = ctl_class_load(c, class_name, &k);
        if (r < 0)
                return r;
        if (c->json) {
                json_object *o = class_to_json(k);
                return o ? ctl_json_print(c, o) : ctl_oom();
        }
        t = table_new(ELEMENTSOF(headers), headers);
        if (!t)
                return ctl_oom();
        for (size_t i = 0; i < k->n_properties; i++) {
                const CtlProperty *p = &k->properties[i];
                if ((r = table_add(t, p->name)) < 0 || (r = table_add(t, "property")) < 0 ||
                    (r = table_add(t, p->cim_type)) < 0 ||
                    (r = table_add_take(t, join_qualifiers(p->qualifiers))) < 0 || (r = table_add(t, p->owner)) < 0)
                        return r;
        }
        for (size_t i = 0; i < k->n_methods; i++) {
                const CtlMethod *meth = &k->methods[i];
                char *sig = NULL;
                if (asprintf(&sig, "%s\xe2\x86\x92%s", meth->in_signature, meth->out_signature) < 0)
                        return ctl_oom();
                if ((r = table_add(t, meth->name)) < 0 ||
                    (r = table_add(t, meth->is_static ? "static" : "method")) < 0 || (r = table_add_take(t, sig)) < 0 ||
                    (r = table_add(t, "")) < 0 || (r = table_add(t, meth->owner)) < 0)
                        return r;
        }
        return table_print(t, c, "members");
}

int verb_classes(Ctl *c, int argc, char **argv) {
        static const char *const headers[] = { "Name", "SuperClass", "Abstract", "Keys" };
        _cleanup_(json_object_putp) json_object *all = NULL;
        _cleanup_(table_freep) Table *t = NULL;
        _cleanup_strv_free_ char **classes = NULL;
        int r;

        if (argc > 1)
                return describe_class(c, argv[1]);
        r = ctl_site_classes(c, &classes);
        if (r < 0)
                return r;
        all = json_object_new_array();
        t = table_new(ELEMENTSOF(headers), headers);
        if (!all || !t)
                return ctl_oom();
        for (char **name = classes; *name; name++) {
                _cleanup_(ctl_class_freep) CtlClass *k = NULL;
                _cleanup_free_ char *keys = NULL;

                r = ctl_class_load(c, *name, &k);
                if (r < 0)
                        return r;
                if (c->json) {
                        json_object *o = class_to_json(k);
                        if (!o || json_object_array_add(all, o) < 0) {
                                json_object_put(o);
                                return ctl_oom();
                        }
                        continue;
                }
                keys = calloc(1, 1);
                for (size_t i = 0; keys && i < k->n_properties; i++)
                        if (k->properties[i].flags & CTL_PROP_KEY) {
                                char *more = NULL;
                                if (asprintf(&more, "%s%s%s", keys, *keys ? "," : "", k->properties[i].name) < 0)
                                        more = NULL;
                                free(keys);
                                keys = more;
                        }
                if (!keys)
                        return ctl_oom();
                if ((r = table_add(t, k->name)) < 0 || (r = table_add(t, k->super_class)) < 0 ||
                    (r = table_add(t, k->abstract ? "yes" : "no")) < 0 || (r = table_add(t, keys)) < 0)
                        return r;
        }
        if (c->json)
                return ctl_json_print(c, TAKE_PTR(all));
        return table_print(t, c, "classes");
}

int verb_query(Ctl *c, int argc, char **argv) {
        _cleanup_strv_free_ char **columns = NULL;
        int r;

        if (!c->json && c->columns && (r = split_columns(c->columns, &columns)) < 0)
                return r;
        return print_query(c, argv[1], columns, "instances");
}

int verb_list(Ctl *c, int argc, char **argv) {
        return ctl_list(c, argv[1], c->where);
}

/* --- one instance ------------------------------------------------------------------------------ */

int verb_show(Ctl *c, int argc, char **argv) {
        _cleanup_(ctl_class_freep) CtlClass *k = NULL;
        _cleanup_(json_object_putp) json_object *props = NULL;
        _cleanup_free_ char *path = NULL;
        int r;

        r = instance_open(c, argv[1], argv[2], &k, &path);
        if (r < 0)
                return r;
        r = instance_read(c, k, path, true, &props);
        if (r < 0)
                return r;
        if (c->json) {
                r = add_identity(props, path);
                return r < 0 ? r : ctl_json_print(c, TAKE_PTR(props));
        }
        return print_fields(c, props, k);
}

static int get_values(Ctl *c, const char *class_name, const char *key, char *const *names, json_object **ret,
                      CtlClass **ret_class) {
        _cleanup_(ctl_class_freep) CtlClass *k = NULL;
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        _cleanup_free_ char *path = NULL;
        int r;

        if (!o)
                return ctl_oom();
        r = instance_open(c, class_name, key, &k, &path);
        if (r < 0)
                return r;
        for (char *const *n = names; *n; n++) {
                const CtlProperty *p = ctl_class_property(k, *n);
                /* One the schema does not list is asked on the class's own interface, and the daemon
                 * answers UnknownProperty. */
                CtlProperty unknown = { .name = *n, .owner = k->name, .type = _CIM_TYPE_INVALID };
                json_object *v = NULL;

                r = get_property_json(c, path, p ? p : &unknown, &v);
                if (r < 0)
                        return r;
                r = json_add(o, p ? p->name : *n, v);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(o);
        if (ret_class)
                *ret_class = TAKE_PTR(k);
        return 0;
}

int ctl_get_json(Ctl *c, const char *class_name, const char *key, const char *property, json_object **ret) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        char *names[] = { (char *) property, NULL };
        int r;

        r = get_values(c, class_name, key, names, &o, NULL);
        if (r < 0)
                return r;
        json_object_object_foreach(o, name, value) {
                (void) name;
                *ret = json_object_get(value);
        }
        return 0;
}

int ctl_get_text(Ctl *c, const char *class_name, const char *key, const char *property, char **ret) {
        _cleanup_(ctl_class_freep) CtlClass *k = NULL;
        _cleanup_(json_object_putp) json_object *o = NULL;
        char *names[] = { (char *) property, NULL };
        json_object *v = NULL;
        int r;

        r = get_values(c, class_name, key, names, &o, &k);
        if (r < 0)
                return r;
        json_object_object_foreach(o, name, value) {
                (void) name;
                v = value;
        }
        const CtlProperty *p = ctl_class_property(k, property);
        *ret = ctl_value_format(v, p ? p->type : _CIM_TYPE_INVALID, true);
        return *ret ? 0 : ctl_oom();
}

int verb_get(Ctl *c, int argc, char **argv) {
        _cleanup_(ctl_class_freep) CtlClass *k = NULL;
        _cleanup_(json_object_putp) json_object *o = NULL;
        int r;

        r = get_values(c, argv[1], argv[2], argv + 3, &o, &k);
        if (r < 0)
                return r;
        if (c->json)
                return ctl_json_print(c, TAKE_PTR(o));
        /* One value per line, as is: what `set` takes back. */
        json_object_object_foreach(o, name, value) {
                const CtlProperty *p = ctl_class_property(k, name);
                _cleanup_free_ char *text = ctl_value_format(value, p ? p->type : _CIM_TYPE_INVALID, true);
                if (!text)
                        return ctl_oom();
                printf("%s\n", text);
        }
        return 0;
}

int ctl_put(Ctl *c, const char *class_name, const char *key, char *const *assignments) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_(ctl_class_freep) CtlClass *k = NULL;
        _cleanup_free_ char *path = NULL, *iface = NULL;
        int r;

        r = instance_open(c, class_name, key, &k, &path);
        if (r < 0)
                return r;
        iface = ctl_class_interface(ctl_class_top(k));
        if (!iface)
                return ctl_oom();
        r = assignments_call_new(c, k, path, iface, "Put", assignments, &m);
        if (r < 0)
                return r;
        r = ctl_send(c, m, NULL);
        if (r < 0)
                return r;
        if (c->json) {
                /* What was written, read back, with the new SedoObjectVersion. */
                _cleanup_strv_free_ char **names = calloc(strv_length((char **) assignments) + 2, sizeof(char *));
                _cleanup_(json_object_putp) json_object *o = NULL;
                size_t n = 0;

                if (!names)
                        return ctl_oom();
                for (char *const *a = assignments; *a; a++) {
                        const CtlProperty *p;
                        char *name = strndup(*a, strcspn(*a, "="));
                        if (!name)
                                return ctl_oom();
                        p = ctl_class_property(k, name);
                        if (!p || (p->flags & CTL_PROP_WRITE_ONLY)) {
                                free(name);
                                continue;
                        }
                        names[n++] = name;
                }
                if (ctl_class_property(k, "SedoObjectVersion") && !(names[n++] = strdup("SedoObjectVersion")))
                        return ctl_oom();
                r = get_values(c, k->name, path, names, &o, NULL);
                if (r < 0)
                        return r;
                r = add_identity(o, path);
                return r < 0 ? r : ctl_json_print(c, TAKE_PTR(o));
        }
        return 0;
}

int verb_set(Ctl *c, int argc, char **argv) {
        return ctl_put(c, argv[1], argv[2], argv + 3);
}

/* The end of a call that may start a job: the job followed (job_handle(), which adds it to the
 * call's JSON document *out), then with --json the document printed. The first failure. */
static int job_handle_print(Ctl *c, JobWatch *w, const char *job, json_object **out) {
        int r = job_handle(c, w, job, c->json ? *out : NULL);
        if (c->json) {
                int q = ctl_json_print(c, TAKE_PTR(*out));
                if (r >= 0)
                        r = q;
        }
        return r;
}

int ctl_create(Ctl *c, const char *class_name, char *const *assignments) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_(json_object_putp) json_object *out = NULL;
        _cleanup_(ctl_class_freep) CtlClass *k = NULL;
        _cleanup_(job_watch_freep) JobWatch *w = NULL;
        _cleanup_free_ char *object = NULL, *key = NULL;
        const char *instance, *job;
        int r;

        r = ctl_class_load(c, class_name, &k);
        if (r < 0)
                return r;
        object = ctl_class_object(k->name);
        if (!object)
                return ctl_oom();
        r = assignments_call_new(c, k, object, SMSPROV_CLASS_IFACE, "Create", assignments, &m);
        if (r < 0)
                return r;
        if (c->wait && (r = job_watch_new(c, &w)) < 0)
                return r;
        r = ctl_send(c, m, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_read(reply, "oo", &instance, &job);
        if (r < 0)
                return ctl_bus_error(NULL, r);

        key = ctl_path_key(instance);
        if (c->json) {
                out = json_object_new_object();
                if (!out)
                        return ctl_oom();
                r = json_add(out, "__PATH", json_object_new_string(instance));
                /* The key properties, as the new instance has them. */
                for (size_t i = 0; r >= 0 && i < k->n_properties; i++)
                        if (k->properties[i].flags & CTL_PROP_KEY) {
                                json_object *v = NULL;
                                r = get_property_json(c, instance, &k->properties[i], &v);
                                if (r >= 0)
                                        r = json_add(out, k->properties[i].name, v);
                        }
                if (r < 0)
                        return r;
        } else {
                printf("%s\n", key ? key : instance);
                fflush(stdout);
        }
        return job_handle_print(c, w, job, &out);
}

int verb_create(Ctl *c, int argc, char **argv) {
        return ctl_create(c, argv[1], argv + 2);
}

int verb_delete(Ctl *c, int argc, char **argv) {
        _cleanup_(ctl_class_freep) CtlClass *k = NULL;
        _cleanup_free_ char *path = NULL, *iface = NULL;
        int r;

        r = instance_open(c, argv[1], argv[2], &k, &path);
        if (r < 0)
                return r;
        iface = ctl_class_interface(ctl_class_top(k));
        if (!iface)
                return ctl_oom();
        r = ctl_call(c, path, iface, "Delete", NULL, NULL);
        if (r < 0)
                return r;
        if (c->json) {
                json_object *o = json_object_new_object();
                if (!o || add_identity(o, path) < 0) {
                        json_object_put(o);
                        return ctl_oom();
                }
                return ctl_json_print(c, o);
        }
        _cleanup_free_ char *cls = ctl_path_class(path), *key = ctl_path_key(path);
        ctl_info(c, "Deleted %s %s.", cls ? cls : k->name, key ? key : path);
        return 0;
}

/* --- methods ----------------------------------------------------------------------------------- */

/* Length of the first complete type of a signature. */
static size_t complete_type_length(const char *s) {
        size_t depth = 0, i = 0;

        while (s[i] == 'a')
                i++;
        if (s[i] != '(' && s[i] != '{')
                return s[i] ? i + 1 : i;
        do {
                if (s[i] == '(' || s[i] == '{')
                        depth++;
                else if (s[i] == ')' || s[i] == '}')
                        depth--;
                i++;
        } while (s[i] && depth > 0);
        return i;
}

static int split_signature(const char *sig, char ***ret) {
        _cleanup_strv_free_ char **l = calloc(strlen(sig) + 1, sizeof(char *));
        size_t n = 0;

        if (!l)
                return ctl_oom();
        while (*sig) {
                size_t len = complete_type_length(sig);
                if (len == 0 || !(l[n++] = strndup(sig, len)))
                        return ctl_oom();
                sig += len;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

/* The first child element <element name="name"> of an introspection node, or NULL. */
static xmlNodePtr xml_child(xmlNodePtr node, const char *element, const char *name) {
        for (xmlNodePtr i = node ? node->children : NULL; i; i = i->next) {
                xmlChar *value;
                bool match;

                if (i->type != XML_ELEMENT_NODE || xmlStrcmp(i->name, BAD_CAST element) != 0)
                        continue;
                value = xmlGetProp(i, BAD_CAST "name");
                match = value && xmlStrcmp(value, BAD_CAST name) == 0;
                xmlFree(value);
                if (match)
                        return i;
        }
        return NULL;
}

/* The argument names of a method, from the object's introspection data; a nicety only: where
 * there is none, the arguments are numbered (Arg1, Out1). */
static int method_arg_names(Ctl *c, const char *path, const char *iface, const char *method, size_t n_in,
                            size_t n_out, char ***ret_in, char ***ret_out) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_strv_free_ char **in = calloc(n_in + 1, sizeof(char *)), **out = calloc(n_out + 1, sizeof(char *));
        const char *xml;
        xmlDocPtr doc = NULL;

        if (!in || !out)
                return ctl_oom();
        if (sd_bus_call_method(c->bus, SMSPROV_SERVICE, path, "org.freedesktop.DBus.Introspectable", "Introspect", NULL,
                               &reply, NULL) >= 0 &&
            sd_bus_message_read(reply, "s", &xml) >= 0)
                doc = xmlReadMemory(xml, (int) strlen(xml), NULL, NULL,
                                    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
        if (doc) {
                xmlNodePtr m = xml_child(xml_child(xmlDocGetRootElement(doc), "interface", iface), "method", method);
                size_t ni = 0, no = 0;

                for (xmlNodePtr a = m ? m->children : NULL; a; a = a->next) {
                        xmlChar *dir, *name;
                        bool is_out;

                        if (a->type != XML_ELEMENT_NODE || xmlStrcmp(a->name, BAD_CAST "arg") != 0)
                                continue;
                        dir = xmlGetProp(a, BAD_CAST "direction");
                        name = xmlGetProp(a, BAD_CAST "name");
                        is_out = dir && xmlStrcmp(dir, BAD_CAST "out") == 0;
                        if (name && is_out && no < n_out)
                                out[no] = strdup((const char *) name);
                        else if (name && !is_out && ni < n_in)
                                in[ni] = strdup((const char *) name);
                        no += is_out;
                        ni += !is_out;
                        xmlFree(dir);
                        xmlFree(name);
                }
                xmlFreeDoc(doc);
        }
        for (size_t i = 0; i < n_in; i++)
                if (!in[i] && asprintf(&in[i], "Arg%zu", i + 1) < 0)
                        return ctl_oom();
        for (size_t i = 0; i < n_out; i++)
                if (!out[i] && asprintf(&out[i], "Out%zu", i + 1) < 0)
                        return ctl_oom();
        *ret_in = TAKE_PTR(in);
        *ret_out = TAKE_PTR(out);
        return 0;
}

int ctl_invoke(Ctl *c, const char *class_name, const char *key, const char *method, char *const *args) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_(ctl_class_freep) CtlClass *k = NULL;
        _cleanup_(job_watch_freep) JobWatch *w = NULL;
        _cleanup_(json_object_putp) json_object *out = json_object_new_object();
        _cleanup_strv_free_ char **in_types = NULL, **out_types = NULL, **in_names = NULL, **out_names = NULL;
        _cleanup_free_ char *path = NULL, *iface = NULL, *job_path = NULL;
        const char *job = NULL, *job_arg = NULL;
        const CtlMethod *meth;
        size_t n_args = strv_length((char **) args);
        int r;

        if (!out)
                return ctl_oom();
        if (key)
                r = instance_open(c, class_name, key, &k, &path);
        else
                r = ctl_class_load(c, class_name, &k);
        if (r < 0)
                return r;
        meth = ctl_class_method(k, method);
        if (!meth || meth->is_static != !key) {
                _cleanup_free_ char *list = calloc(1, 1);
                for (size_t i = 0; list && i < k->n_methods; i++) {
                        char *more = NULL;
                        if (asprintf(&more, "%s%s%s%s", list, *list ? ", " : "", k->methods[i].name,
                                     k->methods[i].is_static ? " (static)" : "") < 0)
                                more = NULL;
                        free(list);
                        list = more;
                }
                if (meth)
                        return ctl_usage("%s.%s is %s; %s", k->name, meth->name,
                                         meth->is_static ? "static: give no KEY" : "not static: give a KEY",
                                         "see 'smsctl classes CLASS'");
                return ctl_usage("%s has no method %s%s%s", k->name, method, list && *list ? "; it has " : "",
                                 list ? list : "");
        }
        if (meth->is_static) {
                path = ctl_class_object(meth->owner);
                iface = ctl_static_interface(meth->owner);
        } else
                iface = ctl_class_interface(meth->owner);
        if (!path || !iface)
                return ctl_oom();
        r = split_signature(meth->in_signature, &in_types);
        if (r >= 0)
                r = split_signature(meth->out_signature, &out_types);
        if (r >= 0)
                r = method_arg_names(c, path, iface, meth->name, strv_length(in_types), strv_length(out_types),
                                     &in_names, &out_names);
        if (r < 0)
                return r;
        if (n_args != strv_length(in_types)) {
                _cleanup_free_ char *usage = calloc(1, 1);
                for (size_t i = 0; usage && in_types[i]; i++) {
                        char *more = NULL;
                        if (asprintf(&more, "%s %s(%s)", usage, in_names[i], in_types[i]) < 0)
                                more = NULL;
                        free(usage);
                        usage = more;
                }
                return ctl_usage("%s.%s takes %zu argument%s:%s, got %zu", k->name, meth->name, strv_length(in_types),
                                 strv_length(in_types) == 1 ? "" : "s", usage ? usage : "", n_args);
        }

        r = ctl_message_new(c, &m, path, iface, meth->name);
        if (r < 0)
                return r;
        for (size_t i = 0; in_types[i]; i++) {
                r = ctl_value_append(m, in_types[i], _CIM_TYPE_INVALID, args[i], in_names[i]);
                if (r < 0)
                        return r;
        }
        if (c->wait && strstr(meth->out_signature, "o") && (r = job_watch_new(c, &w)) < 0)
                return r;
        r = ctl_send(c, m, &reply);
        if (r < 0)
                return r;
        for (size_t i = 0; out_types[i]; i++) {
                json_object *v = NULL;
                r = ctl_value_read_json(reply, &v);
                if (r >= 0)
                        r = json_add(out, out_names[i], v);
                if (r < 0)
                        return r;
                /* The first object path under .../job is the job the call started. */
                if (!job_arg && streq(out_types[i], "o") && ctl_is_job_path(json_object_get_string(v))) {
                        job_arg = out_names[i];
                        job = json_object_get_string(v);
                }
        }
        if (!c->json) {
                /* The values by name (one alone as it is), then the job is followed. */
                size_t n_values = 0, width = 0;
                json_object_object_foreach(out, name, value) {
                        (void) value;
                        if (job_arg && streq(name, job_arg))
                                continue;
                        n_values++;
                        if (strlen(name) > width)
                                width = strlen(name);
                }
                json_object_object_foreach(out, oname, ovalue) {
                        _cleanup_free_ char *text = NULL;
                        if (job_arg && streq(oname, job_arg))
                                continue;
                        text = ctl_value_format(ovalue, _CIM_TYPE_INVALID, true);
                        if (!text)
                                return ctl_oom();
                        if (n_values == 1)
                                printf("%s\n", text);
                        else
                                printf("%*s: %s\n", (int) width, oname, text);
                }
                fflush(stdout);
        }
        /* job points into `out`, which job_handle() changes: a copy. */
        if (job && !(job_path = strdup(job)))
                return ctl_oom();
        return job_handle_print(c, w, job_path, &out);
}

int verb_call(Ctl *c, int argc, char **argv) {
        _cleanup_(ctl_class_freep) CtlClass *k = NULL;
        const CtlMethod *meth;
        int r;

        /* CLASS METHOD ARG… for a static method, CLASS KEY METHOD ARG… otherwise. */
        r = ctl_class_load(c, argv[1], &k);
        if (r < 0)
                return r;
        meth = ctl_class_method(k, argv[2]);
        if (meth && meth->is_static)
                return ctl_invoke(c, argv[1], NULL, argv[2], argv + 3);
        if (argc < 4)
                return ctl_usage("call %s %s: give KEY METHOD for a method that is not static", argv[1], argv[2]);
        return ctl_invoke(c, argv[1], argv[2], argv[3], argv + 4);
}
