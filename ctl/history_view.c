#include "ctl/history_view.h"

#include <string.h>

#include "ctl/ctl.h"

/* "install c-12 succeeded, upgrade up-3, finished 2024-05-01 10:00:03: 1 package changed" */
static const char *command_what(const Hitless__HistoryEntry *e, char *buf, size_t len) {
        char finished[64];
        size_t off;
        snprintf(buf, len, "%s %s %s", e->action, e->command_id, e->state);
        if (e->upgrade_id[0] && (off = strlen(buf)) < len)
                snprintf(buf + off, len - off, ", upgrade %s", e->upgrade_id);
        if (e->finished && (off = strlen(buf)) < len)
                snprintf(buf + off, len - off, ", finished %s",
                         ctl_local_time(e->finished, finished, sizeof finished));
        if (e->message[0] && (off = strlen(buf)) < len)
                snprintf(buf + off, len - off, ": %s", e->message);
        return buf;
}

/* " (×N)" for an event repeated back to back, else "". */
static const char *times(uint64_t count, char *buf, size_t len) {
        if (count <= 1)
                return "";
        snprintf(buf, len, " (\u00d7%llu)", (unsigned long long) count);
        return buf;
}

void history_view_text(FILE *f, const Hitless__HistoryList *l) {
        ctl_table_t t = { .cols = 4 };
        char when[64], what[2048], repeats[32];
        ctl_table_add(&t, "TIME", "ACTOR", "NODE", "WHAT");
        for (size_t i = 0; i < l->n_entries; i++) {
                const Hitless__HistoryEntry *e = l->entries[i];
                if (strcmp(e->kind, "command") == 0)
                        command_what(e, what, sizeof what);
                else
                        snprintf(what, sizeof what, "%s%s%s%s", e->kind, e->message[0] ? ": " : "", e->message,
                                 times(e->count, repeats, sizeof repeats));
                ctl_table_add(&t, ctl_local_time(e->time, when, sizeof when), e->actor, e->node_id, what);
        }
        ctl_table_print(f, &t, "");
}

static void json_entry(FILE *f, const void *item) {
        const Hitless__HistoryEntry *e = item;
        json_int(f, "{", "time", e->time);
        json_kv(f, ",", "actor", e->actor);
        json_kv(f, ",", "node_id", e->node_id);
        json_kv(f, ",", "kind", e->kind);
        json_kv(f, ",", "message", e->message);
        json_kv(f, ",", "command_id", e->command_id);
        json_kv(f, ",", "action", e->action);
        json_kv(f, ",", "state", e->state);
        json_kv(f, ",", "upgrade_id", e->upgrade_id);
        json_int(f, ",", "finished", e->finished);
        if (strcmp(e->kind, "command") != 0)
                json_int(f, ",", "count", e->count ? (int64_t) e->count : 1);
        fputc('}', f);
}

void history_view_json(FILE *f, const Hitless__HistoryList *l) {
        json_array(f, "{", "entries", (void *const *) l->entries, l->n_entries, json_entry);
        fputs("}\n", f);
}
