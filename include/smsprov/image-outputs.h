/* SPDX-License-Identifier: MIT */
#pragma once

/* The files the site builds, and which of them are its own (issue 12 §3, §4). A boot image build
 * writes <library>/images/<PackageID>/<SourceVersion>/<base>.<PackageID>.wim (<base> = the ImagePath
 * file name without .wim): each version is a file of its own, so the bytes of version N never
 * change once N is committed, and the file's name stays what DPs and PXE serve. The database
 * commit makes a version current; the previous version folder goes after the commit. An
 * extracted OS image is written once, as <library>/images/<PackageID>/<base>.<PackageID>.wim.
 *
 * Only what these names describe is ever removed: a folder of digits or a file
 * "<base>.<PackageID>.wim" directly in images/<PackageID>/, found by the PackageID's own folder
 * (never by a string prefix of the library directory). */

#include <stdint.h>

#include "smsprov/error.h"
#include "smsprov/site.h"

/* The output path of version `version` of a package built from `image_path`; version 0 is the
 * unversioned name of an extracted image. */
int image_output_path(const char *library_dir, const char *package_id, const char *image_path, uint32_t version,
                      char **ret);

/* When `path` is one of the package's outputs, the entry of <library>/images/<PackageID>/ that holds
 * it (the version folder, or the file itself); NULL otherwise or when out of memory. */
char *image_output_entry(const char *library_dir, const char *package_id, const char *path);

/* Creates the folders of an output path (mode 0700) as needed, each made durable in its parent. */
int image_output_dir_prepare(const char *output_path, SmsError *e);

/* At start-up, before any job runs: removes every output that no committed row names (a build
 * killed between its rename and its commit, or between its commit and the removal of the version
 * it replaced; a package whose Delete was cut short), and the temporaries inside the version
 * folders that stay. */
void image_outputs_sweep(Site *site);
