/* tests/unit/test_config_tls.c — config/cfg: TLS towards the servers. server_tls defaults, each
 * database's sslmode and sslrootcert resolved (its own or server_tls's), relative paths, the
 * verify-ca/verify-full configurations that are accepted, and cfg_print output loading back
 * to the same TLS settings. The errors are in test_config_errors.c (errors_server_tls), the
 * flat keys in test_cfg_flat.c. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/cfg.h"
#include "tests/unit/config_fixture.h"

/* cfgt_rdir/name (one of four rotating buffers). */
static const char *rpath(const char *name)
{
	static char bufs[4][PATH_MAX];
	static int next;
	char *b = bufs[next++ % 4];
	snprintf(b, PATH_MAX, "%s/%s", cfgt_rdir, name);
	return b;
}

static void write_certs(void)
{
	cfgt_write("root.crt", "not really a CA\n");
	cfgt_write("other.crt", "not really a CA\n");
	cfgt_write("client.crt", "not really a certificate\n");
	cfgt_write("client.key", "not really a key\n");
}

static const struct cfg_database *db_named(const struct cfg *c, const char *name)
{
	for (size_t i = 0; i < c->ndatabases; i++)
		if (strcmp(c->databases[i].name, name) == 0)
			return &c->databases[i];
	cr_assert_fail("no database %s", name);
	return NULL;
}

CTEST(tls_sslmode_names)
{
	cr_expect_str_eq(cfg_sslmode_name(CFG_SSL_DISABLE), "disable");
	cr_expect_str_eq(cfg_sslmode_name(CFG_SSL_PREFER), "prefer");
	cr_expect_str_eq(cfg_sslmode_name(CFG_SSL_REQUIRE), "require");
	cr_expect_str_eq(cfg_sslmode_name(CFG_SSL_VERIFY_CA), "verify-ca");
	cr_expect_str_eq(cfg_sslmode_name(CFG_SSL_VERIFY_FULL), "verify-full");
	cr_expect_str_eq(cfg_sslmode_name((enum cfg_sslmode)5), "?");
	cr_expect_str_eq(cfg_sslmode_name((enum cfg_sslmode)(-1)), "?");
}

CTEST(tls_defaults)
{
	const char *texts[] = {NULL, "", "server_tls = { };\n",
	                       "databases = ( { name = \"app\"; } );\n"};
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		struct cfg *c = texts[i] ? cfgt_load(texts[i]) : cfg_load(NULL, &cfgt_errs);
		cr_assert_not_null(c, "case %zu: %s", i, cfgt_errors());
		cr_expect_eq(c->server_tls.sslmode, CFG_SSL_PREFER, "case %zu", i);
		cr_expect_str_eq(c->server_tls.ca, "");
		cr_expect_str_eq(c->server_tls.cert, "");
		cr_expect_str_eq(c->server_tls.key, "");
		cr_assert_eq(c->ndatabases, 1);
		cr_expect_eq(c->databases[0].sslmode, CFG_SSL_PREFER, "case %zu", i);
		cr_expect_str_eq(c->databases[0].sslrootcert, "");
		cfg_free(c);
	}
}

CTEST(tls_databases_inherit_or_override)
{
	write_certs();
	char text[2048];
	snprintf(text, sizeof(text),
	         "server_tls = { sslmode = \"verify-ca\"; ca = \"root.crt\";\n"
	         "  cert = \"client.crt\"; key = \"client.key\"; };\n"
	         "databases = (\n"
	         "  { name = \"inherit\"; },\n"
	         "  { name = \"mode\"; sslmode = \"disable\"; },\n"
	         "  { name = \"ca\"; sslrootcert = \"other.crt\"; },\n"
	         "  { name = \"both\"; sslmode = \"verify-full\"; sslrootcert = \"%s\"; },\n"
	         "  { name = \"none\"; sslmode = \"require\"; sslrootcert = \"\"; }\n"
	         ");\n",
	         cfgt_path("other.crt"));
	struct cfg *c = cfgt_load(text);
	cr_assert_not_null(c, "%s", cfgt_errors());
	cr_expect_eq(c->server_tls.sslmode, CFG_SSL_VERIFY_CA);
	cr_expect_str_eq(c->server_tls.ca, rpath("root.crt"));
	cr_expect_str_eq(c->server_tls.cert, rpath("client.crt"));
	cr_expect_str_eq(c->server_tls.key, rpath("client.key"));

	const struct cfg_database *d = db_named(c, "inherit");
	cr_expect_eq(d->sslmode, CFG_SSL_VERIFY_CA);
	cr_expect_str_eq(d->sslrootcert, rpath("root.crt"));
	cr_expect_neq(d->sslrootcert, c->server_tls.ca, "each database owns its copy");
	d = db_named(c, "mode");
	cr_expect_eq(d->sslmode, CFG_SSL_DISABLE);
	cr_expect_str_eq(d->sslrootcert, rpath("root.crt"));
	d = db_named(c, "ca");
	cr_expect_eq(d->sslmode, CFG_SSL_VERIFY_CA);
	cr_expect_str_eq(d->sslrootcert, rpath("other.crt"));
	d = db_named(c, "both");
	cr_expect_eq(d->sslmode, CFG_SSL_VERIFY_FULL);
	cr_expect_str_eq(d->sslrootcert, cfgt_path("other.crt"), "an absolute path is kept");
	d = db_named(c, "none");
	cr_expect_eq(d->sslmode, CFG_SSL_REQUIRE);
	cr_expect_str_eq(d->sslrootcert, "", "an explicit \"\" is the database's own");
	cfg_free(c);
}

CTEST(tls_server_tls_after_databases_in_the_file)
{
	write_certs();
	struct cfg *c = cfgt_load("databases = ( { name = \"a\"; }, { name = \"b\"; sslmode = "
	                          "\"disable\"; } );\n"
	                          "server_tls = { sslmode = \"require\"; ca = \"root.crt\"; };\n");
	cr_assert_not_null(c, "%s", cfgt_errors());
	cr_expect_eq(db_named(c, "a")->sslmode, CFG_SSL_REQUIRE);
	cr_expect_str_eq(db_named(c, "a")->sslrootcert, rpath("root.crt"));
	cr_expect_eq(db_named(c, "b")->sslmode, CFG_SSL_DISABLE);
	cfg_free(c);
}

CTEST(tls_relative_paths_resolve_against_the_config_directory)
{
	write_certs();
	cfgt_write("pglane.conf", "server_tls = { ca = \"root.crt\"; cert = \"client.crt\";\n"
	                          "  key = \"./client.key\"; };\n"
	                          "databases = ( { name = \"a\"; sslrootcert = \"other.crt\"; },\n"
	                          "  { name = \"b\"; } );\n");
	cr_assert_eq(chdir(cfgt_dir), 0);
	struct cfg *c = cfg_load("pglane.conf", &cfgt_errs);
	cr_assert_not_null(c, "%s", cfgt_errors());
	cr_expect_str_eq(c->server_tls.ca, rpath("root.crt"));
	cr_expect_str_eq(c->server_tls.cert, rpath("client.crt"));
	cr_expect_str_eq(c->server_tls.key, rpath("./client.key"));
	cr_expect_str_eq(db_named(c, "a")->sslrootcert, rpath("other.crt"));
	cr_expect_str_eq(db_named(c, "b")->sslrootcert, rpath("root.crt"));
	cr_expect_eq(c->server_tls.ca[0], '/');
	cfg_free(c);
}

CTEST(tls_every_sslmode_loads)
{
	write_certs();
	static const struct {
		const char *name;
		enum cfg_sslmode mode;
	} t[] = {{"disable", CFG_SSL_DISABLE},
	         {"prefer", CFG_SSL_PREFER},
	         {"require", CFG_SSL_REQUIRE},
	         {"verify-ca", CFG_SSL_VERIFY_CA},
	         {"verify-full", CFG_SSL_VERIFY_FULL}};
	char text[256];
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		snprintf(text, sizeof(text),
		         "server_tls = { sslmode = \"%s\"; ca = \"root.crt\"; };\n"
		         "databases = ( { name = \"a\"; sslmode = \"%s\"; } );\n",
		         t[i].name, t[i].name);
		struct cfg *c = cfgt_load(text);
		cr_assert_not_null(c, "%s: %s", t[i].name, cfgt_errors());
		cr_expect_eq(c->server_tls.sslmode, t[i].mode, "%s", t[i].name);
		cr_expect_eq(c->databases[0].sslmode, t[i].mode, "%s", t[i].name);
		cfg_free(c);
	}
}

/* verify-* in server_tls without a CA is fine when no database takes both from it. */
CTEST(tls_verify_without_server_ca_when_no_database_needs_it)
{
	write_certs();
	const char *texts[] = {
	        "server_tls = { sslmode = \"verify-full\"; };\n"
	        "databases = ( { name = \"a\"; sslrootcert = \"root.crt\"; },\n"
	        "  { name = \"b\"; sslrootcert = \"other.crt\"; } );\n",
	        "server_tls = { sslmode = \"verify-ca\"; };\n"
	        "databases = ( { name = \"a\"; sslmode = \"require\"; },\n"
	        "  { name = \"b\"; sslmode = \"verify-full\"; sslrootcert = \"root.crt\"; } );\n",
	        "server_tls = { ca = \"root.crt\"; };\n"
	        "databases = ( { name = \"a\"; sslmode = \"verify-full\"; } );\n",
	};
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		struct cfg *c = cfgt_load(texts[i]);
		cr_expect_not_null(c, "case %zu: %s", i, cfgt_errors());
		cfg_free(c);
	}
}

CTEST(tls_print_reloads_equal)
{
	write_certs();
	struct cfg *a =
	        cfgt_load("server_tls = { sslmode = \"verify-full\"; ca = \"root.crt\";\n"
	                  "  cert = \"client.crt\"; key = \"client.key\"; };\n"
	                  "databases = ( { name = \"a\"; },\n"
	                  "  { name = \"b\"; sslmode = \"disable\"; sslrootcert = \"\"; },\n"
	                  "  { name = \"c\"; sslmode = \"verify-ca\"; sslrootcert = "
	                  "\"other.crt\"; } );\n");
	cr_assert_not_null(a, "%s", cfgt_errors());
	char *out = cfgt_print(a);
	char want[PATH_MAX + 64];
	snprintf(want, sizeof(want),
	         "server_tls = {\n\tsslmode = \"verify-full\";\n\tca = \"%s\";\n",
	         rpath("root.crt"));
	cr_expect_not_null(strstr(out, want), "%s", out);
	snprintf(want, sizeof(want),
	         "\tcert = \"%s\";\n\tkey = \"%s\";\n\tprotocols = \"secure\";\n"
	         "\tciphers = \"default\";\n};\n",
	         rpath("client.crt"), rpath("client.key"));
	cr_expect_not_null(strstr(out, want), "%s", out);
	cr_expect_not_null(strstr(out, "\t\tsslmode = \"disable\";\n\t\tsslrootcert = \"\";\n"),
	                   "%s", out);

	/* loaded from elsewhere: the printed paths are absolute */
	char *sub = strdup(cfgt_path("sub"));
	cr_assert_eq(mkdir(sub, 0700), 0);
	char copy[PATH_MAX];
	snprintf(copy, sizeof(copy), "%s/printed.conf", sub);
	FILE *f = fopen(copy, "w");
	cr_assert_not_null(f);
	fputs(out, f);
	fclose(f);
	struct cfg_errors errs2;
	struct cfg *b = cfg_load(copy, &errs2);
	cr_assert_not_null(b, "%s\n%s", errs2.n ? errs2.msg[0] : "", out);
	cr_expect_eq(b->server_tls.sslmode, a->server_tls.sslmode);
	cr_expect_str_eq(b->server_tls.ca, a->server_tls.ca);
	cr_expect_str_eq(b->server_tls.cert, a->server_tls.cert);
	cr_expect_str_eq(b->server_tls.key, a->server_tls.key);
	cr_assert_eq(b->ndatabases, 3);
	for (size_t i = 0; i < a->ndatabases; i++) {
		cr_expect_str_eq(b->databases[i].name, a->databases[i].name);
		cr_expect_eq(b->databases[i].sslmode, a->databases[i].sslmode, "%zu", i);
		cr_expect_str_eq(b->databases[i].sslrootcert, a->databases[i].sslrootcert, "%zu",
		                 i);
	}
	char *out2 = cfgt_print(b);
	cr_expect_str_eq(strchr(out, '\n'), strchr(out2, '\n'), "printing is a fixed point");
	free(out);
	free(out2);
	free(sub);
	cfg_free(a);
	cfg_free(b);
}
