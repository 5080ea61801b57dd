/* SPDX-License-Identifier: MIT */
#pragma once

/* The connection to smsprovd and the few call shapes every command uses. Every function follows
 * the error convention of ctl.h: it prints what went wrong and returns -exit status. */

#include <signal.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "ctl/ctl.h"


/* Connects as --system, --user or --bus-address say. */
int ctl_connect(Ctl *c);

/* A new method call to smsprovd. */
int ctl_message_new(Ctl *c, sd_bus_message **ret, const char *path, const char *interface, const char *member);
/* Sends a call and waits for the reply (the default sd-bus timeout, 25 s). */
int ctl_send(Ctl *c, sd_bus_message *m, sd_bus_message **ret_reply);
/* ctl_message_new + append types + ctl_send. */
int ctl_call(Ctl *c, const char *path, const char *interface, const char *member, sd_bus_message **ret_reply,
             const char *types, ...);
/* ctl_call() of a method that returns one string ('s') or object path ('o'): a copy of it. */
int ctl_call_string(Ctl *c, const char *path, const char *interface, const char *member, char reply_type,
                    char **ret, const char *types, ...);
/* Properties.Get; the reply is left positioned inside the variant. */
int ctl_get_property(Ctl *c, const char *path, const char *interface, const char *property,
                     sd_bus_message **ret_reply);
/* Properties.GetAll; the reply is left positioned before the a{sv}. */
int ctl_get_all(Ctl *c, const char *path, const char *interface, sd_bus_message **ret_reply);

/* sd_bus_message_enter_container() and sd_bus_message_exit_container(), a failure reported by
 * ctl_bus_error(). */
int ctl_enter_container(sd_bus_message *m, char type, const char *contents);
int ctl_exit_container(sd_bus_message *m);
/* After a loop over a container's entries whose last read answered r: r's failure reported, or
 * the container left. */
int ctl_end_container(sd_bus_message *m, int r);

/* An event loop for the connection that a SIGINT or SIGTERM (blocked from now on; *ret_old_mask,
 * when not NULL, is the mask before) hands to on_signal, with a timer that fires after `usec`
 * (on_timer arms it again). Leave it with sd_bus_detach_event() before unblocking. */
int ctl_event_new(Ctl *c, sd_event_signal_handler_t on_signal, sd_event_time_handler_t on_timer, uint64_t usec,
                  void *userdata, sigset_t *ret_old_mask, sd_event **ret);

/* "org.smsprov.Provider1.<Class>" (and ".Static"), "/org/smsprov/Provider1/class/<Class>". */
char *ctl_class_interface(const char *class_name);
char *ctl_static_interface(const char *class_name);
char *ctl_class_object(const char *class_name);
/* The class and the key of an instance path /org/smsprov/Provider1/<Class>/<Key>, or NULL when it
 * is not one. */
char *ctl_path_class(const char *path);
char *ctl_path_key(const char *path);

/* Wraps a job id, job path or object path check. */
bool ctl_is_job_path(const char *path);
