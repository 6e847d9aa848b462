/* Runs a Check suite as a unit test's main() does: every test, the normal
 * report, EXIT_SUCCESS only when none failed. */
#pragma once
#include <check.h>

int check_run(Suite *s);
