/* tests/integration/slowq.h — the slow_query events of the running pglane's JSON log
 * (log = { format = "json"; }), parsed by python3's json module, so a line that is not valid
 * JSON or an event with a missing field or a field of the wrong type is seen as such.
 *
 * Use: struct slowq_event e; if (slowq_wait("it:marker", 3000, &e)) ... e.lane ...
 * A "marker" is a substring of the statement text (the event's `query` field). */
#ifndef PGLANE_TESTS_SLOWQ_H
#define PGLANE_TESTS_SLOWQ_H

#include <stdbool.h>
#include <stddef.h>

struct slowq_event {
	char database[64];
	char user[64];
	char lane[16];
	char application_name[128];
	char client[128];
	char query[1024];
	double duration_ms;
	double wait_ms;
	bool complete;     /* every field present with the right JSON type */
	char problem[160]; /* why not complete */
};

struct slowq_log {
	struct slowq_event *ev; /* owned */
	size_t n;
	int bad_lines;       /* complete lines that are not one JSON object */
	char first_bad[256]; /* the first of them, cut short */
};

/* Read and parse pglane's log as it is now; fails the test when python3 cannot run. */
void slowq_read(struct slowq_log *out);
void slowq_free(struct slowq_log *log);
/* How many slow_query events have `marker` in their query. */
int slowq_count(const struct slowq_log *log, const char *marker);
/* The first slow_query event whose query contains `marker`, or NULL. */
const struct slowq_event *slowq_find(const struct slowq_log *log, const char *marker);
/* Poll the log (every 100 ms, timeout_ms at most) until an event with `marker` appears; copy
 * it to *out. False when none did. */
bool slowq_wait(const char *marker, int timeout_ms, struct slowq_event *out);
/* The lane ("oltp"/"olap") of the slow_query event with `marker`, waiting up to 3 s; fails the
 * test when there is none or it is incomplete. Static storage. */
const char *slowq_lane(const char *marker);

#endif
