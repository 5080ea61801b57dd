/* SPDX-License-Identifier: MIT */
#pragma once

/* smsctl: the command line client of smsprovd. It speaks D-Bus only; it never opens the site
 * database. This header holds what every part of it shares: the options, the connection, and the
 * error convention.
 *
 * Error convention: a function that fails prints the error once, where it is known, as
 * "smsctl: <error name>: <message>" on stderr, and returns the negative exit status (-1 … -5).
 * Callers pass such a value up unchanged; main() turns it into the exit status. */

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

#include "smsprov/macro.h"

#define SMSPROV_SERVICE "org.smsprov.Provider1"
#define SMSPROV_ROOT "/org/smsprov/Provider1"
#define SMSPROV_CLASS_PREFIX SMSPROV_ROOT "/class/"
#define SMSPROV_JOB_PREFIX SMSPROV_ROOT "/job"
#define SMSPROV_IFACE_PREFIX "org.smsprov.Provider1."
#define SMSPROV_SITE_IFACE SMSPROV_IFACE_PREFIX "Site"
#define SMSPROV_CLASS_IFACE SMSPROV_IFACE_PREFIX "Class"
#define SMSPROV_JOB_IFACE SMSPROV_IFACE_PREFIX "Job"
#define SMSPROV_ERROR_PREFIX SMSPROV_IFACE_PREFIX "Error."

/* Errors smsctl finds itself are named with the standard D-Bus names that fit them. */
#define CTL_ERROR_USAGE "org.freedesktop.DBus.Error.InvalidArgs"
#define CTL_ERROR_NO_SERVER "org.freedesktop.DBus.Error.NoServer"
#define CTL_ERROR_FAILED "org.freedesktop.DBus.Error.Failed"
#define CTL_ERROR_NO_MEMORY "org.freedesktop.DBus.Error.NoMemory"
#define CTL_ERROR_NOT_FOUND "org.freedesktop.DBus.Error.UnknownObject"

typedef enum CtlExit {
        CTL_EXIT_SUCCESS = 0,
        CTL_EXIT_FAILED = 1,        /* the operation or the job failed */
        CTL_EXIT_USAGE = 2,         /* bad command line */
        CTL_EXIT_NOT_FOUND = 3,     /* no such instance, class, property or job */
        CTL_EXIT_ACCESS_DENIED = 4, /* the daemon's authorization refused the call */
        CTL_EXIT_UNREACHABLE = 5,   /* no bus, or no smsprovd on it */
} CtlExit;

typedef enum CtlBusKind {
        CTL_BUS_SYSTEM,
        CTL_BUS_USER,
        CTL_BUS_ADDRESS,
} CtlBusKind;

typedef struct Ctl {
        /* Options. */
        CtlBusKind bus_kind;
        const char *bus_address;
        bool json;
        bool json_pretty;
        bool legend;
        bool wait;         /* follow jobs to their end (not --no-wait) */
        bool ask_password; /* interactive authorization */
        bool quiet;
        bool update;       /* boot-image add-driver/remove-driver rebuild afterwards */
        bool all_columns;
        bool index_set;
        uint32_t index;
        const char *name;
        const char *where;
        const char *columns;
        const char *driver_class; /* driver list filters */
        const char *architecture;
        const char *hardware_id;

        /* The package kind of the command group run (boot-image, os-image, os-install), else NULL. */
        const struct PackageKind *package;

        /* State. */
        sd_bus *bus;
        bool stderr_tty;
} Ctl;

/* Prints "smsctl: NAME: MESSAGE" and returns -exit_status. */
int ctl_errorf(CtlExit exit_status, const char *name, const char *fmt, ...) _printf_(3, 4);
#define ctl_usage(...) ctl_errorf(CTL_EXIT_USAGE, CTL_ERROR_USAGE, __VA_ARGS__)
int ctl_oom(void);
/* Prints a D-Bus error (or, when none is set, the errno r) and returns the mapped -exit status. */
int ctl_bus_error(const sd_bus_error *error, int r);
/* The exit status a D-Bus error name stands for (API.md §7, smsctl.1 EXIT STATUS). */
CtlExit ctl_exit_for_error(const char *name);

/* Informational output for people, on stderr, silenced by --quiet. */
void ctl_info(const Ctl *c, const char *fmt, ...) _printf_(2, 3);
