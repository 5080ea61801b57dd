/* SPDX-License-Identifier: MIT */
#pragma once

/* What bench-provider and bench-imaging share: a temporary directory with a private dbus-daemon
 * (tests/bus/test-bus.conf) and the real smsprovd on it, one sd-bus client connection, and the
 * helpers around them: die(), timing, method calls and the table of figures. */

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>

#define PROVIDER "org.smsprov.Provider1"
#define ROOT "/org/smsprov/Provider1"

/* What die() and the warnings here start with ("bench", "bench-imaging"): each program defines it. */
extern const char bench_name[];

typedef struct BenchEnv {
        const char *smsprovd;     /* the daemon to run */
        const char *source_root;  /* the source tree, for tests/bus/test-bus.conf */
        char *dir;                /* the temporary directory; removed at the end unless $BENCH_KEEP */
        char *address;            /* the private bus */
        pid_t dbus_pid, daemon_pid;
        pid_t reference_pid;      /* a reference server on the same bus (echo-server), if any */
        const char *reference_what; /* its name in messages */
        sd_bus *bus;              /* the client connection */
} BenchEnv;

typedef struct Stats {
        double median, p99;
} Stats;

enum { GOAL_NONE = -1, GOAL_MISSED = 0, GOAL_MET = 1 };

/* How print_table() lays out the rows: the printed widths of the metric, value and reference
 * columns (the ratio column comes last, unpadded), and how many characters of each of the four
 * cells it shows at the most. */
typedef struct TableLayout {
        int width[3];
        int keep[4];
} TableLayout;

/* Prints "NAME: message" to stderr, stops and cleans up the environment being run, and exits 1. */
_Noreturn __attribute__((format(printf, 1, 2))) void die(const char *format, ...);

/* A formatted string of up to 63 characters that lives until eight more have been made: enough
 * for one table row. */
__attribute__((format(printf, 1, 2))) const char *fmt(const char *f, ...);

/* The monotonic clock, in µs. */
double now_us(void);

/* Sleeps for ms milliseconds. */
void sleep_ms(unsigned ms);

/* The median and the 99th percentile of v; sorts v in place. */
Stats stats(double *v, size_t n);

/* Forks and execs argv (looked up in $PATH unless it holds a slash); stdin from `in` and stdout to
 * `out` when given (else /dev/null for stdout, unless keep_stdout). Dies if fork fails. */
pid_t spawn_io(char *const argv[], const char *in, const char *out, bool keep_stdout);

/* A program's own option: --NAME=VALUE stores VALUE in *value. */
typedef struct BenchOption {
        const char *name;
        const char **value;
} BenchOption;

/* Sets e up from $SMSPROVD and $SOURCE_ROOT (default .), nothing running yet, and reads the command line: -h/--help (calls help()), --smsprovd
 * and --source-root (their lines in --help: BENCH_ENV_HELP), and the program's `own` options.
 * Returns -1 to go on, or the status to exit with: 0 after --help, 2 for a bad command line (said
 * on stderr), or no daemon to run. */
int bench_env_parse(BenchEnv *e, int argc, char *argv[], const BenchOption *own, size_t n_own, void (*help)(void));

/* Their lines in a program's --help. */
#define BENCH_ENV_HELP                                                                                      \
        "     --smsprovd=PATH      The daemon (default $SMSPROVD)\n"                                        \
        "     --source-root=DIR    Source tree, for tests/bus/test-bus.conf (default $SOURCE_ROOT or .)\n"

/* ARG (or DEFAULT_ARG when ARG is NULL) as a whole number MIN…MAX into *RET; otherwise says that
 * --OPTION must be MIN…MAX and returns false. */
bool bench_parse_count(const char *option, const char *arg, const char *default_arg, unsigned long min,
                       unsigned long max, unsigned *ret);

/* Makes the temporary directory $TMPDIR/PREFIX.XXXXXX (TMPDIR defaults to /tmp) and its content/,
 * the daemon's content root. From here on die() stops and cleans up e. */
void bench_env_make_dir(BenchEnv *e, const char *prefix);

/* DIR/NAME in e's directory, newly allocated. */
char *path_in(const BenchEnv *e, const char *name);

/* Starts dbus-daemon with tests/bus/test-bus.conf on DIR/bus and connects e->bus to it. */
void bench_env_start_bus(BenchEnv *e);

/* Starts smsprovd on the bus (--state-dir=DIR/state, --site-code=LAB, --content-root=DIR/content,
 * then `extra`, NULL-terminated, then --log-level=warning) and waits for its name. */
void bench_env_start_daemon(BenchEnv *e, char *const extra[]);

/* Starts argv as the reference server, called `what` in messages, and waits for it to own `name`. */
void bench_env_start_reference(BenchEnv *e, char *const argv[], const char *what, const char *name);

/* Closes the connection, stops the reference server, smsprovd and dbus-daemon with SIGTERM (and
 * says so if one does not exit 0), and removes the directory unless $BENCH_KEEP is set. */
void bench_env_stop(BenchEnv *e);

/* Calls a method that must work and returns the round trip in µs, building the message included;
 * dies on error. The reply is dropped if ret_reply is NULL. */
double call_timed(sd_bus *bus, sd_bus_message **ret_reply, const char *dest, const char *path, const char *iface,
                  const char *member, const char *types, ...);

/* The same, for calls whose failure is a result: returns it, with the error always set. */
int try_call_timed(sd_bus *bus, double *ret_us, sd_bus_message **ret_reply, sd_bus_error *error, const char *dest,
                   const char *path, const char *iface, const char *member, const char *types, ...);

/* Whether a connection owns the bus name; dies if the bus does not answer. */
bool name_has_owner(sd_bus *bus, const char *name);

/* "ok" or "MISSED", for the ratio/goal column. */
const char *verdict(bool ok);

/* Adds a row to the table; goal is GOAL_NONE, GOAL_MISSED or GOAL_MET. */
void row(int goal, const char *metric, const char *value, const char *reference, const char *ratio);

/* Prints the table, then "NAME: SUMMARY; M of N goals met", the missed ones and a full stop. */
__attribute__((format(printf, 2, 3))) void print_table(const TableLayout *layout, const char *summary, ...);
