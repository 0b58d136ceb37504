/*
 * testutil.h - shared includes for the cmocka unit tests.
 */
#ifndef OTKLIK_TESTUTIL_H
#define OTKLIK_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four headers above first. */
#include <cmocka.h>

#endif
