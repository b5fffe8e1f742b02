/* proxy/takeover.c — handing the listening sockets from a running pglane to a new one (see
 * takeover.h). The exchange on the takeover socket, one connection per takeover:
 *   old → new  "PGLANE-TAKEOVER 1 pid=<pid>\n" with every listening socket (SCM_RIGHTS)
 *   new → old  "GO\n"   once it serves on them (nothing sent: the new one exited, old goes on)
 *   old → new  "BYE\n"  once it has stopped accepting; it then waits for its clients. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "config/cfg.h"
#include "config/log.h"
#include "proxy/addr.h"
#include "proxy/context.h"
#include "proxy/http.h"
#include "proxy/listen.h"
#include "proxy/shutdown.h"
#include "proxy/takeover.h"

#define TAKEOVER_MAX_FDS   16
#define TAKEOVER_HELLO     "PGLANE-TAKEOVER 1 pid="
#define TAKEOVER_GO        "GO\n"
#define TAKEOVER_BYE       "BYE\n"
#define TAKEOVER_WAIT_MS   10000 /* the new side's bound on each answer of the old one */
#define TAKEOVER_GO_WAIT_S 60.0  /* the old side's bound on a new one's start */

/* The new side: what the old process handed over, until claimed, and the connection to it.
 * Owner: main, before the loop runs (and after, until proxy_takeover_finish). */
static struct takeover_got {
	bool active; /* a takeover is under way */
	int conn;    /* to the old process; -1 */
	long old_pid;
	int n;
	int fd[TAKEOVER_MAX_FDS]; /* -1 once claimed or closed */
	struct sockaddr_storage addr[TAKEOVER_MAX_FDS];
	socklen_t len[TAKEOVER_MAX_FDS];
} got = {.conn = -1};

/* Every process: the takeover socket it answers on and the one takeover it serves. Owner: the
 * event loop (under worker threads: the first worker's, as the HTTP endpoint). */
static struct takeover_serve {
	ev_io listener;
	bool listening;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)]; /* "" when not ours to remove */
	ev_io conn;                                             /* a new process, while busy */
	ev_timer timer;                                         /* TAKEOVER_GO_WAIT_S */
	bool busy;
	long new_pid; /* the process taking over (its credentials) */
	char buf[8];
	size_t len;
} tk;

/* <unix_socket_dir>/.s.PGSQL.<port>.takeover into *un; false (logged) when there is none. */
static bool takeover_addr(const struct cfg *cfg, struct sockaddr_un *un)
{
	*un = (struct sockaddr_un){.sun_family = AF_UNIX};
	const char *dir = cfg->listen.unix_socket_dir;
	if (!dir || !dir[0])
		return false;
	int n = snprintf(un->sun_path, sizeof(un->sun_path), "%s/.s.PGSQL.%d.takeover", dir,
	                 cfg->listen.port);
	if (n < 0 || (size_t)n >= sizeof(un->sun_path)) {
		log_warning("takeover: \"%s/.s.PGSQL.%d.takeover\" is longer than a socket path "
		            "may be: no takeover socket",
		            dir, cfg->listen.port);
		return false;
	}
	return true;
}

/* ---- the new process ---- */

static void got_close_all(void)
{
	for (int i = 0; i < got.n; i++)
		if (got.fd[i] >= 0)
			close(got.fd[i]);
	got.n = 0;
	if (got.conn >= 0)
		close(got.conn);
	got.conn = -1;
}

/* Wait up to TAKEOVER_WAIT_MS for got.conn to be readable. */
static bool wait_readable(void)
{
	struct pollfd p = {.fd = got.conn, .events = POLLIN};
	int rc;
	do
		rc = poll(&p, 1, TAKEOVER_WAIT_MS);
	while (rc < 0 && errno == EINTR);
	return rc > 0;
}

/* Keep the descriptors of one SCM_RIGHTS message, with the address each is bound to. */
static void keep_fds(const struct cmsghdr *cm)
{
	int nfd = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
	const int *fds = (const int *)(const void *)CMSG_DATA(cm);
	for (int i = 0; i < nfd; i++) {
		if (got.n == TAKEOVER_MAX_FDS) {
			close(fds[i]);
			continue;
		}
		got.fd[got.n] = fds[i];
		got.len[got.n] = sizeof(got.addr[0]);
		if (getsockname(fds[i], (struct sockaddr *)&got.addr[got.n], &got.len[got.n]) != 0)
			got.len[got.n] = 0; /* matches nothing; closed at the finish */
		got.n++;
	}
}

/* The hello line and the descriptors that come with it. */
static bool read_hello(void)
{
	char line[128];
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * TAKEOVER_MAX_FDS)];
	} ctl;
	struct iovec iov = {.iov_base = line, .iov_len = sizeof(line) - 1};
	struct msghdr msg = {.msg_iov = &iov,
	                     .msg_iovlen = 1,
	                     .msg_control = ctl.buf,
	                     .msg_controllen = sizeof(ctl.buf)};
	if (!wait_readable())
		return false;
	ssize_t n = recvmsg(got.conn, &msg, MSG_CMSG_CLOEXEC);
	if (n <= 0)
		return false;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
			keep_fds(cm);
	line[n] = '\0';
	return strncmp(line, TAKEOVER_HELLO, strlen(TAKEOVER_HELLO)) == 0 &&
	       sscanf(line + strlen(TAKEOVER_HELLO), "%ld", &got.old_pid) == 1;
}

bool proxy_takeover_receive(const struct cfg *cfg)
{
	struct sockaddr_un un;
	if (!takeover_addr(cfg, &un)) {
		log_error("--takeover: no takeover socket: listen.unix_socket_dir is empty, or its "
		          "path too long");
		return false;
	}
	got.conn = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (got.conn < 0 || connect(got.conn, (struct sockaddr *)&un, sizeof(un)) != 0) {
		log_error("--takeover: no running pglane to take over from at %s: %s", un.sun_path,
		          strerror(errno));
		got_close_all();
		return false;
	}
	if (!read_hello()) {
		log_error("--takeover: the pglane at %s sent no listening sockets (is it shutting "
		          "down, or another takeover under way?)",
		          un.sun_path);
		got_close_all();
		return false;
	}
	got.active = true;
	log_info("takeover: received %d listening sockets from pid %ld", got.n, got.old_pid);
	return true;
}

int proxy_takeover_claim(const struct sockaddr *addr, socklen_t len)
{
	if (!got.active)
		return -1;
	for (int i = 0; i < got.n; i++) {
		if (got.fd[i] >= 0 && proxy_addr_equal((const struct sockaddr *)&got.addr[i],
		                                       got.len[i], addr, len)) {
			int fd = got.fd[i];
			got.fd[i] = -1;
			return fd;
		}
	}
	return -1;
}

/* Wait for the old process's BYE: it no longer accepts. */
static bool wait_bye(void)
{
	char buf[16];
	size_t have = 0;
	while (have < strlen(TAKEOVER_BYE) && wait_readable()) {
		ssize_t n = recv(got.conn, buf + have, sizeof(buf) - 1 - have, 0);
		if (n <= 0)
			return false;
		have += (size_t)n;
	}
	return have >= strlen(TAKEOVER_BYE) && memcmp(buf, TAKEOVER_BYE, strlen(TAKEOVER_BYE)) == 0;
}

void proxy_takeover_finish(void)
{
	if (!got.active)
		return;
	int unused = 0;
	for (int i = 0; i < got.n; i++)
		unused += got.fd[i] >= 0;
	if (unused)
		log_info("takeover: %d received sockets are not in this config: closed", unused);
	bool ok = send(got.conn, TAKEOVER_GO, strlen(TAKEOVER_GO), MSG_NOSIGNAL) ==
	                  (ssize_t)strlen(TAKEOVER_GO) &&
	          wait_bye();
	if (ok)
		log_info("takeover: pid %ld stopped accepting; this process (pid %ld) serves now",
		         got.old_pid, (long)getpid());
	else
		log_warning("takeover: pid %ld did not confirm that it stopped accepting; serving "
		            "beside it",
		            got.old_pid);
	got_close_all();
	got.active = false;
}

void proxy_takeover_abort(void)
{
	if (!got.active)
		return;
	proxy_listen_release();
	proxy_http_release();
	if (tk.listening) {
		ev_io_stop(proxy.loop, &tk.listener);
		close(tk.listener.fd);
		tk.listening = false;
	}
	tk.path[0] = '\0';
	got_close_all();
	got.active = false;
	log_error("takeover: abandoned; pid %ld goes on serving", got.old_pid);
}

/* ---- the old process: serving a takeover ---- */

static void conn_end(void)
{
	if (!tk.busy)
		return;
	ev_io_stop(proxy.loop, &tk.conn);
	ev_timer_stop(proxy.loop, &tk.timer);
	close(tk.conn.fd);
	tk.busy = false;
}

/* The new process serves: stop accepting (the sockets stay open in it; no socket file is
 * removed), confirm, and wait for the clients as SHUTDOWN WAIT_FOR_CLIENTS. */
static void hand_over(void)
{
	proxy_listen_release();
	proxy_http_release();
	if (tk.listening) {
		ev_io_stop(proxy.loop, &tk.listener);
		close(tk.listener.fd);
		tk.listening = false;
	}
	tk.path[0] = '\0';
	if (send(tk.conn.fd, TAKEOVER_BYE, strlen(TAKEOVER_BYE), MSG_NOSIGNAL) < 0)
		log_warning("takeover: cannot confirm to the new process: %s", strerror(errno));
	conn_end();
	char who[64];
	snprintf(who, sizeof(who), "takeover by pid %ld", tk.new_pid);
	proxy_shutdown_handover(who);
}

static void conn_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	ssize_t n = recv(w->fd, tk.buf + tk.len, sizeof(tk.buf) - 1 - tk.len, 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0)
		tk.len += (size_t)n;
	if (tk.len >= strlen(TAKEOVER_GO) &&
	    memcmp(tk.buf, TAKEOVER_GO, strlen(TAKEOVER_GO)) == 0) {
		hand_over();
		return;
	}
	if (n > 0 && tk.len < sizeof(tk.buf) - 1)
		return;
	log_warning("takeover: the new process went away before it served; still serving");
	conn_end();
}

static void timer_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)loop;
	(void)t;
	(void)revents;
	log_warning("takeover: no GO from the new process within %.0f s; still serving",
	            TAKEOVER_GO_WAIT_S);
	conn_end();
}

/* Every listening socket of this process, the takeover socket last; how many. */
static int listening_fds(int *fds)
{
	int n = proxy_listen_fds(fds, TAKEOVER_MAX_FDS - 2);
	int http = proxy_http_fd();
	if (http >= 0)
		fds[n++] = http;
	fds[n++] = tk.listener.fd;
	return n;
}

static bool send_hello(int fd)
{
	int fds[TAKEOVER_MAX_FDS];
	int n = listening_fds(fds);
	char line[64];
	int len = snprintf(line, sizeof(line), TAKEOVER_HELLO "%ld\n", (long)getpid());
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * TAKEOVER_MAX_FDS)];
	} ctl;
	memset(&ctl, 0, sizeof(ctl));
	struct iovec iov = {.iov_base = line, .iov_len = (size_t)len};
	struct msghdr msg = {.msg_iov = &iov,
	                     .msg_iovlen = 1,
	                     .msg_control = ctl.buf,
	                     .msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)n)};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)n);
	memcpy(CMSG_DATA(cm), fds, sizeof(int) * (size_t)n);
	if (sendmsg(fd, &msg, MSG_NOSIGNAL) != len) {
		log_warning("takeover: sending the listening sockets failed: %s", strerror(errno));
		return false;
	}
	log_info("takeover: handed %d listening sockets to pid %ld; serving until it says GO", n,
	         tk.new_pid);
	return true;
}

/* Only a process of our own user, and one takeover at a time, never during a shutdown. */
static bool may_take_over(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || cred.uid != geteuid()) {
		log_warning("takeover: refused a process of another user");
		return false;
	}
	if (tk.busy || proxy.shutdown != PROXY_SHUTDOWN_NONE) {
		log_warning("takeover: refused pid %ld: %s", (long)cred.pid,
		            tk.busy ? "another takeover is under way" : "shutting down");
		return false;
	}
	tk.new_pid = (long)cred.pid;
	return true;
}

static void accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)revents;
	int fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	if (!may_take_over(fd) || !send_hello(fd)) {
		close(fd);
		return;
	}
	tk.busy = true;
	tk.len = 0;
	ev_io_init(&tk.conn, conn_cb, fd, EV_READ);
	ev_io_start(loop, &tk.conn);
	ev_timer_init(&tk.timer, timer_cb, TAKEOVER_GO_WAIT_S, 0);
	ev_timer_start(loop, &tk.timer);
}

/* ---- the takeover socket ---- */

/* A socket file at the path: stale (nobody answers: removed) or in use (the start fails). */
static bool clear_stale(const struct sockaddr_un *un)
{
	struct stat st;
	if (lstat(un->sun_path, &st) != 0)
		return errno == ENOENT;
	if (!S_ISSOCK(st.st_mode)) {
		log_error("takeover: %s exists and is not a socket", un->sun_path);
		return false;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int rc = fd < 0 ? -1 : connect(fd, (const struct sockaddr *)un, sizeof(*un));
	if (fd >= 0)
		close(fd);
	if (rc == 0) {
		log_error(
		        "takeover: a pglane answers on %s: start this one with --takeover to take "
		        "over from it",
		        un->sun_path);
		return false;
	}
	if (unlink(un->sun_path) != 0 && errno != ENOENT) {
		log_error("takeover: cannot remove the stale %s: %s", un->sun_path,
		          strerror(errno));
		return false;
	}
	return true;
}

/* A new socket at the path, mode 0600; -1 (logged) on failure. */
static int bind_new(const struct sockaddr_un *un)
{
	if (!clear_stale(un))
		return -1;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (const struct sockaddr *)un, sizeof(*un)) != 0 ||
	    chmod(un->sun_path, 0600) != 0 || listen(fd, 8) != 0) {
		log_error("takeover: cannot listen on %s: %s", un->sun_path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

bool proxy_takeover_start(const struct cfg *cfg)
{
	struct sockaddr_un un;
	if (!takeover_addr(cfg, &un)) /* none (no directory, or too long a path): it runs on */
		return true;
	int fd = proxy_takeover_claim((const struct sockaddr *)&un, sizeof(un));
	if (fd < 0)
		fd = bind_new(&un);
	if (fd < 0)
		return false;
	snprintf(tk.path, sizeof(tk.path), "%s", un.sun_path);
	ev_io_init(&tk.listener, accept_cb, fd, EV_READ);
	ev_io_start(proxy.loop, &tk.listener);
	tk.listening = true;
	log_info("takeover socket %s (pglane --takeover answers here)", un.sun_path);
	return true;
}

void proxy_takeover_stop(void)
{
	conn_end();
	if (tk.listening) {
		ev_io_stop(proxy.loop, &tk.listener);
		close(tk.listener.fd);
		tk.listening = false;
	}
	if (tk.path[0] && unlink(tk.path) != 0 && errno != ENOENT)
		log_warning("cannot remove %s: %s", tk.path, strerror(errno));
	tk.path[0] = '\0';
}
