/* tests/unit/config_fixture.c — the config tests' shared fixture (see config_fixture.h). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "tests/unit/config_fixture.h"

#include <criterion/criterion.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

char cfgt_dir[256];
char cfgt_rdir[256];
char cfgt_conf[300];
struct cfg_errors cfgt_errs;

void cfgt_setup(void)
{
	snprintf(cfgt_dir, sizeof(cfgt_dir), "%s/pglane-cfg-XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	cr_assert_not_null(mkdtemp(cfgt_dir));
	char *r = realpath(cfgt_dir, NULL);
	cr_assert_not_null(r);
	cr_assert_lt(strlen(r), sizeof(cfgt_rdir));
	strcpy(cfgt_rdir, r);
	free(r);
	snprintf(cfgt_conf, sizeof(cfgt_conf), "%s/pglane.conf", cfgt_dir);
	memset(&cfgt_errs, 0, sizeof(cfgt_errs));
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

void cfgt_teardown(void)
{
	nftw(cfgt_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

const char *cfgt_path(const char *name)
{
	static char bufs[4][PATH_MAX];
	static int next;
	char *b = bufs[next++ % 4];
	snprintf(b, PATH_MAX, "%s/%s", cfgt_dir, name);
	return b;
}

const char *cfgt_write(const char *name, const char *text)
{
	const char *p = cfgt_path(name);
	FILE *f = fopen(p, "w");
	cr_assert_not_null(f, "cannot write %s", p);
	fputs(text, f);
	fclose(f);
	return p;
}

struct cfg *cfgt_load(const char *text)
{
	cfgt_write("pglane.conf", text);
	return cfg_load(cfgt_conf, &cfgt_errs);
}

char *cfgt_print(const struct cfg *c)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	cr_assert_not_null(f);
	cfg_print(c, f);
	fclose(f);
	return buf;
}

char *cfgt_errors(void)
{
	static char out[CFG_MAX_ERRORS * 260];
	size_t pos = 0;
	out[0] = '\0';
	for (size_t i = 0; i < cfgt_errs.n && pos < sizeof(out); i++)
		pos += (size_t)snprintf(out + pos, sizeof(out) - pos, "  %s\n", cfgt_errs.msg[i]);
	return out;
}

/* `want` with "{dir}" replaced by the resolved temp directory. */
static void expand(char *out, size_t cap, const char *want)
{
	const char *mark = strstr(want, "{dir}");
	if (!mark) {
		snprintf(out, cap, "%s", want);
		return;
	}
	snprintf(out, cap, "%.*s%s%s", (int)(mark - want), want, cfgt_rdir, mark + 5);
}

bool cfgt_has_error(const char *want)
{
	char w[1024], full[2048];
	expand(w, sizeof(w), want);
	snprintf(full, sizeof(full), "%s:%s", cfgt_conf, w);
	for (size_t i = 0; i < cfgt_errs.n; i++)
		if (strcmp(cfgt_errs.msg[i], full) == 0)
			return true;
	return false;
}
