/* tests/unit/test_sdnotify.c — proxy_sdnotify: a datagram reaches the socket named by
 * $NOTIFY_SOCKET, a path or an abstract '@' name; nothing is sent and the call succeeds when
 * the variable is unset; a name that is neither is refused. The ready / reloading / stopping
 * messages carry the fields systemd reads. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "proxy/sdnotify.h"

/* A datagram socket bound to NAME ("/path" or "@abstract"), with a 2 s receive timeout. */
static int listen_dgram(const char *name)
{
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	cr_assert(fd >= 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t len = strlen(name);
	cr_assert(len < sizeof(sa.sun_path));
	memcpy(sa.sun_path, name, len);
	socklen_t salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	if (name[0] == '@')
		sa.sun_path[0] = '\0';
	else
		salen++;
	cr_assert(bind(fd, (struct sockaddr *)&sa, salen) == 0);
	struct timeval tv = {.tv_sec = 2};
	cr_assert(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == 0);
	return fd;
}

static void recv_str(int fd, char *buf, size_t cap)
{
	ssize_t n = recv(fd, buf, cap - 1, 0);
	cr_assert(n > 0, "no datagram received");
	buf[n] = '\0';
}

Test(sdnotify, unset_is_a_no_op)
{
	unsetenv("NOTIFY_SOCKET");
	cr_assert(proxy_sdnotify("READY=1"));
	setenv("NOTIFY_SOCKET", "", 1);
	cr_assert(proxy_sdnotify("READY=1"));
	unsetenv("NOTIFY_SOCKET");
}

Test(sdnotify, path_socket)
{
	char path[64];
	snprintf(path, sizeof(path), "/tmp/pglane-sdnotify-%ld.sock", (long)getpid());
	unlink(path);
	int fd = listen_dgram(path);
	setenv("NOTIFY_SOCKET", path, 1);
	cr_assert(proxy_sdnotify("READY=1\nSTATUS=x"));
	char buf[256];
	recv_str(fd, buf, sizeof(buf));
	cr_assert_str_eq(buf, "READY=1\nSTATUS=x");
	proxy_sdnotify_ready();
	recv_str(fd, buf, sizeof(buf));
	char want[64];
	snprintf(want, sizeof(want), "READY=1\nMAINPID=%ld\n", (long)getpid());
	cr_assert(strncmp(buf, want, strlen(want)) == 0, "got %s", buf);
	unsetenv("NOTIFY_SOCKET");
	close(fd);
	unlink(path);
}

Test(sdnotify, abstract_socket)
{
	char name[64];
	snprintf(name, sizeof(name), "@pglane-sdnotify-%ld", (long)getpid());
	int fd = listen_dgram(name);
	setenv("NOTIFY_SOCKET", name, 1);
	char buf[256];
	proxy_sdnotify_reloading();
	recv_str(fd, buf, sizeof(buf));
	cr_assert(strncmp(buf, "RELOADING=1\nMONOTONIC_USEC=", 27) == 0, "got %s", buf);
	cr_assert(strtoull(buf + 27, NULL, 10) > 0);
	proxy_sdnotify_stopping("SIGINT");
	recv_str(fd, buf, sizeof(buf));
	cr_assert(strncmp(buf, "STOPPING=1\n", 11) == 0, "got %s", buf);
	cr_assert(strstr(buf, "SIGINT") != NULL);
	unsetenv("NOTIFY_SOCKET");
	close(fd);
}

Test(sdnotify, bad_names_are_refused)
{
	setenv("NOTIFY_SOCKET", "relative.sock", 1);
	cr_assert_not(proxy_sdnotify("READY=1"));
	setenv("NOTIFY_SOCKET", "/tmp/pglane-sdnotify-nobody-listens.sock", 1);
	cr_assert_not(proxy_sdnotify("READY=1"));
	unsetenv("NOTIFY_SOCKET");
}
