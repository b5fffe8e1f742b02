/* proxy/listen.c — the listening sockets and accept: TCP on listen.host:listen.port, and the
 * Unix socket listen.unix_socket_dir/.s.PGSQL.<port> (its mode and group set, a stale file
 * left by a dead process replaced, the file removed when pglane stops listening). */
#include <errno.h>
#include <grp.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "config/log.h"
#include "proxy/client.h"
#include "proxy/context.h"
#include "proxy/listen.h"
#include "proxy/worker.h"
#include "proxy/takeover.h"

#define ACCEPT_BATCH 64
#define BACKLOG      4096
#define MAX_LISTEN   5 /* TCP addresses, and the Unix socket */

/* The listening sockets: bound once, process-wide; each worker watches every one of them
 * with its own watchers and accepts from the same sockets (the one whose loop is free first
 * gets the connection). */
static struct listen_set {
	int fds[MAX_LISTEN];
	int n;
	ev_io watchers[POOL_MAX_WORKERS][MAX_LISTEN]; /* worker w's, on its loop */
	bool watching[POOL_MAX_WORKERS];
	_Atomic int nwatching; /* workers that watch them: the last to stop closes them */
} ls;

/* The socket file pglane made ("" when none): removed by proxy_listen_stop. */
static char unix_path[sizeof(((struct sockaddr_un *)0)->sun_path)];

static void accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		struct sockaddr_storage sa;
		socklen_t len = sizeof(sa);
		int fd = accept4(w->fd, (struct sockaddr *)&sa, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ||
			    errno == ECONNABORTED)
				return;
			log_error("accept failed: %s", strerror(errno));
			return;
		}
		proxy_worker_accepted(proxy_worker_for_accept(), fd, (struct sockaddr *)&sa, len);
	}
}

static void add_listener(int fd)
{
	ls.fds[ls.n++] = fd;
}

void proxy_listen_watch(void)
{
	if (ls.watching[pool_worker] || ls.n == 0)
		return;
	for (int i = 0; i < ls.n; i++) {
		ev_io *w = &ls.watchers[pool_worker][i];
		ev_io_init(w, accept_cb, ls.fds[i], EV_READ);
		ev_io_start(proxy.loop, w);
	}
	ls.watching[pool_worker] = true;
	ls.nwatching++;
}

void proxy_listen_unwatch(void)
{
	if (!ls.watching[pool_worker])
		return;
	for (int i = 0; i < ls.n; i++)
		ev_io_stop(proxy.loop, &ls.watchers[pool_worker][i]);
	ls.watching[pool_worker] = false;
	ls.nwatching--;
}

static bool listen_tcp(const struct cfg *cfg)
{
	char port[16];
	snprintf(port, sizeof(port), "%d", cfg->listen.port);
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
	                         .ai_socktype = SOCK_STREAM,
	                         .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *res = NULL;
	const char *host = strcmp(cfg->listen.host, "*") == 0 ? NULL : cfg->listen.host;
	int rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0) {
		log_error("listen.host \"%s\": %s", cfg->listen.host, gai_strerror(rc));
		return false;
	}
	int n = 0;
	for (struct addrinfo *ai = res; ai && ls.n < MAX_LISTEN; ai = ai->ai_next) {
		int fd = proxy_takeover_claim(ai->ai_addr, ai->ai_addrlen);
		if (fd >= 0) { /* handed over by the pglane this one takes over from */
			add_listener(fd);
			n++;
			continue;
		}
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one,
		           sizeof(one)); /* binds beside another */
		if (ai->ai_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, BACKLOG) < 0) {
			log_error("cannot listen on %s:%d: %s", cfg->listen.host, cfg->listen.port,
			          strerror(errno));
			close(fd);
			continue;
		}
		add_listener(fd);
		n++;
	}
	freeaddrinfo(res);
	if (n == 0)
		return false;
	log_info("listening on %s:%d", cfg->listen.host, cfg->listen.port);
	return true;
}

/* A file at the socket's path: a socket nobody answers on is stale (a process that died
 * without removing it) and removed; anything else stops the start. */
static bool clear_stale(const struct sockaddr_un *un)
{
	struct stat st;
	if (lstat(un->sun_path, &st) != 0) {
		if (errno == ENOENT)
			return true;
		log_error("listen.unix_socket_dir: %s: %s", un->sun_path, strerror(errno));
		return false;
	}
	if (!S_ISSOCK(st.st_mode)) {
		log_error("listen.unix_socket_dir: %s exists and is not a socket", un->sun_path);
		return false;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		log_error("socket: %s", strerror(errno));
		return false;
	}
	/* a listener accepts at once, or says EAGAIN with a full backlog: alive either way */
	int rc = connect(fd, (const struct sockaddr *)un, sizeof(*un));
	int err = errno;
	close(fd);
	if (rc == 0 || err == EAGAIN || err == EINPROGRESS) {
		log_error("another process listens on %s: is another pglane (or PgBouncer) "
		          "running on port %s?",
		          un->sun_path, strrchr(un->sun_path, '.') + 1);
		return false;
	}
	if (err != ECONNREFUSED) {
		log_error("cannot tell whether %s is in use: %s", un->sun_path, strerror(err));
		return false;
	}
	if (unlink(un->sun_path) != 0 && errno != ENOENT) {
		log_error("cannot remove the stale socket %s: %s", un->sun_path, strerror(errno));
		return false;
	}
	log_info("removed the stale socket %s (nothing listened on it)", un->sun_path);
	return true;
}

/* The socket file's mode and group as configured. */
static bool set_owner(const struct cfg *cfg, const char *path)
{
	if (chmod(path, (mode_t)cfg->listen.unix_socket_mode) != 0) {
		log_error("listen.unix_socket_mode: chmod %s: %s", path, strerror(errno));
		return false;
	}
	const char *group = cfg->listen.unix_socket_group;
	if (!group || !group[0])
		return true;
	struct group *g = getgrnam(group);
	if (!g) {
		log_error("listen.unix_socket_group: no group \"%s\"", group);
		return false;
	}
	if (chown(path, (uid_t)-1, g->gr_gid) != 0) {
		log_error("listen.unix_socket_group: chgrp %s %s: %s", group, path,
		          strerror(errno));
		return false;
	}
	return true;
}

static bool listen_unix(const struct cfg *cfg)
{
	struct sockaddr_un un = {.sun_family = AF_UNIX};
	int n = snprintf(un.sun_path, sizeof(un.sun_path), "%s/.s.PGSQL.%d",
	                 cfg->listen.unix_socket_dir, cfg->listen.port);
	if (n < 0 || (size_t)n >= sizeof(un.sun_path)) {
		log_error("listen.unix_socket_dir: \"%s/.s.PGSQL.%d\" is longer than a socket path "
		          "may be (%zu bytes)",
		          cfg->listen.unix_socket_dir, cfg->listen.port, sizeof(un.sun_path) - 1);
		return false;
	}
	int fd = proxy_takeover_claim((const struct sockaddr *)&un, sizeof(un));
	if (fd >= 0) { /* handed over: the file is in place */
		snprintf(unix_path, sizeof(unix_path), "%s", un.sun_path);
		add_listener(fd);
		log_info("listening on unix:%s (taken over)", un.sun_path);
		return set_owner(cfg, un.sun_path);
	}
	if (!clear_stale(&un))
		return false;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		log_error("socket: %s", strerror(errno));
		return false;
	}
	if (bind(fd, (const struct sockaddr *)&un, sizeof(un)) < 0) {
		log_error("cannot listen on unix:%s: %s", un.sun_path, strerror(errno));
		close(fd);
		return false;
	}
	snprintf(unix_path, sizeof(unix_path), "%s", un.sun_path); /* ours to remove now */
	if (!set_owner(cfg, un.sun_path)) {
		close(fd);
		return false;
	}
	if (listen(fd, BACKLOG) < 0) {
		log_error("cannot listen on unix:%s: %s", un.sun_path, strerror(errno));
		close(fd);
		return false;
	}
	add_listener(fd);
	log_info("listening on unix:%s", un.sun_path);
	return true;
}

bool proxy_listen_start(const struct cfg *cfg)
{
	/* the socket first: whoever waits for the TCP port finds the socket there too */
	if (cfg->listen.unix_socket_dir && cfg->listen.unix_socket_dir[0] && !listen_unix(cfg))
		return false;
	if (!listen_tcp(cfg))
		return false;
	proxy_listen_watch();
	return true;
}

void proxy_listen_pause(bool on)
{
	if (!ls.watching[pool_worker])
		return;
	for (int i = 0; i < ls.n; i++) {
		if (on)
			ev_io_stop(proxy.loop, &ls.watchers[pool_worker][i]);
		else
			ev_io_start(proxy.loop, &ls.watchers[pool_worker][i]);
	}
}

int proxy_listen_fds(int *fds, int max)
{
	int n = 0;
	for (int i = 0; i < ls.n && n < max; i++)
		fds[n++] = ls.fds[i];
	return n;
}

static void unwatch(void *arg)
{
	(void)arg;
	proxy_listen_unwatch();
}

void proxy_listen_release(void)
{
	unix_path[0] = '\0'; /* the process that took the socket over owns its file now */
	proxy_world_stop();
	proxy_workers_each(unwatch, NULL);
	proxy_listen_close();
	proxy_world_resume();
}

void proxy_listen_stop(void)
{
	proxy_listen_unwatch();
	if (ls.nwatching == 0)
		proxy_listen_close();
}

void proxy_listen_close(void)
{
	for (int i = 0; i < ls.n; i++)
		close(ls.fds[i]);
	ls.n = 0;
	if (unix_path[0]) {
		if (unlink(unix_path) != 0 && errno != ENOENT)
			log_warning("cannot remove %s: %s", unix_path, strerror(errno));
		unix_path[0] = '\0';
	}
}
