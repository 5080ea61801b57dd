/* SPDX-License-Identifier: MIT */
#pragma once

/* The driver catalog commands (SMS_Driver): argv[0] is the subcommand's own name. */

#include "ctl/ctl.h"

int verb_driver_import(Ctl *c, int argc, char **argv);
int verb_driver_list(Ctl *c, int argc, char **argv);
int verb_driver_show(Ctl *c, int argc, char **argv);
