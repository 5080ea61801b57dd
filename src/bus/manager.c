/* SPDX-License-Identifier: MIT */

/* The manager: connects to the bus, opens the site, registers every object and runs the loop. */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "bus/bus-defer.h"
#include "bus/bus-distribution.h"
#include "bus/bus-job.h"
#include "bus/bus-managed.h"
#include "bus/bus-util.h"
#include "bus/registration.h"
#include "smsprov/macro.h"
#include "smsprov/site-distribution.h"
#include "smsprov/site-schedule.h"
#include "smsprov/site-scrub.h"
#include "util/log.h"

ClassRegistration *manager_registration(Manager *m, const SmsClass *c) {
        for (size_t i = 0; i < m->n_registrations; i++)
                if (m->registrations[i].class == c)
                        return &m->registrations[i];
        return NULL;
}

ClassRegistration *bus_current_registration(sd_bus_message *msg) {
        return sd_bus_slot_get_userdata(sd_bus_get_current_slot(sd_bus_message_get_bus(msg)));
}

static int manager_setup_registrations(Manager *m) {
        size_t n = 0;

        for (const SmsClass *const *c = sms_model_classes(); *c; c++)
                n++;
        m->registrations = calloc(n, sizeof(ClassRegistration));
        if (!m->registrations)
                return -ENOMEM;
        for (const SmsClass *const *c = sms_model_classes(); *c; c++) {
                ClassRegistration *reg = &m->registrations[m->n_registrations++];
                reg->manager = m;
                reg->class = *c;
                reg->interface = interface_name(*c);
                reg->class_path = class_path(*c);
                if (asprintf(&reg->prefix, SMSPROV_OBJECT_ROOT "/%s", (*c)->name) < 0)
                        reg->prefix = NULL;
                if (!reg->interface || !reg->class_path || !reg->prefix)
                        return -ENOMEM;
        }
        return 0;
}

static int manager_connect(Manager *m) {
        int r;

        switch (m->bus_kind) {
        case BUS_KIND_SYSTEM:
                r = sd_bus_open_system_with_description(&m->bus, "smsprovd");
                break;
        case BUS_KIND_USER:
                r = sd_bus_open_user_with_description(&m->bus, "smsprovd");
                break;
        case BUS_KIND_ADDRESS:
        default:
                r = sd_bus_new(&m->bus);
                if (r < 0)
                        break;
                r = sd_bus_set_address(m->bus, m->bus_address);
                if (r < 0)
                        break;
                r = sd_bus_set_bus_client(m->bus, true);
                if (r < 0)
                        break;
                r = sd_bus_start(m->bus);
                break;
        }
        if (r < 0)
                return log_error_errno(r, "Failed to connect to the bus: %m");
        /* Finish authenticating (and Hello) now: dbus-daemon closes a connection that has not
         * authenticated within its auth_timeout (5 s on the system bus), and the start-up work
         * before the loop runs can take longer on a large site. */
        const char *unique;
        r = sd_bus_get_unique_name(m->bus, &unique);
        if (r < 0)
                return log_error_errno(r, "Failed to authenticate to the bus: %m");
        /* Losing the bus (dbus-daemon restarted, or it cut us off) ends the daemon, so that the
         * service manager can start it again, instead of running on unreachable. */
        r = sd_bus_set_exit_on_disconnect(m->bus, true);
        if (r < 0)
                return log_error_errno(r, "Failed to set exit-on-disconnect: %m");
        return sd_bus_attach_event(m->bus, m->event, SD_EVENT_PRIORITY_NORMAL);
}

/* --- the engine's observer: what changed in the site becomes signals -------------------------------- */

static void on_object_added(void *userdata, const SmsClass *c, const char *key) {
        (void) bus_instance_emit_interfaces(userdata, c, key, true);
}

static void on_object_changed(void *userdata, const SmsClass *c, const char *key, const size_t *changed, size_t n) {
        (void) bus_instance_emit_changed(userdata, c, key, changed, n);
}

static void on_object_removed(void *userdata, const SmsClass *c, const char *key) {
        (void) bus_instance_emit_interfaces(userdata, c, key, false);
}

static void on_change_notification(void *userdata, const SmsClass *c, const char *key) {
        Manager *m = userdata;
        _cleanup_free_ char *path = instance_path(c, key);
        int r = path ? sd_bus_emit_signal(m->bus, SMSPROV_OBJECT_ROOT, SMSPROV_INTERFACE_PREFIX "Site",
                                          "ChangeNotification", "so", key, path)
                     : -ENOMEM;
        if (r < 0)
                log_warning_errno(r, "Failed to emit ChangeNotification for %s: %m", key);
}

static const SiteObserver bus_observer = {
        .object_added = on_object_added,
        .object_changed = on_object_changed,
        .object_removed = on_object_removed,
        .change_notification = on_change_notification,
        .job_added = bus_job_added,
        .job_changed = bus_job_changed,
        .job_finished = bus_job_finished,
        .job_removed = bus_job_removed,
};

/* How long a start waits before it tries an unreachable site database again: doubling from the
 * first to the last. */
#define OPEN_AGAIN_FIRST_USEC (500 * 1000ULL)
#define OPEN_AGAIN_LAST_USEC (30 * 1000000ULL)

/* Opens the site. A site database that does not answer yet (its server starting, the network not
 * up) is tried again, one log line per try, until it answers or SIGTERM or SIGINT ends the wait
 * (-ECANCELED): main() blocked them, so sigtimedwait() takes them here. The bus name is requested
 * only later, so that no caller finds a daemon without its database. */
static int manager_open_site(Manager *m, const ManagerConfig *config) {
        uint64_t delay = OPEN_AGAIN_FIRST_USEC;
        sigset_t stop;
        int r;

        sigemptyset(&stop);
        sigaddset(&stop, SIGTERM);
        sigaddset(&stop, SIGINT);
        for (unsigned n = 1;; n++) {
                SmsError e = SMS_ERROR_NULL;
                r = site_open_as(&m->site, config->state_dir, config->database, config->site_code, config->host_name,
                                 &e);
                if (r != -ENOTCONN) {
                        if (r < 0)
                                log_error_errno(r, "Failed to open the site in %s: %s", config->state_dir,
                                                e.message ? e.message : strerror(-r));
                        sms_error_clear(&e);
                        return r;
                }
                log_warning("Waiting for the site database (try %u): %s; trying again in %" PRIu64 " ms.", n,
                            e.message, delay / 1000);
                (void) sd_notifyf(false, "STATUS=Waiting for the site database (try %u): %s", n, e.message);
                sms_error_clear(&e);

                struct timespec ts = { .tv_sec = (time_t) (delay / 1000000ULL),
                                       .tv_nsec = (long) (delay % 1000000ULL) * 1000L };
                int sig = sigtimedwait(&stop, NULL, &ts);
                if (sig == SIGTERM || sig == SIGINT) {
                        log_info("Stopping before the site database answered.");
                        return -ECANCELED;
                }
                delay = delay * 2 > OPEN_AGAIN_LAST_USEC ? OPEN_AGAIN_LAST_USEC : delay * 2;
        }
}

int manager_new(const ManagerConfig *config, Manager **ret) {
        _cleanup_(manager_freep) Manager *m = NULL;
        SmsError e = SMS_ERROR_NULL;
        int r;

        m = calloc(1, sizeof(Manager));
        if (!m)
                return log_oom();
        m->bus_kind = config->bus_kind;
        m->polkit = config->bus_kind == BUS_KIND_SYSTEM || config->polkit;
        m->own_uid = getuid();
        if (config->bus_address && !(m->bus_address = strdup(config->bus_address)))
                return log_oom();

        r = manager_open_site(m, config);
        if (r < 0)
                return r;
        if (config->library_dir) {
                r = site_set_library_dir(&m->site, config->library_dir, &e);
                if (r < 0) {
                        log_error_errno(r, "Bad --library-dir: %s", e.message ? e.message : config->library_dir);
                        sms_error_clear(&e);
                        return r;
                }
        }
        if (config->max_query_rows)
                m->site.max_query_rows = config->max_query_rows;
        site_set_query_budget(&m->site, config->max_query_steps);
        const struct {
                char **paths;
                SiteRootKind kind;
                const char *option;
        } root_lists[] = {
                { config->roots, SITE_ROOT_CONTENT, "--content-root" },
                { config->dp_roots, SITE_ROOT_DP, "--dp-root" },
        };
        for (size_t l = 0; l < ELEMENTSOF(root_lists); l++)
                for (char **root = root_lists[l].paths; root && *root; root++) {
                        r = site_add_root(&m->site, root_lists[l].kind, *root, &e);
                        if (r < 0) {
                                log_error_errno(r, "Bad %s: %s", root_lists[l].option, e.message ? e.message : *root);
                                sms_error_clear(&e);
                                return r;
                        }
                }

        r = sd_event_default(&m->event);
        if (r < 0)
                return log_error_errno(r, "Failed to allocate the event loop: %m");
        r = manager_connect(m);
        if (r < 0)
                return r;
        r = manager_setup_registrations(m);
        if (r < 0)
                return log_oom();
        m->site.max_jobs = config->max_jobs;
        m->site.max_jobs_per_caller = config->max_jobs_per_caller;
        m->site.job_linger_usec = config->job_linger_usec;
        m->site.job_lease_usec = config->job_lease_usec;
        m->max_reply_bytes = config->max_reply_bytes ? config->max_reply_bytes : MANAGER_MAX_REPLY_BYTES;
        m->site.max_object_bytes = m->max_reply_bytes / 16;
        m->max_calls = config->max_calls ? config->max_calls : MANAGER_MAX_CALLS;
        m->max_calls_per_caller = config->max_calls_per_caller ? config->max_calls_per_caller
                                                               : MANAGER_MAX_CALLS_PER_CALLER;
        m->site.time_scale = config->time_scale;
        m->scrub_interval_sec = config->scrub_interval_sec;
        m->site.observer = &bus_observer;
        m->site.observer_data = m;
        r = site_jobs_start(&m->site, m->event, 2);
        if (r < 0)
                return r;
        r = bus_defer_setup(m);
        if (r < 0)
                return r;
        if (config->test_hold_dir) {
                _cleanup_close_ int fd = open(config->test_hold_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (fd < 0)
                        return log_error_errno(-errno, "Cannot open the test hold directory %s: %m",
                                               config->test_hold_dir);
                r = site_jobs_set_test_dir(&m->site, fd);
                for (size_t i = 0; r >= 0 && i < _DEFER_QUEUE_MAX; i++)
                        r = site_workers_set_test_dir(m->defer_workers[i], fd, "call.");
                if (r < 0)
                        return log_error_errno(r, "Failed to set the test hold directory: %m");
                log_info("Test points are on: jobs hold where %s/<point> exists.", config->test_hold_dir);
        }
        if ((config->adk_root && !(m->site.adk_root = strdup(config->adk_root))) ||
            (config->osd_bin_root && !(m->site.osd_bin_root = strdup(config->osd_bin_root))))
                return log_oom();

        r = site_component_catalog_load(&m->site, &e);
        if (r < 0) {
                log_error_errno(r, "Failed to read the deployment kit's optional components: %s",
                                e.message ? e.message : strerror(-r));
                sms_error_clear(&e);
                return r;
        }

        *ret = TAKE_PTR(m);
        return 0;
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;
        site_schedules_stop(&m->site);
        authz_shutdown(m);
        site_jobs_stop(&m->site);
        bus_defer_shutdown(m);
        manager_cache_flush(m);
        sd_bus_flush_close_unref(m->bus);
        sd_event_unref(m->event);
        for (size_t i = 0; i < m->n_registrations; i++) {
                free(m->registrations[i].interface);
                free(m->registrations[i].prefix);
                free(m->registrations[i].class_path);
                free(m->registrations[i].instance_vtable);
                free(m->registrations[i].static_interface);
                free(m->registrations[i].static_vtable);
        }
        free(m->registrations);
        for (size_t i = 0; i < AUTHZ_UID_CACHE_SIZE; i++)
                free(m->uid_cache[i].sender);
        site_close(&m->site);
        free(m->bus_address);
        free(m);
        return NULL;
}

int manager_run(Manager *m) {
        int r;

        r = bus_site_register(m);
        if (r < 0)
                return r;
        r = bus_class_register(m);
        if (r < 0)
                return r;
        r = bus_instance_register(m);
        if (r < 0)
                return r;
        r = bus_job_register(m);
        if (r < 0)
                return r;
        r = bus_managed_register(m);
        if (r < 0)
                return r;
        /* Distributions a stop cut short start again (or fail after the retry limit). */
        site_distribution_resume(&m->site);
        r = site_schedules_start(&m->site);
        if (r < 0)
                return log_error_errno(r, "Failed to arm the refresh schedules: %m");
        r = site_scrub_schedule(&m->site, (uint64_t) m->scrub_interval_sec * 1000000ULL);
        if (r < 0)
                return log_error_errno(r, "Failed to arm the content library scrub: %m");

        /* Last: callers find the name only once every object answers. */
        r = sd_bus_request_name(m->bus, SMSPROV_BUS_NAME, 0);
        if (r < 0)
                return log_error_errno(r, "Failed to acquire the bus name %s: %m", SMSPROV_BUS_NAME);

        /* main() blocked these before any thread started; sd-event takes them from here. */
        r = sd_event_add_signal(m->event, NULL, SIGTERM, NULL, NULL);
        if (r >= 0)
                r = sd_event_add_signal(m->event, NULL, SIGINT, NULL, NULL);
        if (r < 0)
                return log_error_errno(r, "Failed to watch signals: %m");

        log_info("smsprovd serving site %s as %s.", site_code(&m->site), SMSPROV_BUS_NAME);
        (void) sd_notifyf(false, "READY=1\nSTATUS=Serving site %s as %s", site_code(&m->site), SMSPROV_BUS_NAME);
        r = sd_event_loop(m->event);
        if (r < 0)
                return log_error_errno(r, "Event loop failed: %m");
        /* The signals exit the loop with 0; sd-bus exits it with EXIT_FAILURE when the connection
         * is gone (sd_bus_set_exit_on_disconnect), and then the service manager must see a
         * failure so that Restart=on-failure brings us back. */
        if (r != 0) {
                log_error("Lost the connection to the bus; stopping.");
                return -ECONNRESET;
        }
        log_info("smsprovd stopping.");
        return 0;
}
