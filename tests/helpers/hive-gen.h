/* SPDX-License-Identifier: MIT */
#pragma once

/* A minimal Windows registry hive writer for tests: no test may depend on a real Windows SYSTEM
 * hive, yet the boot image builder edits one with hivex. */

/* Writes a valid regf hive file to `path`: a base block with a correct checksum, one 4 KiB hbin,
 * one security (sk) cell shared by every key, and the keys ROOT → ControlSet001 → Services, with
 * no values. hivex opens it read-only and for writing (hivex_node_add_child needs the sk cell).
 * Returns 0 or a negative errno. */
int test_make_system_hive(const char *path);
