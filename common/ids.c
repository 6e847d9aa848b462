#include "common/ids.h"

#include <string.h>

/* 1..max characters, each a letter, a digit or one of extra. */
static bool s_in_set(const char *s, size_t max, const char *extra) {
        size_t n = s ? strlen(s) : 0;
        if (n == 0 || n > max)
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = s[i];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      strchr(extra, c)))
                        return false;
        }
        return true;
}

bool node_id_valid(const char *s) {
        return s_in_set(s, NODE_ID_MAX, "._-") && s[0] != '.' && s[0] != '-';
}

bool command_id_valid(const char *s) {
        return s_in_set(s, COMMAND_ID_MAX, "._-");
}

bool unit_name_valid(const char *s) {
        return s_in_set(s, UNIT_NAME_MAX, ":_.\\@-");
}

bool task_param_name_valid(const char *s) {
        size_t n = strlen(s);
        if (n == 0 || n > TASK_PARAM_NAME_MAX || s[0] < 'a' || s[0] > 'z')
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
                        return false;
        return true;
}

bool package_name_valid(const char *s) {
        return s_in_set(s, PACKAGE_NAME_MAX, ".+_~:-") && strchr(".+_~:-", s[0]) == NULL;
}
