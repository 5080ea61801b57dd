/* SPDX-License-Identifier: MIT */
#pragma once

/* The CIM class descriptors (ARCHITECTURE.md, model/). One table per class lists its own
 * properties; everything else — D-Bus vtables, Put/Create validation, SQL for the store, WQL
 * checking, PropertySchema and the interface XML — is derived from these tables. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smsprov/cim.h"
#include "smsprov/error.h"

typedef enum SmsPropertyFlags {
        SMS_PROP_KEY = 1u << 0,       /* part of the object path; CONST on D-Bus */
        SMS_PROP_READ = 1u << 1,      /* read-only for callers ([read]) */
        SMS_PROP_LAZY = 1u << 2,      /* only returned by an explicit Get */
        SMS_PROP_LARGE = 1u << 3,     /* big blob; treated like lazy */
        SMS_PROP_BITS = 1u << 4,      /* bit field */
        SMS_PROP_NOT_NULL = 1u << 5,  /* a value must be supplied at creation */
        SMS_PROP_ENUM = 1u << 6,      /* values from `values` only */
        SMS_PROP_PATH = 1u << 7,      /* a path that must resolve inside a content root (file or dir) */
        SMS_PROP_DIRECTORY = 1u << 8, /* with PATH: must be a directory */
        SMS_PROP_FILE = 1u << 10,     /* with PATH: must be a readable regular file */
        SMS_PROP_WRITE_ONLY = 1u << 9,/* accepted by Put but never stored (reads back the default) */
        SMS_PROP_CREATE_ONLY = 1u << 11, /* a Create parameter, not a property of the instance */
        SMS_PROP_DP_ROOT = 1u << 12,  /* a distribution point's directory: beneath a --dp-root
                                       * (site_dp_root_resolve()) */
} SmsPropertyFlags;

typedef struct SmsProperty SmsProperty;
struct SmsProperty {
        const char *name;     /* the Configuration Manager name, verbatim */
        CimType type;
        unsigned flags;       /* SmsPropertyFlags */
        const char *column;   /* database column; NULL = same as name */
        const char *def;      /* default at creation, as text ("5", "true", "SMS"); NULL = none */
        const uint32_t *values; /* with SMS_PROP_ENUM: the allowed values, terminated by UINT32_MAX */
        uint64_t min, max;    /* range for integers when max > 0 */
        size_t max_length;    /* strings: bytes; arrays: elements; 0 = the global limit */
        /* A rule beyond type/enumeration/range (PkgFlags' multicast bits); NULL = none. */
        int (*check)(const struct SmsProperty *p, const CimValue *v, SmsError *e);
        const char *doc;      /* one line, for the interface XML and smsctl */
};

typedef struct SmsMethod {
        const char *name;
        bool is_static;
        const char *in_signature;
        const char *out_signature;
        /* Every argument's name, in arguments then out arguments, each followed by a NUL, as
         * sd-bus wants them: "SourceSite\0". */
        const char *arg_names;
        const char *doc;
} SmsMethod;

typedef struct SmsClass SmsClass;
typedef struct SmsObject SmsObject;

#define SMS_MAX_KEYS 4

struct SmsClass {
        const char *name;
        const SmsClass *parent;  /* NULL at the top of our hierarchy */
        bool abstract;
        bool read_only;          /* no Create/Put/Delete for callers */
        bool methods_only;       /* no instances, no table: a home for static methods
                                  * (SMS_ScheduleMethods) */
        bool unlisted;           /* instances resolve by path and answer queries, but are not
                                  * enumerated (ObjectManager, introspection): an unbounded log */
        bool managed;            /* instances are managed objects (API.md §1: in GetManagedObjects,
                                  * InterfacesAdded/Removed); set on the topmost class. Every other
                                  * class is a row class: its instances grow with packages × DPs or
                                  * with time, and resolve only by path and query. */
        const char *doc;

        const SmsProperty *properties; /* this class's own properties */
        size_t n_properties;
        const SmsMethod *methods;      /* this class's own methods */
        size_t n_methods;
        /* Values Create accepts that are not properties of the instance (SMS_ImagePackage's
         * ImageIndex: import just that image). Listed in PropertySchema with "create_only". */
        const SmsProperty *create_parameters;
        size_t n_create_parameters;

        /* Storage: rows of this class live in `table`; classes sharing a table (a hierarchy) are
         * told apart by `discriminator` = `discriminator_value`. */
        const char *table;
        const char *discriminator;   /* column, on the topmost class */
        int64_t discriminator_value; /* on concrete classes that share a table */
        /* How keys are made: the key of a new instance is allocated by the store. */
        enum {
                SMS_KEY_CALLER,     /* given in Create */
                SMS_KEY_PACKAGE_ID, /* site code + 5 hex digits, allocated by the site */
                SMS_KEY_ROWID,      /* an integer the database allocates */
        } key_kind;

        /* Filled in by sms_model_init(): every property of the class and its ancestors, the
         * topmost class's first, in table order. Index into `all` is the property index used by
         * SmsObject values. */
        const SmsProperty **all;
        size_t n_all;
        const SmsClass **children; /* concrete and abstract subclasses, NULL-terminated */
        size_t key_index;          /* the first key property */
        size_t key_indexes[SMS_MAX_KEYS]; /* every key property, in declaration order */
        size_t n_keys;
        size_t level; /* 0 for the topmost class */
};

/* Builds the flattened property lists and checks the tables' invariants (one key, unique names,
 * sensible flags). Idempotent; returns 0 or a negative errno. */
int sms_model_init(void);

/* Every class, NULL-terminated, in a stable order. */
const SmsClass *const *sms_model_classes(void);
/* Case-insensitive (WMI names are). NULL when unknown. */
const SmsClass *sms_model_find_class(const char *name);
/* The topmost ancestor (whose interface carries Put/Delete). */
const SmsClass *sms_class_root(const SmsClass *c);
bool sms_class_is_a(const SmsClass *c, const SmsClass *ancestor);
/* Are instances of c managed objects (the managed flag of its topmost class)? */
bool sms_class_is_managed(const SmsClass *c);
/* The concrete class whose discriminator_value is `value`, among `base` and its descendants. */
const SmsClass *sms_class_find_by_discriminator(const SmsClass *base, int64_t value);

/* Case-insensitive lookup among c->create_parameters; returns the index or -ENOENT. */
int sms_class_find_create_parameter(const SmsClass *c, const char *name);
/* Case-insensitive lookup among c->all; returns the index or -ENOENT. */
int sms_class_find_property(const SmsClass *c, const char *name);
/* The class in c's ancestry that declares property index i. */
const SmsClass *sms_class_property_owner(const SmsClass *c, size_t i);
static inline const char *sms_property_column(const SmsProperty *p) {
        return p->column ? p->column : p->name;
}
static inline bool sms_property_is_lazy(const SmsProperty *p) {
        return p->flags & (SMS_PROP_LAZY | SMS_PROP_LARGE);
}

/* The text of an instance's key, as object paths and the store use it. A single key is its value
 * as text ("LAB00001", "17"); a composite key is WMI's key list in declaration order,
 * PackageID="LAB00001",Index=2 (strings quoted, " and \ escaped with \). */
int sms_class_key_format(const SmsClass *c, const CimValue *const *key_values, char **ret);
int sms_object_key_format(const SmsObject *o, char **ret);
/* The reverse: fills ret_values[n_keys] (in key order; the caller clears them). A composite key
 * may name its keys in any order and case; every key must be there. -EINVAL with e filled when
 * the text is not a key of c. */
int sms_class_key_parse(const SmsClass *c, const char *text, CimValue *ret_values, SmsError *e);

/* "key,read,lazy,values=32|64|128": the qualifier strings of PropertySchema. Returns a new
 * NULL-terminated list. */
char **sms_property_qualifiers(const SmsProperty *p);

/* Checks one value against the property's descriptor: type, enumeration, range, sizes, string
 * encoding, schedule token ranges. Path containment is checked by the caller (it needs the
 * site's content roots). */
int sms_property_validate(const SmsProperty *p, const CimValue *v, SmsError *e);

/* An upper bound of the bytes the object's properties take in any D-Bus message that carries them:
 * all of them as one a{sv} (name, variant signature, value, with the most padding alignment may
 * need). The body of a Get, GetAll or PropertiesChanged of the object is at most that, and its
 * InterfacesAdded that and its interface names: sms_object_check_size() keeps it far below the
 * reply budget (a sixteenth, which leaves room for headers and names), since sd-bus builds those
 * messages from the vtable, unbounded (API.md §6a). */
uint64_t sms_object_wire_size(const SmsObject *o);
/* LimitsExceeded, naming the sizes, when the object would take more than max bytes. */
int sms_object_check_size(const SmsObject *o, uint64_t max, SmsError *e);

/* The default value of a property at creation (NULL value when it has none). */
int sms_property_default(const SmsProperty *p, CimValue *ret);

/* An instance as read from the store: the concrete class and one value per class->all entry. */
struct SmsObject {
        const SmsClass *class;
        char *key; /* the key as text (sms_class_key_format()), as in the object path */
        CimValue values[];
};

SmsObject *sms_object_new(const SmsClass *c);
SmsObject *sms_object_free(SmsObject *o);
static inline void sms_object_freep(SmsObject **o) {
        sms_object_free(*o);
}
static inline const CimValue *sms_object_get(const SmsObject *o, size_t index) {
        return &o->values[index];
}
/* The value of o's property `name`; NULL when its class has no such property. */
const CimValue *sms_object_value(const SmsObject *o, const char *name);
/* A string property's value: "" when it is NULL or the class has no such property. */
const char *sms_object_string(const SmsObject *o, const char *name);

/* Limits on what a caller may put in one value (issue: resource limits). */
#define SMS_MAX_STRING_LENGTH (64u * 1024u)
#define SMS_MAX_BLOB_LENGTH (1024u * 1024u)
#define SMS_MAX_ARRAY_ELEMENTS 4096u
