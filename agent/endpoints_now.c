#include "agent/endpoints_now.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/atomic_file.h"
#include "common/ini.h"

/* The files repoint writes are small configs; a bigger one is not read
 * every heartbeat. */
#define ENDPOINTS_FILE_MAX (1024u * 1024)

static bool s_seen_kind(const agent_config_t *policy, size_t upto, const char *kind) {
        for (size_t i = 0; i < upto; i++)
                if (strcmp(policy->endpoints[i].kind, kind) == 0)
                        return true;
        return false;
}

/* Splits value at the map's separator (and blanks) into l->endpoints. */
static int s_split(const endpoint_map_t *m, const char *value, Hitless__EndpointList *l) {
        char sep[4] = { m->separator ? m->separator : ' ', ' ', '\n', '\0' };
        char *copy = strdup(value), *save = NULL;
        if (!copy)
                return -ENOMEM;
        l->endpoints = calloc(ENDPOINTS_NOW_MAX_PER_KIND, sizeof *l->endpoints);
        if (!l->endpoints) {
                free(copy);
                return -ENOMEM;
        }
        for (char *t = strtok_r(copy, sep, &save); t && l->n_endpoints < ENDPOINTS_NOW_MAX_PER_KIND;
             t = strtok_r(NULL, sep, &save)) {
                if (!(l->endpoints[l->n_endpoints] = strdup(t))) {
                        free(copy);
                        return -ENOMEM;
                }
                l->n_endpoints++;
        }
        free(copy);
        return 0;
}

static int s_read_map(const endpoint_map_t *m, Hitless__EndpointList *l) {
        char *text = NULL, *value = NULL;
        size_t len = 0;
        ini_doc_t *doc = NULL;
        int r = file_read_all(m->file, ENDPOINTS_FILE_MAX, &text, &len);
        if (r >= 0)
                r = ini_parse(text, len, &doc);
        if (r >= 0)
                r = ini_get(doc, m->section, m->key, &value);
        if (r >= 0)
                r = s_split(m, value, l);
        free(value);
        ini_doc_free(&doc);
        free(text);
        return r == -ENOMEM ? r : 0;   /* unreadable: an empty list */
}

int endpoints_now_read(const agent_config_t *policy, Hitless__EndpointList ***ret) {
        Hitless__EndpointList **v = calloc(ENDPOINTS_NOW_MAX_KINDS, sizeof *v);
        size_t n = 0;
        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < policy->n_endpoints && n < ENDPOINTS_NOW_MAX_KINDS; i++) {
                const endpoint_map_t *m = &policy->endpoints[i];
                if (s_seen_kind(policy, i, m->kind))
                        continue;   /* a kind's first key says what the others hold too */
                Hitless__EndpointList *l = calloc(1, sizeof *l);
                if (!l || (hitless__endpoint_list__init(l), !(l->kind = strdup(m->kind))) || s_read_map(m, l) < 0) {
                        if (l)
                                v[n++] = l;
                        endpoints_now_free(v, n);
                        return -ENOMEM;
                }
                v[n++] = l;
        }
        *ret = v;
        return (int) n;
}

void endpoints_now_free(Hitless__EndpointList **lists, size_t n) {
        for (size_t i = 0; lists && i < n; i++) {
                Hitless__EndpointList *l = lists[i];
                for (size_t k = 0; l->endpoints && k < l->n_endpoints; k++)
                        free(l->endpoints[k]);
                free(l->endpoints);
                free(l->kind);
                free(l);
        }
        free(lists);
}
