/* tests/integration/fwd.h — a TCP forwarder on a free 127.0.0.1 port in front of the test's
 * PostgreSQL, for what a real server does too fast to test: it holds a CancelRequest for a while
 * before passing it on, so a cancel can arrive after the statement it was meant for. Every
 * other connection is piped both ways untouched. Each connection gets a thread; forwarders live
 * until the test process ends. */
#ifndef PGLANE_TESTS_FWD_H
#define PGLANE_TESTS_FWD_H

#include <stdatomic.h>

struct fwd {
	int lfd, port;
	int cancel_delay_ms;
	atomic_int conns;   /* connections accepted */
	atomic_int cancels; /* CancelRequests passed on (after the delay) */
};

/* Start a forwarder to PGLANE_TEST_PGHOST:PGLANE_TEST_PGPORT (fails the test when it cannot). */
struct fwd *fwd_start(int cancel_delay_ms);

#endif
