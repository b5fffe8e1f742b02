/* tests/unit/config_fixture.h — what the config tests share: a mkdtemp directory per test,
 * writing files into it, loading a config text, and finding an expected error message. */
#ifndef PGLANE_TESTS_CONFIG_FIXTURE_H
#define PGLANE_TESTS_CONFIG_FIXTURE_H

#include <stdbool.h>

#include "config/cfg.h"

extern char cfgt_dir[256];  /* the temp directory, as made */
extern char cfgt_rdir[256]; /* the same, resolved (what cfg stores for relative paths) */
extern char cfgt_conf[300]; /* cfgt_dir/pglane.conf */
extern struct cfg_errors cfgt_errs;

void cfgt_setup(void);
void cfgt_teardown(void);
#define CTEST(name) Test(config, name, .init = cfgt_setup, .fini = cfgt_teardown)

/* cfgt_dir/name (one of four rotating buffers). */
const char *cfgt_path(const char *name);
/* Write `text` to cfgt_dir/name; its path. */
const char *cfgt_write(const char *name, const char *text);
/* Write `text` to cfgt_conf and load it, errors into cfgt_errs. */
struct cfg *cfgt_load(const char *text);
/* What cfg_print() writes for `c`, malloc'd. */
char *cfgt_print(const struct cfg *c);
/* Every error in cfgt_errs, one per line (for failure messages). */
char *cfgt_errors(void);
/* Is "CONF:<want>" one of the errors? "{dir}" in `want` stands for cfgt_rdir. */
bool cfgt_has_error(const char *want);

#endif
