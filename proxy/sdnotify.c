/* proxy/sdnotify.c — systemd's notify protocol: a datagram to $NOTIFY_SOCKET. */
#include "proxy/sdnotify.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "config/log.h"

bool proxy_sdnotify(const char *state)
{
	const char *name = getenv("NOTIFY_SOCKET");
	if (!name || !name[0])
		return true;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t len = strlen(name);
	if ((name[0] != '/' && name[0] != '@') || len >= sizeof(sa.sun_path)) {
		errno = EINVAL;
		return false;
	}
	memcpy(sa.sun_path, name, len);
	if (name[0] == '@')
		sa.sun_path[0] = '\0'; /* abstract namespace: no trailing NUL counted */
	socklen_t salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len +
	                              (name[0] == '/' ? 1 : 0));
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	size_t n = strlen(state);
	ssize_t sent = sendto(fd, state, n, MSG_NOSIGNAL, (struct sockaddr *)&sa, salen);
	int saved = errno;
	close(fd);
	errno = saved;
	return sent == (ssize_t)n;
}

static void notify(const char *state)
{
	if (!proxy_sdnotify(state))
		log_warning("sd_notify to $NOTIFY_SOCKET failed: %s", strerror(errno));
}

void proxy_sdnotify_ready(void)
{
	char msg[128];
	snprintf(msg, sizeof(msg), "READY=1\nMAINPID=%ld\nSTATUS=accepting connections",
	         (long)getpid());
	notify(msg);
}

void proxy_sdnotify_reloading(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	char msg[128];
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading",
	         (unsigned long long)ts.tv_sec * 1000000ULL +
	                 (unsigned long long)ts.tv_nsec / 1000ULL);
	notify(msg);
}

void proxy_sdnotify_stopping(const char *who)
{
	char msg[160];
	snprintf(msg, sizeof(msg), "STOPPING=1\nSTATUS=shutting down (%s)", who ? who : "exit");
	notify(msg);
}
