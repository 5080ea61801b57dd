/* SPDX-License-Identifier: MIT */
/* What the D-Bus surface fuzzer calls: each object's interfaces, methods and properties as the
 * daemon introspects them (parsed with libxml2), and the words they suggest as arguments. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "bus-fuzz.h"

static void *xrealloc(void *p, size_t n, size_t size) {
        void *q = reallocarray(p, n, size);
        if (!q)
                abort();
        return q;
}

static char *xstrdup(const char *s) {
        char *c = strdup(s ? s : "");
        if (!c)
                abort();
        return c;
}

void fuzz_dict_add(FuzzDict *d, const char *word) {
        if (!word)
                return;
        for (size_t i = 0; i < d->n_words; i++)
                if (strcmp(d->words[i], word) == 0)
                        return;
        if (d->n_words == d->allocated) {
                d->allocated = d->allocated ? d->allocated * 2 : 64;
                d->words = xrealloc(d->words, d->allocated, sizeof *d->words);
        }
        d->words[d->n_words++] = xstrdup(word);
}

void fuzz_dict_free(FuzzDict *d) {
        for (size_t i = 0; i < d->n_words; i++)
                free(d->words[i]);
        free(d->words);
        *d = (FuzzDict) {};
}

static char *attr(xmlNode *n, const char *name) {
        xmlChar *v = xmlGetProp(n, (const xmlChar *) name);
        char *s = xstrdup((const char *) v);
        xmlFree(v);
        return s;
}

static bool is(xmlNode *n, const char *name) {
        return n->type == XML_ELEMENT_NODE && strcmp((const char *) n->name, name) == 0;
}

static void add_member(FuzzSurface *s, FuzzInterface *iface, xmlNode *n) {
        FuzzMember m = { .name = attr(n, "name"), .property = is(n, "property") };

        if (m.property) {
                char *access = attr(n, "access");
                m.signature = attr(n, "type");
                m.writable = strstr(access, "write") != NULL;
                free(access);
        } else {
                /* The method's in-arguments in order ("in" is the default direction). */
                size_t len = 0;
                m.signature = xstrdup("");
                for (xmlNode *a = n->children; a; a = a->next) {
                        if (!is(a, "arg"))
                                continue;
                        char *dir = attr(a, "direction"), *type = attr(a, "type");
                        if (strcmp(dir, "out") != 0) {
                                m.signature = xrealloc(m.signature, len + strlen(type) + 1, 1);
                                strcpy(m.signature + len, type);
                                len += strlen(type);
                        }
                        free(dir);
                        free(type);
                }
        }
        fuzz_dict_add(&s->dict, m.name);
        iface->members = xrealloc(iface->members, iface->n_members + 1, sizeof *iface->members);
        iface->members[iface->n_members++] = m;
}

int fuzz_surface_add_object(FuzzSurface *s, sd_bus *bus, const char *path, const char *kind) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        FuzzObject o = { .path = xstrdup(path), .kind = xstrdup(kind) };
        const char *xml;
        int r;

        fuzz_dict_add(&s->dict, path);
        r = sd_bus_call_method(bus, FUZZ_BUS_NAME, path, "org.freedesktop.DBus.Introspectable", "Introspect", &error,
                               &reply, NULL);
        if (r >= 0 && sd_bus_message_read(reply, "s", &xml) > 0) {
                xmlDoc *doc = xmlReadMemory(xml, (int) strlen(xml), "introspect.xml", NULL,
                                            XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
                xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
                for (xmlNode *i = root ? root->children : NULL; i; i = i->next) {
                        if (!is(i, "interface"))
                                continue;
                        FuzzInterface iface = { .name = attr(i, "name") };
                        fuzz_dict_add(&s->dict, iface.name);
                        for (xmlNode *m = i->children; m; m = m->next)
                                if (is(m, "method") || is(m, "property"))
                                        add_member(s, &iface, m);
                        o.interfaces = xrealloc(o.interfaces, o.n_interfaces + 1, sizeof *o.interfaces);
                        o.interfaces[o.n_interfaces++] = iface;
                }
                xmlFreeDoc(doc);
        }
        sd_bus_message_unref(reply);
        sd_bus_error_free(&error);
        s->objects = xrealloc(s->objects, s->n_objects + 1, sizeof *s->objects);
        s->objects[s->n_objects++] = o;
        return 0;
}

/* CIM types of PropertySchema (API.md §3) as D-Bus types. */
static const char *dbus_type_of(const char *cim) {
        static const struct {
                const char *cim, *dbus;
        } map[] = {
                { "String", "s" },    { "Boolean", "b" },    { "UInt8", "y" },       { "UInt32", "u" },
                { "SInt32", "i" },    { "UInt64", "t" },     { "SInt64", "x" },      { "DateTime", "t" },
                { "UInt8[]", "ay" },  { "String[]", "as" },  { "UInt32[]", "au" },
                { "SMS_Driver_Details[]", "a(us)" },         { "SMS_ScheduleToken[]", "a(sa{sv})" },
        };
        for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
                if (strcmp(map[i].cim, cim) == 0)
                        return map[i].dbus;
        return "s";
}

int fuzz_surface_add_schema(FuzzSurface *s, sd_bus *bus, const char *class_name) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        const char *name, *type;
        char path[512];
        int r;

        snprintf(path, sizeof path, FUZZ_ROOT_PATH "/class/%s", class_name);
        r = sd_bus_get_property(bus, FUZZ_BUS_NAME, path, FUZZ_BUS_NAME ".Class", "PropertySchema", &error, &reply,
                                "a(ssas)");
        sd_bus_error_free(&error);
        if (r < 0)
                return r;
        r = sd_bus_message_enter_container(reply, 'a', "(ssas)");
        while (r > 0 && (r = sd_bus_message_enter_container(reply, 'r', "ssas")) > 0) {
                if ((r = sd_bus_message_read(reply, "ss", &name, &type)) < 0 ||
                    (r = sd_bus_message_skip(reply, "as")) < 0 || (r = sd_bus_message_exit_container(reply)) < 0)
                        break;
                fuzz_dict_add(&s->dict, name);
                s->prop_names = xrealloc(s->prop_names, s->n_props + 1, sizeof *s->prop_names);
                s->prop_types = xrealloc(s->prop_types, s->n_props + 1, sizeof *s->prop_types);
                s->prop_names[s->n_props] = xstrdup(name);
                s->prop_types[s->n_props++] = xstrdup(dbus_type_of(type));
                r = 1;
        }
        sd_bus_message_unref(reply);
        return r < 0 ? r : 0;
}

void fuzz_surface_free(FuzzSurface *s) {
        for (size_t i = 0; i < s->n_objects; i++) {
                FuzzObject *o = &s->objects[i];
                for (size_t j = 0; j < o->n_interfaces; j++) {
                        for (size_t k = 0; k < o->interfaces[j].n_members; k++) {
                                free(o->interfaces[j].members[k].name);
                                free(o->interfaces[j].members[k].signature);
                        }
                        free(o->interfaces[j].members);
                        free(o->interfaces[j].name);
                }
                free(o->interfaces);
                free(o->path);
                free(o->kind);
        }
        free(s->objects);
        for (size_t i = 0; i < s->n_props; i++) {
                free(s->prop_names[i]);
                free(s->prop_types[i]);
        }
        free(s->prop_names);
        free(s->prop_types);
        fuzz_dict_free(&s->dict);
        *s = (FuzzSurface) {};
}
