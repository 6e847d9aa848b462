/* Names that cross the wire: node ids, roles, package names. They are only
 * ever data (never paths or arguments), but are still held to a strict
 * alphabet so that logs, tables and the journal stay readable. */
#pragma once
#include <stdbool.h>

#define NODE_ID_MAX 63

/* 1..63 of [A-Za-z0-9._-], not starting with '.' or '-'. */
bool node_id_valid(const char *s);
