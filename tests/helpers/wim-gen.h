/* SPDX-License-Identifier: MIT */
#pragma once

/* WIM files made at run time with wimlib, so that tests need no Windows media. Usable by the unit
 * tests and by the bus tests. */

#include <stdbool.h>
#include <stdint.h>

/* Captures a WinPE-like tree into a new one-image WIM at `path`:
 *   Windows\System32\winpeshl.ini ("[LaunchApps]" starting cmd.exe), Windows\System32\cmd.exe,
 *   Windows\System32\drivers\null.sys, Windows\System32\config\SYSTEM (from test_make_system_hive(),
 *   only when `with_system_hive`), Windows\Fonts\segoeui.ttf, and, when `filler_bytes` > 0,
 *   Windows\filler\random.bin (half of it, incompressible: wimlib stores it uncompressed even in a
 *   compressed WIM) and Windows\filler\text.bin (the other half, compressible).
 * `compress`: LZX (true) or no compression (false).
 * Image properties: NAME "Microsoft Windows PE (<arch>)", DESCRIPTION the same, WINDOWS/ARCH
 * `arch_code`, WINDOWS/LANGUAGES/DEFAULT en-US, WINDOWS/VERSION 10.0.22621.1, WINDOWS/PRODUCTTYPE
 * WinNT, WINDOWS/SYSTEMROOT WINDOWS, WINDOWS/HAL acpiapic, WINDOWS/EDITIONID WindowsPE.
 * The contents are deterministic (a fixed pseudo-random sequence). Returns 0 or a negative errno
 * (-EIO for a wimlib failure). */
int test_make_winpe_wim(const char *path, const char *arch_code, bool with_system_hive, uint64_t filler_bytes,
                        bool compress);

/* A WIM with `n_images` small images named "Image 1" … "Image n" (description "Test image N"),
 * alternately x64 ("9") and x86 ("0"), each holding \image.txt with "image N" and a file shared by
 * all of them. Returns 0 or a negative errno. */
int test_make_multi_image_wim(const char *path, unsigned n_images);

/* Removes a directory tree (tests' temporary directories). Returns 0 or a negative errno. */
int test_rm_rf(const char *path);

/* Writes `size` bytes to a new file `path`, creating missing parent directories. */
int test_write_file(const char *path, const void *data, size_t size);
