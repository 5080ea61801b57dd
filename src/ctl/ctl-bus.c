/* SPDX-License-Identifier: MIT */

/* The connection, errors and exit statuses, and the call shapes every command uses. */

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl/ctl-bus.h"

/* D-Bus errors that stand for an exit status other than 1 (failed). Everything else the daemon
 * answers is a failed operation. */
static const struct {
        const char *name;
        CtlExit exit_status;
} error_exit_table[] = {
        { CTL_ERROR_USAGE, CTL_EXIT_USAGE },
        { "org.freedesktop.DBus.Error.InvalidSignature", CTL_EXIT_USAGE },
        { SMSPROV_ERROR_PREFIX "NotFound", CTL_EXIT_NOT_FOUND },
        { SMSPROV_ERROR_PREFIX "InvalidClass", CTL_EXIT_NOT_FOUND },
        { "org.freedesktop.DBus.Error.UnknownObject", CTL_EXIT_NOT_FOUND },
        { "org.freedesktop.DBus.Error.UnknownProperty", CTL_EXIT_NOT_FOUND },
        { "org.freedesktop.DBus.Error.AccessDenied", CTL_EXIT_ACCESS_DENIED },
        { "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired", CTL_EXIT_ACCESS_DENIED },
        { CTL_ERROR_NO_SERVER, CTL_EXIT_UNREACHABLE },
        { "org.freedesktop.DBus.Error.ServiceUnknown", CTL_EXIT_UNREACHABLE },
        { "org.freedesktop.DBus.Error.NameHasNoOwner", CTL_EXIT_UNREACHABLE },
        { "org.freedesktop.DBus.Error.Disconnected", CTL_EXIT_UNREACHABLE },
        { "org.freedesktop.DBus.Error.NoReply", CTL_EXIT_UNREACHABLE },
        { "org.freedesktop.DBus.Error.Timeout", CTL_EXIT_UNREACHABLE },
        { "org.freedesktop.DBus.Error.TimedOut", CTL_EXIT_UNREACHABLE },
        { "System.Error.ECONNRESET", CTL_EXIT_UNREACHABLE },
        { "System.Error.ENOTCONN", CTL_EXIT_UNREACHABLE },
};

CtlExit ctl_exit_for_error(const char *name) {
        for (size_t i = 0; name && i < ELEMENTSOF(error_exit_table); i++)
                if (streq(error_exit_table[i].name, name))
                        return error_exit_table[i].exit_status;
        return CTL_EXIT_FAILED;
}

int ctl_errorf(CtlExit exit_status, const char *name, const char *fmt, ...) {
        va_list ap;

        fprintf(stderr, "smsctl: %s: ", name);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        return -(int) exit_status;
}

int ctl_oom(void) {
        return ctl_errorf(CTL_EXIT_FAILED, CTL_ERROR_NO_MEMORY, "out of memory");
}

int ctl_bus_error(const sd_bus_error *error, int r) {
        if (sd_bus_error_is_set(error))
                return ctl_errorf(ctl_exit_for_error(error->name), error->name, "%s",
                                  error->message ? error->message : "(no message)");
        /* A failure of the connection itself: the daemon or the bus went away. */
        if (r == -ECONNRESET || r == -ENOTCONN || r == -ECONNREFUSED || r == -ETIMEDOUT || r == -EPIPE)
                return ctl_errorf(CTL_EXIT_UNREACHABLE, CTL_ERROR_NO_SERVER, "the bus connection failed: %s",
                                  strerror(-r));
        if (r == -ENOMEM)
                return ctl_oom();
        return ctl_errorf(CTL_EXIT_FAILED, CTL_ERROR_FAILED, "%s", strerror(r < 0 ? -r : EIO));
}

int ctl_enter_container(sd_bus_message *m, char type, const char *contents) {
        int r = sd_bus_message_enter_container(m, type, contents);
        return r < 0 ? ctl_bus_error(NULL, r) : r;
}

int ctl_exit_container(sd_bus_message *m) {
        int r = sd_bus_message_exit_container(m);
        return r < 0 ? ctl_bus_error(NULL, r) : 0;
}

int ctl_end_container(sd_bus_message *m, int r) {
        return r < 0 ? ctl_bus_error(NULL, r) : ctl_exit_container(m);
}

int ctl_event_new(Ctl *c, sd_event_signal_handler_t on_signal, sd_event_time_handler_t on_timer, uint64_t usec,
                  void *userdata, sigset_t *ret_old_mask, sd_event **ret) {
        _cleanup_(sd_event_unrefp) sd_event *event = NULL;
        sigset_t mask, old;
        int r;

        sigemptyset(&mask);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGTERM);
        sigprocmask(SIG_BLOCK, &mask, &old);
        r = sd_event_new(&event);
        if (r >= 0)
                r = sd_bus_attach_event(c->bus, event, 0);
        if (r >= 0)
                r = sd_event_add_signal(event, NULL, SIGINT, on_signal, userdata);
        if (r >= 0)
                r = sd_event_add_signal(event, NULL, SIGTERM, on_signal, userdata);
        if (r >= 0)
                r = sd_event_add_time_relative(event, NULL, CLOCK_MONOTONIC, usec, 0, on_timer, userdata);
        if (r < 0) {
                sd_bus_detach_event(c->bus);
                event = sd_event_unref(event);
                sigprocmask(SIG_SETMASK, &old, NULL);
                return ctl_bus_error(NULL, r);
        }
        if (ret_old_mask)
                *ret_old_mask = old;
        *ret = TAKE_PTR(event);
        return 0;
}

void ctl_info(const Ctl *c, const char *fmt, ...) {
        va_list ap;

        if (c->quiet)
                return;
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
}

int ctl_connect(Ctl *c) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        const char *where;
        int r;

        switch (c->bus_kind) {
        case CTL_BUS_USER:
                where = "the user bus";
                r = sd_bus_open_user_with_description(&bus, "smsctl");
                break;
        case CTL_BUS_ADDRESS:
                where = c->bus_address;
                r = sd_bus_new(&bus);
                if (r >= 0)
                        r = sd_bus_set_address(bus, c->bus_address);
                if (r >= 0)
                        r = sd_bus_set_bus_client(bus, 1);
                if (r >= 0)
                        r = sd_bus_set_description(bus, "smsctl");
                if (r >= 0)
                        r = sd_bus_start(bus);
                break;
        case CTL_BUS_SYSTEM:
        default:
                where = "the system bus";
                r = sd_bus_open_system_with_description(&bus, "smsctl");
                break;
        }
        if (r == -ENOMEM)
                return ctl_oom();
        if (r < 0)
                return ctl_errorf(CTL_EXIT_UNREACHABLE, CTL_ERROR_NO_SERVER, "cannot connect to %s: %s", where,
                                  strerror(-r));
        /* polkit may ask the person at the terminal (API.md §8); never a script. */
        r = sd_bus_set_allow_interactive_authorization(bus, c->ask_password && isatty(STDIN_FILENO));
        if (r < 0)
                return ctl_bus_error(NULL, r);
        c->bus = TAKE_PTR(bus);
        return 0;
}

int ctl_message_new(Ctl *c, sd_bus_message **ret, const char *path, const char *interface, const char *member) {
        int r = sd_bus_message_new_method_call(c->bus, ret, SMSPROV_SERVICE, path, interface, member);
        if (r == -EINVAL)
                return ctl_usage("'%s' is not a valid object path, interface or member (%s.%s)", path,
                                 interface ? interface : "", member);
        return r < 0 ? ctl_bus_error(NULL, r) : 0;
}

int ctl_send(Ctl *c, sd_bus_message *m, sd_bus_message **ret_reply) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        r = sd_bus_call(c->bus, m, 0, &error, ret_reply);
        if (r < 0)
                return ctl_bus_error(&error, r);
        return 0;
}

static int ctl_callv(Ctl *c, const char *path, const char *interface, const char *member, sd_bus_message **ret_reply,
                     const char *types, va_list ap) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        r = ctl_message_new(c, &m, path, interface, member);
        if (r < 0)
                return r;
        if (types) {
                r = sd_bus_message_appendv(m, types, ap);
                if (r < 0)
                        return ctl_bus_error(NULL, r);
        }
        return ctl_send(c, m, ret_reply);
}

int ctl_call(Ctl *c, const char *path, const char *interface, const char *member, sd_bus_message **ret_reply,
             const char *types, ...) {
        va_list ap;
        int r;

        va_start(ap, types);
        r = ctl_callv(c, path, interface, member, ret_reply, types, ap);
        va_end(ap);
        return r;
}

int ctl_call_string(Ctl *c, const char *path, const char *interface, const char *member, char reply_type,
                    char **ret, const char *types, ...) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *s;
        va_list ap;
        int r;

        va_start(ap, types);
        r = ctl_callv(c, path, interface, member, &reply, types, ap);
        va_end(ap);
        if (r < 0)
                return r;
        r = sd_bus_message_read_basic(reply, reply_type, &s);
        if (r < 0)
                return ctl_bus_error(NULL, r);
        *ret = strdup(s);
        return *ret ? 0 : ctl_oom();
}

int ctl_get_property(Ctl *c, const char *path, const char *interface, const char *property,
                     sd_bus_message **ret_reply) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = ctl_call(c, path, "org.freedesktop.DBus.Properties", "Get", &reply, "ss", interface, property);
        if (r < 0)
                return r;
        if ((r = ctl_enter_container(reply, 'v', NULL)) < 0)
                return r;
        *ret_reply = TAKE_PTR(reply);
        return 0;
}

int ctl_get_all(Ctl *c, const char *path, const char *interface, sd_bus_message **ret_reply) {
        return ctl_call(c, path, "org.freedesktop.DBus.Properties", "GetAll", ret_reply, "s", interface);
}

static char *strjoin3(const char *a, const char *b, const char *c) {
        char *s = NULL;
        if (asprintf(&s, "%s%s%s", a, b, c) < 0)
                return NULL;
        return s;
}

char *ctl_class_interface(const char *class_name) {
        return strjoin3(SMSPROV_IFACE_PREFIX, class_name, "");
}

char *ctl_static_interface(const char *class_name) {
        return strjoin3(SMSPROV_IFACE_PREFIX, class_name, ".Static");
}

char *ctl_class_object(const char *class_name) {
        return strjoin3(SMSPROV_CLASS_PREFIX, class_name, "");
}

/* /org/smsprov/Provider1/<Class>/<Key>: the class part, or NULL. */
static int path_split(const char *path, const char **ret_class, size_t *ret_len) {
        const char *p, *slash;

        if (!path || strncmp(path, SMSPROV_ROOT "/", strlen(SMSPROV_ROOT "/")) != 0)
                return -EINVAL;
        p = path + strlen(SMSPROV_ROOT "/");
        slash = strchr(p, '/');
        if (!slash || slash == p || strchr(slash + 1, '/') || !slash[1])
                return -EINVAL;
        if ((size_t) (slash - p) == strlen("class") && strncmp(p, "class", 5) == 0)
                return -EINVAL;
        if ((size_t) (slash - p) == strlen("job") && strncmp(p, "job", 3) == 0)
                return -EINVAL;
        *ret_class = p;
        *ret_len = (size_t) (slash - p);
        return 0;
}

char *ctl_path_class(const char *path) {
        const char *p;
        size_t n;

        if (path_split(path, &p, &n) < 0)
                return NULL;
        return strndup(p, n);
}

char *ctl_path_key(const char *path) {
        _cleanup_free_ char *prefix = NULL;
        const char *p;
        char *key = NULL;
        size_t n;

        if (path_split(path, &p, &n) < 0)
                return NULL;
        if (asprintf(&prefix, "%.*s", (int) (p - path + n), path) < 0)
                return NULL;
        if (sd_bus_path_decode(path, prefix, &key) <= 0)
                return NULL;
        return key;
}

bool ctl_is_job_path(const char *path) {
        return path && strncmp(path, SMSPROV_JOB_PREFIX "/", strlen(SMSPROV_JOB_PREFIX "/")) == 0 &&
               path[strlen(SMSPROV_JOB_PREFIX "/")];
}
