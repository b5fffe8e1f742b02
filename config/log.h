/* config/log.h — logging as text or one JSON object per line, to stderr and also to
 * log.file and syslog when set.
 * The level is checked before anything is formatted; callers never pass passwords. */
#ifndef PGLANE_CONFIG_LOG_H
#define PGLANE_CONFIG_LOG_H

#include <stdbool.h>
#include <stddef.h>

#include "config/cfg.h"

/* Set format and level (may be called again on reload). */
void cfg_log_setup(enum cfg_log_format format, enum cfg_log_level level);
bool cfg_log_enabled(enum cfg_log_level level);
/* Apply a config's log section: format, level, switches; (re)open log.file for append (the
 * old file is closed only once the new one is open, so logrotate's move works with a
 * reload) and open syslog(3) when log.syslog. False with `err` when the file cannot be
 * opened (the old one, if any, stays in use). */
__attribute__((warn_unused_result)) bool cfg_log_configure(const struct cfg *cfg, char *err,
                                                           size_t cap);
/* Close log.file and syslog (at exit). */
void cfg_log_close(void);
/* log.connections, log.disconnections, log.pooler_errors (PgBouncer's log_* switches). */
struct cfg_log_switches {
	bool connections;    /* "login ok" lines */
	bool disconnections; /* "closing" lines */
	bool pooler_errors;  /* errors pglane itself sends to clients */
};
extern struct cfg_log_switches cfg_log_switch;
/* The current level, for the macros below (checked before any formatting). */
extern enum cfg_log_level cfg_log_threshold;
/* One log line; `conn` (may be NULL) names the connection and what it was doing. */
void cfg_log_write(enum cfg_log_level level, const char *conn, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* A structured event: `event` plus `n` fields, each a string or a number. In text format
 * it is written as `event key=value ...`, in JSON as one object with every field. */
struct cfg_log_field {
	const char *key;
	const char *str; /* used when !is_num */
	double num;
	bool is_num;
};
void cfg_log_event(enum cfg_log_level level, const char *event, const struct cfg_log_field *f,
                   int n);

#define LOG_AT(lvl, conn, ...)                                                                     \
	do {                                                                                       \
		if ((lvl) <= cfg_log_threshold)                                                    \
			cfg_log_write(lvl, conn, __VA_ARGS__);                                     \
	} while (0)
#define log_error(...)   LOG_AT(CFG_LOG_ERROR, NULL, __VA_ARGS__)
#define log_warning(...) LOG_AT(CFG_LOG_WARNING, NULL, __VA_ARGS__)
#define log_info(...)    LOG_AT(CFG_LOG_INFO, NULL, __VA_ARGS__)
#define log_debug(...)   LOG_AT(CFG_LOG_DEBUG, NULL, __VA_ARGS__)

#endif
