/* SPDX-License-Identifier: MIT */
#pragma once

/* A class as its class object describes it (PropertySchema, MethodSchema, SuperClass), with the
 * interface each property and method lives on worked out from the hierarchy: a member belongs to
 * the topmost class whose schema lists it. Nothing here knows any class by name. */

#include <stdbool.h>
#include <stddef.h>

#include "ctl/ctl.h"
#include "smsprov/cim.h"

typedef enum CtlPropertyFlags {
        CTL_PROP_KEY = 1 << 0,
        CTL_PROP_READ = 1 << 1,         /* read-only */
        CTL_PROP_LAZY = 1 << 2,         /* left out of GetAll and queries: explicit Get */
        CTL_PROP_LARGE = 1 << 3,        /* likewise */
        CTL_PROP_CREATE_ONLY = 1 << 4,  /* a Create parameter, not a property */
        CTL_PROP_WRITE_ONLY = 1 << 5,
        CTL_PROP_PATH = 1 << 6,         /* a file system path */
} CtlPropertyFlags;

typedef struct CtlProperty {
        char *name;
        char *cim_type;  /* "UInt32[]" as the schema writes it */
        CimType type;    /* _CIM_TYPE_INVALID when this build does not know the name */
        const char *signature;
        unsigned flags;
        char **qualifiers;
        const char *owner; /* the class whose interface carries it */
} CtlProperty;

typedef struct CtlMethod {
        char *name;
        bool is_static;
        char *in_signature;
        char *out_signature;
        const char *owner;
} CtlMethod;

typedef struct CtlClass {
        char *name;
        char *super_class;
        bool abstract;
        char **hierarchy; /* from the top down to this class */
        CtlProperty *properties;
        size_t n_properties;
        CtlMethod *methods;
        size_t n_methods;
} CtlClass;

/* Loads a class and its ancestors from their class objects. An unknown class is the daemon's
 * UnknownObject error (exit status 3). */
int ctl_class_load(Ctl *c, const char *class_name, CtlClass **ret);
CtlClass *ctl_class_free(CtlClass *k);
DEFINE_TRIVIAL_CLEANUP_FUNC(CtlClass *, ctl_class_free);

/* Classes loaded once per run, for formatting rows and events of several classes. */
typedef struct CtlClassCache {
        CtlClass *classes[32];
        size_t n;
} CtlClassCache;

void ctl_class_cache_done(CtlClassCache *cache);
/* The class, loaded on first use; NULL when it cannot be (the error is printed). */
const CtlClass *ctl_class_cache_get(Ctl *c, CtlClassCache *cache, const char *name);

/* Case-insensitive lookups, as WMI names are. */
const CtlProperty *ctl_class_property(const CtlClass *k, const char *name);
const CtlMethod *ctl_class_method(const CtlClass *k, const char *name);
/* The class at the top of the hierarchy: Put and Delete live on its interface. */
const char *ctl_class_top(const CtlClass *k);
size_t ctl_class_n_keys(const CtlClass *k);

/* The whole classes list, Site.Classes. */
int ctl_site_classes(Ctl *c, char ***ret);

/* Resolves KEY of a class to its object path through Site.GetObject: an object path as is, a WMI
 * key list (PackageID="LAB00001",Index=2) as given, a bare value for the single key. */
int ctl_resolve_instance(Ctl *c, const CtlClass *k, const char *key, char **ret_path);

