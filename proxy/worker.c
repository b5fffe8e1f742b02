/* proxy/worker.c — worker threads, their locks, the stopped world and the mailboxes
 * (worker.h). */
#include "proxy/worker.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/log.h"
#include "pool/pool.h"
#include "proxy/cancel.h"
#include "proxy/client.h"
#include "proxy/context.h"
#include "proxy/handoff.h"
#include "proxy/shutdown.h"

/* A connection accepted by one worker for another (proxy_worker_accepted). */
struct accepted_msg {
	struct accepted_msg *next;
	int fd;
	socklen_t len;
	struct sockaddr_storage sa;
};

/* A cancel request posted to a worker. */
struct cancel_msg {
	struct cancel_msg *next;
	int32_t pid, key;
};

/* One worker's thread, lock and mailbox. The lock is held by the worker while it runs
 * callbacks, and by whoever stops the world; the mailbox is a list under `mbox_lock` and
 * flags, rung by `wake`. */
struct worker {
	pthread_t thread;
	struct ev_loop *loop;
	pthread_mutex_t lock;
	pthread_mutex_t mbox_lock;
	struct cancel_msg *cancels;    /* owned, under mbox_lock */
	struct proxy_handoff *servers; /* owned, under mbox_lock: idle servers handed to it */
	struct accepted_msg *accepted; /* owned, under mbox_lock: connections given to it */
	ev_async wake;
	atomic_bool kick;     /* kick its pools */
	atomic_bool exit;     /* leave the loop */
	atomic_bool drained;  /* its clients are gone in a shutdown */
	atomic_bool attached; /* changed under `world`: a world stopper locks attached ones */
	_Alignas(64) atomic_int load; /* its clients and the connections in its mailbox: written
	                                 when one comes or goes, read by an accepting worker */
};

/* Every worker. Process-wide: `n` is set before the threads start and never changes; each
 * entry is written by its worker (attach, detach) and read by the others under the locks. */
static struct worker_set {
	struct worker w[POOL_MAX_WORKERS];
	unsigned n;
	void (*run)(void);
	pthread_mutex_t world; /* held by whoever stops the world */
	pthread_mutex_t ready_lock;
	pthread_cond_t ready_cond;
	unsigned nready;           /* workers 1..n-1 that finished their start (under ready_lock) */
	int cpu[POOL_MAX_WORKERS]; /* the CPU worker i is pinned to, -1: none (set before the
	                              threads start) */
} workers = {.n = 1,
             .world = PTHREAD_MUTEX_INITIALIZER,
             .ready_lock = PTHREAD_MUTEX_INITIALIZER,
             .ready_cond = PTHREAD_COND_INITIALIZER};

/* This thread's nesting of proxy_world_stop(), and the worker it acts for outside it. */
static _Thread_local int world_depth;
static _Thread_local unsigned world_home;

unsigned proxy_workers_count(void)
{
	return workers.n;
}

/* The CPUs this process may run on (taskset, systemd's CPUAffinity=, a cpuset), in order:
 * the first `cap` into cpus[] (may be NULL when cap is 0); returns how many there are (0 when
 * unknown). */
static unsigned allowed_cpus(int *cpus, unsigned cap)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	if (sched_getaffinity(0, sizeof(set), &set) != 0)
		return 0;
	unsigned n = 0;
	for (int c = 0; c < CPU_SETSIZE && n < cap; c++)
		if (CPU_ISSET(c, &set))
			cpus[n++] = c;
	return (unsigned)CPU_COUNT(&set);
}

unsigned proxy_workers_wanted(int n)
{
	if (n <= 0) {
		unsigned allowed = allowed_cpus(NULL, 0);
		long cores = allowed ? (long)allowed : sysconf(_SC_NPROCESSORS_ONLN);
		n = cores > 0 ? (int)cores : 1;
	}
	return n > POOL_MAX_WORKERS - 1 ? POOL_MAX_WORKERS - 1
	                                : (unsigned)n; /* one slot: the view */
}

static void release_cb(struct ev_loop *loop)
{
	struct worker *w = ev_userdata(loop);
	pthread_mutex_unlock(&w->lock);
}

static void acquire_cb(struct ev_loop *loop)
{
	struct worker *w = ev_userdata(loop);
	pthread_mutex_lock(&w->lock);
}

static void ring(unsigned i);

static void take_servers(struct worker *w)
{
	pthread_mutex_lock(&w->mbox_lock);
	struct proxy_handoff *h = w->servers;
	w->servers = NULL;
	pthread_mutex_unlock(&w->mbox_lock);
	while (h) {
		struct proxy_handoff *next = *proxy_handoff_next(h);
		proxy_handoff_take(h);
		h = next;
	}
}

void proxy_worker_post_server(unsigned to, struct proxy_handoff *h)
{
	struct worker *w = &workers.w[to];
	pthread_mutex_lock(&w->mbox_lock);
	*proxy_handoff_next(h) = w->servers;
	w->servers = h;
	pthread_mutex_unlock(&w->mbox_lock);
	ring(to);
}

/* The connections another worker accepted for this one, oldest first. */
static void take_accepted(struct worker *w)
{
	pthread_mutex_lock(&w->mbox_lock);
	struct accepted_msg *m = w->accepted;
	w->accepted = NULL;
	pthread_mutex_unlock(&w->mbox_lock);
	struct accepted_msg *rev = NULL;
	while (m) { /* the list is newest first */
		struct accepted_msg *next = m->next;
		m->next = rev;
		rev = m;
		m = next;
	}
	while (rev) {
		struct accepted_msg *next = rev->next;
		/* no longer in the mailbox: a client now (counted as one), or refused */
		atomic_fetch_sub_explicit(&w->load, 1, memory_order_relaxed);
		/* accepted before any shutdown: served, unless pglane exits now */
		proxy_client_accepted(rev->fd, (struct sockaddr *)&rev->sa, rev->len,
		                      proxy.shutdown == PROXY_SHUTDOWN_NOW);
		free(rev);
		rev = next;
	}
}

unsigned proxy_worker_for_accept(void)
{
	if (workers.n == 1)
		return 0;
	unsigned best = pool_worker;
	int least = atomic_load_explicit(&workers.w[best].load, memory_order_relaxed);
	for (unsigned i = 0; i < workers.n; i++) {
		int n = atomic_load_explicit(&workers.w[i].load, memory_order_relaxed);
		if (n < least) {
			least = n;
			best = i;
		}
	}
	return best;
}

void proxy_worker_client_count(int delta)
{
	atomic_fetch_add_explicit(&workers.w[pool_worker].load, delta, memory_order_relaxed);
}

void proxy_worker_accepted(unsigned to, int fd, const struct sockaddr *sa, socklen_t len)
{
	struct worker *w = &workers.w[to];
	struct accepted_msg *m = malloc(sizeof(*m));
	if (to == pool_worker || !atomic_load(&w->attached) || !m ||
	    len > (socklen_t)sizeof(m->sa)) {
		free(m);
		proxy_client_accept(fd, sa, len); /* this worker's after all */
		return;
	}
	m->fd = fd;
	m->len = len;
	memcpy(&m->sa, sa, len);
	atomic_fetch_add_explicit(&w->load, 1, memory_order_relaxed); /* until it takes it */
	pthread_mutex_lock(&w->mbox_lock);
	m->next = w->accepted;
	w->accepted = m;
	pthread_mutex_unlock(&w->mbox_lock);
	ring(to);
}

static void run_cancels(struct worker *w)
{
	pthread_mutex_lock(&w->mbox_lock);
	struct cancel_msg *m = w->cancels;
	w->cancels = NULL;
	pthread_mutex_unlock(&w->mbox_lock);
	while (m) {
		struct cancel_msg *next = m->next;
		proxy_cancel_request(m->pid, m->key);
		free(m);
		m = next;
	}
}

static void exit_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)revents;
	free(t);
	ev_break(loop, EVBREAK_ALL);
}

static void wake_cb(struct ev_loop *loop, ev_async *a, int revents)
{
	(void)revents;
	struct worker *w = pool_container_of(a, struct worker, wake);
	take_accepted(w);
	run_cancels(w);
	take_servers(w);
	if (atomic_exchange(&w->kick, false)) {
		int64_t now = proxy_now_ms();
		for (struct pool *p = pool_next(NULL); p; p = pool_next(p))
			if (p->db->cfg)
				pool_kick(p, now);
	}
	if (atomic_exchange(&w->exit, false)) {
		proxy.shutdown = PROXY_SHUTDOWN_NOW;
		ev_timer *t = malloc(sizeof(*t)); /* a moment for answers to go out, as worker 0 */
		if (!t) {
			ev_break(loop, EVBREAK_ALL);
			return;
		}
		ev_timer_init(t, exit_cb, 0.05, 0);
		ev_timer_start(loop, t);
	}
	if (pool_worker == 0 && proxy.shutdown)
		proxy_shutdown_poll(); /* another worker drained */
}

void proxy_worker_attach(void)
{
	struct worker *w = &workers.w[pool_worker];
	w->loop = proxy.loop;
	pthread_mutex_init(&w->lock, NULL);
	pthread_mutex_init(&w->mbox_lock, NULL);
	ev_set_userdata(w->loop, w);
	ev_set_loop_release_cb(w->loop, release_cb, acquire_cb);
	ev_async_init(&w->wake, wake_cb);
	ev_async_start(w->loop, &w->wake);
	ev_unref(w->loop); /* the mailbox alone keeps no loop running */
	/* the world lock before a worker's lock, always (a stopper may take ours meanwhile) */
	pthread_mutex_lock(&workers.world);
	atomic_store(&w->attached, true);
	pthread_mutex_unlock(&workers.world);
	pthread_mutex_lock(&w->lock);
}

void proxy_worker_detach(void)
{
	struct worker *w = &workers.w[pool_worker];
	if (!w->attached)
		return;
	ev_ref(w->loop);
	ev_async_stop(w->loop, &w->wake);
	ev_set_loop_release_cb(w->loop, NULL, NULL);
	struct cancel_msg *m = w->cancels;
	while (m) {
		struct cancel_msg *next = m->next;
		free(m);
		m = next;
	}
	w->cancels = NULL;
	pthread_mutex_unlock(&w->lock);
	pthread_mutex_lock(&w->mbox_lock); /* servers handed to it late: closed */
	struct proxy_handoff *h = w->servers;
	w->servers = NULL;
	struct accepted_msg *a = w->accepted; /* connections given to it late: closed */
	w->accepted = NULL;
	pthread_mutex_unlock(&w->mbox_lock);
	while (a) {
		struct accepted_msg *next = a->next;
		close(a->fd);
		free(a);
		a = next;
	}
	while (h) {
		struct proxy_handoff *next = *proxy_handoff_next(h);
		proxy_handoff_drop(h);
		h = next;
	}
	pthread_mutex_lock(&workers.world); /* no world stopper acts for it from here on */
	atomic_store(&w->attached, false);
	pthread_mutex_unlock(&workers.world);
}

/* worker_cpu_affinity = auto: with several workers and exactly as many CPUs to run on, worker
 * i gets the i-th of them to itself. On 2 cores shared with PostgreSQL and pgbench, two
 * workers left to the scheduler slept and woke more per transaction (12-20% more CPU) and ran
 * -S -M extended -c 16 at 0.96 of one worker's TPS in make bench; pinned, 1.00 there and
 * 1.01-1.05 at the other -c 16/32 scenarios (bench/RESULTS.md). One worker is never pinned:
 * pinned, it ran 8% slower than free. */
static void plan_cpus(unsigned n, bool pin)
{
	int cpus[POOL_MAX_WORKERS];
	for (unsigned i = 0; i < POOL_MAX_WORKERS; i++)
		workers.cpu[i] = -1;
	if (!pin || n < 2 || allowed_cpus(cpus, POOL_MAX_WORKERS) != n)
		return;
	char list[POOL_MAX_WORKERS * 5] = "";
	size_t len = 0;
	for (unsigned i = 0; i < n; i++) {
		workers.cpu[i] = cpus[i];
		len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%d", i ? "," : "",
		                        cpus[i]);
	}
	log_info("workers pinned to CPUs %s, one each (worker_cpu_affinity = auto)", list);
}

/* The calling worker onto its CPU, when it has one. */
static void pin_self(void)
{
	int cpu = workers.cpu[pool_worker];
	if (cpu < 0)
		return;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	int rc = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	if (rc != 0)
		log_warning("worker %u: cannot pin to CPU %d: %s", pool_worker, cpu, strerror(rc));
}

static void *thread_main(void *arg)
{
	pool_worker = (unsigned)(uintptr_t)arg;
	world_home = pool_worker;
	/* "pglane-w1" in top -H and ps -L (worker 0, the main thread, stays "pglane") */
	char name[16];
	snprintf(name, sizeof(name), "pglane-w%u", pool_worker);
	pthread_setname_np(pthread_self(), name);
	pin_self();
	workers.run();
	return NULL;
}

bool proxy_workers_start(unsigned n, void (*run)(void), bool pin)
{
	workers.run = run;
	workers.n = n;
	plan_cpus(n, pin);
	/* signals go to the main thread (worker 0's default loop) */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	bool ok = true;
	for (unsigned i = 1; i < n && ok; i++) {
		int rc = pthread_create(&workers.w[i].thread, NULL, thread_main,
		                        (void *)(uintptr_t)i);
		if (rc != 0) {
			log_error("cannot start worker %u: %s", i, strerror(rc));
			workers.n = i;
			ok = false;
		}
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pin_self(); /* worker 0 last: the threads it starts do not inherit its one CPU */
	return ok;
}

void proxy_worker_ready(void)
{
	pthread_mutex_lock(&workers.ready_lock);
	workers.nready++;
	pthread_cond_broadcast(&workers.ready_cond);
	pthread_mutex_unlock(&workers.ready_lock);
}

void proxy_workers_wait_ready(void)
{
	/* worker 0's lock is let go meanwhile: a starting worker may log, or stop the world */
	pthread_mutex_unlock(&workers.w[0].lock);
	pthread_mutex_lock(&workers.ready_lock);
	while (workers.nready + 1 < workers.n)
		pthread_cond_wait(&workers.ready_cond, &workers.ready_lock);
	pthread_mutex_unlock(&workers.ready_lock);
	pthread_mutex_lock(&workers.w[0].lock);
}

void proxy_workers_join(void)
{
	for (unsigned i = 1; i < workers.n; i++)
		pthread_join(workers.w[i].thread, NULL);
}

void proxy_world_stop(void)
{
	if (world_depth++)
		return;
	world_home = pool_worker;
	if (workers.n == 1)
		return; /* nobody to stop: the caller holds the one lock */
	struct worker *me = &workers.w[pool_worker];
	pthread_mutex_unlock(&me->lock);
	pthread_mutex_lock(&workers.world);
	for (unsigned i = 0; i < workers.n; i++)
		if (workers.w[i].attached || i == world_home)
			pthread_mutex_lock(&workers.w[i].lock);
}

void proxy_world_resume(void)
{
	if (--world_depth)
		return;
	pool_worker = world_home;
	if (workers.n == 1)
		return;
	for (unsigned i = 0; i < workers.n; i++) {
		struct worker *w = &workers.w[i];
		if (i == world_home || !w->attached)
			continue;
		pthread_mutex_unlock(&w->lock);
		ev_async_send(w->loop, &w->wake); /* what was done to it takes effect now */
	}
	pthread_mutex_unlock(&workers.world);
}

void proxy_workers_each(void (*fn)(void *arg), void *arg)
{
	unsigned home = pool_worker;
	for (unsigned i = 0; i < workers.n; i++) {
		if (!workers.w[i].attached && i != home)
			continue;
		/* a worker asleep in its poll has the clock of its last wake-up: what is timed
		 * on its behalf (a waiting client's wait, a deadline) is timed now. Safe while the
		 * world is stopped: its loop uses the clock only while it holds its lock */
		if (i != home && workers.w[i].loop)
			ev_now_update(workers.w[i].loop);
		pool_worker = i;
		fn(arg);
	}
	pool_worker = home;
}

static void ring(unsigned i)
{
	struct worker *w = &workers.w[i];
	if (w->attached)
		ev_async_send(w->loop, &w->wake);
}

void proxy_workers_cancel(uint64_t mask, int32_t pid, int32_t key)
{
	for (unsigned i = 0; i < workers.n; i++) {
		if (!(mask & (UINT64_C(1) << i)))
			continue;
		if (i == pool_worker) {
			proxy_cancel_request(pid, key);
			continue;
		}
		struct cancel_msg *m = malloc(sizeof(*m));
		if (!m)
			continue;
		m->pid = pid;
		m->key = key;
		struct worker *w = &workers.w[i];
		pthread_mutex_lock(&w->mbox_lock);
		m->next = w->cancels;
		w->cancels = m;
		pthread_mutex_unlock(&w->mbox_lock);
		ring(i);
	}
}

void proxy_workers_kick(uint64_t mask)
{
	for (unsigned i = 0; i < workers.n; i++) {
		if (i == pool_worker || !(mask & (UINT64_C(1) << i)))
			continue;
		atomic_store(&workers.w[i].kick, true);
		ring(i);
	}
}

void proxy_workers_exit(void)
{
	for (unsigned i = 1; i < workers.n; i++) {
		atomic_store(&workers.w[i].exit, true);
		ring(i);
	}
}

void proxy_worker_drained(void)
{
	if (atomic_exchange(&workers.w[pool_worker].drained, true) || pool_worker == 0)
		return;
	ring(0);
}

bool proxy_workers_all_drained(void)
{
	for (unsigned i = 0; i < workers.n; i++)
		if (workers.w[i].attached && !atomic_load(&workers.w[i].drained))
			return false;
	return true;
}
