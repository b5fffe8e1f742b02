/* tests/integration/prom.c — the strict Prometheus text-format parser (prom.h). */
#include "tests/integration/prom.h"

#include <criterion/criterion.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cursor {
	const char *s; /* the line (not NUL-terminated) */
	size_t len, i;
	int line;
	char *err;
	size_t errn;
};

static bool fail(struct cursor *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static bool fail(struct cursor *c, const char *fmt, ...)
{
	int n = snprintf(c->err, c->errn, "line %d: ", c->line);
	if (n < 0 || (size_t)n >= c->errn)
		return false;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->err + n, c->errn - (size_t)n, fmt, ap);
	va_end(ap);
	size_t at = strlen(c->err);
	snprintf(c->err + at, c->errn - at, " in \"%.*s\"", (int)(c->len > 120 ? 120 : c->len),
	         c->s);
	return false;
}

static bool name_start(char ch, bool metric)
{
	return isalpha((unsigned char)ch) || ch == '_' || (metric && ch == ':');
}

static bool name_char(char ch, bool metric)
{
	return name_start(ch, metric) || isdigit((unsigned char)ch);
}

/* A metric (or label) name at the cursor into `out`. */
static bool read_name(struct cursor *c, char *out, bool metric)
{
	size_t n = 0;
	if (c->i >= c->len || !name_start(c->s[c->i], metric))
		return fail(c, "a %s name was expected at column %zu", metric ? "metric" : "label",
		            c->i + 1);
	while (c->i < c->len && name_char(c->s[c->i], metric)) {
		if (n + 1 >= PROM_NAME_MAX)
			return fail(c, "a name is too long");
		out[n++] = c->s[c->i++];
	}
	out[n] = '\0';
	return true;
}

/* Go's ParseFloat syntax without hex: [+-]digits[.digits][e[+-]digits], or NaN, +Inf, -Inf. */
static bool parse_number(const char *t, size_t n, double *out)
{
	char buf[64];
	if (n == 0 || n >= sizeof buf)
		return false;
	memcpy(buf, t, n);
	buf[n] = '\0';
	if (strcmp(buf, "NaN") == 0 || strcmp(buf, "+Inf") == 0 || strcmp(buf, "-Inf") == 0 ||
	    strcmp(buf, "Inf") == 0) {
		*out = strtod(buf, NULL);
		return true;
	}
	size_t i = 0, digits = 0;
	if (buf[i] == '+' || buf[i] == '-')
		i++;
	while (isdigit((unsigned char)buf[i]))
		i++, digits++;
	if (buf[i] == '.') {
		i++;
		while (isdigit((unsigned char)buf[i]))
			i++, digits++;
	}
	if (!digits)
		return false;
	if (buf[i] == 'e' || buf[i] == 'E') {
		i++;
		if (buf[i] == '+' || buf[i] == '-')
			i++;
		if (!isdigit((unsigned char)buf[i]))
			return false;
		while (isdigit((unsigned char)buf[i]))
			i++;
	}
	if (buf[i])
		return false;
	*out = strtod(buf, NULL);
	return true;
}

static struct prom_family *family_get(struct prom *p, const char *name, bool create)
{
	for (size_t i = 0; i < p->nf; i++)
		if (strcmp(p->f[i].name, name) == 0)
			return &p->f[i];
	if (!create)
		return NULL;
	if (p->nf == p->fcap) {
		p->fcap = p->fcap ? p->fcap * 2 : 16;
		p->f = realloc(p->f, p->fcap * sizeof(*p->f));
		cr_assert(p->f);
	}
	struct prom_family *f = &p->f[p->nf++];
	memset(f, 0, sizeof(*f));
	snprintf(f->name, sizeof f->name, "%s", name);
	return f;
}

/* The family whose lines come now: every other one with samples is closed. */
static void family_touch(struct prom *p, const struct prom_family *f)
{
	for (size_t i = 0; i < p->nf; i++)
		if (&p->f[i] != f && p->f[i].nsamples)
			p->f[i].closed = true;
}

/* `# HELP name text` or `# TYPE name type`; other comments are ignored. */
static bool comment_line(struct prom *p, struct cursor *c)
{
	bool help = c->len >= 7 && strncmp(c->s, "# HELP ", 7) == 0;
	bool type = c->len >= 7 && strncmp(c->s, "# TYPE ", 7) == 0;
	if (!help && !type)
		return true;
	c->i = 7;
	char name[PROM_NAME_MAX];
	if (!read_name(c, name, true))
		return false;
	struct prom_family *f = family_get(p, name, true);
	if (f->nsamples)
		return fail(c, "%s of %s after its samples", help ? "HELP" : "TYPE", name);
	family_touch(p, f);
	if (help) {
		if (f->help)
			return fail(c, "a second HELP for %s", name);
		f->help = true;
		if (c->i == c->len)
			return true; /* no text */
		if (c->s[c->i] != ' ')
			return fail(c, "HELP name not followed by a space");
		for (size_t i = c->i + 1; i < c->len; i++) {
			if (c->s[i] != '\\')
				continue;
			if (i + 1 >= c->len || (c->s[i + 1] != '\\' && c->s[i + 1] != 'n'))
				return fail(c, "bad escape in HELP text");
			i++;
		}
		return true;
	}
	if (f->type[0])
		return fail(c, "a second TYPE for %s", name);
	if (c->i >= c->len || c->s[c->i] != ' ')
		return fail(c, "TYPE without a type");
	const char *t = c->s + c->i + 1;
	size_t tn = c->len - c->i - 1;
	if (!((tn == 5 && strncmp(t, "gauge", 5) == 0) ||
	      (tn == 7 && strncmp(t, "counter", 7) == 0)))
		return fail(c, "TYPE of %s is not gauge or counter", name);
	snprintf(f->type, sizeof f->type, "%.*s", (int)tn, t);
	return true;
}

/* `{label="value",...}` at the cursor into `s`. */
static bool read_labels(struct cursor *c, struct prom_sample *s)
{
	c->i++; /* '{' */
	for (;;) {
		if (c->i >= c->len)
			return fail(c, "labels not closed");
		if (c->s[c->i] == '}') {
			c->i++;
			return true;
		}
		if (s->nlabels == PROM_MAX_LABELS)
			return fail(c, "more than %d labels", PROM_MAX_LABELS);
		struct prom_label *l = &s->labels[s->nlabels];
		if (!read_name(c, l->name, false))
			return false;
		if (strncmp(l->name, "__", 2) == 0)
			return fail(c, "reserved label name %s", l->name);
		for (int k = 0; k < s->nlabels; k++)
			if (strcmp(s->labels[k].name, l->name) == 0)
				return fail(c, "label %s twice", l->name);
		if (c->i + 1 >= c->len || c->s[c->i] != '=' || c->s[c->i + 1] != '"')
			return fail(c, "label %s is not followed by =\"", l->name);
		c->i += 2;
		size_t n = 0;
		for (;;) {
			if (c->i >= c->len)
				return fail(c, "label value not closed");
			char ch = c->s[c->i++];
			if (ch == '"')
				break;
			if (ch == '\\') {
				if (c->i >= c->len)
					return fail(c, "escape at the end of the line");
				char e = c->s[c->i++];
				if (e == 'n')
					ch = '\n';
				else if (e == '\\' || e == '"')
					ch = e;
				else
					return fail(c, "bad escape \\%c in a label value", e);
			}
			if (n + 1 >= PROM_VALUE_MAX)
				return fail(c, "label value too long");
			l->value[n++] = ch;
		}
		l->value[n] = '\0';
		s->nlabels++;
		if (c->i < c->len && c->s[c->i] == ',')
			c->i++;
		else if (c->i >= c->len || c->s[c->i] != '}')
			return fail(c, "expected , or } after label %s", l->name);
	}
}

static int label_cmp(const void *a, const void *b)
{
	return strcmp(((const struct prom_label *)a)->name, ((const struct prom_label *)b)->name);
}

static bool same_series(const struct prom_sample *a, const struct prom_sample *b)
{
	if (strcmp(a->name, b->name) != 0 || a->nlabels != b->nlabels)
		return false;
	struct prom_label x[PROM_MAX_LABELS], y[PROM_MAX_LABELS];
	memcpy(x, a->labels, sizeof(x[0]) * (size_t)a->nlabels);
	memcpy(y, b->labels, sizeof(y[0]) * (size_t)b->nlabels);
	qsort(x, (size_t)a->nlabels, sizeof x[0], label_cmp);
	qsort(y, (size_t)b->nlabels, sizeof y[0], label_cmp);
	for (int i = 0; i < a->nlabels; i++)
		if (strcmp(x[i].name, y[i].name) != 0 || strcmp(x[i].value, y[i].value) != 0)
			return false;
	return true;
}

static bool sample_line(struct prom *p, struct cursor *c)
{
	struct prom_sample s;
	memset(&s, 0, sizeof s);
	c->i = 0;
	if (!read_name(c, s.name, true))
		return false;
	if (c->i < c->len && c->s[c->i] == '{' && !read_labels(c, &s))
		return false;
	size_t blanks = 0;
	while (c->i < c->len && (c->s[c->i] == ' ' || c->s[c->i] == '\t'))
		c->i++, blanks++;
	if (!blanks)
		return fail(c, "no blank before the value");
	size_t v0 = c->i;
	while (c->i < c->len && c->s[c->i] != ' ' && c->s[c->i] != '\t')
		c->i++;
	if (!parse_number(c->s + v0, c->i - v0, &s.value))
		return fail(c, "\"%.*s\" is not a number", (int)(c->i - v0), c->s + v0);
	if (c->i < c->len) {
		while (c->i < c->len && (c->s[c->i] == ' ' || c->s[c->i] == '\t'))
			c->i++;
		size_t t0 = c->i;
		if (c->i < c->len && c->s[c->i] == '-')
			c->i++;
		while (c->i < c->len && isdigit((unsigned char)c->s[c->i]))
			c->i++;
		if (c->i == t0 || c->i < c->len || !isdigit((unsigned char)c->s[c->i - 1]))
			return fail(c, "bad timestamp or text after the value");
	}
	struct prom_family *f = family_get(p, s.name, false);
	if (!f || !f->type[0])
		return fail(c, "sample of %s without a TYPE before it", s.name);
	if (f->closed)
		return fail(c, "samples of %s are not one group", s.name);
	family_touch(p, f);
	for (size_t i = 0; i < p->n; i++)
		if (same_series(&p->s[i], &s))
			return fail(c, "the series is listed twice");
	if (p->n == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 64;
		p->s = realloc(p->s, p->cap * sizeof(*p->s));
		cr_assert(p->s);
	}
	p->s[p->n++] = s;
	f->nsamples++;
	return true;
}

bool prom_parse(const char *text, struct prom *out, char *err, size_t errn)
{
	memset(out, 0, sizeof(*out));
	snprintf(err, errn, "%s", "");
	size_t len = strlen(text);
	if (len == 0 || text[len - 1] != '\n') {
		snprintf(err, errn, "%s", len ? "the last line does not end with \\n" : "empty");
		return false;
	}
	struct cursor c = {.err = err, .errn = errn};
	for (const char *s = text; *s;) {
		const char *nl = strchr(s, '\n');
		c.s = s;
		c.len = (size_t)(nl - s);
		c.i = 0;
		c.line++;
		s = nl + 1;
		if (c.len == 0)
			continue;
		if (memchr(c.s, '\r', c.len) || memchr(c.s, '\0', c.len))
			return fail(&c, "a CR in the line");
		bool ok = c.s[0] == '#' ? comment_line(out, &c) : sample_line(out, &c);
		if (!ok)
			return false;
	}
	return true;
}

void prom_free(struct prom *p)
{
	free(p->s);
	free(p->f);
	memset(p, 0, sizeof(*p));
}

const struct prom_family *prom_family(const struct prom *p, const char *name)
{
	for (size_t i = 0; i < p->nf; i++)
		if (strcmp(p->f[i].name, name) == 0)
			return &p->f[i];
	return NULL;
}

const char *prom_label(const struct prom_sample *s, const char *label)
{
	for (int i = 0; i < s->nlabels; i++)
		if (strcmp(s->labels[i].name, label) == 0)
			return s->labels[i].value;
	return NULL;
}

const struct prom_sample *prom_find(const struct prom *p, const char *name, const char *const *kv,
                                    int n)
{
	for (size_t i = 0; i < p->n; i++) {
		const struct prom_sample *s = &p->s[i];
		if (strcmp(s->name, name) != 0 || s->nlabels != n)
			continue;
		bool all = true;
		for (int k = 0; k < n && all; k++) {
			const char *v = prom_label(s, kv[2 * k]);
			all = v && strcmp(v, kv[2 * k + 1]) == 0;
		}
		if (all)
			return s;
	}
	return NULL;
}
