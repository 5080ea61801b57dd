/* SPDX-License-Identifier: MIT */
#pragma once

/* The daemon's state: the event loop, the bus connection, the site, and the small caches the
 * generic property getters read from. Only the main thread touches any of it. */

#include <stdbool.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "smsprov/class.h"
#include "smsprov/site-workers.h"
#include "smsprov/site.h"

#define SMSPROV_BUS_NAME "org.smsprov.Provider1"
#define SMSPROV_OBJECT_ROOT "/org/smsprov/Provider1"
#define SMSPROV_CLASS_ROOT "/org/smsprov/Provider1/class"
#define SMSPROV_INTERFACE_PREFIX "org.smsprov.Provider1."
#define SMSPROV_ERROR_PREFIX "org.smsprov.Provider1.Error."

typedef enum BusKind {
        BUS_KIND_SYSTEM,
        BUS_KIND_USER,
        BUS_KIND_ADDRESS,
} BusKind;

/* Instances found by the fallback find callback are kept here for a short while: sd-bus calls
 * the find callback once per interface and then each getter, and GetManagedObjects walks every
 * object; one database read per object per generation is enough. The ring keeps the last few so
 * that a pointer handed to sd-bus stays valid while it serialises one object. */
#define INSTANCE_CACHE_SIZE 16

typedef struct InstanceCacheEntry {
        char *path;
        uint64_t generation;
        SmsObject *object;
} InstanceCacheEntry;

typedef struct ClassRegistration ClassRegistration;

#define AUTHZ_UID_CACHE_SIZE 64
typedef struct AuthzUidCacheEntry {
        char *sender; /* a bus unique name */
        uid_t uid;
} AuthzUidCacheEntry;
typedef struct AuthzQuery AuthzQuery;
typedef struct DeferCall DeferCall;

/* Half of dbus-daemon's default max_message_size (32 MiB), which disconnects a sender that passes
 * it (API.md §6a). */
#define MANAGER_MAX_REPLY_BYTES (16ULL * 1024 * 1024)
/* Calls waiting for a worker (bus-defer.c) or for polkit (authz.c): each holds a message and, once
 * running, a file; the unit's LimitNOFILE leaves room for all of them. */
#define MANAGER_MAX_CALLS 256
#define MANAGER_MAX_CALLS_PER_CALLER 32

/* The workers of deferred replies (bus-defer.c): each kind has its own, so that no kind of call
 * waits behind another's. */
typedef enum DeferQueue {
        DEFER_AUTHORIZED, /* calls that passed authorization: file work on caller-given paths */
        DEFER_READ,       /* file reads anyone may ask for (GetImageProperties) */
        DEFER_QUERY,      /* WQL queries (ExecQuery, ExecQueryPage): the database only */
        _DEFER_QUEUE_MAX,
} DeferQueue;

typedef struct Manager {
        sd_event *event;
        sd_bus *bus;
        BusKind bus_kind;
        char *bus_address;
        uid_t own_uid;

        Site site;

        InstanceCacheEntry cache[INSTANCE_CACHE_SIZE];
        size_t cache_next;

        ClassRegistration *registrations;
        size_t n_registrations;

        SiteWorkers *defer_workers[_DEFER_QUEUE_MAX]; /* deferred replies, bus-defer.h */
        DeferCall *defer_calls;    /* deferred calls not yet answered */
        unsigned max_calls;        /* deferred calls and polkit questions at once */
        unsigned max_calls_per_caller;
        uint64_t max_reply_bytes;  /* no message we send is larger (bus-reply.h) */
        unsigned scrub_interval_sec; /* --scrub-interval; 0 = none */

        AuthzUidCacheEntry uid_cache[AUTHZ_UID_CACHE_SIZE];
        size_t uid_cache_next;
        bool polkit;               /* writes by others than root are decided by polkit */
        AuthzQuery *authz_queries; /* questions to polkit and their answers, per message */
} Manager;

typedef struct ManagerConfig {
        BusKind bus_kind;
        const char *bus_address;
        const char *state_dir;
        const char *database; /* NULL: state_dir/site.db */
        const char *library_dir; /* built images and the content library; NULL: state_dir */
        const char *site_code;
        char **roots;    /* --content-root: where sources are read and exports written */
        char **dp_roots; /* where distribution points may be (--dp-root) */
        uint64_t job_linger_usec; /* 0 = the default 60 s */
        uint64_t job_lease_usec;  /* 0 = SITE_DEFAULT_JOB_LEASE_USEC */
        const char *host_name;    /* --host-name; NULL: gethostname() */
        const char *adk_root;
        const char *osd_bin_root;
        unsigned time_scale; /* 0 = 1 */
        bool polkit;         /* ask polkit on any bus (the system bus always does) */
        unsigned max_jobs, max_jobs_per_caller; /* 0 = the site's defaults (site-jobs.h) */
        unsigned max_calls, max_calls_per_caller; /* 0 = the defaults above */
        unsigned max_query_rows;                /* 0 = SITE_DEFAULT_MAX_QUERY_ROWS */
        unsigned max_query_steps;               /* 0 = STORE_DEFAULT_QUERY_STEPS */
        uint64_t max_reply_bytes;               /* 0 = MANAGER_MAX_REPLY_BYTES */
        unsigned scrub_interval_sec;            /* 0 = no scheduled scrub */
        const char *test_hold_dir;              /* --test-hold-dir (tests, private buses only) */
} ManagerConfig;

/* Opens the site (waiting for a site database that does not answer yet), connects to the bus and
 * sets everything up; -ECANCELED when SIGTERM or SIGINT came while it waited for the database. */
int manager_new(const ManagerConfig *config, Manager **ret);
Manager *manager_free(Manager *m);
static inline void manager_freep(Manager **m) {
        manager_free(*m);
}
/* Registers every object, then requests the bus name (last, so that no caller sees a half
 * registered service), then runs until SIGTERM/SIGINT (returns 0) or until the bus connection is
 * lost (returns -ECONNRESET, after which the caller still frees the manager, stopping the jobs). */
int manager_run(Manager *m);

/* Path helpers. */
char *instance_path(const SmsClass *c, const char *key);
char *class_path(const SmsClass *c);
char *interface_name(const SmsClass *c);

/* Drops cached instances (after a write). */
void manager_cache_flush(Manager *m);
