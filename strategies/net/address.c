#include "address.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int endpoint_parse(const char *text, endpoint *ep, char *err, size_t errlen) {
    memset(ep, 0, sizeof *ep);
    if (strncmp(text, "unix:", 5) == 0) {
        struct sockaddr_un *un = (struct sockaddr_un *)&ep->sa;
        const char *path = text + 5;
        if (!*path || strlen(path) >= sizeof un->sun_path) {
            snprintf(err, errlen, "unix socket path empty or longer than %zu bytes: %s",
                     sizeof un->sun_path - 1, path);
            return -1;
        }
        un->sun_family = AF_UNIX;
        strcpy(un->sun_path, path);
        ep->family = AF_UNIX;
        ep->sa_len = sizeof *un;
        return 0;
    }
    if (strncmp(text, "tcp:", 4) != 0) goto bad;
    char host[64];
    const char *h = text + 4, *colon;
    if (*h == '[') { /* [v6]:port */
        const char *close = strchr(h, ']');
        if (!close || close[1] != ':' || (size_t)(close - h - 1) >= sizeof host) goto bad;
        memcpy(host, h + 1, (size_t)(close - h - 1));
        host[close - h - 1] = 0;
        colon = close + 1;
    } else {
        colon = strrchr(h, ':');
        if (!colon || (size_t)(colon - h) >= sizeof host) goto bad;
        memcpy(host, h, (size_t)(colon - h));
        host[colon - h] = 0;
    }
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || end == colon + 1 || port < 0 || port > 65535) goto bad;
    struct sockaddr_in *in4 = (struct sockaddr_in *)&ep->sa;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ep->sa;
    if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)port);
        ep->family = AF_INET;
        ep->sa_len = sizeof *in4;
        return 0;
    }
    if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        ep->family = AF_INET6;
        ep->sa_len = sizeof *in6;
        return 0;
    }
bad:
    snprintf(err, errlen, "bad address '%s': expected tcp:HOST:PORT (IP literal) or unix:PATH", text);
    return -1;
}

void endpoint_format(const endpoint *ep, char *out, size_t outlen) {
    char host[INET6_ADDRSTRLEN];
    if (ep->family == AF_UNIX) {
        snprintf(out, outlen, "unix:%s", ((const struct sockaddr_un *)&ep->sa)->sun_path);
    } else if (ep->family == AF_INET) {
        const struct sockaddr_in *in4 = (const struct sockaddr_in *)&ep->sa;
        inet_ntop(AF_INET, &in4->sin_addr, host, sizeof host);
        snprintf(out, outlen, "tcp:%s:%u", host, ntohs(in4->sin_port));
    } else {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ep->sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        snprintf(out, outlen, "tcp:[%s]:%u", host, ntohs(in6->sin6_port));
    }
}

static int listen_with(const endpoint *ep, int backlog, bool reuseport, endpoint *bound, char *err, size_t errlen) {
    int fd = socket(ep->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    int one = 1;
    if (ep->family != AF_UNIX) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
        snprintf(err, errlen, "SO_REUSEPORT: %s", strerror(errno));
        close(fd);
        return -1;
    }
    if (bind(fd, (const struct sockaddr *)&ep->sa, ep->sa_len) != 0) {
        char text[128];
        endpoint_format(ep, text, sizeof text);
        snprintf(err, errlen, "bind %s: %s", text, strerror(errno));
        close(fd);
        return -1;
    }
    if (listen(fd, backlog) != 0) {
        snprintf(err, errlen, "listen: %s", strerror(errno));
        close(fd);
        return -1;
    }
    *bound = *ep;
    bound->sa_len = sizeof bound->sa;
    getsockname(fd, (struct sockaddr *)&bound->sa, &bound->sa_len);
    return fd;
}

int listen_on(const endpoint *ep, int backlog, endpoint *bound, char *err, size_t errlen) {
    return listen_with(ep, backlog, false, bound, err, errlen);
}

int listen_on_reuseport(const endpoint *ep, int backlog, endpoint *bound, char *err, size_t errlen) {
    return listen_with(ep, backlog, true, bound, err, errlen);
}
