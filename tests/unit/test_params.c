/* tests/unit/test_params.c — pool/params: interned values, the tracked names (standard and
 * configured), parameter sets, DateStyle as PostgreSQL reports a partial one. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "pool/params.h"

static const char *const standard[] = {
        "client_encoding",
        "DateStyle",
        "IntervalStyle",
        "TimeZone",
        "standard_conforming_strings",
        "application_name",
        "extra_float_digits",
};
#define NSTD ((int)(sizeof(standard) / sizeof(standard[0])))

/* Every test starts from the standard names alone. */
static void standard_only(void)
{
	cr_assert(pool_params_configure(NULL, 0));
	cr_assert_eq(pool_params_count(), NSTD);
}

/* No reference to the interned `s` is left: a fresh get creates it anew. */
static void assert_no_refs(const char *s)
{
	const struct pool_str *v = pool_str_get(s, strlen(s));
	cr_assert_not_null(v);
	cr_assert_eq(v->refs, 1, "\"%s\" still referenced %u times", s, v->refs - 1);
	pool_str_put(v);
}

/* ---- interning ---- */

Test(params, intern_pointer_equality)
{
	const struct pool_str *a = pool_str_get("UTF8", 4);
	const struct pool_str *b = pool_str_get("UTF8", 4);
	char buf[] = "UTF8xyz";
	const struct pool_str *c = pool_str_get(buf, 4); /* not NUL-terminated at 4 */
	const struct pool_str *d = pool_str_get("UTF-8", 5);
	const struct pool_str *e = pool_str_get("utf8", 4);
	const struct pool_str *f = pool_str_get("UTF8", 3);
	cr_assert(a && b && c && d && e && f);
	cr_assert_eq(a, b);
	cr_assert_eq(a, c);
	cr_assert_neq(a, d);
	cr_assert_neq(a, e, "values are case-sensitive");
	cr_assert_neq(a, f);
	cr_assert_str_eq(a->s, "UTF8");
	cr_assert_eq(a->len, 4);
	cr_assert_str_eq(f->s, "UTF", "NUL-terminated copy of len bytes");
	cr_assert_eq(a->refs, 3);
	pool_str_put(a);
	pool_str_put(b);
	cr_assert_eq(c->refs, 1);
	pool_str_put(c);
	pool_str_put(d);
	pool_str_put(e);
	pool_str_put(f);
	pool_str_put(NULL);
	assert_no_refs("UTF8");

	const struct pool_str *empty = pool_str_get("", 0);
	cr_assert_not_null(empty);
	cr_assert_str_eq(empty->s, "");
	cr_assert_eq(pool_str_get("", 0), empty);
	pool_str_put(empty);
	pool_str_put(empty);
}

Test(params, intern_many)
{
	enum { N = 5000 };
	static const struct pool_str *v[N];
	char s[32];
	for (int i = 0; i < N; i++) {
		snprintf(s, sizeof(s), "value-%d", i);
		v[i] = pool_str_get(s, strlen(s));
		cr_assert_not_null(v[i]);
	}
	for (int i = 0; i < N; i++) {
		snprintf(s, sizeof(s), "value-%d", i);
		const struct pool_str *again = pool_str_get(s, strlen(s));
		cr_assert_eq(again, v[i], "%s", s);
		cr_assert_str_eq(again->s, s);
		pool_str_put(again);
		pool_str_put(v[i]);
	}
	assert_no_refs("value-0");
	assert_no_refs("value-4999");
}

/* ---- names ---- */

Test(params, standard_names)
{
	standard_only();
	for (int i = 0; i < NSTD; i++) {
		int idx = pool_params_index(standard[i]);
		cr_assert_geq(idx, 0, "%s", standard[i]);
		cr_assert_lt(idx, NSTD);
		cr_assert_str_eq(pool_params_name(idx), standard[i]);
	}
	/* distinct indexes */
	for (int i = 0; i < NSTD; i++)
		for (int j = i + 1; j < NSTD; j++)
			cr_assert_neq(pool_params_index(standard[i]),
			              pool_params_index(standard[j]));
}

Test(params, index_case_insensitive)
{
	standard_only();
	int ds = pool_params_index("DateStyle");
	cr_assert_geq(ds, 0);
	cr_assert_eq(pool_params_index("datestyle"), ds);
	cr_assert_eq(pool_params_index("DATESTYLE"), ds);
	cr_assert_eq(pool_params_index("dAtEsTyLe"), ds);
	int tz = pool_params_index("TimeZone");
	cr_assert_eq(pool_params_index("timezone"), tz);
	cr_assert_eq(pool_params_index("CLIENT_ENCODING"), pool_params_index("client_encoding"));
	cr_assert_eq(pool_params_index("Application_Name"), pool_params_index("application_name"));
	/* the stored spelling is the standard one whatever was asked */
	cr_assert_str_eq(pool_params_name(pool_params_index("datestyle")), "DateStyle");

	cr_assert_eq(pool_params_index("search_path"), -1);
	cr_assert_eq(pool_params_index(""), -1);
	cr_assert_eq(pool_params_index("DateStyl"), -1);
	cr_assert_eq(pool_params_index("DateStyle "), -1);
	cr_assert_eq(pool_params_index("client_encodings"), -1);
	cr_assert_eq(pool_params_index("user"), -1);
	cr_assert_eq(pool_params_index("database"), -1);
}

Test(params, configure_extras)
{
	char *extra[] = {"search_path", "DateStyle", "datestyle",        "work_mem",
	                 "WORK_MEM",    "TIMEZONE",  "statement_timeout"};
	cr_assert(pool_params_configure(extra, sizeof(extra) / sizeof(extra[0])));
	cr_assert_eq(pool_params_count(), NSTD + 3, "duplicates ignored");
	int sp = pool_params_index("SEARCH_PATH");
	int wm = pool_params_index("work_mem");
	int st = pool_params_index("Statement_Timeout");
	cr_assert_eq(sp, NSTD);
	cr_assert_eq(wm, NSTD + 1);
	cr_assert_eq(st, NSTD + 2);
	cr_assert_str_eq(pool_params_name(sp), "search_path");
	cr_assert_str_eq(pool_params_name(wm), "work_mem", "the first spelling is kept");
	cr_assert_str_eq(pool_params_name(st), "statement_timeout");
	/* standard names keep their indexes */
	cr_assert_str_eq(pool_params_name(pool_params_index("datestyle")), "DateStyle");
	cr_assert_lt(pool_params_index("datestyle"), NSTD);

	/* configuring again replaces the extras */
	char *other[] = {"lock_timeout"};
	cr_assert(pool_params_configure(other, 1));
	cr_assert_eq(pool_params_count(), NSTD + 1);
	cr_assert_eq(pool_params_index("lock_timeout"), NSTD);
	cr_assert_eq(pool_params_index("search_path"), -1);
	standard_only();
	cr_assert_eq(pool_params_index("lock_timeout"), -1);
}

Test(params, configure_too_many)
{
	char names[POOL_PARAMS_MAX][16];
	char *extra[POOL_PARAMS_MAX];
	size_t room = POOL_PARAMS_MAX - NSTD;
	for (size_t i = 0; i < POOL_PARAMS_MAX; i++) {
		snprintf(names[i], sizeof(names[i]), "custom.p%zu", i);
		extra[i] = names[i];
	}
	/* exactly full */
	cr_assert(pool_params_configure(extra, room));
	cr_assert_eq(pool_params_count(), POOL_PARAMS_MAX);
	/* exactly full plus duplicates: still fine */
	char *dup[POOL_PARAMS_MAX + 2];
	memcpy(dup, extra, room * sizeof(*dup));
	dup[room] = "DateStyle";
	dup[room + 1] = extra[0];
	cr_assert(pool_params_configure(dup, room + 2));
	cr_assert_eq(pool_params_count(), POOL_PARAMS_MAX);
	/* one too many */
	cr_assert_not(pool_params_configure(extra, room + 1));
	cr_assert_eq(pool_params_count(), POOL_PARAMS_MAX, "the ones that fit are kept");
	for (size_t i = 0; i < room; i++)
		cr_assert_eq(pool_params_index(names[i]), NSTD + (int)i, "%s", names[i]);
	cr_assert_eq(pool_params_index(names[room]), -1);
	/* far too many */
	cr_assert_not(pool_params_configure(extra, POOL_PARAMS_MAX));
	cr_assert_eq(pool_params_count(), POOL_PARAMS_MAX);
}

Test(params, configure_name_too_long)
{
	char longname[80];
	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	char fits[64];
	memset(fits, 'f', 63);
	fits[63] = '\0';
	char *extra[] = {longname, "work_mem", fits};
	cr_assert_not(pool_params_configure(extra, 3));
	cr_assert_eq(pool_params_count(), NSTD + 2);
	cr_assert_eq(pool_params_index(longname), -1);
	cr_assert_eq(pool_params_index("work_mem"), NSTD);
	cr_assert_eq(pool_params_index(fits), NSTD + 1);
	cr_assert_str_eq(pool_params_name(NSTD + 1), fits);
	standard_only();
}

/* ---- sets ---- */

Test(params, set_copy_clear)
{
	standard_only();
	int ce = pool_params_index("client_encoding");
	int an = pool_params_index("application_name");
	struct pool_params a, b;
	pool_params_init(&a);
	pool_params_init(&b);
	for (int i = 0; i < POOL_PARAMS_MAX; i++)
		cr_assert_null(a.v[i]);

	pool_params_set(&a, ce, "UTF8");
	pool_params_set(&a, an, "app");
	pool_params_set(&b, ce, "UTF8");
	cr_assert_str_eq(a.v[ce]->s, "UTF8");
	cr_assert_eq(a.v[ce], b.v[ce], "interned: compared by pointer");
	cr_assert_eq(a.v[ce]->refs, 2);

	/* setting the same value again keeps one reference per set */
	pool_params_set(&a, ce, "UTF8");
	cr_assert_eq(a.v[ce]->refs, 2);

	/* replacing drops the old value's reference */
	pool_params_set(&b, ce, "LATIN1");
	cr_assert_str_eq(b.v[ce]->s, "LATIN1");
	cr_assert_eq(a.v[ce]->refs, 1);

	/* unset */
	pool_params_set(&b, ce, NULL);
	cr_assert_null(b.v[ce]);
	assert_no_refs("LATIN1");

	/* copy: same pointers, one more reference each */
	pool_params_set(&b, an, "other");
	pool_params_copy(&b, &a);
	for (int i = 0; i < POOL_PARAMS_MAX; i++)
		cr_assert_eq(b.v[i], a.v[i], "slot %d", i);
	cr_assert_eq(a.v[ce]->refs, 2);
	cr_assert_eq(a.v[an]->refs, 2);
	assert_no_refs("other");
	/* copying onto an equal set changes nothing */
	pool_params_copy(&b, &a);
	cr_assert_eq(a.v[ce]->refs, 2);

	/* the copy outlives the original */
	pool_params_clear(&a);
	for (int i = 0; i < POOL_PARAMS_MAX; i++)
		cr_assert_null(a.v[i]);
	cr_assert_str_eq(b.v[ce]->s, "UTF8");
	cr_assert_str_eq(b.v[an]->s, "app");
	cr_assert_eq(b.v[ce]->refs, 1);

	/* copying an empty set unsets */
	pool_params_copy(&b, &a);
	cr_assert_null(b.v[ce]);
	cr_assert_null(b.v[an]);
	assert_no_refs("UTF8");
	assert_no_refs("app");
	pool_params_clear(&b);
	pool_params_clear(&b); /* twice is harmless */
}

Test(params, repeated_set_and_clear_leave_no_references)
{
	standard_only();
	struct pool_params p, q;
	pool_params_init(&p);
	pool_params_init(&q);
	for (int round = 0; round < 100; round++) {
		for (int i = 0; i < NSTD; i++)
			pool_params_set(&p, i, round % 2 ? "odd" : "even");
		pool_params_copy(&q, &p);
		pool_params_set(&q, 0, "mine");
		pool_params_clear(&p);
	}
	pool_params_clear(&q);
	assert_no_refs("odd");
	assert_no_refs("even");
	assert_no_refs("mine");
}

/* DateStyle as PostgreSQL reports it after a partial SET (pgjdbc sends DateStyle=ISO). */
Test(params, datestyle_merge)
{
	static const char *const cases[][3] = {
	        {"ISO", "ISO, MDY", "ISO, MDY"},
	        {"ISO", "German, DMY", "ISO, DMY"},
	        {"iso", "SQL, YMD", "ISO, YMD"},
	        {"DMY", "ISO, MDY", "ISO, DMY"},
	        {"German", "ISO, MDY", "German, DMY"},
	        {"SQL, DMY", "ISO, MDY", "SQL, DMY"},
	        {"euro", "Postgres, MDY", "Postgres, DMY"},
	        {"US,ISO", "SQL, DMY", "ISO, MDY"},
	        {"ISO", NULL, "ISO, MDY"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char out[64];
		cr_assert(pool_datestyle_merge(cases[i][0], cases[i][1], out, sizeof(out)),
		          "case %zu", i);
		cr_assert_str_eq(out, cases[i][2], "case %zu", i);
	}
	char out[8];
	cr_assert_not(pool_datestyle_merge("bogus", "ISO, MDY", out, sizeof(out)));
	cr_assert_not(pool_datestyle_merge("ISO, SQL", "ISO, MDY", out, sizeof(out)));
	cr_assert_not(pool_datestyle_merge("", "ISO, MDY", out, sizeof(out)));
	cr_assert_not(pool_datestyle_merge("German, DMY", "ISO, MDY", out, 5), "does not fit");
}
