/* tests/integration/faultpg.c — a private PostgreSQL cluster a test may restart, crash or
 * freeze (see faultpg.h): tests/pg.sh for start/restart/stop, /proc for the postmaster's
 * children. */
#include "tests/integration/faultpg.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/integration/harness.h"

#define MAX_CHILDREN 512

static struct faultpg g_pg;
static bool g_started;

static void pgsh_path(char *out, size_t n)
{
	const char *e = getenv("PGLANE_TEST_PGSH");
	snprintf(out, n, "%s", e && *e ? e : "tests/pg.sh");
	cr_assert(access(out, X_OK) == 0, "%s not found: set PGLANE_TEST_PGSH", out);
}

struct faultpg *faultpg_start(void)
{
	struct faultpg *pg = &g_pg;
	memset(pg, 0, sizeof *pg);
	pgsh_path(pg->pgsh, sizeof pg->pgsh);
	it_mkdtemp(pg->dir, sizeof pg->dir);
	chmod(pg->dir, 0755);
	pg->port = it_free_port();
	char *out = NULL;
	int64_t t0 = it_now_ms();
	int rc = it_sh(120, &out, "'%s' start '%s' %d", pg->pgsh, pg->dir, pg->port);
	g_started = true;
	cr_assert_eq(rc, 0, "tests/pg.sh start failed (exit %d):\n%s", rc, out ? out : "");
	free(out);
	cr_log_info("faultpg: private cluster on port %d in %lld ms", pg->port,
	            (long long)(it_now_ms() - t0));
	return pg;
}

int faultpg_restart(struct faultpg *pg, const char *mode)
{
	char *out = NULL;
	int64_t t0 = it_now_ms();
	int rc = it_sh(90, &out, "'%s' restart '%s' %s", pg->pgsh, pg->dir, mode);
	int ms = (int)(it_now_ms() - t0);
	cr_assert_eq(rc, 0, "tests/pg.sh restart %s failed (exit %d):\n%s", mode, rc,
	             out ? out : "");
	free(out);
	pg->frozen = false;
	return ms;
}

int faultpg_postmaster_pid(const struct faultpg *pg)
{
	char path[600];
	snprintf(path, sizeof path, "%s/data/postmaster.pid", pg->dir);
	char *text = it_file_read(path);
	if (!text)
		return 0;
	int pid = atoi(text);
	free(text);
	if (pid <= 0 || kill(pid, 0) != 0)
		return 0;
	return pid;
}

/* The parent pid in /proc/PID/stat (after the command name in parentheses); -1 on error. */
static int parent_of(int pid)
{
	char path[64], line[512];
	snprintf(path, sizeof path, "/proc/%d/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	char *got = fgets(line, sizeof line, f);
	fclose(f);
	char *rp = got ? strrchr(line, ')') : NULL;
	int ppid = -1;
	if (!rp || sscanf(rp + 1, " %*c %d", &ppid) != 1)
		return -1;
	return ppid;
}

/* The postmaster's children into kids[]; their count. */
static int children_of(int parent, int *kids, int max)
{
	DIR *d = opendir("/proc");
	cr_assert(d, "cannot read /proc");
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) && n < max) {
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		if (parent_of(atoi(e->d_name)) == parent)
			kids[n++] = atoi(e->d_name);
	}
	closedir(d);
	return n;
}

int faultpg_signal(struct faultpg *pg, int sig)
{
	int pm = faultpg_postmaster_pid(pg);
	cr_assert(pm > 0, "faultpg: no postmaster running in %s", pg->dir);
	int kids[MAX_CHILDREN];
	int n = children_of(pm, kids, MAX_CHILDREN);
	int sent = 0;
	if (sig == SIGCONT)
		sent += kill(pm, sig) == 0;
	for (int i = 0; i < n; i++)
		sent += kill(kids[i], sig) == 0;
	if (sig != SIGCONT)
		sent += kill(pm, sig) == 0;
	return sent;
}

void faultpg_kill(struct faultpg *pg)
{
	int pm = faultpg_postmaster_pid(pg);
	int sent = faultpg_signal(pg, SIGKILL);
	cr_assert(sent >= 1, "faultpg: SIGKILL reached no process");
	for (int i = 0; i < 250 && kill(pm, 0) == 0; i++)
		it_sleep_ms(20);
	pg->frozen = false;
}

void faultpg_freeze(struct faultpg *pg)
{
	pg->frozen = true;
	cr_assert(faultpg_signal(pg, SIGSTOP) >= 1, "faultpg: SIGSTOP reached no process");
}

void faultpg_thaw(struct faultpg *pg)
{
	cr_assert(faultpg_signal(pg, SIGCONT) >= 1, "faultpg: SIGCONT reached no process");
	pg->frozen = false;
}

PGconn *faultpg_connect(const struct faultpg *pg, const char *dbname)
{
	char ci[512];
	it_conninfo(ci, sizeof ci, IT_HOST, pg->port, "postgres", NULL, dbname, NULL);
	PGconn *c = it_connect_try(ci);
	cr_assert_eq(PQstatus(c), CONNECTION_OK, "faultpg: connecting to port %d: %s", pg->port,
	             it_conn_error(c));
	return c;
}

const char *faultpg_databases(const struct faultpg *pg)
{
	static char text[256];
	snprintf(text, sizeof text,
	         "databases = ( { name = \"*\"; host = \"127.0.0.1\"; port = %d; } );\n", pg->port);
	return text;
}

long long faultpg_query_ll(const struct faultpg *pg, const char *dbname, const char *sql)
{
	char ci[512];
	it_conninfo(ci, sizeof ci, IT_HOST, pg->port, "postgres", NULL, dbname, NULL);
	PGconn *c = PQconnectdb(ci);
	long long v = -1;
	if (PQstatus(c) == CONNECTION_OK) {
		PGresult *r = PQexec(c, sql);
		if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0)
			v = atoll(PQgetvalue(r, 0, 0));
		PQclear(r);
	}
	PQfinish(c);
	return v;
}

void faultpg_fini(void)
{
	if (!g_started)
		return;
	g_started = false;
	if (g_pg.frozen && faultpg_postmaster_pid(&g_pg) > 0)
		faultpg_signal(&g_pg, SIGCONT);
	int rc = it_sh(60, NULL, "'%s' stop '%s' && rm -rf '%s/data'", g_pg.pgsh, g_pg.dir,
	               g_pg.dir);
	if (rc != 0)
		fprintf(stderr, "faultpg: stopping the cluster in %s: exit %d\n", g_pg.dir, rc);
}
