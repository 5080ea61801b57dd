/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "util/log.h"

static int max_level = LOG_LEVEL_INFO;

void log_set_max_level(int level) {
        max_level = level;
}

int log_get_max_level(void) {
        return max_level;
}

int log_internal(int level, int error, const char *file, int line, const char *fmt, ...) {
        int saved = errno;
        va_list ap;

        if (error < 0)
                error = -error;
        if (level <= max_level) {
                char buf[2048];
                /* %m in the format stands for the error passed in, not for errno. */
                errno = error;
                va_start(ap, fmt);
                vsnprintf(buf, sizeof buf, fmt, ap);
                va_end(ap);
                fprintf(stderr, "<%d>%s\n", level, buf);
                if (max_level >= LOG_LEVEL_DEBUG)
                        fprintf(stderr, "<%d>  (at %s:%d)\n", LOG_LEVEL_DEBUG, file, line);
        }
        errno = saved;
        return -error;
}
