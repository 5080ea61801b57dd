/* SPDX-License-Identifier: MIT */
#pragma once

/* The task commands, in the words of the Configuration Manager console; each is a thin wrapper
 * over a generic command (ctl-generic.h). argv[0] is the subcommand's own name. */

#include "ctl/ctl.h"

int verb_boot_image_import(Ctl *c, int argc, char **argv);
int verb_boot_image_update(Ctl *c, int argc, char **argv);
int verb_boot_image_reload(Ctl *c, int argc, char **argv);
int verb_boot_image_export_default(Ctl *c, int argc, char **argv);
int verb_boot_image_add_driver(Ctl *c, int argc, char **argv);
int verb_boot_image_remove_driver(Ctl *c, int argc, char **argv);
int verb_boot_image_set_components(Ctl *c, int argc, char **argv);
int verb_boot_image_properties(Ctl *c, int argc, char **argv);

int verb_os_image_import(Ctl *c, int argc, char **argv);
int verb_os_image_reload(Ctl *c, int argc, char **argv);
int verb_os_image_properties(Ctl *c, int argc, char **argv);

int verb_os_install_import(Ctl *c, int argc, char **argv);
int verb_os_install_reload(Ctl *c, int argc, char **argv);

int verb_dp_add(Ctl *c, int argc, char **argv);
int verb_dp_list(Ctl *c, int argc, char **argv);
int verb_dp_remove(Ctl *c, int argc, char **argv);
int verb_distribute(Ctl *c, int argc, char **argv);
int verb_refresh(Ctl *c, int argc, char **argv);
int verb_scrub(Ctl *c, int argc, char **argv);
int verb_status(Ctl *c, int argc, char **argv);
