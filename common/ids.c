#include "common/ids.h"

#include <string.h>

bool node_id_valid(const char *s) {
        size_t n = s ? strlen(s) : 0;
        if (n == 0 || n > NODE_ID_MAX || s[0] == '.' || s[0] == '-')
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = s[i];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
                        return false;
        }
        return true;
}
