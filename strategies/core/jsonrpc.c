#include "jsonrpc.h"

#include <string.h>

typedef struct {
    const char *p, *end;
} scanner;

static void skip_ws(scanner *s) {
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r')) s->p++;
}

static bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

static bool scan_string(scanner *s) {
    if (s->p >= s->end || *s->p != '"') return false;
    for (s->p++; s->p < s->end; s->p++) {
        unsigned char c = (unsigned char)*s->p;
        if (c == '"') {
            s->p++;
            return true;
        }
        if (c < 0x20) return false;
        if (c != '\\') continue;
        if (++s->p >= s->end) return false;
        if (*s->p == 'u') {
            if (s->end - s->p < 5) return false;
            for (int i = 1; i <= 4; i++)
                if (!is_hex(s->p[i])) return false;
            s->p += 4;
        } else if (!strchr("\"\\/bfnrt", *s->p) || *s->p == 0) {
            return false;
        }
    }
    return false;
}

static bool digits(scanner *s) {
    const char *start = s->p;
    while (s->p < s->end && *s->p >= '0' && *s->p <= '9') s->p++;
    return s->p > start;
}

/* -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool scan_number(scanner *s) {
    if (s->p < s->end && *s->p == '-') s->p++;
    if (s->p < s->end && *s->p == '0') s->p++;
    else if (!digits(s)) return false;
    if (s->p < s->end && *s->p == '.') {
        s->p++;
        if (!digits(s)) return false;
    }
    if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
        s->p++;
        if (s->p < s->end && (*s->p == '+' || *s->p == '-')) s->p++;
        if (!digits(s)) return false;
    }
    return true;
}

static bool scan_word(scanner *s, const char *w) {
    size_t n = strlen(w);
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, w, n) != 0) return false;
    s->p += n;
    return true;
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

static bool scan_value(scanner *s, int depth) {
    skip_ws(s);
    if (s->p >= s->end) return false;
    switch (*s->p) {
    case '{': return scan_container(s, depth, '}', true);
    case '[': return scan_container(s, depth, ']', false);
    case '"': return scan_string(s);
    case 't': return scan_word(s, "true");
    case 'f': return scan_word(s, "false");
    case 'n': return scan_word(s, "null");
    default: return scan_number(s);
    }
}

bool jsonrpc_parse(const char *body, size_t len, jsonrpc_request *out) {
    memset(out, 0, sizeof *out);
    /* An empty POST body arrives as (NULL, 0): NULL + 0 is undefined in C. */
    if (len == 0) return false;
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
