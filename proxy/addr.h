/* proxy/addr.h — comparing socket addresses: which of the listening sockets handed over by a
 * running pglane is the one a listen setting asks for (pure, no I/O). */
#ifndef PGLANE_PROXY_ADDR_H
#define PGLANE_PROXY_ADDR_H

#include <stdbool.h>
#include <sys/socket.h>

/* Do a and b name the same socket address: IPv4 address and port; IPv6 address, port and
 * scope; or the same Unix socket path (NUL-terminated within its length)? Other families and
 * lengths too short for their family are never equal. */
__attribute__((warn_unused_result)) bool proxy_addr_equal(const struct sockaddr *a, socklen_t alen,
                                                          const struct sockaddr *b, socklen_t blen);

/* The index of the first of the n addresses `have` (lengths in `lens`) equal to `want`, or
 * -1 when none is. */
__attribute__((warn_unused_result)) int proxy_addr_find(const struct sockaddr_storage *have,
                                                        const socklen_t *lens, int n,
                                                        const struct sockaddr *want,
                                                        socklen_t wlen);

#endif
