/* tests/integration/serve.h — the plumbing of the servers a test plays itself (fakepg.h,
 * fwd.h, the fake of test_timeouts.c): a listening socket on 127.0.0.1, an accept loop in a
 * thread of its own, a detached thread per connection. They live until the test process
 * ends. */
#ifndef PGLANE_TESTS_SERVE_H
#define PGLANE_TESTS_SERVE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

/* Listen on 127.0.0.1 at a port the kernel picks; *port gets it (fails the test when it
 * cannot). */
int it_listen_local(int *port);
/* Accept on `lfd` from now on; each connection runs serve(arg, fd) in a thread of its own, and
 * serve closes fd. `conns` (when not NULL) counts the connections accepted. */
void it_serve(int lfd, void (*serve)(void *arg, int fd), void *arg, atomic_int *conns);
/* Read exactly n bytes: false at the end of the stream, on an error or on SO_RCVTIMEO. */
bool it_read_full(int fd, void *buf, size_t n);

#endif
