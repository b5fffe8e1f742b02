/* tests/integration/slowq.c — reading slow_query events out of pglane's JSON log: a python3
 * script (json.loads per line) prints one tab-separated record per event, checked for field
 * presence and types, and this file turns the records into structs. */
#include "tests/integration/slowq.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/integration/harness.h"

/* Only complete lines are judged: the last one may still be being written. */
static const char script[] =
        "import json, sys\n"
        "def esc(s):\n"
        "    return s.replace('\\\\', '\\\\\\\\').replace('\\t', '\\\\t').replace('\\n', '\\\\n')\n"
        "data = open(sys.argv[1], 'rb').read().decode('utf-8', 'replace')\n"
        "lines = data.split('\\n')[:-1]\n"
        "for line in lines:\n"
        "    if not line.strip():\n"
        "        continue\n"
        "    try:\n"
        "        o = json.loads(line)\n"
        "    except Exception:\n"
        "        o = None\n"
        "    if not isinstance(o, dict):\n"
        "        print('B\\t' + esc(line[:200]))\n"
        "        continue\n"
        "    if o.get('event') != 'slow_query':\n"
        "        continue\n"
        "    problems = []\n"
        "    out = []\n"
        "    for k in ('database', 'user', 'lane', 'application_name', 'client'):\n"
        "        v = o.get(k)\n"
        "        if not isinstance(v, str):\n"
        "            problems.append('%s is %r' % (k, v))\n"
        "            v = ''\n"
        "        out.append(esc(v))\n"
        "    for k in ('duration_ms', 'wait_ms'):\n"
        "        v = o.get(k)\n"
        "        if isinstance(v, bool) or not isinstance(v, (int, float)):\n"
        "            problems.append('%s is %r (not a number)' % (k, v))\n"
        "            v = -1\n"
        "        out.append(repr(float(v)))\n"
        "    q = o.get('query')\n"
        "    if not isinstance(q, str):\n"
        "        problems.append('query is %r' % (q,))\n"
        "        q = ''\n"
        "    out.append(esc(q))\n"
        "    print('\\t'.join(['E', '0' if problems else '1', esc('; '.join(problems))] + out))\n";

/* Undo the script's escapes in place. */
static void unescape(char *s)
{
	char *w = s;
	for (char *r = s; *r; r++) {
		if (*r == '\\' && r[1]) {
			r++;
			*w++ = *r == 't' ? '\t' : *r == 'n' ? '\n' : *r;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
}

/* Split `line` at tabs into at most `max` fields (in place). */
static int split_tabs(char *line, char **f, int max)
{
	int n = 0;
	char *p = line;
	while (n < max) {
		f[n++] = p;
		char *t = strchr(p, '\t');
		if (!t)
			break;
		*t = '\0';
		p = t + 1;
	}
	return n;
}

static void copy_field(char *dst, size_t cap, char *src)
{
	unescape(src);
	snprintf(dst, cap, "%s", src);
}

void slowq_read(struct slowq_log *out)
{
	memset(out, 0, sizeof(*out));
	struct it_pglane *p = it_pglane_current();
	cr_assert(p, "slowq_read: pglane is not running");
	char path[700];
	snprintf(path, sizeof path, "%s/slowq.py", p->dir);
	it_file_write(path, script);
	char *text = NULL;
	int rc = it_sh(20, &text, "python3 '%s' '%s'", path, p->log_path);
	cr_assert_eq(rc, 0, "python3 on the log failed (%d): %s", rc, text ? text : "");
	size_t cap = 0;
	for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *f[11];
		int n = split_tabs(line, f, 11);
		if (n >= 2 && strcmp(f[0], "B") == 0) {
			if (!out->bad_lines++) {
				unescape(f[1]);
				snprintf(out->first_bad, sizeof out->first_bad, "%s", f[1]);
			}
			continue;
		}
		if (n != 11 || strcmp(f[0], "E") != 0)
			continue;
		if (out->n == cap) {
			cap = cap ? cap * 2 : 8;
			out->ev = realloc(out->ev, cap * sizeof(*out->ev));
			cr_assert(out->ev);
		}
		struct slowq_event *e = &out->ev[out->n++];
		memset(e, 0, sizeof(*e));
		e->complete = strcmp(f[1], "1") == 0;
		copy_field(e->problem, sizeof e->problem, f[2]);
		copy_field(e->database, sizeof e->database, f[3]);
		copy_field(e->user, sizeof e->user, f[4]);
		copy_field(e->lane, sizeof e->lane, f[5]);
		copy_field(e->application_name, sizeof e->application_name, f[6]);
		copy_field(e->client, sizeof e->client, f[7]);
		e->duration_ms = strtod(f[8], NULL);
		e->wait_ms = strtod(f[9], NULL);
		copy_field(e->query, sizeof e->query, f[10]);
	}
	free(text);
}

void slowq_free(struct slowq_log *log)
{
	free(log->ev);
	memset(log, 0, sizeof(*log));
}

int slowq_count(const struct slowq_log *log, const char *marker)
{
	int n = 0;
	for (size_t i = 0; i < log->n; i++)
		n += strstr(log->ev[i].query, marker) != NULL;
	return n;
}

const struct slowq_event *slowq_find(const struct slowq_log *log, const char *marker)
{
	for (size_t i = 0; i < log->n; i++)
		if (strstr(log->ev[i].query, marker))
			return &log->ev[i];
	return NULL;
}

bool slowq_wait(const char *marker, int timeout_ms, struct slowq_event *out)
{
	int64_t deadline = it_now_ms() + timeout_ms;
	for (;;) {
		struct slowq_log log;
		slowq_read(&log);
		const struct slowq_event *e = slowq_find(&log, marker);
		if (e)
			*out = *e;
		slowq_free(&log);
		if (e)
			return true;
		if (it_now_ms() >= deadline)
			return false;
		it_sleep_ms(100);
	}
}

const char *slowq_lane(const char *marker)
{
	static struct slowq_event e;
	cr_assert(slowq_wait(marker, 3000, &e), "no slow_query event for `%s` in the log", marker);
	cr_assert(e.complete, "slow_query event for `%s` is incomplete: %s", marker, e.problem);
	return e.lane;
}
