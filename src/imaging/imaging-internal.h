/* SPDX-License-Identifier: MIT */
#pragma once

/* What the imaging/ files share and nothing outside them (and the test helpers) needs. */

#include <wimlib.h>

#include "smsprov/error.h"
#include "smsprov/imaging.h"
#include "smsprov/macro.h"

/* Initialises wimlib once per process: paths inside images are case-insensitive, as on Windows
 * (an add to \Windows\System32 must land in an image's "system32" directory, not beside it), and
 * wimlib never prints. Every function here calls it before any other wimlib call; code that uses
 * wimlib directly in the same process (the test helpers) must call it first too, because wimlib
 * initialises itself implicitly, with its defaults, on the first call. */
void imaging_wimlib_init(void);

/* Fills *e for the wimlib error `code`: "<what>: wimlib: <text> (error N)". OutOfDiskSpace when
 * wimlib failed on a write and errno says the disk is full, Canceled for an abort from the
 * progress function, ImageError otherwise. Returns the negative errno of that code. */
int imaging_wimlib_error(SmsError *e, int code, const char *fmt, ...) _printf_(3, 4);

/* Reads the metadata of one image of an open WIM. */
int image_info_read(WIMStruct *wim, unsigned index, ImageInfo *ret, SmsError *e);
void image_info_done(ImageInfo *info);

DEFINE_TRIVIAL_CLEANUP_FUNC(WIMStruct *, wimlib_free);
