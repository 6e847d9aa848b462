/* Plan files arrive as text over the admin socket (`hitlessctl plan
 * check`): any bytes must give a plan or errors naming file, line and key,
 * never a crash or a leak. */
#include <stdlib.h>
#include <string.h>

#include "coordinator/upgrade/plan.h"
#include "tests/fuzz/fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        conf_report_t r;
        plan_t *p = NULL;
        char *text = malloc(size + 1);

        if (!text)
                return 0;
        memcpy(text, data, size);
        text[size] = '\0';
        conf_report_init(&r, "fuzz.plan");
        int rc = plan_parse_string("fuzz.plan", text, size, &p, &r);
        if (rc == 0) {
                FUZZ_CHECK(p != NULL);
                FUZZ_CHECK(r.n_lines == 0);
                plan_free(&p);
                FUZZ_CHECK(p == NULL);
        } else {
                FUZZ_CHECK(p == NULL);
                FUZZ_CHECK(r.n_lines > 0);          /* a failure always says why */
                for (size_t i = 0; i < r.n_lines; i++)
                        FUZZ_CHECK(strncmp(r.lines[i], "fuzz.plan", 9) == 0);
        }
        conf_report_free(&r);
        free(text);
        return 0;
}
