/* pool/reach.c — a pool's server state and login back-off (pool/reach.h). */
#include "pool/reach.h"

#include <stdio.h>
#include <string.h>

bool pool_reach_transient(const char *sqlstate)
{
	static const char *const codes[] = {"57P01", "57P02", "57P03", "08000",
	                                    "08001", "08003", "08004", "08006"};
	if (!sqlstate || strlen(sqlstate) != 5)
		return false;
	if (strncmp(sqlstate, "53", 2) == 0)
		return true;
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (strcmp(sqlstate, codes[i]) == 0)
			return true;
	return false;
}

/* The delay before the next login after `failures` transient failures in a row. */
static int64_t backoff_ms(int failures, int64_t cap_ms)
{
	int64_t d = POOL_REACH_FIRST_DELAY_MS;
	for (int i = 1; i < failures && d < cap_ms; i++)
		d *= 2;
	return d < cap_ms ? d : cap_ms;
}

static void set_state(struct pool_reach *r, enum pool_reach_state s, int64_t now_ms)
{
	if (r->state == s)
		return;
	r->state = s;
	r->since_ms = now_ms;
}

void pool_reach_failed(struct pool_reach *r, bool transient, bool serving, const char *msg,
                       int64_t retry_cap_ms, int64_t down_after_ms, int64_t now_ms)
{
	bool was_transient = r->transient;
	snprintf(r->error, sizeof(r->error), "%s", msg ? msg : "");
	r->failed_ms = now_ms;
	r->transient = transient;
	if (r->failures < INT32_MAX)
		r->failures++;
	if (!transient) {
		r->retry_at_ms = now_ms + retry_cap_ms;
		set_state(r, POOL_REACH_DOWN, now_ms);
		return;
	}
	r->retry_at_ms = now_ms + backoff_ms(r->failures, retry_cap_ms);
	if (serving && r->state == POOL_REACH_UP)
		return;
	if (r->state == POOL_REACH_UP || (r->state == POOL_REACH_DOWN && !was_transient))
		set_state(r, POOL_REACH_RETRYING, now_ms);
	else if (r->state == POOL_REACH_RETRYING && down_after_ms > 0 &&
	         now_ms - r->since_ms >= down_after_ms)
		set_state(r, POOL_REACH_DOWN, now_ms);
}

void pool_reach_ok(struct pool_reach *r, int64_t now_ms)
{
	set_state(r, POOL_REACH_UP, now_ms);
	r->failed_ms = 0;
	r->retry_at_ms = 0;
	r->failures = 0;
	r->transient = false;
	r->error[0] = '\0';
}

const char *pool_reach_name(enum pool_reach_state s)
{
	switch (s) {
	case POOL_REACH_UP:
		return "up";
	case POOL_REACH_RETRYING:
		return "retrying";
	case POOL_REACH_DOWN:
		return "down";
	}
	return "?";
}
