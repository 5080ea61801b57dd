/* SPDX-License-Identifier: MIT */
#pragma once

/* The D-Bus surface fuzzer (fuzz-bus.c): what it knows of the surface, how it makes arguments,
 * what it accepts as an answer and how it tells whether the site changed. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

#define FUZZ_BUS_NAME "org.smsprov.Provider1"
#define FUZZ_ROOT_PATH "/org/smsprov/Provider1"

/* --- the random sequence (bus-fuzz-args.c) ---------------------------------------------------- */

/* splitmix64: the whole run follows from the seed (FUZZ_SEED). */
typedef struct FuzzRng {
        uint64_t state;
} FuzzRng;

uint64_t fuzz_rand(FuzzRng *rng);
/* A number in [0, n); n > 0. */
uint64_t fuzz_below(FuzzRng *rng, uint64_t n);
/* True with probability percent/100. */
bool fuzz_chance(FuzzRng *rng, unsigned percent);

/* --- the surface (bus-fuzz-surface.c) ---------------------------------------------------------- */

typedef struct FuzzMember {
        char *name;
        char *signature;   /* a method's in-arguments, or a property's type */
        bool property;
        bool writable;     /* a property with access "write" or "readwrite" */
} FuzzMember;

typedef struct FuzzInterface {
        char *name;
        FuzzMember *members;
        size_t n_members;
} FuzzInterface;

/* One object of each kind (a class object, an instance of a class, a job, the root, a path no
 * object lives at) with what it introspects. */
typedef struct FuzzObject {
        char *path;
        char *kind;        /* what the object stands for, for the log */
        FuzzInterface *interfaces;
        size_t n_interfaces;
} FuzzObject;

/* Words that the surface itself suggests as arguments: names of classes, interfaces, members and
 * properties, object paths, PackageIDs, paths of the test's files. */
typedef struct FuzzDict {
        char **words;
        size_t n_words, allocated;
} FuzzDict;

void fuzz_dict_add(FuzzDict *d, const char *word);
void fuzz_dict_free(FuzzDict *d);

typedef struct FuzzSurface {
        FuzzObject *objects;
        size_t n_objects;
        FuzzDict dict;
        /* Property names of the site's classes with their D-Bus types, for the a{sv} of Put and
         * Create ("Name" → "s"). */
        char **prop_names, **prop_types;
        size_t n_props;
} FuzzSurface;

/* Introspects path on bus and adds it as one object of the surface (its interfaces, members and
 * their names as dictionary words). An object that does not introspect is added with no
 * interfaces: it is still called. */
int fuzz_surface_add_object(FuzzSurface *s, sd_bus *bus, const char *path, const char *kind);
/* Adds the class's PropertySchema to prop_names/prop_types. */
int fuzz_surface_add_schema(FuzzSurface *s, sd_bus *bus, const char *class_name);
void fuzz_surface_free(FuzzSurface *s);

/* --- arguments (bus-fuzz-args.c) -------------------------------------------------------------- */

typedef struct FuzzArgs {
        FuzzRng *rng;
        const FuzzSurface *surface;
        const char *test_dir;       /* the test's temporary directory */
        const char *content_dir;    /* the daemon's content root */
        /* As the owner, absolute paths are kept inside test_dir: the daemon runs as root and takes
         * any directory as a ContentRoot, and nothing outside the test may be written. */
        bool confine_paths;
        size_t budget;              /* bytes left for this message's large values */
} FuzzArgs;

/* Appends one random value for each complete type in signature. Returns 0 or a negative errno of
 * sd-bus (a value sd-bus refused is replaced by a plain one first). */
int fuzz_append_args(FuzzArgs *a, sd_bus_message *m, const char *signature);
/* A random signature of one to three complete types, for calls of the wrong type. */
char *fuzz_random_signature(FuzzRng *rng);

/* --- answers (bus-fuzz-check.c) --------------------------------------------------------------- */

/* The reply budget of the daemon (API.md §6a, --max-reply-bytes's default). */
#define FUZZ_REPLY_BUDGET (16u << 20)

/* Whether name is an error the daemon may answer with (the list and its reasons are in the file). */
bool fuzz_error_allowed(const char *name);
/* The size of the marshalled body of m (dbus1 alignment), walking it from the start. */
int fuzz_body_size(sd_bus_message *m, uint64_t *ret_size);
/* A description of m's arguments in buf, cut at size: long strings and byte arrays by their size. */
void fuzz_describe(sd_bus_message *m, char *buf, size_t size);

/* --- the site's state (bus-fuzz-state.c) ------------------------------------------------------ */

typedef struct FuzzState {
        char **names;      /* "query SMS_ImagePackage", "table package", … */
        uint64_t *digests;
        size_t n;
} FuzzState;

/* A digest of each class's ExecQuery result (SMS_StatusMessage left out: the audit log) and of
 * each table of the site database except the audit log's. */
int fuzz_state_take(FuzzState *st, sd_bus *bus, const char *db_path, char **classes);
/* Returns how many parts differ; prints each with print. */
size_t fuzz_state_compare(const FuzzState *before, const FuzzState *after, bool print);
void fuzz_state_free(FuzzState *st);
