/* SPDX-License-Identifier: MIT */

/* smsctl: main(), the options and the command table. */

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "ctl/ctl-bus.h"
#include "ctl/ctl-driver.h"
#include "ctl/ctl-generic.h"
#include "ctl/ctl-job.h"
#include "ctl/ctl-monitor.h"
#include "ctl/ctl-tasks.h"

#define ANY UINT_MAX

typedef struct Verb Verb;
struct Verb {
        const char *name;
        const char *synopsis; /* the arguments */
        unsigned min_args;
        unsigned max_args;
        int (*run)(Ctl *c, int argc, char **argv);
        const Verb *subverbs; /* a command group: boot-image import, … */
        const char *summary;
        const char *help; /* more, for COMMAND --help */
        const PackageKind *package; /* a group of package commands: their kind */
};

static const Verb boot_image_verbs[] = {
        { "import", "PATH [PROP=VALUE…]", 1, ANY, verb_package_import, NULL,
          "Add a boot image from a WIM and build it",
          "Creates an SMS_BootImagePackage with ImagePath=PATH (made absolute), ImageIndex=--index and\n"
          "Name=--name when given, and any further properties; follows the build job. Prints the new\n"
          "PackageID." },
        { "update", "PKG", 1, 1, verb_boot_image_update, NULL, "Rebuild a boot image (UpdateImage)", NULL },
        { "reload", "PKG", 1, 1, verb_package_reload, NULL,
          "Re-read the source WIM's properties (ReloadImageProperties)", NULL },
        { "export-default", "ARCH INDEX PATH", 3, 3, verb_boot_image_export_default, NULL,
          "Export the deployment kit's WinPE image to PATH (ExportDefaultBootImage)",
          "ARCH is x86, x64, arm64 or a WIM architecture code." },
        { "add-driver", "PKG CI_ID…", 2, ANY, verb_boot_image_add_driver, NULL,
          "Add drivers of the catalog to a boot image and rebuild it",
          "CI_ID is the driver's SMS_Driver CI_ID (smsctl driver list); its SourcePath is the driver's\n"
          "ContentSourcePath, or PATH when given as CI_ID:PATH. The build stages the catalog's copy\n"
          "either way. ReferencedDrivers is written with one Put, then the image is rebuilt\n"
          "(UpdateImage) unless --no-update is given." },
        { "remove-driver", "PKG ID…", 2, ANY, verb_boot_image_remove_driver, NULL,
          "Remove drivers from a boot image and rebuild it", "As add-driver; --no-update skips the rebuild." },
        { "set-components", "PKG COMPONENT…", 1, ANY, verb_boot_image_set_components, NULL,
          "Set the optional components and rebuild (UpdateOptionalComponents)",
          "A COMPONENT is a UniqueID or a name (WinPE-PowerShell) of\n"
          "SMS_OSDeploymentKitWinPEOptionalComponent (smsctl list\n"
          "SMS_OSDeploymentKitWinPEOptionalComponent), a name looked up for the image's\n"
          "architecture; commas may separate them. No COMPONENT removes them all." },
        { "properties", "PATH|PKG", 1, 1, verb_package_properties, NULL,
          "Show the images of a WIM file (GetImageProperties) or of a boot image package", NULL },
        {},
};

static const Verb os_image_verbs[] = {
        { "import", "PATH [PROP=VALUE…]", 1, ANY, verb_package_import, NULL,
          "Add an operating system image from a WIM",
          "Creates an SMS_ImagePackage with PkgSourcePath=PATH and PkgSourceFlag=2. With --index=N only\n"
          "that image is extracted into a new WIM (a job, followed). Prints the new PackageID." },
        { "reload", "PKG", 1, 1, verb_package_reload, NULL, "Re-read the image's properties", NULL },
        { "properties", "PATH|PKG", 1, 1, verb_package_properties, NULL,
          "Show the images of a WIM file or of an OS image package", NULL },
        {},
};

static const Verb os_install_verbs[] = {
        { "import", "DIR [PROP=VALUE…]", 1, ANY, verb_package_import, NULL,
          "Add an operating system upgrade package from a setup folder",
          "Creates an SMS_OperatingSystemInstallPackage with PkgSourcePath=DIR (which holds\n"
          "sources/install.wim) and PkgSourceFlag=2. Prints the new PackageID." },
        { "reload", "PKG", 1, 1, verb_package_reload, NULL, "Re-read the image's properties", NULL },
        {},
};

static const Verb driver_verbs[] = {
        { "import", "DIR|INF", 1, 1, verb_driver_import, NULL, "Import drivers from INF files into the catalog",
          "Calls SMS_Driver.CreateFromINF for INF, or for every .inf file below DIR (each with its own\n"
          "folder as DriverPath; the folders must lie inside a content root). Prints CI_ID and INF\n"
          "per driver; an INF imported before gives its existing driver. An INF that fails is\n"
          "reported and the others are imported." },
        { "list", "", 0, 0, verb_driver_list, NULL, "List the drivers of the catalog",
          "--class=CLASS, --architecture=ARCH (x86, x64, arm64) and --hardware-id=ID keep the\n"
          "drivers that match (IDs compared without regard to case); --where adds a WQL condition." },
        { "show", "CI_ID", 1, 1, verb_driver_show, NULL, "Show every property of a driver", NULL },
        {},
};

static const Verb dp_verbs[] = {
        { "add", "SERVER|NALPATH CONTENTROOT [PROP=VALUE…]", 2, ANY, verb_dp_add, NULL, "Add a distribution point",
          "Creates an SMS_DistributionPointInfo with the NAL path given, or that of SERVER in this site\n"
          "([\"Display=\\\\SERVER\\\"]MSWNET:[\"SMS_SITE=ABC\"]\\\\SERVER\\), and ContentRoot, the directory\n"
          "smsprovd owns on it. Further properties: IsPXE, IsMulticast, ContentLinkMode, Description." },
        { "list", "", 0, 0, verb_dp_list, NULL, "List the distribution points", NULL },
        { "remove", "DP", 1, 1, verb_dp_remove, NULL, "Remove a distribution point (by ServerName or NALPath)", NULL },
        {},
};

static const Verb verbs[] = {
        { "classes", "[CLASS]", 0, 1, verb_classes, NULL, "List the classes, or the properties and methods of one",
          NULL },
        { "query", "WQL", 1, 1, verb_query, NULL, "Run a WQL query (SELECT … FROM … WHERE …)",
          "Lazy properties are never returned by queries; use show or get." },
        { "list", "CLASS", 1, 1, verb_list, NULL, "List the instances of a class",
          "Columns: the key, then a few telling properties; --columns=A,B or --all-columns choose.\n"
          "--where=COND adds a WQL condition. A base class lists every derived instance." },
        { "show", "CLASS KEY", 2, 2, verb_show, NULL, "Show every property of an instance, lazy ones included",
          NULL },
        { "get", "CLASS KEY PROP…", 3, ANY, verb_get, NULL, "Print properties of an instance, one per line",
          NULL },
        { "set", "CLASS KEY PROP=VALUE…", 3, ANY, verb_set, NULL, "Write properties of an instance in one Put",
          "Values are parsed by the property's CIM type: numbers (0x for hex), true/false, dates for\n"
          "DateTime, comma lists for arrays, ID:PATH,… for SMS_Driver_Details[], SMS interval strings\n"
          "for SMS_ScheduleToken[]. Give SedoObjectVersion=V to refuse a concurrent change." },
        { "create", "CLASS [PROP=VALUE…]", 1, ANY, verb_create, NULL, "Create an instance",
          "Prints the new instance's key; follows the job that creating starts, if any." },
        { "delete", "CLASS KEY", 2, 2, verb_delete, NULL, "Delete an instance", NULL },
        { "call", "CLASS [KEY] METHOD [ARG…]", 2, ANY, verb_call, NULL, "Call a method",
          "Static methods take no KEY. Arguments are parsed by the method's D-Bus signature\n"
          "(smsctl classes CLASS lists them); put -- before arguments that start with a dash.\n"
          "A method that returns a job is followed to its end." },
        { "boot-image", "COMMAND …", 1, ANY, NULL, boot_image_verbs, "Boot images (SMS_BootImagePackage)", NULL,
          &ctl_boot_image },
        { "os-image", "COMMAND …", 1, ANY, NULL, os_image_verbs, "Operating system images (SMS_ImagePackage)", NULL,
          &ctl_os_image },
        { "os-install", "COMMAND …", 1, ANY, NULL, os_install_verbs,
          "Operating system upgrade packages (SMS_OperatingSystemInstallPackage)", NULL, &ctl_os_install },
        { "driver", "COMMAND …", 1, ANY, NULL, driver_verbs, "The driver catalog (SMS_Driver)", NULL },
        { "dp", "COMMAND …", 1, ANY, NULL, dp_verbs, "Distribution points (SMS_DistributionPointInfo)", NULL },
        { "distribute", "PKG DP…", 2, ANY, verb_distribute, NULL, "Distribute a package to distribution points",
          NULL },
        { "refresh", "PKG", 1, 1, verb_refresh, NULL, "Refresh a package's source (RefreshPkgSource)",
          "A boot image is rebuilt first." },
        { "scrub", "", 0, 0, verb_scrub, NULL, "Hash the whole site content library again (ScrubContentLibrary)",
          "Files that no longer match their SHA-256 are removed from the library and named in a status\n"
          "message; the packages naming them are distributed again from their sources." },
        { "status", "PKG", 1, 1, verb_status, NULL, "Show a package's state on each distribution point", NULL },
        { "jobs", "", 0, 0, verb_jobs, NULL, "List the jobs on the bus (finished ones stay 60 s)", NULL },
        { "wait", "JOB|CONTEXTID", 1, 1, verb_wait, NULL, "Follow a job to its end",
          "JOB is a job path, an Id (7 or _7), or a ContextID; a ContextID without a job on the bus\n"
          "is polled with QueryOSDBinaryInjectionStatus." },
        { "cancel", "JOB", 1, 1, verb_cancel, NULL, "Cancel a job and wait until it has stopped",
          "--no-wait returns once the daemon has accepted the request." },
        { "monitor", "", 0, 0, verb_monitor, NULL, "Show live events until interrupted",
          "Jobs, creations, changes, deletions and status messages; with --json one JSON object per\n"
          "line." },
        {},
};

static const char options_help[] =
        "Options:\n"
        "  -h --help              Show this help, or a command's with COMMAND --help\n"
        "     --version           Show the version\n"
        "     --system            Connect to the system bus (the default)\n"
        "     --user              Connect to the user's session bus\n"
        "     --bus-address=ADDR  Connect to the bus at ADDR\n"
        "     --json[=pretty|short]  One JSON document on stdout, keys named as the properties\n"
        "     --no-legend         Leave out table headers and footers\n"
        "     --no-wait           Print the job a command started and return\n"
        "     --no-ask-password   Do not ask for interactive authorization\n"
        "  -q --quiet             No progress or informational output on stderr\n"
        "     --index=N           Image index for boot-image import and os-image import\n"
        "     --name=NAME         Name for the imported package\n"
        "     --where=COND        WQL condition for list and dp list\n"
        "     --columns=A,B,…     Columns for list and query\n"
        "     --all-columns       Every non-lazy property as a column in list\n"
        "     --no-update         boot-image add-driver/remove-driver: do not rebuild\n"
        "     --class=CLASS       driver list: drivers of this DriverClass\n"
        "     --architecture=ARCH driver list: drivers for this architecture\n"
        "     --hardware-id=ID    driver list: drivers for this hardware ID\n";

static void print_verb_line(const char *prefix, const Verb *v) {
        char left[128];
        snprintf(left, sizeof left, "%s%s%s%s", prefix, v->name, *v->synopsis ? " " : "", v->synopsis);
        if (strlen(left) < 44)
                printf("  %-44s %s\n", left, v->summary);
        else
                printf("  %s\n  %-44s %s\n", left, "", v->summary);
}

static void help_main(void) {
        printf("smsctl [OPTIONS…] COMMAND …\n\n"
               "Control smsprovd, the SMS Provider for OS deployment images.\n\n"
               "Commands:\n");
        for (const Verb *v = verbs; v->name; v++) {
                if (!v->subverbs) {
                        print_verb_line("", v);
                        continue;
                }
                char prefix[64];
                snprintf(prefix, sizeof prefix, "%s ", v->name);
                for (const Verb *s = v->subverbs; s->name; s++)
                        print_verb_line(prefix, s);
        }
        printf("\nKEY is a key value (LAB00001), a WMI key list (PackageID=\"LAB00001\",Index=2) or an object\n"
               "path. Exit status: 0 success, 1 failed, 2 usage, 3 not found, 4 access denied, 5 no daemon.\n\n"
               "%s\nSee smsctl(1).\n",
               options_help);
}

static void help_verb(const Verb *group, const Verb *v) {
        if (v->subverbs) {
                printf("smsctl %s COMMAND …\n\n%s.\n\nCommands:\n", v->name, v->summary);
                for (const Verb *s = v->subverbs; s->name; s++)
                        print_verb_line("", s);
                printf("\n%s", options_help);
                return;
        }
        printf("smsctl [OPTIONS…] %s%s%s%s%s\n\n%s.\n", group ? group->name : "", group ? " " : "", v->name,
               *v->synopsis ? " " : "", v->synopsis, v->summary);
        if (v->help)
                printf("\n%s\n", v->help);
        printf("\n%s", options_help);
}

static const Verb *verb_find(const Verb *table, const char *name) {
        for (const Verb *v = table; v->name; v++)
                if (streq(v->name, name))
                        return v;
        return NULL;
}

enum {
        ARG_VERSION = 0x100,
        ARG_SYSTEM,
        ARG_USER,
        ARG_BUS_ADDRESS,
        ARG_JSON,
        ARG_NO_LEGEND,
        ARG_NO_WAIT,
        ARG_NO_ASK_PASSWORD,
        ARG_INDEX,
        ARG_NAME,
        ARG_WHERE,
        ARG_COLUMNS,
        ARG_ALL_COLUMNS,
        ARG_NO_UPDATE,
        ARG_CLASS,
        ARG_ARCHITECTURE,
        ARG_HARDWARE_ID,
};

static int parse_argv(Ctl *c, int argc, char **argv, bool *ret_help) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "system", no_argument, NULL, ARG_SYSTEM },
                { "user", no_argument, NULL, ARG_USER },
                { "bus-address", required_argument, NULL, ARG_BUS_ADDRESS },
                { "json", optional_argument, NULL, ARG_JSON },
                { "no-legend", no_argument, NULL, ARG_NO_LEGEND },
                { "no-wait", no_argument, NULL, ARG_NO_WAIT },
                { "no-ask-password", no_argument, NULL, ARG_NO_ASK_PASSWORD },
                { "quiet", no_argument, NULL, 'q' },
                { "index", required_argument, NULL, ARG_INDEX },
                { "name", required_argument, NULL, ARG_NAME },
                { "where", required_argument, NULL, ARG_WHERE },
                { "columns", required_argument, NULL, ARG_COLUMNS },
                { "all-columns", no_argument, NULL, ARG_ALL_COLUMNS },
                { "no-update", no_argument, NULL, ARG_NO_UPDATE },
                { "class", required_argument, NULL, ARG_CLASS },
                { "architecture", required_argument, NULL, ARG_ARCHITECTURE },
                { "hardware-id", required_argument, NULL, ARG_HARDWARE_ID },
                {},
        };
        int opt;

        opterr = 0;
        while ((opt = getopt_long(argc, argv, "hq", options, NULL)) >= 0)
                switch (opt) {
                case 'h':
                        *ret_help = true;
                        break;
                case ARG_VERSION:
                        printf("smsctl %s\n", PROVIDER_VERSION);
                        exit(EXIT_SUCCESS);
                case ARG_SYSTEM:
                        c->bus_kind = CTL_BUS_SYSTEM;
                        break;
                case ARG_USER:
                        c->bus_kind = CTL_BUS_USER;
                        break;
                case ARG_BUS_ADDRESS:
                        c->bus_kind = CTL_BUS_ADDRESS;
                        c->bus_address = optarg;
                        break;
                case ARG_JSON:
                        c->json = true;
                        if (!optarg)
                                c->json_pretty = isatty(STDOUT_FILENO);
                        else if (streq(optarg, "pretty") || streq(optarg, "short"))
                                c->json_pretty = streq(optarg, "pretty");
                        else
                                return ctl_usage("--json takes pretty or short, not '%s'", optarg);
                        break;
                case ARG_NO_LEGEND:
                        c->legend = false;
                        break;
                case ARG_NO_WAIT:
                        c->wait = false;
                        break;
                case ARG_NO_ASK_PASSWORD:
                        c->ask_password = false;
                        break;
                case 'q':
                        c->quiet = true;
                        break;
                case ARG_INDEX: {
                        char *end = NULL;
                        unsigned long v;
                        errno = 0;
                        v = strtoul(optarg, &end, 10);
                        if (errno || !end || *end || v == 0 || v > UINT32_MAX || optarg[0] == '-')
                                return ctl_usage("--index wants an image index from 1, not '%s'", optarg);
                        c->index = (uint32_t) v;
                        c->index_set = true;
                        break;
                }
                case ARG_NAME:
                        c->name = optarg;
                        break;
                case ARG_WHERE:
                        c->where = optarg;
                        break;
                case ARG_COLUMNS:
                        c->columns = optarg;
                        break;
                case ARG_ALL_COLUMNS:
                        c->all_columns = true;
                        break;
                case ARG_NO_UPDATE:
                        c->update = false;
                        break;
                case ARG_CLASS:
                        c->driver_class = optarg;
                        break;
                case ARG_ARCHITECTURE:
                        c->architecture = optarg;
                        break;
                case ARG_HARDWARE_ID:
                        c->hardware_id = optarg;
                        break;
                case '?':
                default:
                        if (optopt && optopt < 0x100 && !strchr("hq", optopt))
                                return ctl_usage("unknown option -%c (see smsctl --help)", optopt);
                        if (optopt)
                                return ctl_usage("option %s wants a value (see smsctl --help)", argv[optind - 1]);
                        return ctl_usage("unknown option %s (see smsctl --help)", argv[optind - 1]);
                }
        return 0;
}

static int run(int argc, char **argv) {
        Ctl c = {
                .bus_kind = CTL_BUS_SYSTEM,
                .legend = true,
                .wait = true,
                .ask_password = true,
                .update = true,
                .stderr_tty = isatty(STDERR_FILENO),
        };
        const Verb *group = NULL, *v;
        bool help = false;
        char **args;
        int n, r;

        r = parse_argv(&c, argc, argv, &help);
        if (r < 0)
                return r;
        args = argv + optind;
        n = argc - optind;
        if (n == 0 || streq(args[0], "help")) {
                if (n > 1 && (v = verb_find(verbs, args[1]))) {
                        help_verb(NULL, v);
                        return 0;
                }
                if (help || n > 0) {
                        help_main();
                        return 0;
                }
                return ctl_usage("no command given (see smsctl --help)");
        }
        v = verb_find(verbs, args[0]);
        if (!v)
                return ctl_usage("unknown command '%s' (see smsctl --help)", args[0]);
        if (v->subverbs) {
                if (n < 2) {
                        if (help) {
                                help_verb(NULL, v);
                                return 0;
                        }
                        return ctl_usage("%s wants a command (see smsctl %s --help)", v->name, v->name);
                }
                group = v;
                v = verb_find(group->subverbs, args[1]);
                if (!v)
                        return ctl_usage("unknown command '%s %s' (see smsctl %s --help)", group->name, args[1],
                                         group->name);
                args++;
                n--;
        }
        if (help) {
                help_verb(group, v);
                return 0;
        }
        if ((unsigned) n - 1 < v->min_args || (v->max_args != ANY && (unsigned) n - 1 > v->max_args))
                return ctl_usage("%s%s%s takes %s: %s (see smsctl %s%s%s --help)", group ? group->name : "",
                                 group ? " " : "", v->name, v->max_args == 0 ? "no arguments" : "arguments",
                                 *v->synopsis ? v->synopsis : "none", group ? group->name : "", group ? " " : "",
                                 v->name);

        r = ctl_connect(&c);
        if (r < 0)
                return r;
        c.package = group ? group->package : NULL;
        r = v->run(&c, n, args);
        sd_bus_flush_close_unref(c.bus);
        return r;
}

int main(int argc, char **argv) {
        int r;

        setlocale(LC_ALL, "");
        /* A reader that goes away (smsctl … | head) is not an error worth a signal. */
        signal(SIGPIPE, SIG_IGN);
        r = run(argc, argv);
        return r < 0 ? -r : EXIT_SUCCESS;
}
