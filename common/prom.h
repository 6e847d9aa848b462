/* Shared by the coordinator's /metrics and the agent's node_exporter
 * textfile: the Prometheus text format's label values. */
#pragma once
#include <stdio.h>

/* Writes s as a quoted label value, with \\, \" and \n escaped (the
 * format's rule), so no string off the wire can break the exposition.
 * NULL is written as "". */
void prom_label_value(FILE *f, const char *s);
