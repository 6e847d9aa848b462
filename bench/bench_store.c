/* Measures the coordinator store on this machine's disk:
 *   (a) events appended per second, one transaction (one fsync) each;
 *   (b) node_put of 10,000 nodes with 300-byte blobs in one transaction;
 *   (c) store_nodes_foreach over those 10,000 nodes.
 * Works in a temporary directory under $TMPDIR (or /tmp), removed at exit. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "coordinator/store/store.h"

#define N_NODES 10000
#define BLOB_LEN 300
/* (a) runs for about this long: fsync cost varies from µs to tens of ms. */
#define EVENT_SECONDS 2.0
#define EVENT_MAX 100000

static double now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

typedef struct {
        size_t nodes;
        size_t bytes;
} walk_t;

static int count_node(const char *node_id, const uint8_t *blob, size_t len, int64_t last_seen,
                      void *ud) {
        walk_t *w = ud;
        (void) node_id;
        (void) blob;
        (void) last_seen;
        w->nodes++;
        w->bytes += len;
        return 0;
}

static void cleanup_dir(const char *dir, const char *db) {
        static const char *suffixes[] = { "", "-wal", "-shm", "-journal" };
        char p[4200];

        for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
                snprintf(p, sizeof p, "%s%s", db, suffixes[i]);
                unlink(p);
        }
        rmdir(dir);
}

static int run(const char *db) {
        store_t *s = NULL;
        double t0, dt;
        int r;

        r = store_open(db, &s);
        if (r < 0) {
                fprintf(stderr, "bench_store: cannot open %s: %s\n", db, strerror(-r));
                return r;
        }

        /* (a) */
        long n = 0;
        t0 = now();
        do {
                char message[64];
                /* Distinct, so each is a row (repeats coalesce into a count). */
                snprintf(message, sizeof message, "one transaction per event, %ld", n);
                r = store_event_append(s, time(NULL), "web-1", "bench.event", "bench", message, NULL);
                if (r < 0)
                        goto fail;
                n++;
        } while ((dt = now() - t0) < EVENT_SECONDS && n < EVENT_MAX);
        printf("events appended, 1 txn each:      %ld in %.3f s = %.0f events/s\n", n, dt,
               (double) n / dt);

        /* (b) */
        uint8_t blob[BLOB_LEN];
        char id[32];
        for (size_t i = 0; i < sizeof blob; i++)
                blob[i] = (uint8_t) (i * 37);
        t0 = now();
        r = store_begin(s);
        if (r < 0)
                goto fail;
        for (int i = 0; i < N_NODES; i++) {
                snprintf(id, sizeof id, "node-%05d", i);
                blob[0] = (uint8_t) i;
                r = store_node_put(s, id, blob, sizeof blob, time(NULL));
                if (r < 0) {
                        (void) store_rollback(s);
                        goto fail;
                }
        }
        r = store_commit(s);
        if (r < 0)
                goto fail;
        dt = now() - t0;
        printf("node_put x %d (%d-byte blob), 1 txn: %.3f s (%.1f µs/node)\n", N_NODES, BLOB_LEN,
               dt, dt * 1e6 / N_NODES);

        /* (c) */
        walk_t w = { 0 };
        t0 = now();
        r = store_nodes_foreach(s, count_node, &w);
        if (r < 0)
                goto fail;
        dt = now() - t0;
        if (w.nodes != N_NODES || w.bytes != (size_t) N_NODES * BLOB_LEN) {
                fprintf(stderr, "bench_store: walk saw %zu nodes, %zu bytes\n", w.nodes, w.bytes);
                store_close(&s);
                return -EIO;
        }
        printf("nodes_foreach over %d nodes:      %.3f s (%.2f µs/node)\n", N_NODES, dt,
               dt * 1e6 / N_NODES);

        store_close(&s);
        return 0;
fail:
        fprintf(stderr, "bench_store: %s (%s)\n", strerror(-r), store_last_error(s));
        store_close(&s);
        return r;
}

int main(void) {
        const char *base = getenv("TMPDIR");
        char dir[4096], db[4200];

        snprintf(dir, sizeof dir, "%s/bench_store.XXXXXX", base && *base ? base : "/tmp");
        if (!mkdtemp(dir)) {
                fprintf(stderr, "bench_store: mkdtemp %s: %s\n", dir, strerror(errno));
                return EXIT_FAILURE;
        }
        snprintf(db, sizeof db, "%s/state.db", dir);
        printf("database: %s\n", db);
        int r = run(db);
        cleanup_dir(dir, db);
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
