/* config/log.c — the logger: level filter, text or JSON lines on stderr, one write(2) per
 * line so lines from one process never interleave. */
#include "config/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 8192

static enum cfg_log_format log_format = CFG_LOG_TEXT;
enum cfg_log_level cfg_log_threshold = CFG_LOG_INFO;

static const char *const level_names[] = {"error", "warning", "info", "debug"};

void cfg_log_setup(enum cfg_log_format format, enum cfg_log_level level)
{
	log_format = format;
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

static void emit(char *buf, size_t pos, size_t cap)
{
	if (pos >= cap)
		pos = cap - 1;
	buf[pos++] = '\n';
	ssize_t r = write(STDERR_FILENO, buf, pos);
	(void)r;
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
	size_t pos = 0, cap = sizeof(line) - 1;
	if (log_format == CFG_LOG_JSON) {
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
		pos = put_raw(line, pos, cap, level_names[level]);
		pos = put_raw(line, pos, cap, ": ");
		if (conn) {
			pos = put_raw(line, pos, cap, conn);
			pos = put_raw(line, pos, cap, ": ");
		}
		pos = put_raw(line, pos, cap, msg);
	}
	emit(line, pos, sizeof(line));
}

void cfg_log_event(enum cfg_log_level level, const char *event, const struct cfg_log_field *f,
                   int n)
{
	if (!cfg_log_enabled(level))
		return;
	char line[LOG_LINE_MAX];
	char num[64];
	size_t pos = 0, cap = sizeof(line) - 1;
	bool json = log_format == CFG_LOG_JSON;
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
	emit(line, pos, sizeof(line));
}
