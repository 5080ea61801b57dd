/* SPDX-License-Identifier: MIT */
#pragma once

/* The task commands, in the words of the Configuration Manager console; each is a thin wrapper
 * over a generic command (ctl-generic.h). argv[0] is the subcommand's own name. */

#include "ctl/ctl.h"

/* The package kinds of the command groups boot-image, os-image and os-install: the class, and
 * where import puts the source. run() sets Ctl.package to the group's. */
typedef struct PackageKind PackageKind;
extern const PackageKind ctl_boot_image, ctl_os_image, ctl_os_install;

/* import, reload and properties of the group's package kind (Ctl.package). */
int verb_package_import(Ctl *c, int argc, char **argv);
int verb_package_reload(Ctl *c, int argc, char **argv);
int verb_package_properties(Ctl *c, int argc, char **argv);

int verb_boot_image_update(Ctl *c, int argc, char **argv);
int verb_boot_image_export_default(Ctl *c, int argc, char **argv);
int verb_boot_image_add_driver(Ctl *c, int argc, char **argv);
int verb_boot_image_remove_driver(Ctl *c, int argc, char **argv);
int verb_boot_image_set_components(Ctl *c, int argc, char **argv);

int verb_dp_add(Ctl *c, int argc, char **argv);
int verb_dp_list(Ctl *c, int argc, char **argv);
int verb_dp_remove(Ctl *c, int argc, char **argv);
int verb_distribute(Ctl *c, int argc, char **argv);
int verb_refresh(Ctl *c, int argc, char **argv);
int verb_scrub(Ctl *c, int argc, char **argv);
int verb_status(Ctl *c, int argc, char **argv);
