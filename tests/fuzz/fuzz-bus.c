/* SPDX-License-Identifier: MIT */
/* A fuzzer at the D-Bus surface (issue 11 §6): a private dbus-daemon and the real smsprovd
 * ($SMSPROVD, the sanitizer build's when run from it), a site with a package of each class built
 * from real WIMs, a distribution point and jobs; then, from what each object introspects, calls of
 * every method and property of every interface with random and boundary arguments, first as
 * nobody, then as the daemon's owner. As the owner, more calls go to the daemon's own methods (the
 * writes nobody is refused), jobs they start are mostly canceled by the next call (and the first
 * few called themselves), and Delete goes to instances the phase created, so that the site it was
 * built with stays. It fails on a crash of the daemon, a hang (Peer.Ping unanswered for 5 s after
 * a call), a sanitizer report or leak (the daemon's log, its exit status at SIGTERM), a reply over
 * the reply budget, an error that is not a named one (bus-fuzz-check.c), or a change of the site
 * made as nobody (bus-fuzz-state.c).
 *
 *   fuzz-bus [SECONDS]      SECONDS, else $FUZZ_SECONDS, else 60; half as nobody, half as owner
 *   FUZZ_SEED=N             replays a run (the seed is printed at the start)
 *   FUZZ_BUS_LOG_DIR=DIR    where fuzz-bus-daemon.log and fuzz-bus-calls.log go (default: .)
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "smsprov/macro.h"

#include "../bus/test-env.h"
#include "../helpers/wim-gen.h"
#include "bus-fuzz.h"

#define PING_TIMEOUT_USEC (5 * 1000000ULL)
/* No call may hold its caller longer than busctl's default timeout (API.md §6), counted from
 * when the call is written out to when its answer is read. */
#define CALL_TIMEOUT_USEC (25 * 1000000ULL)
/* sd-bus's own timeout for the call is longer: it counts from the send, and so would count this
 * client's own stalls (a write of the calls log held by the machine's writeback, say) against the
 * daemon. A reply that never comes is still found, as NoReply. */
#define CALL_GIVE_UP_USEC (120 * 1000000ULL)
/* Large values of one message together: far above any size the daemon accepts, and yet small
 * enough for dbus-daemon to pass on quickly (on a loaded machine it took over 5 s to pass on a
 * message of a few MiB, or a 1 MiB string and the error that quoted it, to and fro, which looked
 * like a hang of the daemon). */
#define MESSAGE_BUDGET (512u << 10)
/* As the owner: how often a call goes to a method of the daemon's own interfaces (the writes and
 * jobs that nobody is refused; every object's standard interfaces would have most calls
 * otherwise), how often a job a call started is canceled by the next call, how many of those jobs
 * join the surface to be called themselves, and how many instances Create made are kept for Delete. */
#define OWN_METHOD_PERCENT 40
#define CANCEL_PERCENT 80
#define MAX_JOBS_ADDED 8
#define MAX_CREATED 16

static TestEnv env;
static uint64_t seed;
static unsigned seconds;
static char *daemon_log, *calls_log_path;
static FILE *calls_log;
static FuzzSurface surface;
static char **classes;
static char *image_package;   /* the SMS_ImagePackage's path */

static uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000;
}

static char *joinf(const char *fmt, ...) {
        char *s = NULL;
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(&s, fmt, ap) < 0)
                abort();
        va_end(ap);
        return s;
}

/* --- a run's phase ---------------------------------------------------------------------------- */

typedef struct Phase {
        const char *who;        /* "nobody" or "owner" */
        sd_bus *bus;
        FuzzRng rng;
        bool confine_paths;
        uint64_t calls, replies, errors;
        char last[1024];        /* the call being made, as the calls log has it */
        sd_bus_message *last_message;
        /* Error names seen and how often, for the summary. */
        char *error_names[64];
        uint64_t error_counts[64];
        size_t n_error_names;
        /* As the owner (above): the methods of the daemon's own interfaces, by their indexes in the
         * surface; the job the next call cancels; counts for the summary. */
        bool own_methods_first;
        struct {
                size_t object, interface, member;
        } *own;
        size_t n_own, n_own_objects;
        char *cancel_job;
        uint64_t jobs_started, jobs_canceled, jobs_added;
        /* The site built at the start stays for the whole phase: Delete goes to the instances this
         * phase created, each once. */
        char *created[MAX_CREATED];
        size_t n_created;
        uint64_t created_total, deleted;
        /* Where the phase's time went: from sending a call to its answer, by member, and building
         * the calls ("(building calls)"). */
        struct {
                char *member;
                uint64_t usec, calls;
        } slow[256];
        size_t n_slow;
} Phase;

typedef struct Pending {
        bool done;
        sd_bus_message *reply;
} Pending;

static int on_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Pending *p = userdata;
        (void) ret_error;
        p->done = true;
        p->reply = sd_bus_message_ref(m);
        return 0;
}

static void count_error(Phase *ph, const char *name) {
        for (size_t i = 0; i < ph->n_error_names; i++)
                if (strcmp(ph->error_names[i], name) == 0) {
                        ph->error_counts[i]++;
                        return;
                }
        if (ph->n_error_names < 64) {
                ph->error_names[ph->n_error_names] = strdup(name);
                ph->error_counts[ph->n_error_names++] = 1;
        }
}

static void count_time(Phase *ph, const char *member, uint64_t usec) {
        size_t i;

        for (i = 0; i < ph->n_slow; i++)
                if (strcmp(ph->slow[i].member, member) == 0)
                        break;
        if (i == ph->n_slow) {
                if (i == ELEMENTSOF(ph->slow))
                        return;
                ph->slow[ph->n_slow++].member = strdup(member);
        }
        ph->slow[i].usec += usec;
        ph->slow[i].calls++;
}

/* The members that took most of the phase's time, for the summary. */
static void print_slowest(Phase *ph) {
        printf("fuzz-bus: as %s, the most time in:", ph->who);
        for (unsigned k = 0; k < 5; k++) {
                size_t best = SIZE_MAX;
                for (size_t i = 0; i < ph->n_slow; i++)
                        if (ph->slow[i].member && (best == SIZE_MAX || ph->slow[i].usec > ph->slow[best].usec))
                                best = i;
                if (best == SIZE_MAX)
                        break;
                printf(" %s %" PRIu64 " ms (%" PRIu64 " calls)", ph->slow[best].member, ph->slow[best].usec / 1000,
                       ph->slow[best].calls);
                free(ph->slow[best].member);
                ph->slow[best].member = NULL;
        }
        for (size_t i = 0; i < ph->n_slow; i++)
                free(ph->slow[i].member);
        printf("\n");
}

static int finding(Phase *ph, const char *fmt, ...) _printf_(2, 3);
static int finding(Phase *ph, const char *fmt, ...) {
        va_list ap;
        fprintf(stderr, "fuzz-bus: FINDING as %s, call #%" PRIu64 " (FUZZ_SEED=%" PRIu64 "): ", ph->who, ph->calls, seed);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fprintf(stderr, "\n  the call: %s\n  daemon log: %s\n  calls log: %s\n", ph->last, daemon_log, calls_log_path);
        /* The whole call at the end of the calls log (nobody cannot create files here). */
        if (ph->last_message) {
                fprintf(calls_log, "the call of the finding in full:\n");
                sd_bus_message_dump(ph->last_message, calls_log, 0);
                fflush(calls_log);
                fprintf(stderr, "  the call in full: at the end of the calls log\n");
        }
        return -1;
}

/* Describes the sent call m in ph->last and the calls log, and keeps it for a finding. */
static void describe(Phase *ph, sd_bus_message *m) {
        char body[768] = "";
        sd_bus_message_unref(ph->last_message);
        ph->last_message = sd_bus_message_ref(m);
        fuzz_describe(m, body, sizeof body);
        snprintf(ph->last, sizeof ph->last, "%s %s.%s(%s) %s", sd_bus_message_get_path(m),
                 sd_bus_message_get_interface(m) ?: "", sd_bus_message_get_member(m),
                 sd_bus_message_get_signature(m, true) ?: "", body);
        fprintf(calls_log, "%s #%" PRIu64 " %s\n", ph->who, ph->calls, ph->last);
}

static int ping(Phase *ph) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *m = NULL;
        int r = sd_bus_message_new_method_call(ph->bus, &m, FUZZ_BUS_NAME, FUZZ_ROOT_PATH, "org.freedesktop.DBus.Peer",
                                               "Ping");
        if (r >= 0)
                r = sd_bus_call(ph->bus, m, PING_TIMEOUT_USEC, &error, NULL);
        sd_bus_message_unref(m);
        if (r < 0)
                r = finding(ph, "the daemon did not answer Peer.Ping within 5 s: %s: %s",
                            error.name ?: strerror(-r), error.message ?: "");
        sd_bus_error_free(&error);
        return r;
}

/* Checks one answer: a named error with its WBEM code, or a reply within the budget. */
static int check_reply(Phase *ph, sd_bus_message *reply) {
        uint64_t size = 0;
        int r;

        if (sd_bus_message_is_method_error(reply, NULL)) {
                const sd_bus_error *e = sd_bus_message_get_error(reply);
                ph->errors++;
                count_error(ph, e->name);
                if (!fuzz_error_allowed(e->name))
                        return finding(ph, "an error that is not a named one: %s: %s", e->name, e->message ?: "");
                if (strncmp(e->name, FUZZ_BUS_NAME ".Error.", strlen(FUZZ_BUS_NAME ".Error.")) == 0 &&
                    strncmp(e->message ?: "", "WBEM_E_", 7) != 0)
                        return finding(ph, "%s without its WBEM code first (API.md §7): %s", e->name, e->message ?: "");
                return 0;
        }
        ph->replies++;
        r = fuzz_body_size(reply, &size);
        if (r < 0)
                return finding(ph, "cannot read the reply: %s", strerror(-r));
        if (size > FUZZ_REPLY_BUDGET)
                return finding(ph, "a reply of %" PRIu64 " bytes, over the %u-byte budget", size, FUZZ_REPLY_BUDGET);
        return 0;
}

static const FuzzMember *pick_member(Phase *ph, const FuzzObject *o, const FuzzInterface **ret_iface) {
        if (o->n_interfaces == 0)
                return NULL;
        const FuzzInterface *i = &o->interfaces[fuzz_below(&ph->rng, o->n_interfaces)];
        *ret_iface = i;
        return i->n_members ? &i->members[fuzz_below(&ph->rng, i->n_members)] : NULL;
}

/* Adds the methods of the daemon's own interfaces on the objects not listed yet to ph->own. */
static void list_own_methods(Phase *ph) {
        for (size_t i = ph->n_own_objects; i < surface.n_objects; i++)
                for (size_t j = 0; j < surface.objects[i].n_interfaces; j++) {
                        const FuzzInterface *iface = &surface.objects[i].interfaces[j];
                        if (strncmp(iface->name, FUZZ_BUS_NAME ".", strlen(FUZZ_BUS_NAME ".")) != 0)
                                continue;
                        for (size_t k = 0; k < iface->n_members; k++) {
                                if (iface->members[k].property)
                                        continue;
                                ph->own = realloc(ph->own, (ph->n_own + 1) * sizeof *ph->own);
                                if (!ph->own)
                                        abort();
                                ph->own[ph->n_own].object = i;
                                ph->own[ph->n_own].interface = j;
                                ph->own[ph->n_own++].member = k;
                        }
                }
        ph->n_own_objects = surface.n_objects;
}

/* Builds one random call. */
static int build_call(Phase *ph, sd_bus_message **ret) {
        const FuzzObject *o = &surface.objects[fuzz_below(&ph->rng, surface.n_objects)];
        const FuzzInterface *iface = NULL;
        const FuzzMember *mem;
        FuzzArgs a = { .rng = &ph->rng, .surface = &surface, .test_dir = env.dir, .content_dir = env.content_dir,
                       .confine_paths = ph->confine_paths, .budget = MESSAGE_BUDGET };
        sd_bus_message *m = NULL;
        char *sig = NULL;
        int r;

        if (ph->cancel_job) {
                /* The job the previous call started: jobs do not pile up in the workers, and Cancel
                 * meets jobs queued, running and done. */
                r = sd_bus_message_new_method_call(ph->bus, &m, FUZZ_BUS_NAME, ph->cancel_job, FUZZ_BUS_NAME ".Job",
                                                   "Cancel");
                free(ph->cancel_job);
                ph->cancel_job = NULL;
                if (r < 0)
                        return r;
                ph->jobs_canceled++;
                *ret = m;
                return 0;
        }
        if (ph->n_own > 0 && fuzz_chance(&ph->rng, OWN_METHOD_PERCENT)) {
                size_t k = fuzz_below(&ph->rng, ph->n_own);
                o = &surface.objects[ph->own[k].object];
                iface = &o->interfaces[ph->own[k].interface];
                mem = &iface->members[ph->own[k].member];
        } else
                mem = pick_member(ph, o, &iface);
        _cleanup_free_ char *target = strdup(o->path);
        if (!target)
                abort();
        if (ph->own_methods_first && mem && !mem->property && strcmp(mem->name, "Delete") == 0) {
                /* Deleting an object the site was built with would send most later calls to an
                 * object that is gone: Delete an instance of the same class this phase created, or
                 * one that does not exist. */
                const char *cls = o->path + strlen(FUZZ_ROOT_PATH "/");
                size_t len = strcspn(cls, "/");
                free(target);
                target = NULL;
                for (size_t i = 0; i < ph->n_created && !target; i++)
                        if (strncmp(ph->created[i] + strlen(FUZZ_ROOT_PATH "/"), cls, len + 1) == 0) {
                                target = ph->created[i];
                                ph->created[i] = ph->created[--ph->n_created];
                                ph->deleted++;
                        }
                if (!target)
                        target = joinf(FUZZ_ROOT_PATH "/%.*s/LAB99999", (int) len, cls);
        }

        if (mem && mem->property && fuzz_chance(&ph->rng, 90)) {
                /* Get, Set or GetAll of the property, mostly with the right names. */
                unsigned what = (unsigned) fuzz_below(&ph->rng, 4);
                static const char *methods[] = { "Get", "Get", "Set", "GetAll" };
                r = sd_bus_message_new_method_call(ph->bus, &m, FUZZ_BUS_NAME, o->path, "org.freedesktop.DBus.Properties",
                                                   methods[what]);
                if (r >= 0)
                        r = sd_bus_message_append_basic(m, 's', fuzz_chance(&ph->rng, 90) ? iface->name : "");
                if (r >= 0 && what < 3)
                        r = sd_bus_message_append_basic(m, 's', mem->name);
                if (r >= 0 && what == 2) {
                        const char *type = fuzz_chance(&ph->rng, 70) ? mem->signature : "s";
                        if ((r = sd_bus_message_open_container(m, 'v', type)) >= 0 &&
                            (r = fuzz_append_args(&a, m, type)) >= 0)
                                r = sd_bus_message_close_container(m);
                }
        } else if (mem && !mem->property && fuzz_chance(&ph->rng, 95)) {
                /* The method, mostly with its own signature, otherwise a wrong one or none. */
                r = sd_bus_message_new_method_call(ph->bus, &m, FUZZ_BUS_NAME, target, iface->name, mem->name);
                if (fuzz_chance(&ph->rng, 80))
                        sig = strdup(mem->signature);
                else
                        sig = fuzz_chance(&ph->rng, 20) ? strdup("") : fuzz_random_signature(&ph->rng);
                if (!sig)
                        abort();
                if (r >= 0)
                        r = fuzz_append_args(&a, m, sig);
        } else {
                /* A member the object may not have, on an interface it may not have. */
                const char *word = surface.dict.words[fuzz_below(&ph->rng, surface.dict.n_words)];
                char *full = fuzz_random_signature(&ph->rng);
                const char *iface_name = iface ? iface->name : FUZZ_BUS_NAME ".Site";
                bool member_ok = word[0] && strchr(word, '/') == NULL && strchr(word, '.') == NULL &&
                                 strlen(word) < 255 && !(word[0] >= '0' && word[0] <= '9');
                r = sd_bus_message_new_method_call(ph->bus, &m, FUZZ_BUS_NAME, o->path, iface_name,
                                                   member_ok ? word : "NoSuchMethod");
                if (r == -EINVAL) /* a word that is no valid member name */
                        r = sd_bus_message_new_method_call(ph->bus, &m, FUZZ_BUS_NAME, o->path, iface_name,
                                                           "NoSuchMethod");
                if (r >= 0)
                        r = fuzz_append_args(&a, m, full);
                free(full);
        }
        free(sig);
        if (r < 0) {
                sd_bus_message_unref(m);
                return r;
        }
        *ret = m;
        return 0;
}

/* As the owner: the jobs a reply names (its object paths under /job/), the first few added to the
 * surface, most of them canceled by the next call; and the first few instances Create made. */
static void note_objects(Phase *ph, const char *member, sd_bus_message *reply) {
        const char *contents;
        char type;

        if (!ph->own_methods_first || sd_bus_message_is_method_error(reply, NULL) ||
            sd_bus_message_rewind(reply, true) < 0)
                return;
        while (sd_bus_message_peek_type(reply, &type, &contents) > 0) {
                const char *path;
                if (type != 'o') {
                        char sig[256];
                        if (type == 'a')
                                snprintf(sig, sizeof sig, "a%s", contents);
                        else if (type == 'r')
                                snprintf(sig, sizeof sig, "(%s)", contents);
                        else
                                snprintf(sig, sizeof sig, "%c", type);
                        if (sd_bus_message_skip(reply, sig) < 0)
                                return;
                        continue;
                }
                if (sd_bus_message_read_basic(reply, 'o', &path) < 0)
                        return;
                if (!strstr(path, "/job/_")) {
                        if (strcmp(member, "Create") == 0 &&
                            strncmp(path, FUZZ_ROOT_PATH "/", strlen(FUZZ_ROOT_PATH "/")) == 0) {
                                ph->created_total++;
                                if (ph->n_created < MAX_CREATED && !(ph->created[ph->n_created++] = strdup(path)))
                                        abort();
                        }
                        continue;
                }
                ph->jobs_started++;
                if (ph->jobs_added < MAX_JOBS_ADDED) {
                        ph->jobs_added++;
                        fuzz_surface_add_object(&surface, ph->bus, path, "a job the owner started");
                        list_own_methods(ph);
                }
                if (!ph->cancel_job && fuzz_chance(&ph->rng, CANCEL_PERCENT) && !(ph->cancel_job = strdup(path)))
                        abort();
        }
}

/* One call, answered or not: sent without waiting, then a Ping that must be answered within 5 s
 * (a call that holds the daemon's event loop holds the Ping behind it), then the answer. */
static int call_once(Phase *ph) {
        sd_bus_message *m = NULL;
        sd_bus_slot *slot = NULL;
        Pending p = {};
        int r;

        uint64_t t0 = now_usec();
        r = build_call(ph, &m);
        count_time(ph, "(building calls)", now_usec() - t0);
        if (r < 0)
                return 0; /* a message sd-bus would not build: nothing was sent */
        ph->calls++;
        uint64_t start = now_usec();
        char member[256];
        snprintf(member, sizeof member, "%s", sd_bus_message_get_member(m));
        r = sd_bus_call_async(ph->bus, &slot, m, on_reply, &p, CALL_GIVE_UP_USEC);
        if (r >= 0)
                describe(ph, m);
        sd_bus_message_unref(m);
        if (r == -ENOBUFS || r == -EMSGSIZE) {
                ph->calls--;
                return 0;
        }
        if (r < 0)
                return finding(ph, "cannot send the call: %s", strerror(-r));
        /* The call is written out first: the 5 s are the daemon's, not this client's. */
        r = sd_bus_flush(ph->bus);
        if (r < 0)
                r = finding(ph, "cannot send the call: %s", strerror(-r));
        uint64_t sent = now_usec();
        if (r >= 0)
                r = ping(ph);
        while (r >= 0 && !p.done) {
                r = sd_bus_process(ph->bus, NULL);
                /* sd_bus_process() may run on_reply() and still return 0; waiting then would wait
                 * for nothing (the reply's slot, and with it its timeout, are gone): a hang. */
                if (r == 0 && !p.done)
                        r = sd_bus_wait(ph->bus, UINT64_MAX);
                if (r < 0)
                        r = finding(ph, "the bus connection broke: %s", strerror(-r));
        }
        if (r >= 0) {
                uint64_t answered = now_usec();
                count_time(ph, member, answered - start);
                if (answered - sent > CALL_TIMEOUT_USEC)
                        r = finding(ph, "the call was answered after %.1f s, over the %llu s a call may take",
                                    (double) (answered - sent) / 1e6, CALL_TIMEOUT_USEC / 1000000ULL);
        }
        if (r >= 0)
                r = check_reply(ph, p.reply);
        if (r >= 0)
                note_objects(ph, member, p.reply);
        sd_bus_slot_unref(slot);
        sd_bus_message_unref(p.reply);
        return r;
}

static sd_bus *connect_bus(void) {
        sd_bus *bus = NULL;
        int r = sd_bus_new(&bus);
        if (r >= 0)
                r = sd_bus_set_address(bus, env.address);
        if (r >= 0)
                r = sd_bus_set_bus_client(bus, 1);
        if (r >= 0)
                r = sd_bus_start(bus);
        if (r < 0) {
                fprintf(stderr, "fuzz-bus: cannot connect to %s: %s\n", env.address, strerror(-r));
                sd_bus_unref(bus);
                return NULL;
        }
        return bus;
}

static bool daemon_alive(void) {
        int status;
        if (waitpid(env.daemon_pid, &status, WNOHANG) != env.daemon_pid)
                return true;
        fprintf(stderr, "fuzz-bus: FINDING: the daemon ended (%s %d); its log: %s\n",
                WIFSIGNALED(status) ? "signal" : "exit status", WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status),
                daemon_log);
        env.daemon_pid = -1;
        return false;
}

/* Calls until the deadline or the first finding. Returns 0 or -1 (a finding, printed). */
static int run_phase(Phase *ph, uint64_t usec, bool may_wait_daemon) {
        uint64_t end = now_usec() + usec;
        int r = 0;

        ph->bus = connect_bus();
        if (!ph->bus)
                return -1;
        if (ph->own_methods_first)
                list_own_methods(ph);
        while (r >= 0 && now_usec() < end) {
                r = call_once(ph);
                if (r >= 0 && may_wait_daemon && !daemon_alive())
                        r = -1;
        }
        fflush(calls_log);
        printf("fuzz-bus: as %s: %" PRIu64 " calls, %" PRIu64 " replies, %" PRIu64 " errors:", ph->who, ph->calls,
               ph->replies, ph->errors);
        for (size_t i = 0; i < ph->n_error_names; i++) {
                printf(" %s %" PRIu64, strrchr(ph->error_names[i], '.') + 1, ph->error_counts[i]);
                free(ph->error_names[i]);
        }
        printf("\n");
        if (ph->own_methods_first)
                printf("fuzz-bus: as %s: %zu methods of the daemon's own interfaces; %" PRIu64 " jobs started, %" PRIu64
                       " canceled, %" PRIu64 " called; %" PRIu64 " instances created, %" PRIu64 " deleted\n",
                       ph->who, ph->n_own, ph->jobs_started, ph->jobs_canceled, ph->jobs_added, ph->created_total,
                       ph->deleted);
        print_slowest(ph);
        free(ph->own);
        free(ph->cancel_job);
        for (size_t i = 0; i < ph->n_created; i++)
                free(ph->created[i]);
        fflush(stdout);
        sd_bus_message_unref(ph->last_message);
        sd_bus_flush_close_unref(ph->bus);
        return r < 0 ? -1 : 0;
}

/* The phase as nobody runs in a child that drops to nobody before it connects. */
static int run_as_nobody(uint64_t usec) {
        struct passwd *pw = getpwnam("nobody");
        int status;

        if (geteuid() != 0 || !pw) {
                printf("fuzz-bus: not root or no user nobody: the phase as nobody is skipped\n");
                return 0;
        }
        fflush(stdout);
        fflush(stderr);
        fflush(calls_log);
        pid_t pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                Phase ph = { .who = "nobody", .rng = { seed ^ 0x6e6f626f6479ULL } };
                if (setgroups(0, NULL) < 0 || setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0 ||
                    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0) {
                        fprintf(stderr, "fuzz-bus: cannot become nobody: %m\n");
                        _exit(2);
                }
                _exit(run_phase(&ph, usec, false) < 0 ? 1 : 0);
        }
        if (waitpid(pid, &status, 0) != pid)
                return -errno;
        return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* --- the site to fuzz ------------------------------------------------------------------------- */

static void make_file(const char *name, const char *text) {
        free(test_env_make_file(&env, name, text));
}

static void make_wim(const char *name, int kind) {
        char *p = test_env_content_path(&env, name);
        int r = kind == 0 ? test_make_winpe_wim(p, "9", true, 0, true)
              : kind == 1 ? test_make_winpe_wim(p, "0", false, 0, false)
                          : test_make_multi_image_wim(p, 3);
        if (r < 0)
                fail_msg("cannot make %s: %s", p, strerror(-r));
        free(p);
}

static void wait_job(const char *job) {
        if (job && strcmp(job, "/") != 0)
                test_wait_job(&env, job, NULL);
}

/* Creates an instance that must be created, waits for the job it started and returns its path. */
static char *create(const char *class_name, unsigned n, const char *props, ...) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *m = NULL, *reply = NULL;
        char *class_path = joinf(FUZZ_ROOT_PATH "/class/%s", class_name), *path;
        const char *p, *job;
        va_list ap;

        assert_true(sd_bus_message_new_method_call(env.bus, &m, FUZZ_BUS_NAME, class_path, FUZZ_BUS_NAME ".Class",
                                                   "Create") >= 0);
        assert_true(sd_bus_message_open_container(m, 'a', "{sv}") >= 0);
        va_start(ap, props);
        assert_true(n > 0 && sd_bus_message_appendv(m, props, ap) >= 0);
        va_end(ap);
        assert_true(sd_bus_message_close_container(m) >= 0);
        if (sd_bus_call(env.bus, m, TEST_CALL_TIMEOUT_USEC, &error, &reply) < 0)
                fail_msg("Create %s: %s: %s", class_name, error.name, error.message);
        assert_true(sd_bus_message_read(reply, "oo", &p, &job) > 0);
        path = strdup(p);
        wait_job(job);
        sd_bus_message_unref(reply);
        sd_bus_message_unref(m);
        free(class_path);
        return path;
}

static void call_job(const char *path, const char *iface, const char *method, const char *types, ...) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *m = NULL, *reply = NULL;
        const char *job;
        va_list ap;

        assert_true(sd_bus_message_new_method_call(env.bus, &m, FUZZ_BUS_NAME, path, iface, method) >= 0);
        va_start(ap, types);
        assert_true(sd_bus_message_appendv(m, types, ap) >= 0);
        va_end(ap);
        if (sd_bus_call(env.bus, m, TEST_CALL_TIMEOUT_USEC, &error, &reply) < 0)
                fail_msg("%s %s: %s: %s", method, path, error.name, error.message);
        assert_true(sd_bus_message_read(reply, "o", &job) > 0);
        wait_job(job);
        sd_bus_message_unref(reply);
        sd_bus_message_unref(m);
}

/* Instance paths a query returns, at most max of them. */
static void add_instances(const char *class_name, size_t max) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        char *q = joinf("SELECT * FROM %s", class_name);
        const char *path;
        size_t n = 0;

        if (sd_bus_call_method(env.bus, FUZZ_BUS_NAME, FUZZ_ROOT_PATH, FUZZ_BUS_NAME ".Site", "ExecQuery", &error, &reply,
                               "s", q) >= 0 &&
            sd_bus_message_enter_container(reply, 'a', "(oa{sv})") > 0)
                while (n < max && sd_bus_message_enter_container(reply, 'r', "oa{sv}") > 0 &&
                       sd_bus_message_read(reply, "o", &path) > 0 && sd_bus_message_skip(reply, "a{sv}") >= 0 &&
                       sd_bus_message_exit_container(reply) >= 0) {
                        char *kind = joinf("an instance of %s", class_name);
                        fuzz_surface_add_object(&surface, env.bus, path, kind);
                        fuzz_dict_add(&surface.dict, strrchr(path, '/') + 1);
                        free(kind);
                        n++;
                }
        sd_bus_error_free(&error);
        sd_bus_message_unref(reply);
        free(q);
}

static void add_jobs(void) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        const char *path;

        if (sd_bus_call_method(env.bus, FUZZ_BUS_NAME, FUZZ_ROOT_PATH, "org.freedesktop.DBus.ObjectManager",
                               "GetManagedObjects", &error, &reply, NULL) < 0)
                fail_msg("GetManagedObjects: %s", error.message);
        assert_true(sd_bus_message_enter_container(reply, 'a', "{oa{sa{sv}}}") > 0);
        while (sd_bus_message_enter_container(reply, 'e', "oa{sa{sv}}") > 0) {
                assert_true(sd_bus_message_read(reply, "o", &path) > 0);
                if (strstr(path, "/job/"))
                        fuzz_surface_add_object(&surface, env.bus, path, "a job");
                assert_true(sd_bus_message_skip(reply, "a{sa{sv}}") >= 0);
                assert_true(sd_bus_message_exit_container(reply) >= 0);
        }
        sd_bus_message_unref(reply);
}

/* The site: a package of each class from real WIMs, a distribution point with a package on it,
 * and jobs that stay on the bus (--job-linger) to be called. Files for the path arguments beside
 * them: a file that is no WIM, a directory, a symlink out of the content root (to a directory that
 * is still inside the test's) and one within it. */
static void build_site(void) {
        char *nal = joinf("[\"Display=\\\\dp1\\\"]MSWNET:[\"SMS_SITE=LAB\"]\\\\dp1\\");
        char *dp_root = joinf("%s/dp1", env.dir), *outside = joinf("%s/outside", env.dir);
        char *boot_wim = test_env_content_path(&env, "boot.wim"), *image_wim = test_env_content_path(&env, "image.wim");
        char *os_wim = test_env_content_path(&env, "os.wim");
        char *p;

        make_wim("boot.wim", 0);
        make_wim("image.wim", 1);
        make_wim("os.wim", 1);
        make_wim("multi.wim", 2);
        make_file("not-a-wim.txt", "not a WIM\n");
        p = test_env_content_path(&env, "subdir");
        assert_int_equal(mkdir(p, 0755), 0);
        free(p);
        assert_int_equal(mkdir(outside, 0755), 0);
        assert_int_equal(mkdir(dp_root, 0755), 0);
        p = joinf("%s/secret.txt", outside);
        assert_int_equal(test_write_file(p, "secret\n", 7), 0);
        free(p);
        p = test_env_content_path(&env, "link-out");
        assert_int_equal(symlink(outside, p), 0);
        free(p);
        p = test_env_content_path(&env, "link-in.wim");
        assert_int_equal(symlink("boot.wim", p), 0);
        free(p);

        char *boot = create("SMS_BootImagePackage", 2, "{sv}{sv}", "Name", "s", "Fuzz boot image", "ImagePath", "s",
                            boot_wim);
        char *image = create("SMS_ImagePackage", 3, "{sv}{sv}{sv}", "Name", "s", "Fuzz image", "PkgSourceFlag", "u", 2,
                             "PkgSourcePath", "s", image_wim);
        char *os = create("SMS_OperatingSystemInstallPackage", 3, "{sv}{sv}{sv}", "Name", "s", "Fuzz OS",
                          "PkgSourceFlag", "u", 2, "PkgSourcePath", "s", os_wim);
        free(create("SMS_DistributionPointInfo", 2, "{sv}{sv}", "NALPath", "s", nal, "ContentRoot", "s", dp_root));
        call_job(image, FUZZ_BUS_NAME ".SMS_PackageBaseclass", "AddDistributionPoints", "asas", 1, "LAB", 1, nal);
        call_job(boot, FUZZ_BUS_NAME ".SMS_BootImagePackage", "UpdateImage", "");
        fuzz_dict_add(&surface.dict, nal);
        fuzz_dict_add(&surface.dict, boot_wim);
        image_package = image;
        free(boot);
        free(os);
        free(nal);
        free(dp_root);
        free(outside);
        free(boot_wim);
        free(image_wim);
        free(os_wim);
}

/* What is fuzzed: the root, every class object, up to two instances of every class, the jobs,
 * and paths where no object lives. */
static void read_surface(void) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        static const char *const absent[] = {
                "/", FUZZ_ROOT_PATH "/SMS_ImagePackage/LAB99999", FUZZ_ROOT_PATH "/job/_999999",
                FUZZ_ROOT_PATH "/SMS_DistributionPoint/_2e_2e", FUZZ_ROOT_PATH "/class/SMS_NoSuchClass",
        };

        fuzz_surface_add_object(&surface, env.bus, FUZZ_ROOT_PATH, "the site");
        if (sd_bus_get_property_strv(env.bus, FUZZ_BUS_NAME, FUZZ_ROOT_PATH, FUZZ_BUS_NAME ".Site", "Classes", &error,
                                     &classes) < 0)
                fail_msg("Get Classes: %s", error.message);
        for (char **c = classes; *c; c++) {
                char *path = joinf(FUZZ_ROOT_PATH "/class/%s", *c), *kind = joinf("the class %s", *c);
                fuzz_dict_add(&surface.dict, *c);
                fuzz_surface_add_object(&surface, env.bus, path, kind);
                fuzz_surface_add_schema(&surface, env.bus, *c);
                add_instances(*c, 2);
                free(path);
                free(kind);
        }
        add_jobs();
        for (size_t i = 0; i < sizeof absent / sizeof absent[0]; i++)
                fuzz_surface_add_object(&surface, env.bus, absent[i], "no object");
        size_t n_members = 0;
        for (size_t i = 0; i < surface.n_objects; i++)
                for (size_t j = 0; j < surface.objects[i].n_interfaces; j++)
                        n_members += surface.objects[i].interfaces[j].n_members;
        printf("fuzz-bus: %zu objects, %zu members in all, %zu classes, %zu dictionary words\n", surface.n_objects,
               n_members, strv_length(classes), surface.dict.n_words);
}

/* Sanitizer reports in the daemon's log (ASan, LSan and UBSan print these). */
static bool log_has_report(void) {
        static const char *const marks[] = { "ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                                             "SUMMARY: UndefinedBehaviorSanitizer", "AddressSanitizer:DEADLYSIGNAL" };
        char line[4096];
        bool found = false;
        FILE *f = fopen(daemon_log, "re");
        if (!f)
                return false;
        while (fgets(line, sizeof line, f))
                for (size_t i = 0; i < sizeof marks / sizeof marks[0]; i++)
                        if (strstr(line, marks[i])) {
                                fprintf(stderr, "fuzz-bus: FINDING: a sanitizer report in the daemon's log %s: %s", daemon_log,
                                        line);
                                found = true;
                        }
        fclose(f);
        return found;
}

/* Starts the bus and the daemon with their output in the daemon log. */
static int setup(void **state) {
        static const char *const extra[] = { "--job-linger=86400", NULL };
        int saved = dup(STDERR_FILENO), log_fd, r;

        (void) state;
        log_fd = open(daemon_log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (log_fd < 0 || saved < 0) {
                fprintf(stderr, "fuzz-bus: cannot write %s: %m\n", daemon_log);
                return -1;
        }
        dup2(log_fd, STDERR_FILENO);
        r = test_env_start(&env);
        /* Once more with the option that keeps finished jobs on the bus. */
        if (r >= 0)
                r = test_env_stop_daemon(&env, SIGTERM);
        if (r >= 0)
                r = test_env_start_daemon(&env, extra);
        dup2(saved, STDERR_FILENO);
        close(saved);
        close(log_fd);
        if (r < 0)
                fprintf(stderr, "fuzz-bus: cannot start the bus and smsprovd (%s); see %s\n", strerror(-r), daemon_log);
        return r < 0 ? -1 : 0;
}

static int teardown(void **state) {
        (void) state;
        fuzz_surface_free(&surface);
        strv_free(classes);
        free(image_package);
        /* On a finding the directory stays for a look. */
        return test_env_stop(&env);
}

static void fuzz_bus(void **state) {
        FuzzState before, after;
        char *db = joinf("%s/site.db", env.state_dir);
        uint64_t half = (uint64_t) seconds * 1000000ULL / 2;
        bool failed = false;

        (void) state;
        build_site();
        read_surface();

        /* The comparison sees a change: one Put as the owner between two looks. */
        assert_int_equal(fuzz_state_take(&before, env.bus, db, classes), 0);
        assert_null(test_invoke(&env, image_package, FUZZ_BUS_NAME ".SMS_PackageBaseclass", "Put", NULL, "a{sv}", 1,
                                "Description", "s", "changed by the owner before the phase as nobody"));
        assert_int_equal(fuzz_state_take(&after, env.bus, db, classes), 0);
        if (fuzz_state_compare(&before, &after, false) == 0)
                fail_msg("fuzz-bus: the site's state looks the same after a Put");
        fuzz_state_free(&before);
        fuzz_state_free(&after);

        assert_int_equal(fuzz_state_take(&before, env.bus, db, classes), 0);
        if (run_as_nobody(half) < 0)
                failed = true;
        if (!daemon_alive())
                failed = true;
        if (!failed) {
                assert_int_equal(fuzz_state_take(&after, env.bus, db, classes), 0);
                if (fuzz_state_compare(&before, &after, true) > 0) {
                        fprintf(stderr, "fuzz-bus: FINDING: the site changed in the phase as nobody (FUZZ_SEED=%" PRIu64
                                        "); calls log: %s\n",
                                seed, calls_log_path);
                        failed = true;
                }
                fuzz_state_free(&after);
        }
        fuzz_state_free(&before);

        if (!failed) {
                Phase owner = { .who = "owner", .rng = { seed }, .confine_paths = true, .own_methods_first = true };
                if (run_phase(&owner, half, true) < 0)
                        failed = true;
        }
        /* A clean stop must exit 0: the sanitizers turn a leak into a non-zero status. */
        if (env.daemon_pid > 0 && test_env_stop_daemon(&env, SIGTERM) < 0) {
                fprintf(stderr, "fuzz-bus: FINDING: the daemon did not stop cleanly; its log: %s\n", daemon_log);
                failed = true;
        }
        if (log_has_report())
                failed = true;
        if (failed)
                setenv("SMSPROV_TEST_KEEP", "1", 1);
        free(db);
        if (failed)
                fail_msg("fuzz-bus: findings (FUZZ_SEED=%" PRIu64 " replays the run); test directory %s", seed, env.dir);
}

int main(int argc, char *argv[]) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(fuzz_bus),
        };
        const char *log_dir = getenv("FUZZ_BUS_LOG_DIR") ?: ".";
        const char *s = argc > 1 ? argv[1] : getenv("FUZZ_SECONDS");
        char *cwd = getcwd(NULL, 0);
        int r;

        seconds = s ? (unsigned) strtoul(s, NULL, 10) : 60;
        if (seconds == 0)
                seconds = 60;
        if (getenv("FUZZ_SEED"))
                seed = strtoull(getenv("FUZZ_SEED"), NULL, 0);
        else
                seed = (uint64_t) time(NULL) ^ ((uint64_t) getpid() << 32);
        daemon_log = log_dir[0] == '/' ? joinf("%s/fuzz-bus-daemon.log", log_dir)
                                       : joinf("%s/%s/fuzz-bus-daemon.log", cwd, log_dir);
        calls_log_path = log_dir[0] == '/' ? joinf("%s/fuzz-bus-calls.log", log_dir)
                                           : joinf("%s/%s/fuzz-bus-calls.log", cwd, log_dir);
        free(cwd);
        calls_log = fopen(calls_log_path, "we");
        if (!calls_log) {
                fprintf(stderr, "fuzz-bus: cannot write %s: %m\n", calls_log_path);
                return 1;
        }
        printf("fuzz-bus: seed %" PRIu64 " (FUZZ_SEED=%" PRIu64 " replays it), %u s, daemon %s\n", seed, seed, seconds,
               getenv("SMSPROVD") ?: "(SMSPROVD not set)");
        fflush(stdout);
        signal(SIGPIPE, SIG_IGN);
        r = cmocka_run_group_tests(tests, setup, teardown);
        fclose(calls_log);
        free(daemon_log);
        free(calls_log_path);
        return r;
}
