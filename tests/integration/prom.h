/* tests/integration/prom.h — a strict parser of the Prometheus text exposition format 0.0.4,
 * for checking pglane's GET /metrics. What it accepts:
 *   - lines end with '\n', the last one too; empty lines are ignored;
 *   - `# HELP name text` (text escapes: \\ and \n only) and `# TYPE name gauge|counter`, each
 *     at most once per name and before the first sample of that name; other `#` lines are
 *     comments;
 *   - samples `name{label="value",...} number [timestamp]`: names [a-zA-Z_:][a-zA-Z0-9_:]*,
 *     label names [a-zA-Z_][a-zA-Z0-9_]* not starting with "__", values with the escapes \\,
 *     \" and \n only, no label twice, an optional trailing comma; numbers in Go's float
 *     syntax (decimal, exponent, NaN, +Inf, -Inf; no hex), an optional integer timestamp;
 *   - every sample's name was declared by a TYPE line before it; the samples of a name form
 *     one group (no other name's lines in between); no series (name and label set) twice.
 * Anything else is an error naming the line. */
#ifndef PGLANE_TESTS_PROM_H
#define PGLANE_TESTS_PROM_H

#include <stdbool.h>
#include <stddef.h>

#define PROM_NAME_MAX   128
#define PROM_VALUE_MAX  256
#define PROM_MAX_LABELS 8

struct prom_label {
	char name[PROM_NAME_MAX];
	char value[PROM_VALUE_MAX]; /* unescaped */
};

struct prom_sample {
	char name[PROM_NAME_MAX];
	int nlabels;
	struct prom_label labels[PROM_MAX_LABELS];
	double value;
};

struct prom_family {
	char name[PROM_NAME_MAX];
	char type[16]; /* "gauge" or "counter"; "" when only HELP was seen */
	bool help;
	int nsamples;
	bool closed; /* another name's line came after its samples */
};

struct prom {
	struct prom_sample *s; /* owned */
	size_t n, cap;
	struct prom_family *f; /* owned */
	size_t nf, fcap;
};

/* Parse `text`. True when it is valid; otherwise false with the reason (and line number) in
 * `err`. `out` is filled either way and must be freed with prom_free(). */
bool prom_parse(const char *text, struct prom *out, char *err, size_t errn);
void prom_free(struct prom *p);
/* The family named `name`, or NULL. */
const struct prom_family *prom_family(const struct prom *p, const char *name);
/* The sample of `name` whose labels are exactly the `n` name/value pairs in `kv`
 * (kv[2i] = name, kv[2i+1] = value, in any order); NULL when none. */
const struct prom_sample *prom_find(const struct prom *p, const char *name, const char *const *kv,
                                    int n);
/* The value of label `label` of `s`, or NULL. */
const char *prom_label(const struct prom_sample *s, const char *label);

#endif
