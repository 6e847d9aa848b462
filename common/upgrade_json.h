/* An UpgradeStatus as the stable JSON object of `hitlessctl upgrade status
 * --json` and the coordinator's GET /api/status (schema in the README):
 * one code path, so the two cannot drift apart. Pure: writes only to f. */
#pragma once
#include <stdio.h>

#include "proto/hitless.pb-c.h"

/* One line of JSON with every key of the schema, always, then "\n". */
void upgrade_status_json(FILE *f, const Hitless__UpgradeStatus *st);
