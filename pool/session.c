/* pool/session.c — interned settings sets, pins, the apply and capture SQL, and a client's
 * session model (see pool/session.h). */
#include "pool/session.h"
#include "pool/owner.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SET_BUCKETS 256

struct pair {
	const struct pool_str *name;  /* owned reference, lower case */
	const struct pool_str *value; /* owned reference */
};

struct pool_settings {
	struct pool_settings *next; /* hash chain */
	uint32_t refs;
	uint32_t hash;
	size_t n;
	struct pair p[]; /* sorted by name */
};

/* Interned settings sets (equal sets are equal pointers) and the pins counted since start.
 * Owner today: the process's one event loop. Under worker threads: one per worker (plain
 * reference counts; a server handed to another worker takes its settings along as text,
 * interned there again); the console and /metrics sum every worker's pins_total. */
static struct settings_registry {
	struct pool_settings *set_buckets[SET_BUCKETS]; /* owned: hash chains */
	size_t sets_alive;
	uint64_t pins_total[POOL_PIN_KINDS];
} set_regs[POOL_MAX_WORKERS];
#define sets (set_regs[pool_worker])

/* ---- interned sets ---- */

static uint32_t hash_pairs(const struct pair *p, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++) {
		h = (h ^ (uint64_t)(uintptr_t)p[i].name) * 1099511628211ull;
		h = (h ^ (uint64_t)(uintptr_t)p[i].value) * 1099511628211ull;
	}
	return (uint32_t)(h ^ (h >> 32));
}

static void put_pairs(struct pair *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		pool_str_put(p[i].name);
		pool_str_put(p[i].value);
	}
}

/* The interned set of `p` (n sorted pairs whose references it takes over); NULL for n == 0.
 * *ok false when out of memory (the references are dropped then). */
static const struct pool_settings *intern(struct pair *p, size_t n, bool *ok)
{
	*ok = true;
	if (n == 0)
		return NULL;
	uint32_t h = hash_pairs(p, n);
	struct pool_settings **slot = &sets.set_buckets[h % SET_BUCKETS];
	for (struct pool_settings *s = *slot; s; s = s->next) {
		if (s->hash == h && s->n == n && memcmp(s->p, p, n * sizeof(*p)) == 0) {
			s->refs++;
			put_pairs(p, n);
			return s;
		}
	}
	struct pool_settings *s = malloc(sizeof(*s) + n * sizeof(*p));
	if (!s) {
		put_pairs(p, n);
		*ok = false;
		return NULL;
	}
	s->refs = 1;
	s->hash = h;
	s->n = n;
	memcpy(s->p, p, n * sizeof(*p));
	s->next = *slot;
	*slot = s;
	sets.sets_alive++;
	return s;
}

const struct pool_settings *pool_settings_ref(const struct pool_settings *cs)
{
	if (cs)
		((struct pool_settings *)cs)->refs++;
	return cs;
}

void pool_settings_put(const struct pool_settings *cs)
{
	struct pool_settings *s = (struct pool_settings *)cs;
	if (!s || --s->refs > 0)
		return;
	struct pool_settings **slot = &sets.set_buckets[s->hash % SET_BUCKETS];
	while (*slot != s)
		slot = &(*slot)->next;
	*slot = s->next;
	put_pairs(s->p, s->n);
	free(s);
	sets.sets_alive--;
}

void pool_settings_assign(const struct pool_settings **dst, const struct pool_settings *src)
{
	if (*dst == src)
		return;
	pool_settings_ref(src);
	pool_settings_put(*dst);
	*dst = src;
}

size_t pool_settings_count(const struct pool_settings *s)
{
	return s ? s->n : 0;
}

const char *pool_settings_name(const struct pool_settings *s, size_t i)
{
	return s->p[i].name->s;
}

const char *pool_settings_value(const struct pool_settings *s, size_t i)
{
	return s->p[i].value->s;
}

size_t pool_settings_alive(void)
{
	return sets.sets_alive;
}

/* Index of `name` in `s`, or where it would go (*found false). */
static size_t find(const struct pool_settings *s, const char *name, bool *found)
{
	size_t lo = 0, hi = pool_settings_count(s);
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(s->p[mid].name->s, name);
		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

const char *pool_settings_get(const struct pool_settings *s, const char *name)
{
	bool found;
	size_t i = find(s, name, &found);
	return found ? s->p[i].value->s : NULL;
}

static const struct pool_str *str_ref(const struct pool_str *v)
{
	return pool_str_get(v->s, v->len); /* interned: the same pointer, one more reference */
}

bool pool_settings_set(const struct pool_settings **sp, const char *name, const char *value)
{
	const struct pool_settings *s = *sp;
	char lname[PROTO_SQL_SETTING_LEN];
	size_t len = strlen(name);
	if (len >= sizeof(lname))
		len = sizeof(lname) - 1;
	for (size_t i = 0; i < len; i++)
		lname[i] = name[i] >= 'A' && name[i] <= 'Z' ? (char)(name[i] + 32) : name[i];
	lname[len] = '\0';
	bool found;
	size_t at = find(s, lname, &found);
	if (!found && !value)
		return true;
	if (found && value && strcmp(s->p[at].value->s, value) == 0)
		return true;
	size_t n = pool_settings_count(s);
	struct pair *p = malloc((n + 1) * sizeof(*p));
	if (!p)
		return false;
	size_t k = 0;
	bool ok = true;
	for (size_t i = 0; i <= n; i++) {
		if (i == at && value) {
			p[k].name = pool_str_get(lname, len);
			p[k].value = pool_str_get(value, strlen(value));
			ok = ok && p[k].name && p[k].value;
			k++;
		}
		if (i == n)
			break;
		if (i == at && found)
			continue; /* replaced or removed */
		p[k].name = str_ref(s->p[i].name);
		p[k].value = str_ref(s->p[i].value);
		ok = ok && p[k].name && p[k].value;
		k++;
	}
	if (!ok) {
		put_pairs(p, k);
		free(p);
		return false;
	}
	const struct pool_settings *r = intern(p, k, &ok);
	free(p);
	if (!ok)
		return false;
	pool_settings_put(s);
	*sp = r;
	return true;
}

/* ---- SQL text ---- */

struct sqlbuf {
	char *out;
	size_t cap, len;
	bool failed;
};

static void put_str(struct sqlbuf *b, const char *s)
{
	size_t n = strlen(s);
	if (b->failed || b->len + n >= b->cap) {
		b->failed = true;
		return;
	}
	memcpy(b->out + b->len, s, n);
	b->len += n;
}

/* An escape-string literal E'...' of `s` (quotes and backslashes doubled), or NULL. */
static void put_literal(struct sqlbuf *b, const char *s)
{
	if (!s) {
		put_str(b, "NULL");
		return;
	}
	put_str(b, "E'");
	for (; *s && !b->failed; s++) {
		char c[3] = {*s, 0, 0};
		if (*s == '\'' || *s == '\\')
			c[1] = *s;
		put_str(b, c);
	}
	put_str(b, "'");
}

static size_t finish(struct sqlbuf *b)
{
	if (b->failed || b->len >= b->cap)
		return (size_t)-1;
	b->out[b->len] = '\0';
	return b->len;
}

static void put_set_config(struct sqlbuf *b, bool *first, const char *name, const char *value)
{
	put_str(b, *first ? "SELECT " : ", ");
	*first = false;
	put_str(b, "pg_catalog.set_config(");
	put_literal(b, name);
	put_str(b, ", ");
	put_literal(b, value);
	put_str(b, ", false)");
}

static bool differs(const struct pool_settings *want, const struct pool_settings *have,
                    const char *name)
{
	const char *w = pool_settings_get(want, name), *h = pool_settings_get(have, name);
	return w != h && (!w || !h || strcmp(w, h) != 0);
}

/* `have` as RESET ALL leaves it: only role and session_authorization. False when out of
 * memory. */
static bool after_reset_all(const struct pool_settings *have, const struct pool_settings **out)
{
	*out = NULL;
	const char *keep[] = {"role", "session_authorization"};
	for (size_t i = 0; i < 2; i++) {
		const char *v = pool_settings_get(have, keep[i]);
		if (v && !pool_settings_set(out, keep[i], v)) {
			pool_settings_put(*out);
			return false;
		}
	}
	return true;
}

static size_t apply_sql(const struct pool_settings *want, const struct pool_settings *have,
                        struct sqlbuf *b);

size_t pool_settings_apply_sql(const struct pool_settings *want, const struct pool_settings *have,
                               bool reset_all, char *out, size_t cap)
{
	struct sqlbuf b = {.out = out, .cap = cap};
	if (!reset_all)
		return apply_sql(want, have, &b);
	const struct pool_settings *kept;
	if (!after_reset_all(have, &kept))
		return (size_t)-1;
	put_str(&b, "RESET ALL; ");
	size_t n = apply_sql(want, kept, &b);
	pool_settings_put(kept);
	if (n == 0) /* nothing after it: the RESET ALL alone */
		return finish(&b);
	return n;
}

static size_t apply_sql(const struct pool_settings *want, const struct pool_settings *have,
                        struct sqlbuf *b0)
{
	struct sqlbuf b = *b0;
	size_t start = b.len;
	if (want == have) {
		if (b.cap > b.len)
			b.out[b.len] = '\0';
		return b.cap > b.len ? 0 : (size_t)-1;
	}
	bool first = true;
	bool sa = differs(want, have, "session_authorization");
	bool role = sa || differs(want, have, "role");
	/* back to the login user first: settings a role may not change come before it */
	if (sa && pool_settings_get(have, "session_authorization"))
		put_set_config(&b, &first, "session_authorization", NULL);
	if (role && pool_settings_get(have, "role"))
		put_set_config(&b, &first, "role", NULL);
	/* the other names in both sets, in name order (both sorted) */
	size_t i = 0, j = 0, nw = pool_settings_count(want), nh = pool_settings_count(have);
	while (i < nw || j < nh) {
		int c = i == nw ? 1 : j == nh ? -1 : strcmp(want->p[i].name->s, have->p[j].name->s);
		const char *name = c <= 0 ? want->p[i].name->s : have->p[j].name->s;
		const char *wv = c <= 0 ? want->p[i].value->s : NULL;
		const char *hv = c >= 0 ? have->p[j].value->s : NULL;
		if (c <= 0)
			i++;
		if (c >= 0)
			j++;
		if (strcmp(name, "role") == 0 || strcmp(name, "session_authorization") == 0)
			continue;
		if (wv && hv && strcmp(wv, hv) == 0)
			continue;
		if (hv) /* a partial value (DateStyle) must land on the default */
			put_set_config(&b, &first, name, NULL);
		if (wv)
			put_set_config(&b, &first, name, wv);
	}
	if (sa && pool_settings_get(want, "session_authorization"))
		put_set_config(&b, &first, "session_authorization",
		               pool_settings_get(want, "session_authorization"));
	if (role && pool_settings_get(want, "role"))
		put_set_config(&b, &first, "role", pool_settings_get(want, "role"));
	if (first) { /* equal contents */
		if (b.cap > start)
			b.out[start] = '\0';
		return b.cap > start ? 0 : (size_t)-1;
	}
	*b0 = b;
	return finish(&b);
}

/* ---- pins ---- */

static const char *const pin_names[POOL_PIN_KINDS] = {
        "advisory_lock", "temp_object", "held_cursor", "prepared_statement", "listen", "load",
};

/* What each pin's check asks the backend (LOAD has none). */
static const char *const pin_queries[POOL_PIN_KINDS] = {
        "SELECT FROM pg_catalog.pg_locks WHERE locktype OPERATOR(pg_catalog.=) 'advisory' AND "
        "pid OPERATOR(pg_catalog.=) pg_catalog.pg_backend_pid()",
        "SELECT FROM pg_catalog.pg_class WHERE relnamespace OPERATOR(pg_catalog.=) "
        "pg_catalog.pg_my_temp_schema()",
        "SELECT FROM pg_catalog.pg_cursors WHERE is_holdable",
        "SELECT FROM pg_catalog.pg_prepared_statements WHERE from_sql",
        "SELECT FROM pg_catalog.pg_listening_channels()",
        NULL,
};

const char *pool_pin_name(int i)
{
	return i >= 0 && i < POOL_PIN_KINDS ? pin_names[i] : "?";
}

void pool_pin_names(unsigned pins, char *out, size_t cap)
{
	struct sqlbuf b = {.out = out, .cap = cap};
	for (int i = 0; i < POOL_PIN_KINDS; i++) {
		if (!(pins & (1u << i)))
			continue;
		if (b.len)
			put_str(&b, ",");
		put_str(&b, pin_names[i]);
	}
	if (finish(&b) == (size_t)-1 && cap)
		out[0] = '\0';
}

unsigned pool_pin_from_effects(unsigned e)
{
	unsigned p = 0;
	if (e & PROTO_SQL_LOCK)
		p |= POOL_PIN_LOCK;
	if (e & PROTO_SQL_TEMP)
		p |= POOL_PIN_TEMP;
	if (e & PROTO_SQL_HOLD)
		p |= POOL_PIN_HOLD;
	if (e & PROTO_SQL_PREPARE)
		p |= POOL_PIN_PREPARE;
	if (e & PROTO_SQL_LISTEN)
		p |= POOL_PIN_LISTEN;
	if (e & PROTO_SQL_LOAD)
		p |= POOL_PIN_LOAD;
	if (e & PROTO_SQL_PINS_ANY)
		p |= POOL_PIN_LOCK | POOL_PIN_TEMP | POOL_PIN_HOLD | POOL_PIN_PREPARE |
		     POOL_PIN_LISTEN;
	return p;
}

void pool_pins_total_gather(unsigned n)
{
	for (int i = 0; i < POOL_PIN_KINDS; i++) {
		uint64_t t = 0;
		for (unsigned w = 0; w < n; w++)
			t += set_regs[w].pins_total[i];
		sets.pins_total[i] = t;
	}
}

uint64_t pool_pins_total(int i)
{
	return i >= 0 && i < POOL_PIN_KINDS ? sets.pins_total[i] : 0;
}

void pool_pins_count(unsigned new_pins)
{
	for (int i = 0; i < POOL_PIN_KINDS; i++)
		if (new_pins & (1u << i))
			sets.pins_total[i]++;
}

/* ---- dirty ---- */

void pool_dirty_add_effects(struct pool_dirty *d, unsigned effects)
{
	d->effects |= effects;
}

void pool_dirty_add(struct pool_dirty *d, const struct proto_sql_info *info)
{
	d->effects |= info->effects & ~PROTO_SQL_SETS;
	for (unsigned i = 0; i < info->nsettings; i++) {
		bool have = false;
		for (unsigned k = 0; k < d->nnames && !have; k++)
			have = strcmp(d->names[k], info->settings[i]) == 0;
		if (have)
			continue;
		if (d->nnames == POOL_DIRTY_NAMES) {
			d->effects |= PROTO_SQL_SETS_ANY;
			continue;
		}
		memcpy(d->names[d->nnames++], info->settings[i], PROTO_SQL_SETTING_LEN);
		d->effects |= PROTO_SQL_SETS;
	}
}

unsigned pool_capture_checks(const struct pool_dirty *d, unsigned pinned, bool pin_checks)
{
	if (!pin_checks)
		return 0;
	unsigned c = pool_pin_from_effects(d->effects);
	if (d->effects & PROTO_SQL_UNPIN)
		c |= pinned;
	return c & ~(unsigned)POOL_PIN_LOAD;
}

bool pool_dirty_pending(const struct pool_dirty *d, unsigned pinned, bool pin_checks)
{
	if (d->effects & (PROTO_SQL_SETS | PROTO_SQL_SETS_ANY))
		return true;
	return pin_checks &&
	       ((d->effects & PROTO_SQL_LOAD) || pool_capture_checks(d, pinned, pin_checks) != 0);
}

void pool_dirty_clear(struct pool_dirty *d)
{
	d->effects = 0;
	d->nnames = 0;
}

/* ---- capture ---- */

static void put_union(struct sqlbuf *b, bool *first)
{
	if (!*first)
		put_str(b, " UNION ALL ");
	*first = false;
}

static void put_named(struct sqlbuf *b, bool *first, const char *name)
{
	put_union(b, first);
	put_str(b, "SELECT 's', ");
	put_literal(b, name);
	put_str(b, ", pg_catalog.current_setting(");
	put_literal(b, name);
	put_str(b, ", true)");
}

size_t pool_capture_sql(const struct pool_dirty *d, const struct pool_settings *before,
                        unsigned checks, char *out, size_t cap)
{
	struct sqlbuf b = {.out = out, .cap = cap};
	bool first = true;
	if (d->effects & PROTO_SQL_SETS_ANY) {
		put_union(&b, &first);
		put_str(&b, "SELECT 's', name, pg_catalog.current_setting(name) FROM "
		            "pg_catalog.pg_settings WHERE source OPERATOR(pg_catalog.=) 'session'"
		            " UNION ALL SELECT 's', 'role', pg_catalog.current_setting('role')"
		            " UNION ALL SELECT 's', 'session_authorization', "
		            "pg_catalog.current_setting('session_authorization')");
		/* placeholders are in no list: by name, those pglane knows of */
		for (size_t i = 0; i < pool_settings_count(before); i++)
			if (strchr(pool_settings_name(before, i), '.'))
				put_named(&b, &first, pool_settings_name(before, i));
		for (unsigned i = 0; i < d->nnames; i++)
			if (strchr(d->names[i], '.') && !pool_settings_get(before, d->names[i]))
				put_named(&b, &first, d->names[i]);
	} else {
		for (unsigned i = 0; i < d->nnames; i++)
			put_named(&b, &first, d->names[i]);
	}
	for (int i = 0; i < POOL_PIN_KINDS; i++) {
		if (!(checks & (1u << i)) || !pin_queries[i])
			continue;
		put_union(&b, &first);
		put_str(&b, "SELECT 'p', '");
		put_str(&b, pin_names[i]);
		put_str(&b, "', NULL WHERE EXISTS (");
		put_str(&b, pin_queries[i]);
		put_str(&b, ")");
	}
	if (first) {
		if (cap)
			out[0] = '\0';
		return cap ? 0 : (size_t)-1;
	}
	return finish(&b);
}

void pool_capture_begin(struct pool_capture *cap, const struct pool_dirty *d, unsigned checks,
                        const struct pool_settings *before)
{
	cap->full = (d->effects & PROTO_SQL_SETS_ANY) != 0;
	cap->unnamed = (d->effects & PROTO_SQL_SETS_UNNAMED) != 0;
	cap->settings = cap->full ? NULL : pool_settings_ref(before);
	cap->checks = checks;
	cap->pins = (d->effects & PROTO_SQL_LOAD) ? POOL_PIN_LOAD : 0;
	cap->failed = false;
}

void pool_capture_row(struct pool_capture *cap, const char *kind, const char *name,
                      const char *value, const char *login_user)
{
	if (!kind || !name || cap->failed)
		return;
	if (strcmp(kind, "p") == 0) {
		for (int i = 0; i < POOL_PIN_KINDS; i++)
			if (strcmp(name, pin_names[i]) == 0)
				cap->pins |= 1u << i;
		return;
	}
	if (strcmp(kind, "s") != 0 || !name[0] || strlen(name) >= PROTO_SQL_SETTING_LEN) {
		cap->failed = true;
		return;
	}
	/* per transaction, never a session setting to carry */
	if (strncmp(name, "transaction_", 12) == 0)
		return;
	if (value && strcmp(name, "role") == 0 && strcmp(value, "none") == 0)
		value = NULL;
	/* a placeholder reset reads '' where a fresh session has none */
	if (value && !value[0] && strchr(name, '.'))
		value = NULL;
	if (value && strcmp(name, "session_authorization") == 0 && login_user &&
	    strcmp(value, login_user) == 0)
		value = NULL;
	if (!pool_settings_set(&cap->settings, name, value))
		cap->failed = true;
}

void pool_capture_discard(struct pool_capture *cap)
{
	pool_settings_put(cap->settings);
	cap->settings = NULL;
}

/* ---- a client's session ---- */

void pool_session_init(struct pool_session *s)
{
	memset(s, 0, sizeof(*s));
}

void pool_session_free(struct pool_session *s)
{
	pool_settings_put(s->startup);
	pool_settings_put(s->current);
	memset(s, 0, sizeof(*s));
}

bool pool_session_startup(struct pool_session *s, const char *name, const char *value)
{
	if (!pool_settings_set(&s->startup, name, value))
		return false;
	pool_settings_assign(&s->current, s->startup);
	return true;
}

unsigned pool_session_captured(struct pool_session *s, const struct pool_capture *cap, bool *ok)
{
	*ok = true;
	const struct pool_settings *cur = pool_settings_ref(cap->settings);
	if (cap->full) {
		for (size_t i = 0; i < pool_settings_count(s->startup) && *ok; i++) {
			const char *name = pool_settings_name(s->startup, i);
			if (!pool_settings_get(cur, name))
				*ok = pool_settings_set(&cur, name,
				                        pool_settings_value(s->startup, i));
		}
	}
	if (!*ok) {
		pool_settings_put(cur);
		return 0;
	}
	pool_settings_put(s->current);
	s->current = cur;
	unsigned before = s->pins;
	s->pins = (s->pins & ~cap->checks) | cap->pins;
	return s->pins & ~before;
}

void pool_session_discard_all(struct pool_session *s)
{
	pool_settings_assign(&s->current, s->startup);
	s->pins = 0;
}
