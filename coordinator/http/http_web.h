/* The consolidated view's page, coordinator/http/web/index.html, embedded
 * at build time (scripts/embed-file.sh): one file of HTML, CSS and JS, no
 * external assets, so there is nothing on disk to serve or to traverse. */
#pragma once
#include <stddef.h>

extern const char http_web_index[];
extern const size_t http_web_index_len;
