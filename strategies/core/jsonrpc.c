#include "jsonrpc.h"

#include <string.h>

typedef struct {
    const char *p, *end;
} scanner;

static void skip_ws(scanner *s) {
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r')) s->p++;
}

static bool scan_string(scanner *s) {
    if (s->p >= s->end || *s->p != '"') return false;
    for (s->p++; s->p < s->end; s->p++) {
        if (*s->p == '\\') {
            if (++s->p >= s->end) return false;
        } else if (*s->p == '"') {
            s->p++;
            return true;
        } else if ((unsigned char)*s->p < 0x20) {
            return false;
        }
    }
    return false;
}

static bool scan_value(scanner *s, int depth);

static bool scan_container(scanner *s, int depth, char close, bool keyed) {
    if (depth > 32) return false;
    s->p++;
    skip_ws(s);
    if (s->p < s->end && *s->p == close) {
        s->p++;
        return true;
    }
    for (;;) {
        skip_ws(s);
        if (keyed) {
            if (!scan_string(s)) return false;
            skip_ws(s);
            if (s->p >= s->end || *s->p++ != ':') return false;
        }
        if (!scan_value(s, depth + 1)) return false;
        skip_ws(s);
        if (s->p >= s->end) return false;
        if (*s->p == ',') {
            s->p++;
            continue;
        }
        if (*s->p++ == close) return true;
        return false;
    }
}

static bool scan_literal(scanner *s) {
    const char *start = s->p;
    while (s->p < s->end && (strchr("+-.eE", *s->p) || (*s->p >= '0' && *s->p <= '9') ||
                             (*s->p >= 'a' && *s->p <= 'z')))
        s->p++;
    size_t n = (size_t)(s->p - start);
    if (n == 0) return false;
    if (*start >= 'a' && *start <= 'z')
        return (n == 4 && !memcmp(start, "true", 4)) || (n == 5 && !memcmp(start, "false", 5)) ||
               (n == 4 && !memcmp(start, "null", 4));
    return true;
}

static bool scan_value(scanner *s, int depth) {
    skip_ws(s);
    if (s->p >= s->end) return false;
    switch (*s->p) {
    case '{': return scan_container(s, depth, '}', true);
    case '[': return scan_container(s, depth, ']', false);
    case '"': return scan_string(s);
    default: return scan_literal(s);
    }
}

bool jsonrpc_parse(const char *body, size_t len, jsonrpc_request *out) {
    memset(out, 0, sizeof *out);
    scanner s = {body, body + len};
    skip_ws(&s);
    if (s.p >= s.end || *s.p != '{') return false;
    s.p++;
    skip_ws(&s);
    if (s.p < s.end && *s.p == '}') return true;
    for (;;) {
        skip_ws(&s);
        const char *key = s.p + 1;
        if (!scan_string(&s)) return false;
        size_t key_len = (size_t)(s.p - key - 1);
        skip_ws(&s);
        if (s.p >= s.end || *s.p++ != ':') return false;
        skip_ws(&s);
        const char *val = s.p;
        if (!scan_value(&s, 1)) return false;
        size_t val_len = (size_t)(s.p - val);
        if (key_len == 2 && !memcmp(key, "id", 2)) {
            out->id = val;
            out->id_len = val_len;
        } else if (key_len == 6 && !memcmp(key, "method", 6) && val_len >= 2 && *val == '"') {
            out->method = val + 1;
            out->method_len = val_len - 2;
        }
        skip_ws(&s);
        if (s.p >= s.end) return false;
        if (*s.p == ',') {
            s.p++;
            continue;
        }
        if (*s.p++ != '}') return false;
        skip_ws(&s);
        return s.p == s.end;
    }
}
