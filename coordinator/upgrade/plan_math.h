/* Counts an operator writes in a plan, resolved against a phase's size.
 * Pure functions: no I/O, no allocation.
 *
 * A spec is either a count ("3") or a percentage of the phase ("25%"):
 * decimal digits only, no sign, no spaces, percent at most 100. Percentages
 * round DOWN, so "25%" never lets more through than the operator wrote. */
#pragma once

/* Batch size: >= 1. A percentage that rounds down to 0 becomes 1, so a
 * small phase still makes progress; "0" and "0%" are -EINVAL. A count may
 * exceed the phase size (it then simply does not limit). Errors: -EINVAL
 * for a malformed spec or phase_size < 0, -ERANGE for a percentage above
 * 100 or a number too large for an int. *ret set only on success. */
int plan_parse_batch(const char *spec, int phase_size, int *ret);

/* Failure budget: >= 0 failures tolerated before the phase stops. No
 * minimum: "10%" of 5 nodes is 0, i.e. stop at the first failure, the
 * cautious reading. Same errors as plan_parse_batch(). */
int plan_parse_max_failures(const char *spec, int phase_size, int *ret);
