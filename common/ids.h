/* Names that cross the wire: node ids, command ids, unit and package
 * names. They are only ever data (never paths or shell words), but are
 * held to a strict alphabet so that logs, tables and the journal stay
 * readable and no control character rides along. The codec refuses a
 * message whose identifiers break these rules (common/codec.h); the README
 * lists the sets. */
#pragma once
#include <stdbool.h>

#define NODE_ID_MAX 63
#define COMMAND_ID_MAX 63
#define UNIT_NAME_MAX 255
#define PACKAGE_NAME_MAX 255

/* 1..63 of [A-Za-z0-9._-], not starting with '.' or '-'. Also roles. */
bool node_id_valid(const char *s);

/* 1..63 of [A-Za-z0-9._-]. Also upgrade and snapshot ids. */
bool command_id_valid(const char *s);

/* 1..255 of systemd's unit name set [A-Za-z0-9:_.\@-]. */
bool unit_name_valid(const char *s);

/* A task parameter's name (agent policy tasks, plan steps): 1..32 of
 * [a-z0-9_], starting with a letter, so that HITLESS_PARAM_NAME is a
 * plain environment variable. */
#define TASK_PARAM_NAME_MAX 32
bool task_param_name_valid(const char *s);

/* 1..255 of [A-Za-z0-9.+_~:-] (Debian's and RPM's names, with an arch
 * qualifier), starting with a letter or digit: never an option to apt or
 * dnf. */
bool package_name_valid(const char *s);
