/* tests/fuzz/fuzz_config.c — libFuzzer target for config/: cfg_load() on a fuzzed libconfig
 * file and cfg_userlist_load() on a fuzzed auth file, then, for a config that loads, everything
 * that reads the struct back (cfg_print, cfg_flatten, cfg_diff against the built-in defaults,
 * cfg_needs_restart, lookups), and cfg_free / cfg_userlist_free.
 *
 * Input: the config text; when it holds a line "----", what follows that line is the auth file
 * (else the whole input is both). Both are written to fixed paths in a directory made once per
 * process with mkdtemp (pglane.conf and users.txt, so a config saying auth.file = "users.txt"
 * loads the fuzzed auth file too) and removed at exit.
 *
 * Inputs holding "@include" are skipped. libconfig 1.5 (Debian 12) exits the process with
 * "input in flex scanner failed" when an @include names a directory (`@include ""` names the
 * config's own directory), which no caller can catch (see tests/fuzz/crashes/fuzz_config-7a7f*);
 * and an include of a special file (/dev/zero) would test the filesystem, not the parser. The
 * files a config names otherwise (auth.file, TLS files) must be regular files before they are
 * read. */
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "config/cfg.h"
#include "config/userlist.h"
#include "tests/fuzz/fuzz.h"

#define SEPARATOR "\n----\n"

static char dir[64];
static char conf_path[96];
static char users_path[96];
static struct cfg *defaults;
static FILE *devnull;

static void cleanup(void)
{
	unlink(conf_path);
	unlink(users_path);
	rmdir(dir);
	cfg_free(defaults);
	if (devnull)
		fclose(devnull);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	const char *tmp = getenv("TMPDIR");
	snprintf(dir, sizeof(dir), "%s/pglane-fuzz-XXXXXX", tmp && strlen(tmp) < 32 ? tmp : "/tmp");
	if (!mkdtemp(dir))
		abort();
	snprintf(conf_path, sizeof(conf_path), "%s/pglane.conf", dir);
	snprintf(users_path, sizeof(users_path), "%s/users.txt", dir);
	struct cfg_errors errs;
	defaults = cfg_load(NULL, &errs);
	devnull = fopen("/dev/null", "w");
	if (!defaults || !devnull)
		abort();
	atexit(cleanup);
	return 0;
}

static void write_file(const char *path, const uint8_t *p, size_t n)
{
	FILE *f = fopen(path, "w");
	if (!f || (n && fwrite(p, 1, n, f) != n) || fclose(f) != 0)
		abort();
}

static bool mentions(const uint8_t *p, size_t n, const char *s)
{
	return memmem(p, n, s, strlen(s)) != NULL;
}

static void check_errors(const struct cfg_errors *errs)
{
	FUZZ_CHECK(errs->n >= 1 && errs->n <= CFG_MAX_ERRORS);
	for (size_t i = 0; i < errs->n; i++)
		FUZZ_CHECK(strnlen(errs->msg[i], sizeof(errs->msg[i])) < sizeof(errs->msg[i]));
}

/* Everything that reads a loaded config. */
static void read_back(const struct cfg *c)
{
	FUZZ_CHECK(c->ndatabases >= 1);
	cfg_print(c, devnull);
	struct cfg_kvs kv;
	if (cfg_flatten(c, &kv)) {
		for (size_t i = 0; i < kv.n; i++)
			FUZZ_CHECK(kv.v[i].key && kv.v[i].value);
		cfg_kvs_free(&kv);
	}
	char **lines = NULL;
	size_t n = cfg_diff(defaults, c, &lines);
	if (n != (size_t)-1)
		cfg_lines_free(lines, n);
	n = cfg_diff(c, c, &lines);
	FUZZ_CHECK(n == 0 || n == (size_t)-1);
	if (n == 0)
		FUZZ_CHECK(lines == NULL);
	char what[64];
	(void)cfg_needs_restart(defaults, c, what, sizeof(what));
	FUZZ_CHECK(!cfg_needs_restart(c, c, what, sizeof(what)));
	for (size_t i = 0; i < c->ndatabases; i++) {
		const struct cfg_database *d = cfg_database_find(c, c->databases[i].name);
		FUZZ_CHECK(d && strcmp(d->name, c->databases[i].name) == 0);
	}
	(void)cfg_database_find(c, "postgres");
	bool full;
	for (size_t i = 0; i < c->admin.nusers; i++)
		FUZZ_CHECK(cfg_is_admin(c, c->admin.users[i], &full));
	(void)cfg_is_admin(c, "alice", &full);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (mentions(data, size, "@include"))
		return -1; /* not worth keeping in the corpus */
	const uint8_t *sep = memmem(data, size, SEPARATOR, strlen(SEPARATOR));
	size_t conf_len = sep ? (size_t)(sep - data) + 1 : size;
	const uint8_t *users = sep ? sep + strlen(SEPARATOR) : data;
	size_t users_len = sep ? size - (size_t)(users - data) : size;
	write_file(conf_path, data, conf_len);
	write_file(users_path, users, users_len);

	struct cfg_errors errs;
	memset(&errs, 0, sizeof(errs));
	struct cfg_userlist *u = cfg_userlist_load(users_path, &errs);
	if (u) {
		for (size_t i = 0; i < u->n; i++) {
			FUZZ_CHECK(u->users[i].name && u->users[i].secret);
			FUZZ_CHECK(cfg_userlist_find(u, u->users[i].name) == &u->users[i]);
			if (i > 0) /* sorted by name, each once */
				FUZZ_CHECK(strcmp(u->users[i - 1].name, u->users[i].name) < 0);
		}
		(void)cfg_userlist_find(u, "");
		cfg_userlist_free(u);
	} else {
		check_errors(&errs);
	}

	memset(&errs, 0, sizeof(errs));
	struct cfg *c = cfg_load(conf_path, &errs);
	if (c) {
		read_back(c);
		cfg_free(c);
	} else {
		check_errors(&errs);
	}
	return 0;
}
