/* config/log.c — the logger: level filter, text or JSON lines on stderr and, when set, in
 * log.file (opened for append, reopened on reload for logrotate) and to syslog(3); one
 * write(2) per line and output so lines from one process never interleave. Also the
 * log.connections / log.disconnections / log.pooler_errors switches. */
#include "config/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 8192

/* Where log lines go and how they look. Owner today: the process's one event loop (set by
 * main at start and by RELOAD; read by every log line). Under worker threads: process-wide,
 * read-mostly: set before the threads start and by RELOAD only; each line stays one write(2)
 * per output so workers' lines never interleave; a reload swaps the file descriptor and
 * closes the old one only once every worker has passed a turn (as the config is swapped),
 * and the format, level and switches become relaxed atomics (or each worker reads its own
 * config). cfg_log_threshold and cfg_log_switch (below) are the same kind, left extern for
 * config/log.h's macros. */
static struct log_outputs {
	enum cfg_log_format log_format;
	int log_fd;            /* log.file, or -1 */
	bool use_syslog;       /* log.syslog */
	char syslog_ident[64]; /* openlog() keeps the pointer: a copy that stays */
	int syslog_fac;
} logger = {.log_format = CFG_LOG_TEXT, .log_fd = -1, .syslog_fac = LOG_DAEMON};
enum cfg_log_level cfg_log_threshold = CFG_LOG_INFO;
struct cfg_log_switches cfg_log_switch = {true, true, true};

static const char *const level_names[] = {"error", "warning", "info", "debug"};
static const int syslog_prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};

void cfg_log_setup(enum cfg_log_format format, enum cfg_log_level level)
{
	logger.log_format = format;
	cfg_log_threshold = level;
}

bool cfg_log_enabled(enum cfg_log_level level)
{
	return level <= cfg_log_threshold;
}

static size_t put_time(char *buf, size_t cap)
{
	struct timeval tv;
	struct tm tm;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	size_t n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
	int m = snprintf(buf + n, cap - n, ".%03dZ", (int)(tv.tv_usec / 1000));
	return n + (m > 0 ? (size_t)m : 0);
}

/* Append `s` to buf as a JSON string body (no quotes), escaping as needed. */
static size_t put_json_str(char *buf, size_t pos, size_t cap, const char *s)
{
	for (; *s && pos + 7 < cap; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\') {
			buf[pos++] = '\\';
			buf[pos++] = (char)ch;
		} else if (ch < 0x20) {
			pos += (size_t)snprintf(buf + pos, cap - pos, "\\u%04x", ch);
		} else {
			buf[pos++] = (char)ch;
		}
	}
	return pos;
}

static size_t put_raw(char *buf, size_t pos, size_t cap, const char *s)
{
	if (pos + 1 >= cap)
		return pos;
	size_t n = strnlen(s, cap - pos - 1);
	memcpy(buf + pos, s, n);
	return pos + n;
}

/* Write the line to every output; `body` is where it starts without the time stamp (syslog
 * stamps its own). */
static void emit(enum cfg_log_level level, char *buf, size_t pos, size_t cap, size_t body)
{
	if (pos >= cap)
		pos = cap - 1;
	if (logger.use_syslog) {
		buf[pos] = '\0';
		syslog(syslog_prio[level], "%s", buf + (body < pos ? body : pos));
	}
	buf[pos++] = '\n';
	ssize_t r = write(STDERR_FILENO, buf, pos);
	if (logger.log_fd >= 0)
		r = write(logger.log_fd, buf, pos);
	(void)r;
}

static int facility_code(const char *name)
{
	static const struct {
		const char *name;
		int code;
	} tab[] = {{"daemon", LOG_DAEMON}, {"user", LOG_USER},     {"local0", LOG_LOCAL0},
	           {"local1", LOG_LOCAL1}, {"local2", LOG_LOCAL2}, {"local3", LOG_LOCAL3},
	           {"local4", LOG_LOCAL4}, {"local5", LOG_LOCAL5}, {"local6", LOG_LOCAL6},
	           {"local7", LOG_LOCAL7}, {"auth", LOG_AUTH},     {"authpriv", LOG_AUTHPRIV}};
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (name && strcmp(name, tab[i].name) == 0)
			return tab[i].code;
	return LOG_DAEMON;
}

bool cfg_log_configure(const struct cfg *cfg, char *err, size_t cap)
{
	cfg_log_setup(cfg->log.format, cfg->log.level);
	cfg_log_switch.connections = cfg->log.connections;
	cfg_log_switch.disconnections = cfg->log.disconnections;
	cfg_log_switch.pooler_errors = cfg->log.pooler_errors;
	bool ok = true;
	/* the file: open the new one before closing the old, so a failure keeps logging */
	int fd = -1;
	if (cfg->log.file && cfg->log.file[0]) {
		fd = open(cfg->log.file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
		if (fd < 0) {
			snprintf(err, cap, "log.file %s: %s", cfg->log.file, strerror(errno));
			ok = false;
		}
	}
	if (fd >= 0 || !(cfg->log.file && cfg->log.file[0])) {
		if (logger.log_fd >= 0)
			close(logger.log_fd);
		logger.log_fd = fd;
	}
	/* syslog: reopened when ident or facility changed */
	const char *ident = cfg->log.syslog_ident ? cfg->log.syslog_ident : "pglane";
	int fac = facility_code(cfg->log.syslog_facility);
	if (logger.use_syslog && (!cfg->log.syslog || strcmp(ident, logger.syslog_ident) != 0 ||
	                          fac != logger.syslog_fac)) {
		closelog();
		logger.use_syslog = false;
	}
	if (cfg->log.syslog && !logger.use_syslog) {
		snprintf(logger.syslog_ident, sizeof(logger.syslog_ident), "%s", ident);
		logger.syslog_fac = fac;
		openlog(logger.syslog_ident, LOG_PID | LOG_NDELAY, fac);
		logger.use_syslog = true;
	}
	return ok;
}

void cfg_log_close(void)
{
	if (logger.log_fd >= 0)
		close(logger.log_fd);
	logger.log_fd = -1;
	if (logger.use_syslog)
		closelog();
	logger.use_syslog = false;
}

void cfg_log_write(enum cfg_log_level level, const char *conn, const char *fmt, ...)
{
	char msg[LOG_LINE_MAX / 2];
	char line[LOG_LINE_MAX];
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (m < 0)
		return;
	size_t pos = 0, cap = sizeof(line) - 1, body = 0;
	if (logger.log_format == CFG_LOG_JSON) {
		pos = put_raw(line, pos, cap, "{\"ts\":\"");
		pos += put_time(line + pos, cap - pos);
		pos = put_raw(line, pos, cap, "\",\"level\":\"");
		pos = put_raw(line, pos, cap, level_names[level]);
		if (conn) {
			pos = put_raw(line, pos, cap, "\",\"conn\":\"");
			pos = put_json_str(line, pos, cap, conn);
		}
		pos = put_raw(line, pos, cap, "\",\"msg\":\"");
		pos = put_json_str(line, pos, cap, msg);
		pos = put_raw(line, pos, cap, "\"}");
	} else {
		pos += put_time(line, cap);
		pos = put_raw(line, pos, cap, " ");
		body = pos;
		pos = put_raw(line, pos, cap, level_names[level]);
		pos = put_raw(line, pos, cap, ": ");
		if (conn) {
			pos = put_raw(line, pos, cap, conn);
			pos = put_raw(line, pos, cap, ": ");
		}
		pos = put_raw(line, pos, cap, msg);
	}
	emit(level, line, pos, sizeof(line), body);
}

void cfg_log_event(enum cfg_log_level level, const char *event, const struct cfg_log_field *f,
                   int n)
{
	if (!cfg_log_enabled(level))
		return;
	char line[LOG_LINE_MAX];
	char num[64];
	size_t pos = 0, cap = sizeof(line) - 1, body = 0;
	bool json = logger.log_format == CFG_LOG_JSON;
	if (json) {
		pos = put_raw(line, pos, cap, "{\"ts\":\"");
		pos += put_time(line + pos, cap - pos);
		pos = put_raw(line, pos, cap, "\",\"level\":\"");
		pos = put_raw(line, pos, cap, level_names[level]);
		pos = put_raw(line, pos, cap, "\",\"event\":\"");
		pos = put_json_str(line, pos, cap, event);
		pos = put_raw(line, pos, cap, "\"");
	} else {
		pos += put_time(line, cap);
		pos = put_raw(line, pos, cap, " ");
		body = pos;
		pos = put_raw(line, pos, cap, level_names[level]);
		pos = put_raw(line, pos, cap, ": ");
		pos = put_raw(line, pos, cap, event);
	}
	for (int i = 0; i < n; i++) {
		if (f[i].is_num)
			snprintf(num, sizeof(num), "%.3f", f[i].num);
		if (f[i].is_num) {
			/* trim a needless fraction */
			char *dot = strchr(num, '.');
			if (dot && strcmp(dot, ".000") == 0)
				*dot = '\0';
		}
		if (json) {
			pos = put_raw(line, pos, cap, ",\"");
			pos = put_json_str(line, pos, cap, f[i].key);
			pos = put_raw(line, pos, cap, "\":");
			if (f[i].is_num) {
				pos = put_raw(line, pos, cap, num);
			} else {
				pos = put_raw(line, pos, cap, "\"");
				pos = put_json_str(line, pos, cap, f[i].str ? f[i].str : "");
				pos = put_raw(line, pos, cap, "\"");
			}
		} else {
			pos = put_raw(line, pos, cap, " ");
			pos = put_raw(line, pos, cap, f[i].key);
			pos = put_raw(line, pos, cap, "=");
			if (f[i].is_num) {
				pos = put_raw(line, pos, cap, num);
			} else {
				/* quote, escaping newlines so one event stays one line */
				pos = put_raw(line, pos, cap, "\"");
				pos = put_json_str(line, pos, cap, f[i].str ? f[i].str : "");
				pos = put_raw(line, pos, cap, "\"");
			}
		}
	}
	if (json)
		pos = put_raw(line, pos, cap, "}");
	emit(level, line, pos, sizeof(line), body);
}
