#include "ctl/nodes_view.h"

#include <errno.h>
#include <string.h>

#include "common/codec.h"

static const char *const healths[] = { "healthy", "degraded", "unhealthy", "unknown" };
static const char *const states[] = { "online", "unreachable" };

static bool one_of(const char *s, const char *const *set, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (strcmp(s, set[i]) == 0)
                        return true;
        return false;
}

int nodes_filter_check(const nodes_filter_t *f, char *err, size_t len) {
        if (f->health && !one_of(f->health, healths, sizeof healths / sizeof *healths)) {
                snprintf(err, len, "--health %s: not one of healthy, degraded, unhealthy, unknown", f->health);
                return -EINVAL;
        }
        if (f->state && !one_of(f->state, states, sizeof states / sizeof *states)) {
                snprintf(err, len, "--state %s: not one of online, unreachable", f->state);
                return -EINVAL;
        }
        for (size_t i = 0; i < f->n_versions; i++) {
                const char *eq = strchr(f->versions[i], '=');
                if (!eq || eq == f->versions[i] || !eq[1]) {
                        snprintf(err, len, "--version %s: want PKG=VERSION", f->versions[i]);
                        return -EINVAL;
                }
        }
        return 0;
}

bool nodes_filter_active(const nodes_filter_t *f) {
        return f->role || f->health || f->state || f->n_versions;
}

const char *nodes_last_health(const Hitless__NodeInfo *n) {
        return health_state_label(n->health ? n->health->state : HITLESS__HEALTH_STATE__HEALTH_UNKNOWN);
}

const char *nodes_health_shown(const Hitless__NodeInfo *n) {
        return strcmp(n->state, "online") == 0 ? nodes_last_health(n) : "unknown";
}

static bool has_role(const Hitless__NodeInfo *n, const char *role) {
        for (size_t i = 0; i < n->n_roles; i++)
                if (strcmp(n->roles[i], role) == 0)
                        return true;
        return false;
}

static bool has_version(const Hitless__NodeInfo *n, const char *spec) {
        size_t name_len = (size_t) (strchr(spec, '=') - spec);
        for (size_t i = 0; i < n->n_packages; i++) {
                const Hitless__PackageVersion *p = n->packages[i];
                if (strlen(p->name) == name_len && strncmp(p->name, spec, name_len) == 0)
                        return strcmp(p->version, spec + name_len + 1) == 0;
        }
        return false;
}

bool nodes_filter_match(const nodes_filter_t *f, const Hitless__NodeInfo *n) {
        if (f->role && !has_role(n, f->role))
                return false;
        if (f->health && strcmp(nodes_health_shown(n), f->health) != 0)
                return false;
        if (f->state && strcmp(n->state, f->state) != 0)
                return false;
        for (size_t i = 0; i < f->n_versions; i++)
                if (!has_version(n, f->versions[i]))
                        return false;
        return true;
}

/* Distinct strings with a count each, in order of first appearance. The
 * strings are borrowed from the node list. */
#define TALLY_MAX 32
typedef struct {
        const char *key[TALLY_MAX];
        size_t count[TALLY_MAX];
        size_t n, others;  /* others: counted past TALLY_MAX distinct keys */
} tally_t;

static void tally_add(tally_t *t, const char *key) {
        for (size_t i = 0; i < t->n; i++)
                if (strcmp(t->key[i], key) == 0) {
                        t->count[i]++;
                        return;
                }
        if (t->n == TALLY_MAX) {
                t->others++;
                return;
        }
        t->key[t->n] = key;
        t->count[t->n++] = 1;
}

static void package_line(FILE *out, const Hitless__NodeList *l, const bool *match, const char *name) {
        tally_t versions = { 0 };
        for (size_t i = 0; i < l->n_nodes; i++) {
                const Hitless__NodeInfo *n = l->nodes[i];
                if (match && !match[i])
                        continue;
                for (size_t j = 0; j < n->n_packages; j++)
                        if (strcmp(n->packages[j]->name, name) == 0)
                                tally_add(&versions, n->packages[j]->version[0] ? n->packages[j]->version
                                                                                 : "(none)");
        }
        fprintf(out, "  %s:", name);
        for (size_t i = 0; i < versions.n; i++)
                fprintf(out, "%s %s on %zu", i ? "," : "", versions.key[i], versions.count[i]);
        if (versions.others)
                fprintf(out, ", %zu more on other versions", versions.others);
        fputc('\n', out);
}

void nodes_print_summary(FILE *out, const Hitless__NodeList *l, const bool *match, bool filtered) {
        tally_t health = { 0 }, packages = { 0 };
        size_t shown = 0, unreachable = 0;

        for (size_t i = 0; i < l->n_nodes; i++) {
                const Hitless__NodeInfo *n = l->nodes[i];
                if (match && !match[i])
                        continue;
                shown++;
                tally_add(&health, nodes_health_shown(n));
                if (strcmp(n->state, "online") != 0)
                        unreachable++;
                for (size_t j = 0; j < n->n_packages; j++)
                        tally_add(&packages, n->packages[j]->name);
        }
        if (filtered)
                fprintf(out, "%zu of %zu nodes", shown, l->n_nodes);
        else
                fprintf(out, "%zu node%s", shown, shown == 1 ? "" : "s");
        for (size_t i = 0; i < health.n; i++)
                fprintf(out, "%s %zu %s", i ? "," : ":", health.count[i], health.key[i]);
        if (unreachable)
                fprintf(out, " (%zu unreachable)", unreachable);
        fputc('\n', out);
        for (size_t i = 0; i < packages.n; i++)
                package_line(out, l, match, packages.key[i]);
        if (packages.others)
                fprintf(out, "  (more than %d packages: the rest in --json)\n", TALLY_MAX);
}
