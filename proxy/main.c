/* proxy/main.c — the pglane process: command line, config and auth file, signals, the
 * event loop, and an orderly exit that frees everything. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin/monitor.h"
#include "config/log.h"
#include "pool/health.h"
#include "protocol/scram.h"
#include "proxy/authq.h"
#include "proxy/cancel.h"
#include "proxy/client.h"
#include "proxy/context.h"
#include "proxy/control.h"
#include "proxy/handoff.h"
#include "proxy/http.h"
#include "proxy/io.h"
#include "proxy/janitor.h"
#include "proxy/resolve.h"
#include "proxy/sdnotify.h"
#include "proxy/link.h"
#include "proxy/listen.h"
#include "proxy/peer.h"
#include "proxy/server.h"
#include "proxy/shutdown.h"
#include "proxy/takeover.h"
#include "proxy/tls.h"
#include "proxy/worker.h"

#define DEFAULT_CONFIG "pglane.conf"

/* PgBouncer's signals (worker 0's loop), and each worker's deferred work after its
 * iteration's callbacks. */
static ev_signal signals[6];
static ev_prepare deferred[POOL_MAX_WORKERS];

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: pglane [-c FILE]          run (default: ./%s if present, else "
	        "built-in defaults)\n"
	        "       pglane --takeover [-c FILE]  take over from the running pglane "
	        "(binary upgrade; also -R)\n"
	        "       pglane --check [-c FILE]  validate the config and print the resolved "
	        "settings\n"
	        "       pglane --version\n",
	        DEFAULT_CONFIG);
}

static void print_errors(const struct cfg_errors *errs)
{
	for (size_t i = 0; i < errs->n; i++)
		fprintf(stderr, "pglane: %s\n", errs->msg[i]);
}

/* The config and its auth file, or false with the errors printed. */
static bool load(const char *path, struct cfg **cfg, struct cfg_userlist **users)
{
	struct cfg_errors errs = {0};
	*cfg = cfg_load(path, &errs);
	*users = NULL;
	if (!*cfg) {
		print_errors(&errs);
		return false;
	}
	if ((*cfg)->auth.file && (*cfg)->auth.file[0]) {
		*users = cfg_userlist_load((*cfg)->auth.file, &errs);
		if (!*users) {
			print_errors(&errs);
			cfg_free(*cfg);
			*cfg = NULL;
			return false;
		}
	}
	return true;
}

static void deferred_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
	pool_run_kicks(proxy_now_ms());
	proxy_reap();
	if (proxy.shutdown)
		proxy_shutdown_poll();
}

/* PgBouncer's signals; any of INT, TERM, QUIT during a shutdown exits at once. Runs with the
 * world stopped (the control functions act on every worker). */
static void on_signal(int signum)
{
	switch (signum) {
	case SIGINT:
		proxy_shutdown_begin(PROXY_SHUTDOWN_WAIT_FOR_SERVERS, "SIGINT");
		break;
	case SIGTERM:
		proxy_shutdown_begin(PROXY_SHUTDOWN_WAIT_FOR_CLIENTS, "SIGTERM");
		break;
	case SIGQUIT:
		proxy_shutdown_begin(PROXY_SHUTDOWN_NOW, "SIGQUIT");
		break;
	case SIGUSR1:
		log_info("SIGUSR1: PAUSE of every database");
		proxy_control_pause_all(true);
		break;
	case SIGUSR2:
		log_info("SIGUSR2: RESUME of every database");
		proxy_control_pause_all(false);
		break;
	case SIGHUP: {
		char err[1024];
		log_info("SIGHUP: reloading the config");
		if (!proxy_reload(err, sizeof(err)))
			log_error("SIGHUP: %s", err);
		break;
	}
	}
}

static void signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void)loop;
	(void)revents;
	proxy_world_stop();
	on_signal(w->signum);
	proxy_world_resume();
}

static const struct pool_ops ops = {
        .workers_kick = proxy_workers_kick,
        .server_handoff = proxy_server_handoff,
        .server_launch = proxy_server_launch,
        .client_assigned = proxy_link_assigned,
        .server_evict = proxy_server_evict,
        .server_settle = proxy_server_settle,
        .server_check = proxy_server_check,
        .wake_at = proxy_janitor_retry_at,
};

static void close_everything(void)
{
	proxy.shutting_down = true; /* no new server connections from here on */
	struct pool_list *pos, *tmp;
	pool_list_foreach_safe(pos, tmp, &proxy.clients)
	{
		struct proxy_client *c = pool_container_of(pos, struct proxy_client, link);
		proxy_client_close(c, NULL, "pglane exits");
	}
	for (struct pool *p = pool_next(NULL); p; p = pool_next(p))
		proxy_server_close_all(p, "pglane exits");
	pool_run_kicks(proxy_now_ms());
	proxy_reap();
}

/* The config and auth file every worker starts with (RELOAD changes each worker's). */
static struct {
	struct cfg *cfg;
	struct cfg_userlist *users;
} shared;

/* The calling worker's loop, registries, listeners and timers. */
static void worker_begin(void)
{
	proxy_context_init();
	proxy.cfg = shared.cfg;
	proxy.users = shared.users;
	pool_setup(&ops);
	proxy_authq_init();
	proxy_cancel_init();
	proxy_worker_attach();
	ev_prepare_init(&deferred[pool_worker], deferred_cb);
	ev_prepare_start(proxy.loop, &deferred[pool_worker]);
	proxy_janitor_start();
}

/* Close the calling worker's connections and free its registries (its loop stays, freed
 * by main once every worker is done). */
static void worker_end(void)
{
	proxy_listen_unwatch();
	proxy_janitor_stop();
	close_everything();
	proxy_cancel_free_all();
	proxy_peer_free_all();
	proxy_authq_stop_all();
	proxy_resolve_shutdown();
	ev_prepare_stop(proxy.loop, &deferred[pool_worker]);
	pool_shutdown();
	proxy_io_free_cache();
	proto_scram_thread_end();
}

/* Workers 1..n-1: their own loop, the listeners watched, until pglane exits. */
static void worker_thread(void)
{
	worker_begin();
	proxy_listen_watch();
	proxy_worker_ready();
	ev_run(proxy.loop, 0);
	proxy_worker_detach();
	worker_end();
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	        {"check", no_argument, NULL, 'k'},   {"takeover", no_argument, NULL, 'R'},
	        {"version", no_argument, NULL, 'V'}, {"config", required_argument, NULL, 'c'},
	        {"help", no_argument, NULL, 'h'},    {NULL, 0, NULL, 0},
	};
	const char *path = NULL;
	bool check = false, takeover = false;
	int opt;
	while ((opt = getopt_long(argc, argv, "c:hRV", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			path = optarg;
			break;
		case 'k':
			check = true;
			break;
		case 'R':
			takeover = true;
			break;
		case 'V':
			printf("pglane %s\n", PGLANE_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return 1;
	}
	if (!path && access(DEFAULT_CONFIG, F_OK) == 0)
		path = DEFAULT_CONFIG;

	struct cfg *cfg;
	struct cfg_userlist *users;
	if (!load(path, &cfg, &users))
		return 1;
	if (check) {
		cfg_print(cfg, stdout);
		fprintf(stderr, "pglane: %s is valid\n", path ? path : "the built-in config");
		cfg_userlist_free(users);
		cfg_free(cfg);
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);
	char lerr[512];
	if (!cfg_log_configure(cfg, lerr, sizeof(lerr))) {
		fprintf(stderr, "pglane: %s\n", lerr);
		cfg_userlist_free(users);
		cfg_free(cfg);
		return 1;
	}
	if (!pool_params_configure(cfg->pool.track_parameters, cfg->pool.ntrack_parameters))
		log_warning("pool.track_parameters: too many names, some are not tracked");
	shared.cfg = cfg;
	shared.users = users;
	if (!proxy_resolve_init()) {
		cfg_userlist_free(users);
		cfg_free(cfg);
		return 1;
	}
	worker_begin();
	proxy_control_setup();
	proxy_peer_start(cfg);
	if ((takeover && !proxy_takeover_receive(cfg)) || !proxy_tls_init(cfg) ||
	    !proxy_listen_start(cfg) || !proxy_http_start(cfg) || !proxy_takeover_start(cfg)) {
		proxy_takeover_abort(); /* a socket taken over is given back, its file kept */
		proxy_tls_free();
		proxy_listen_stop();
		proxy_http_stop();
		proxy_takeover_stop();
		cfg_userlist_free(users);
		cfg_free(cfg);
		return 1;
	}
	unsigned n = proxy_workers_wanted(cfg->workers);
	log_info("pglane %s started (%s), %u worker%s", PGLANE_VERSION,
	         path ? path : "built-in config", n, n == 1 ? "" : "s");
	static const int signums[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
	for (size_t i = 0; i < sizeof(signums) / sizeof(signums[0]); i++) {
		ev_signal_init(&signals[i], signal_cb, signums[i]);
		ev_signal_start(proxy.loop, &signals[i]);
	}
	proxy_log_stats_configure();
	admin_monitor_set_resolver(proxy_resolve_peek); /* no blocking getaddrinfo on the loop */
	admin_monitor_set_threads(proxy_world_stop, proxy_world_resume, proxy_workers_each);
	admin_monitor_start(proxy.loop, proxy.cfg, proxy.users);
	if (!proxy_workers_start(n, worker_thread, cfg->worker_cpu_affinity == CFG_AFFINITY_AUTO)) {
		proxy_shutdown_begin(PROXY_SHUTDOWN_NOW, "worker start failed");
	} else {
		proxy_workers_wait_ready();
		proxy_takeover_finish(); /* the old process stops accepting (no-op without
		                            --takeover) */
		proxy_sdnotify_ready(); /* listeners bound: systemd may start what depends on pglane
		                         */
	}
	ev_run(proxy.loop, 0);

	proxy_workers_exit(); /* the others leave their loops too, if they have not yet */
	proxy_listen_stop();
	proxy_takeover_stop();
	proxy_http_stop();
	admin_monitor_stop();
	for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
		ev_signal_stop(proxy.loop, &signals[i]);
	proxy_shutdown_stop();
	proxy_worker_detach();
	worker_end();
	proxy_workers_join();
	pool_health_clear();
	proxy_tls_free();
	proxy_listen_close();
	for (unsigned i = 1; i < proxy_workers_count(); i++) {
		pool_worker = i;
		proxy_context_free();
	}
	pool_worker = 0;
	proxy_context_free();
	pool_budget_free_all();
	proxy_resolve_cleanup();
	cfg_userlist_free(proxy.users); /* the config in force: every worker's (RELOAD) */
	cfg_free(proxy.cfg);
	log_info("pglane stopped");
	cfg_log_close();
	return 0;
}
