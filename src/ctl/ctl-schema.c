/* SPDX-License-Identifier: MIT */

/* Classes as their class objects describe them; see ctl-schema.h. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ctl/ctl-bus.h"
#include "ctl/ctl-schema.h"
#include "ctl/ctl-value.h"

#define MAX_HIERARCHY 16
#define ARROW "\xe2\x86\x92" /* → between the in and out signatures of MethodSchema */

static const struct {
        const char *name;
        unsigned flag;
} qualifier_flags[] = {
        { "key", CTL_PROP_KEY },         { "read", CTL_PROP_READ },
        { "lazy", CTL_PROP_LAZY },       { "large", CTL_PROP_LARGE },
        { "create_only", CTL_PROP_CREATE_ONLY }, { "write_only", CTL_PROP_WRITE_ONLY },
        { "path", CTL_PROP_PATH },
};

static CimType cim_type_from_string(const char *s) {
        for (int t = 0; t < _CIM_TYPE_MAX; t++)
                if (streq(cim_type_to_string((CimType) t), s))
                        return (CimType) t;
        return _CIM_TYPE_INVALID;
}

CtlClass *ctl_class_free(CtlClass *k) {
        if (!k)
                return NULL;
        for (size_t i = 0; i < k->n_properties; i++) {
                free(k->properties[i].name);
                free(k->properties[i].cim_type);
                strv_free(k->properties[i].qualifiers);
        }
        for (size_t i = 0; i < k->n_methods; i++) {
                free(k->methods[i].name);
                free(k->methods[i].in_signature);
                free(k->methods[i].out_signature);
        }
        free(k->properties);
        free(k->methods);
        strv_free(k->hierarchy);
        free(k->name);
        free(k->super_class);
        free(k);
        return NULL;
}

static int read_strv(sd_bus_message *m, char ***ret) {
        int r = sd_bus_message_read_strv(m, ret);
        return r < 0 ? ctl_bus_error(NULL, r) : 0;
}

static int read_property_schema(sd_bus_message *m, CtlClass *k) {
        const char *name, *type;
        int r;

        if ((r = ctl_enter_container(m, 'a', "(ssas)")) < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'r', "ssas")) > 0) {
                CtlProperty *p;

                r = sd_bus_message_read(m, "ss", &name, &type);
                if (r < 0)
                        return ctl_bus_error(NULL, r);
                p = realloc(k->properties, (k->n_properties + 1) * sizeof(CtlProperty));
                if (!p)
                        return ctl_oom();
                k->properties = p;
                p = &k->properties[k->n_properties];
                *p = (CtlProperty) { .name = strdup(name), .cim_type = strdup(type) };
                k->n_properties++;
                if (!p->name || !p->cim_type)
                        return ctl_oom();
                r = read_strv(m, &p->qualifiers);
                if (r < 0)
                        return r;
                p->type = cim_type_from_string(type);
                /* A type this build does not know travels as a string; the daemon judges it. */
                p->signature = p->type >= 0 ? cim_type_to_signature(p->type) : "s";
                for (char **q = p->qualifiers; q && *q; q++)
                        for (size_t i = 0; i < ELEMENTSOF(qualifier_flags); i++)
                                if (streq(*q, qualifier_flags[i].name))
                                        p->flags |= qualifier_flags[i].flag;
                if ((r = ctl_exit_container(m)) < 0)
                        return r;
        }
        return ctl_end_container(m, r);
}

static int read_method_schema(sd_bus_message *m, CtlClass *k) {
        const char *name, *sig;
        int is_static, r;

        if ((r = ctl_enter_container(m, 'a', "(sbs)")) < 0)
                return r;
        while ((r = sd_bus_message_read(m, "(sbs)", &name, &is_static, &sig)) > 0) {
                const char *arrow = strstr(sig, ARROW);
                CtlMethod *meth;

                meth = realloc(k->methods, (k->n_methods + 1) * sizeof(CtlMethod));
                if (!meth)
                        return ctl_oom();
                k->methods = meth;
                meth = &k->methods[k->n_methods];
                *meth = (CtlMethod) {
                        .name = strdup(name),
                        .is_static = is_static,
                        .in_signature = arrow ? strndup(sig, (size_t) (arrow - sig)) : strdup(sig),
                        .out_signature = strdup(arrow ? arrow + strlen(ARROW) : ""),
                };
                k->n_methods++;
                if (!meth->name || !meth->in_signature || !meth->out_signature)
                        return ctl_oom();
        }
        return ctl_end_container(m, r);
}

/* One class object, without its ancestors. */
static int class_load_one(Ctl *c, const char *class_name, CtlClass **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(ctl_class_freep) CtlClass *k = NULL;
        _cleanup_free_ char *path = ctl_class_object(class_name);
        const char *prop;
        int r;

        if (!path)
                return ctl_oom();
        if (!sd_bus_object_path_is_valid(path))
                return ctl_usage("'%s' is not a class name", class_name);
        k = calloc(1, sizeof(CtlClass));
        if (!k)
                return ctl_oom();
        r = ctl_get_all(c, path, SMSPROV_CLASS_IFACE, &reply);
        if (r < 0)
                return r;
        if ((r = ctl_enter_container(reply, 'a', "{sv}")) < 0)
                return r;
        while ((r = sd_bus_message_enter_container(reply, 'e', "sv")) > 0) {
                const char *s;
                int b;

                r = sd_bus_message_read(reply, "s", &prop);
                if (r < 0)
                        return ctl_bus_error(NULL, r);
                if (streq(prop, "Name") || streq(prop, "SuperClass")) {
                        r = sd_bus_message_read(reply, "v", "s", &s);
                        if (r < 0)
                                return ctl_bus_error(NULL, r);
                        char **dest = streq(prop, "Name") ? &k->name : &k->super_class;
                        free(*dest);
                        *dest = strdup(s);
                        if (!*dest)
                                return ctl_oom();
                } else if (streq(prop, "Abstract")) {
                        r = sd_bus_message_read(reply, "v", "b", &b);
                        if (r < 0)
                                return ctl_bus_error(NULL, r);
                        k->abstract = b;
                } else if (streq(prop, "PropertySchema") || streq(prop, "MethodSchema")) {
                        if ((r = ctl_enter_container(reply, 'v', NULL)) < 0)
                                return r;
                        r = streq(prop, "PropertySchema") ? read_property_schema(reply, k)
                                                          : read_method_schema(reply, k);
                        if (r < 0)
                                return r;
                        if ((r = ctl_exit_container(reply)) < 0)
                                return r;
                } else {
                        r = sd_bus_message_skip(reply, "v");
                        if (r < 0)
                                return ctl_bus_error(NULL, r);
                }
                if ((r = ctl_exit_container(reply)) < 0)
                        return r;
        }
        if (r < 0)
                return ctl_bus_error(NULL, r);
        if (!k->name && !(k->name = strdup(class_name)))
                return ctl_oom();
        if (!k->super_class && !(k->super_class = strdup("")))
                return ctl_oom();
        *ret = TAKE_PTR(k);
        return 0;
}

int ctl_class_load(Ctl *c, const char *class_name, CtlClass **ret) {
        _cleanup_(ctl_class_freep) CtlClass *k = NULL;
        CtlClass *chain[MAX_HIERARCHY] = {};
        size_t depth = 0;
        int r;

        r = class_load_one(c, class_name, &k);
        if (r < 0)
                return r;
        chain[depth++] = k;
        while (*chain[depth - 1]->super_class) {
                if (depth >= MAX_HIERARCHY) {
                        r = ctl_errorf(CTL_EXIT_FAILED, CTL_ERROR_FAILED, "the hierarchy of %s is too deep",
                                       class_name);
                        goto finish;
                }
                r = class_load_one(c, chain[depth - 1]->super_class, &chain[depth]);
                if (r < 0)
                        goto finish;
                depth++;
        }

        /* chain[depth - 1] is the top. */
        k->hierarchy = calloc(depth + 1, sizeof(char *));
        if (!k->hierarchy) {
                r = ctl_oom();
                goto finish;
        }
        for (size_t i = 0; i < depth; i++)
                if (!(k->hierarchy[i] = strdup(chain[depth - 1 - i]->name))) {
                        r = ctl_oom();
                        goto finish;
                }

        /* Each member belongs to the topmost class that lists it; hierarchy[] outlives the
         * owner pointers because it is part of k. */
        for (size_t i = 0; i < k->n_properties; i++) {
                CtlProperty *p = &k->properties[i];
                for (size_t level = 0; level < depth && !p->owner; level++) {
                        const CtlClass *a = chain[depth - 1 - level];
                        for (size_t j = 0; j < a->n_properties && !p->owner; j++)
                                if (streq(a->properties[j].name, p->name))
                                        p->owner = k->hierarchy[level];
                }
                if (!p->owner)
                        p->owner = k->hierarchy[depth - 1];
        }
        for (size_t i = 0; i < k->n_methods; i++) {
                CtlMethod *meth = &k->methods[i];
                for (size_t level = 0; level < depth && !meth->owner; level++) {
                        const CtlClass *a = chain[depth - 1 - level];
                        for (size_t j = 0; j < a->n_methods && !meth->owner; j++)
                                if (streq(a->methods[j].name, meth->name) &&
                                    a->methods[j].is_static == meth->is_static)
                                        meth->owner = k->hierarchy[level];
                }
                if (!meth->owner)
                        meth->owner = k->hierarchy[depth - 1];
        }
        r = 0;
        *ret = TAKE_PTR(k);
finish:
        for (size_t i = 1; i < depth; i++)
                ctl_class_free(chain[i]);
        return r;
}

void ctl_class_cache_done(CtlClassCache *cache) {
        for (size_t i = 0; i < cache->n; i++)
                ctl_class_free(cache->classes[i]);
        cache->n = 0;
}

const CtlClass *ctl_class_cache_get(Ctl *c, CtlClassCache *cache, const char *name) {
        CtlClass *k = NULL;

        if (!name)
                return NULL;
        for (size_t i = 0; i < cache->n; i++)
                if (streq(cache->classes[i]->name, name))
                        return cache->classes[i];
        if (cache->n >= ELEMENTSOF(cache->classes) || ctl_class_load(c, name, &k) < 0)
                return NULL;
        cache->classes[cache->n++] = k;
        return k;
}

const CtlProperty *ctl_class_property(const CtlClass *k, const char *name) {
        for (size_t i = 0; i < k->n_properties; i++)
                if (strcasecmp(k->properties[i].name, name) == 0)
                        return &k->properties[i];
        return NULL;
}

const CtlMethod *ctl_class_method(const CtlClass *k, const char *name) {
        for (size_t i = 0; i < k->n_methods; i++)
                if (strcasecmp(k->methods[i].name, name) == 0)
                        return &k->methods[i];
        return NULL;
}

const char *ctl_class_top(const CtlClass *k) {
        return k->hierarchy && k->hierarchy[0] ? k->hierarchy[0] : k->name;
}

size_t ctl_class_n_keys(const CtlClass *k) {
        size_t n = 0;
        for (size_t i = 0; i < k->n_properties; i++)
                if (k->properties[i].flags & CTL_PROP_KEY)
                        n++;
        return n;
}

int ctl_site_classes(Ctl *c, char ***ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = ctl_get_property(c, SMSPROV_ROOT, SMSPROV_SITE_IFACE, "Classes", &reply);
        if (r < 0)
                return r;
        return read_strv(reply, ret);
}

/* PackageID="LAB00001",Index=2: it starts with a property name and '='. A bare key value such as a
 * NAL path may hold '=' too, but never starts that way. */
static bool is_key_list(const char *key) {
        const char *p = key;

        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || *p == '_'))
                return false;
        while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_')
                p++;
        return *p == '=';
}

int ctl_resolve_instance(Ctl *c, const CtlClass *k, const char *key, char **ret_path) {
        _cleanup_free_ char *wmi = NULL, *quoted = NULL;
        const CtlProperty *key_property = NULL;

        if (!*key)
                return ctl_usage("an empty key names no %s", k->name);
        if (key[0] == '/') {
                if (!sd_bus_object_path_is_valid(key))
                        return ctl_usage("'%s' is not an object path", key);
                *ret_path = strdup(key);
                return *ret_path ? 0 : ctl_oom();
        }
        if (is_key_list(key)) {
                if (asprintf(&wmi, "%s.%s", k->name, key) < 0)
                        return ctl_oom();
        } else {
                for (size_t i = 0; i < k->n_properties; i++)
                        if (k->properties[i].flags & CTL_PROP_KEY) {
                                if (key_property) {
                                        _cleanup_free_ char *names = NULL;
                                        size_t len = 0;
                                        for (size_t j = 0; j < k->n_properties; j++)
                                                if (k->properties[j].flags & CTL_PROP_KEY)
                                                        len += strlen(k->properties[j].name) + 8;
                                        names = calloc(1, len + 1);
                                        if (!names)
                                                return ctl_oom();
                                        for (size_t j = 0; j < k->n_properties; j++)
                                                if (k->properties[j].flags & CTL_PROP_KEY)
                                                        sprintf(names + strlen(names), "%s%s=…",
                                                                *names ? "," : "", k->properties[j].name);
                                        return ctl_usage("%s has a composite key; give it as a key list, e.g. %s",
                                                         k->name, names);
                                }
                                key_property = &k->properties[i];
                        }
                if (!key_property)
                        return ctl_usage("%s has no key property", k->name);
                quoted = ctl_quote(key, '"'); /* a WMI string literal */
                if (!quoted || asprintf(&wmi, "%s.%s=%s", k->name, key_property->name, quoted) < 0)
                        return ctl_oom();
        }
        return ctl_call_string(c, SMSPROV_ROOT, SMSPROV_SITE_IFACE, "GetObject", 'o', ret_path, "s", wmi);
}
