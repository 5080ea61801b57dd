/* SPDX-License-Identifier: MIT */
#pragma once

#include "ctl/ctl.h"

/* monitor: live events (jobs, creations, changes, deletions, status messages) until interrupted. */
int verb_monitor(Ctl *c, int argc, char **argv);
