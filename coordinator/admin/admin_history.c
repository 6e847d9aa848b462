#include "coordinator/admin/admin_history.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/codec.h"

/* An entry's strings, in one place for copying and freeing. */
#define ENTRY_STRINGS(e)                                                                        \
        { &(e)->actor, &(e)->node_id, &(e)->kind, &(e)->message, &(e)->command_id, &(e)->action, \
          &(e)->state, &(e)->upgrade_id }

static void entry_free(Hitless__HistoryEntry *e) {
        char **strings[] = ENTRY_STRINGS(e);
        for (size_t i = 0; i < sizeof strings / sizeof *strings; i++)
                free(*strings[i]);
        free(e);
}

void admin_history_free(Hitless__HistoryList *list) {
        if (!list)
                return;
        for (size_t i = 0; i < list->n_entries; i++)
                entry_free(list->entries[i]);
        free(list->entries);
        free(list);
}

/* The texts of an entry, borrowed for the callback's duration. */
typedef struct {
        const char *kind, *message, *command_id, *action, *state, *upgrade_id;
} entry_texts_t;

/* A command's texts from its packed request and latest result; unpacked
 * messages are freed by the caller after copying. */
static void command_texts(const command_record_t *c, Hitless__Command **cmd, Hitless__CommandStatus **status,
                          entry_texts_t *t) {
        *cmd = hitless__command__unpack(NULL, c->request_len, c->request);
        *status = c->result ? hitless__command_status__unpack(NULL, c->result_len, c->result) : NULL;
        const char *action = *cmd ? command_action_name(*cmd) : NULL;
        t->kind = "command";
        t->command_id = c->id;
        /* A request this build cannot read still has the kind it was stored with. */
        t->action = action ? action : c->kind;
        t->upgrade_id = *cmd ? (*cmd)->upgrade_id : "";
        t->state = command_state_name((Hitless__CommandState) c->state);
        t->message = *status ? (*status)->message : "";
}

static Hitless__HistoryEntry *entry_new(const history_record_t *h, const entry_texts_t *t) {
        Hitless__HistoryEntry *e = malloc(sizeof *e);
        if (!e)
                return NULL;
        hitless__history_entry__init(e);
        const char *values[] = { h->actor, h->node_id, t->kind, t->message, t->command_id, t->action,
                                 t->state, t->upgrade_id };
        char **strings[] = ENTRY_STRINGS(e);
        bool oom = false;
        for (size_t i = 0; i < sizeof strings / sizeof *strings; i++) {
                *strings[i] = strdup(values[i] ? values[i] : "");
                oom |= !*strings[i];
        }
        if (oom) {
                entry_free(e);
                return NULL;
        }
        e->time = h->time;
        e->count = h->is_command ? 0 : (uint64_t) h->count;
        if (h->is_command && h->command->state >= HITLESS__COMMAND_STATE__COMMAND_SUCCEEDED)
                e->finished = h->command->updated;
        return e;
}

typedef struct {
        Hitless__HistoryList *list;
        size_t cap;
} collect_t;

static int collect(const history_record_t *h, void *ud) {
        collect_t *c = ud;
        Hitless__HistoryList *l = c->list;
        Hitless__Command *cmd = NULL;
        Hitless__CommandStatus *status = NULL;
        entry_texts_t t = { .kind = h->kind, .message = h->message };

        if (l->n_entries == c->cap) {
                size_t cap = 2 * c->cap + 64;
                Hitless__HistoryEntry **v = realloc(l->entries, cap * sizeof *v);
                if (!v)
                        return -ENOMEM;
                l->entries = v;
                c->cap = cap;
        }
        if (h->is_command)
                command_texts(h->command, &cmd, &status, &t);
        Hitless__HistoryEntry *e = entry_new(h, &t);
        hitless__command__free_unpacked(cmd, NULL);
        hitless__command_status__free_unpacked(status, NULL);
        if (!e)
                return -ENOMEM;
        l->entries[l->n_entries++] = e;
        return 0;
}

int admin_history_build(store_t *store, const Hitless__HistoryRequest *req, Hitless__HistoryList **ret) {
        collect_t c = { .list = malloc(sizeof *c.list) };
        uint32_t limit = req->limit < ADMIN_HISTORY_MAX_LIMIT ? req->limit : ADMIN_HISTORY_MAX_LIMIT;
        int r;

        if (!c.list)
                return -ENOMEM;
        hitless__history_list__init(c.list);
        r = store_history_foreach(store, req->node_id, limit, collect, &c);
        if (r < 0) {
                admin_history_free(c.list);
                return r;
        }
        *ret = c.list;
        return 0;
}
