/* config/log.h — logging to stderr as text or one JSON object per line.
 * The level is checked before anything is formatted; callers never pass passwords. */
#ifndef PGLANE_CONFIG_LOG_H
#define PGLANE_CONFIG_LOG_H

#include <stdbool.h>

#include "config/cfg.h"

/* Set format and level (may be called again on reload). */
void cfg_log_setup(enum cfg_log_format format, enum cfg_log_level level);
bool cfg_log_enabled(enum cfg_log_level level);
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
