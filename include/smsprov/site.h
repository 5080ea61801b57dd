/* SPDX-License-Identifier: MIT */
#pragma once

/* The site engine (src/site/, ARCHITECTURE.md "The shape"): between the bus layer and the store.
 * It owns the site database, the content roots and the job queue. This header has the objects
 * engine (site.c): WMI-style operations on instances — create, put, delete, SetSourceSite,
 * Unlock, change notifications, queries — with the validation, locking, optimistic concurrency
 * and auditing of API.md §4; and the observer the engine reports to. The rest of the engine has a
 * header each: site-writes.h (the writes callers ask for), site-distribution.h, site-image.h,
 * site-schedule.h, site-scrub.h, site-jobs.h, site-workers.h, site-recover.h. It knows nothing
 * of D-Bus: the bus layer decodes arguments into SiteChange lists, turns SmsError into named D-Bus
 * errors, and implements SiteObserver. */

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <systemd/sd-event.h>

#include "smsprov/class.h"
#include "smsprov/error.h"
#include "smsprov/job.h"
#include "smsprov/path.h"
#include "smsprov/store.h"
#include "smsprov/wql.h"

typedef struct SiteJob SiteJob;
typedef struct SiteDistribution SiteDistribution;
typedef struct SiteScheduleTimer SiteScheduleTimer;
typedef struct SiteHeld SiteHeld;

/* How the engine tells its user what happened: the bus layer implements it and turns each call
 * into signals; the engine's tests record the calls. Every member is optional, and each is called
 * on the main thread after the change it reports is committed. */
typedef struct SiteObserver {
        void (*object_added)(void *userdata, const SmsClass *c, const char *key);
        /* `changed`: indexes into c->all of the properties whose stored value changed */
        void (*object_changed)(void *userdata, const SmsClass *c, const char *key, const size_t *changed, size_t n);
        /* right after the delete's commit, before anything else runs on the main thread, so that
         * no caller sees the object gone before it is told */
        void (*object_removed)(void *userdata, const SmsClass *c, const char *key);
        /* a package was announced changed (AddChangeNotification, a refresh, a build) */
        void (*change_notification)(void *userdata, const SmsClass *c, const char *key);
        /* a job was queued; its state or progress moved; it ended (completed, failed or
         * canceled, recorded); it is forgotten (after the linger time), and job->observer_data
         * must be released by then */
        void (*job_added)(void *userdata, SiteJob *job);
        void (*job_changed)(void *userdata, SiteJob *job);
        void (*job_finished)(void *userdata, SiteJob *job);
        void (*job_removed)(void *userdata, SiteJob *job);
} SiteObserver;

typedef struct Site {
        Store *store;
        ContentRoots roots;
        ContentRoots dp_roots; /* --dp-root: where distribution points' ContentRoots may be */
        char *state_dir;
        /* Built images (images/), the site content library (contentlib/) and the driver imports
         * (drivers/): the state directory, or --library-dir, which every host of a site shares */
        char *library_dir;
        size_t max_query_rows;
        /* What one instance may take on D-Bus (sms_object_check_size()), checked at every write:
         * sd-bus builds Get, GetAll and PropertiesChanged of one object unbounded. The daemon sets
         * a sixteenth of --max-reply-bytes. */
        uint64_t max_object_bytes;

        /* The engine's running part (site_jobs_start(), site-jobs.h); all zero for a site that
         * only stores objects. */
        sd_event *event;
        const SiteObserver *observer;
        void *observer_data;
        JobQueue *jobs;            /* long operations; also removes trees on its idle workers */
        sd_event_source *jobs_source;
        SiteJob *site_jobs;        /* queued, running, and finished ones until they are forgotten */
        unsigned max_jobs;         /* queued or running at once */
        unsigned max_jobs_per_caller;
        uint64_t job_linger_usec;  /* how long a finished job is kept */
        uint64_t job_lease_usec;   /* how long a job's lease holds unrenewed; 0: the default (job-lease.c) */
        sd_event_source *lease_source; /* renews this host's leases, fails expired ones */
        SiteDistribution *distributions; /* running (CancelDistribution finds them) */
        uint64_t scrub_interval_usec;    /* site_scrub_schedule() */
        sd_event_source *scrub_source;
        SiteScheduleTimer *schedule_timers; /* one per package with a RefreshSchedule */
        unsigned time_scale;             /* schedules run this many times faster (tests); 0 = 1 */
        uint64_t (*clock)(void);         /* the wall clock schedules are read against (tests);
                                          * NULL = now_usec() */
        bool export_running;             /* ExportDefaultBootImage runs one at a time */
        unsigned driver_imports;         /* CreateFromINF imports not yet freed (driver-collect.c) */
        uint64_t driver_import_serial;   /* imports begun: counted on the main thread, read atomically
                                          * by the collection's worker */
        char *adk_root;                  /* --adk-root: <arch>/winpe.wim, <arch>/WinPE_OCs/<Name>/ */
        char *osd_bin_root;              /* --osd-bin-root: i386/ x64/ arm64/ */

        /* The engine transaction open (site_begin()), and what it reports and queues once the
         * outermost one commits (transaction.c). */
        unsigned tx_depth;
        bool tx_doomed;                  /* a report could not be held: the write fails */
        SiteHeld *held, **held_tail;
        SiteJob *held_jobs, **held_jobs_tail;
} Site;

/* An engine transaction: one transaction of the site database around the steps of one write,
 * nesting flat as store_begin() does. What the steps report to the observer (site_notify_…())
 * and the jobs they start (site_job_start()) are held until the outermost site_end(): delivered
 * and queued if it commits, dropped (the jobs never run) if it rolls back. site_end() commits
 * when R >= 0 and returns the commit's result; else rolls back and returns R. */
int site_begin(Site *site, SmsError *e);
int site_end(Site *site, int r, SmsError *e);

/* The observer's calls, for the engine's files: each does nothing when no observer is set, and
 * waits for the commit while an engine transaction is open (site_begin()). */
typedef enum SiteNotice {
        SITE_NOTICE_ADDED,
        SITE_NOTICE_CHANGED,
        SITE_NOTICE_REMOVED,
        SITE_NOTICE_CHANGE_NOTIFICATION,
} SiteNotice;
void site_notify(Site *site, SiteNotice notice, const SmsClass *c, const char *key, const size_t *changed, size_t n);
void site_notify_added(Site *site, const SmsClass *c, const char *key);
void site_notify_changed(Site *site, const SmsClass *c, const char *key, const size_t *changed, size_t n);
void site_notify_removed(Site *site, const SmsClass *c, const char *key);
void site_notify_change_notification(Site *site, const SmsClass *c, const char *key);
/* For site_notify(): holds its call until the outermost site_end(), when a transaction is open
 * (false otherwise). */
bool site_hold_notice(Site *site, SiteNotice notice, const SmsClass *c, const char *key, const size_t *changed,
                      size_t n);

/* Changes other hosts of the site make (a site database several hosts share, store_watch()):
 * reported to the observer as this host's own are, added, changed or removed, so that every host
 * tells its clients. Watched from site->event: site_jobs_start() starts it and site_jobs_stop()
 * ends it. Nothing to watch on a database one host writes (SQLite). */
int site_watch_start(Site *site, SmsError *e);
void site_watch_stop(Site *site);

#define SITE_DEFAULT_MAX_QUERY_ROWS 100000u
#define SITE_DEFAULT_MAX_OBJECT_BYTES (1024u * 1024u)

/* Opens <state_dir>/site.db (creating the directory and database as needed). */
int site_open(Site *site, const char *state_dir, const char *site_code, SmsError *e);
/* The same with the site database at `database` (NULL: <state_dir>/site.db): a path, or a
 * postgresql:// URI of a database several hosts share (store.h). */
int site_open_at(Site *site, const char *state_dir, const char *database, const char *site_code, SmsError *e);
/* The same as the host named `host` (store_open_host(); NULL: gethostname()). */
int site_open_as(Site *site, const char *state_dir, const char *database, const char *site_code, const char *host,
                 SmsError *e);
void site_close(Site *site);
/* Keeps built images, the content library and driver imports in `dir` (an absolute path, made
 * mode 0700 when missing, kept canonical) instead of the state directory: a directory every host
 * of a site sharing its database reaches at the same canonical path (NFS, a cluster file system).
 * Before the site runs. */
int site_set_library_dir(Site *site, const char *dir, SmsError *e);

/* One property a caller wants to set: its index in the class's `all` list and the value, already
 * decoded to the property's CIM type. The site takes ownership of the value. */
typedef struct SiteChange {
        size_t index;
        CimValue value;
        bool path_checked; /* site_changes_check_paths() found its paths where they may be */
} SiteChange;

void site_changes_free(SiteChange *changes, size_t n);

/* The file system lookups of a create or a put: every path a change gives (a content path, the
 * source of a driver, a DP's ContentRoot) is resolved where it may lie, and each change whose
 * paths were found is marked path_checked; site_object_create() and site_object_put() look only
 * at the changes not marked. A lookup can wait on a slow or hung file system, so the bus layer
 * calls this on a worker; it reads nothing of the site but its roots and its state directory,
 * which stay as they are while the daemon runs. Errors: as site_object_create(). */
int site_changes_check_paths(const Site *site, const SmsClass *c, SiteChange *changes, size_t n, SmsError *e);
/* Does any change give a path that site_changes_check_paths() would look up? */
bool site_changes_have_paths(const SmsClass *c, const SiteChange *changes, size_t n);

/* Who asks. The uid goes into the audit trail. */
typedef struct SiteCaller {
        uid_t uid;
        const char *peer; /* the caller's connection (a unique bus name), borrowed; NULL for the
                           * daemon's own work */
} SiteCaller;

/* A copy of a caller to keep beyond the call that named it: without the borrowed peer. */
static inline SiteCaller site_caller_keep(const SiteCaller *c) {
        return (SiteCaller) { .uid = c->uid };
}

/* Creates an instance of the concrete, writable class `c` from the caller's properties; every
 * other property takes its default. Returns the new key. Errors: NotSupported (abstract or
 * read-only class), ReadOnly (a [read] or key property, PackageID included), ValueOutOfRange,
 * InvalidParameter (a required property missing), PathNotAllowed. */
int site_object_create(Site *site, const SmsClass *c, SiteChange *changes, size_t n, SiteChange *derived,
                       size_t n_derived, const SiteCaller *caller, char **ret_key, SmsError *e);
/* The checks of site_object_create() that need no file system, consuming nothing: for callers
 * that validate first, do the slower work on a worker (site_changes_check_paths(), reading a WIM)
 * and create afterwards. `derived` of site_object_create() are values the site computed itself
 * (image metadata, build state): they skip the access checks and override the creation
 * defaults. */
int site_object_check_create(Site *site, const SmsClass *c, const SiteChange *changes, size_t n, SmsError *e);

/* Everything site_object_create() checks, the class rules and an existing key included, without
 * writing: for callers creating several instances that must all be valid first. */
int site_object_validate_create(Site *site, const SmsClass *c, const SiteChange *changes, size_t n, SmsError *e);

/* Writes values the site computed (image metadata after a reload or a build) in one transaction
 * with a new SedoObjectVersion and an audit row saying `what` ("reloaded the image properties
 * of"). No access checks: the caller decides what may change. */
int site_object_set_derived(Site *site, const SmsClass *c, const char *key, SiteChange *values, size_t n,
                            const SiteCaller *caller, const char *what, size_t **ret_changed, size_t *ret_n_changed,
                            SmsError *e);
/* NotFound, NotSupported (read-only class) or Locked, as a Put would get them. */
int site_object_check_writable(Site *site, const SmsClass *c, const char *key, SmsError *e);

/* Writes the given properties of an existing instance in one transaction. A SedoObjectVersion
 * entry is compared with the stored one (VersionMismatch) and not written. Returns the indexes of
 * the properties whose stored value changed (SedoObjectVersion always among them). */
int site_object_put(Site *site, const SmsClass *c, const char *key, SiteChange *changes, size_t n,
                    const SiteCaller *caller, size_t **ret_changed, size_t *ret_n_changed, SmsError *e);

int site_object_delete(Site *site, const SmsClass *c, const char *key, const SiteCaller *caller, SmsError *e);

/* SetSourceSite(code) and Unlock(): the only ways to change SourceSite; both work on a locked
 * package. Return the changed indexes like site_object_put(). */
int site_package_set_source_site(Site *site, const SmsClass *c, const char *key, const char *source_site,
                                 const SiteCaller *caller, size_t **ret_changed, size_t *ret_n_changed,
                                 SmsError *e);

/* Records a change notification (audit row). The bus layer emits the signal. */
int site_package_add_change_notification(Site *site, const SmsClass *c, const char *key, const SiteCaller *caller,
                                         SmsError *e);

int site_object_load(Site *site, const SmsClass *c, const char *key, SmsObject **ret, SmsError *e);
/* The concrete class of the package with this PackageID. NotFound ("no package <id>") when there
 * is none; Failed when the database cannot say, which is no answer about the package. */
int site_package_class(Site *site, const char *package_id, const SmsClass **ret, SmsError *e);

/* Parses, checks and runs a WQL query. On success *ret_query holds the checked query (for its
 * class and columns) and *ret_rows the rows. */
int site_query(Site *site, const char *text, WqlQuery **ret_query, WqlRow **ret_rows, size_t *ret_n,
               SmsError *e);

/* A distribution point's ContentRoot as it may be used: beneath a --dp-root (resolved beneath
 * its directory, as content paths are), not holding the state directory nor inside the daemon's
 * own files there (site.db, images/, contentlib/), not overlapping a content root. Returns the
 * resolved path in *ret (when not NULL). Errors: PathNotAllowed, InvalidParameter (missing, not
 * a directory, not absolute). */
int site_dp_root_resolve(const Site *site, const char *root, char **ret, SmsError *e);
/* A copy of what site_dp_root_resolve() reads (the content roots, the dp-roots, the state
 * directory) for work on a thread that may outlive the call that started it; every other field
 * is zero. Free with site_dp_scope_done(). */
int site_dp_scope_copy(const Site *site, Site *ret);
void site_dp_scope_done(Site *scope);

/* One page of a query (Site.ExecQueryPage): cursor "" starts; max_rows 0 means
 * SITE_DEFAULT_PAGE_ROWS, more than max_query_rows is capped. *ret_next_cursor is "" after the
 * last page. A cursor not made by this site for this query text → InvalidParameter. */
#define SITE_DEFAULT_PAGE_ROWS 1000u
/* The same two on a given store (a reader, store_open_reader(), in a worker), for callers that
 * run them away from the site's own connection. */
int site_query_in(Store *store, size_t max_query_rows, const char *text, WqlQuery **ret_query, WqlRow **ret_rows,
                  size_t *ret_n, SmsError *e);
int site_query_page_in(Store *store, size_t max_query_rows, const char *text, const char *cursor, uint32_t max_rows,
                       WqlQuery **ret_query, WqlRow **ret_rows, size_t *ret_n, char **ret_next_cursor,
                       SmsError *e);
int site_query_page(Site *site, const char *text, const char *cursor, uint32_t max_rows, WqlQuery **ret_query,
                    WqlRow **ret_rows, size_t *ret_n, char **ret_next_cursor, SmsError *e);

/* Resolves a WMI path (SMS_BootImagePackage.PackageID="LAB00001") to the concrete class and key
 * of an existing instance. A base-class path finds the instance of whichever derived class. */
int site_resolve_wmi_path(Site *site, const char *wmi_path, const SmsClass **ret_class, char **ret_key,
                          SmsError *e);

/* Records a status message (an error of a job, say) in its own transaction. Failures to record
 * are logged by the caller's choice of ignoring the result. */
int site_report(Site *site, uint32_t message_id, uint32_t severity, const SiteCaller *caller, const char *class_name,
                const char *key, const char *text);

/* After a crash: removes the temporary files builds left under <state>/images/ and sets
 * ActionInProgress back to 0 on the packages whose jobs were interrupted ("Class.Key" targets). */
int site_recover_interrupted(Site *site, char *const *targets, size_t n, SmsError *e);
/* Only the second half: for the jobs of another host, whose files are that host's. */
void site_reset_interrupted_packages(Site *site, char *const *targets, size_t n);

/* Replaces the rows of a class the site computes itself in one transaction: every row (the
 * optional component catalog), or with `match_property` those whose property equals `match`
 * (the SMS_ImageInformation rows of one package). The objects keep their keys. */
int site_replace_rows(Site *site, const SmsClass *c, const char *match_property, const char *match,
                      SmsObject *const *objects, size_t n, SmsError *e);

/* A query for a worker (ExecQuery, ExecQueryPage): made on the main thread without any I/O, run
 * on a worker on a read-only connection of its own (WAL lets it read while the main thread
 * writes; opened there, not while the call waits in a queue), its results read back on the main
 * thread. `cursor` NULL: all rows at once (site_query()); otherwise a page (site_query_page()). */
typedef struct SiteQuery {
        Store *reader;
        size_t max_query_rows;
        bool paged;
        char *text, *cursor;
        uint32_t max_rows;
        /* the results */
        WqlQuery *q;
        WqlRow *rows;
        size_t n;
        char *next; /* paged: the next page's cursor, "" after the last */
} SiteQuery;
int site_query_new(Site *site, const char *text, const char *cursor, uint32_t max_rows, SiteQuery **ret);
int site_query_run(void *query, SmsError *e);
void site_query_free(void *query);

/* What the site is. */
const char *site_code(const Site *site);
const char *site_name(const Site *site);
/* Moves on with every committed write; caches compare it to know they are stale. */
uint64_t site_generation(const Site *site);
/* Every key of `c` (and of its descendants when abstract), with the concrete class of each
 * (ret_classes optional). */
int site_object_enumerate(Site *site, const SmsClass *c, char ***ret_keys, const SmsClass ***ret_classes,
                          size_t *ret_n, SmsError *e);
/* A --content-root or a --dp-root (the site's roots and dp_roots), and the cost budget of every
 * query (0: the store's default). */
typedef enum SiteRootKind {
        SITE_ROOT_CONTENT,
        SITE_ROOT_DP,
} SiteRootKind;
int site_add_root(Site *site, SiteRootKind kind, const char *path, SmsError *e);
void site_set_query_budget(Site *site, uint64_t max_steps);

/* The optional component catalog (SMS_OSDeploymentKitWinPEOptionalComponent) as the kit under
 * site->adk_root is now: read at start. */
int site_component_catalog_load(Site *site, SmsError *e);

/* A fresh SedoObjectVersion (a random GUID string). */
int site_new_sedo_version(char **ret);
