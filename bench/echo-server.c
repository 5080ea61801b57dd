/* SPDX-License-Identifier: MIT */

/* The reference for bench-provider: the least an sd-bus service can do. One object,
 * /org/smsprov/Bench, with org.smsprov.Bench: a read-only string property Name (a constant
 * getter) and Echo(s) → s. No smsprovd code.
 *
 * echo-server ADDRESS [NAME]   (NAME defaults to org.smsprov.Bench); serves until SIGTERM. */

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

static int property_get_name(sd_bus *bus, const char *path, const char *interface, const char *property,
                             sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", "Boot image (x64)");
}

static int method_echo(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        const char *s;
        int r;

        r = sd_bus_message_read(msg, "s", &s);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(msg, "s", s);
}

static const sd_bus_vtable bench_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Name", "s", property_get_name, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_METHOD("Echo", "s", "s", method_echo, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

static int run(const char *address, const char *name) {
        sd_event *event = NULL;
        sd_bus *bus = NULL;
        sigset_t mask;
        int r;

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigprocmask(SIG_BLOCK, &mask, NULL);

        r = sd_event_default(&event);
        if (r >= 0)
                r = sd_event_add_signal(event, NULL, SIGTERM, NULL, NULL);
        if (r >= 0)
                r = sd_event_add_signal(event, NULL, SIGINT, NULL, NULL);
        if (r >= 0)
                r = sd_bus_new(&bus);
        if (r >= 0)
                r = sd_bus_set_address(bus, address);
        if (r >= 0)
                r = sd_bus_set_bus_client(bus, 1);
        if (r >= 0)
                r = sd_bus_start(bus);
        if (r >= 0)
                r = sd_bus_attach_event(bus, event, SD_EVENT_PRIORITY_NORMAL);
        if (r >= 0)
                r = sd_bus_add_object_vtable(bus, NULL, "/org/smsprov/Bench", "org.smsprov.Bench", bench_vtable,
                                             NULL);
        if (r >= 0)
                r = sd_bus_request_name(bus, name, 0);
        if (r >= 0)
                r = sd_event_loop(event);
        if (r < 0)
                fprintf(stderr, "echo-server: %s\n", strerror(-r));

        sd_bus_flush_close_unref(bus);
        sd_event_unref(event);
        return r;
}

int main(int argc, char *argv[]) {
        if (argc < 2 || argc > 3) {
                fprintf(stderr, "usage: %s ADDRESS [NAME]\n", argv[0]);
                return 2;
        }
        return run(argv[1], argc > 2 ? argv[2] : "org.smsprov.Bench") < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
