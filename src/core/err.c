#include "core/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int lrp_fail(lrp_err *err, const char *fmt, ...) {
    if (!err) return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return -1;
}

int lrp_fail_prefix(lrp_err *err, const char *prefix) {
    if (!err) return -1;
    char tmp[sizeof err->msg];
    size_t n = strlen(prefix);
    if (n > sizeof tmp - 3) n = sizeof tmp - 3;
    memcpy(tmp, prefix, n);
    tmp[n] = ':';
    tmp[n + 1] = ' ';
    size_t rest = strnlen(err->msg, sizeof err->msg - 1);
    if (rest > sizeof tmp - n - 3) rest = sizeof tmp - n - 3;
    memcpy(tmp + n + 2, err->msg, rest);
    tmp[n + 2 + rest] = '\0';
    memcpy(err->msg, tmp, sizeof tmp);
    return -1;
}
