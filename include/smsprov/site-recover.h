/* SPDX-License-Identifier: MIT */
#pragma once

/* Start-up recovery of content libraries (the site's and every DP's), off the event loop: a DP
 * whose ContentRoot is on a mount that never answers must not keep the daemon from serving.
 *
 * The rule that makes it safe is "recovered before written": content_recover() takes every
 * temporary name for a killed writer's garbage, so it must have finished in a library before
 * anything writes there. Each library has a "recovered" flag; site_recover_once() is the gate
 * every writer passes first (on its worker): it returns at once when the library is recovered,
 * waits while another thread recovers it, or recovers it itself. So a DP whose recovery hangs
 * holds only the work meant for that DP, which would hang on it anyway. */

#include "smsprov/site.h"

/* Recovers `lib_root` unless that was done since the daemon started; thread-safe, blocking. */
void site_recover_once(const char *lib_root);

/* Starts, on a thread of its own, the recovery of the site library `lib` and of every
 * ContentRoot in `dp_roots` (taken), each allowed by the site's --dp-root (checked there, on a
 * copy of the site's roots). Returns a negative errno when the thread cannot start; the
 * libraries are then recovered by their first writers. */
int site_recover_start(const Site *site, const char *lib, char **dp_roots);
