/* proxy/io.c — socket reads and writes, the I/O block free list, and the output queue. */
#include "proxy/context.h"
#include "proxy/io.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>

#define IO_CACHE_MAX 256 /* free blocks kept for reuse */

/* Per thread: a worker frees into and takes from its own list, without a lock. */
static _Thread_local struct proxy_io *free_blocks;
static _Thread_local int nfree;

static void update_watcher(struct proxy_conn *c)
{
	int ev = (c->want_read ? EV_READ : 0) | (c->want_write ? EV_WRITE : 0);
	bool active = ev_is_active(&c->w);
	if ((ev == 0 && !active) || (active && (c->w.events & (EV_READ | EV_WRITE)) == ev))
		return;
	ev_io_stop(proxy.loop, &c->w);
	if (ev) {
		ev_io_set(&c->w, c->w.fd, ev);
		ev_io_start(proxy.loop, &c->w);
	}
}

void proxy_conn_init(struct proxy_conn *c, int fd, void (*cb)(struct ev_loop *, ev_io *, int))
{
	ev_io_init(&c->w, cb, fd, EV_READ);
	c->io = NULL;
	c->ssl = NULL;
	c->want_read = true;
	c->want_write = false;
	ev_io_start(proxy.loop, &c->w);
}

static void io_put(struct proxy_io *io);

/* The held blocks of a closed peer go once nothing points into them. */
static void put_held(struct proxy_io *io)
{
	while (io->held) {
		struct proxy_io *h = io->held;
		io->held = h->held;
		h->held = NULL;
		io_put(h);
	}
}

static void io_put(struct proxy_io *io)
{
	put_held(io);
	if (io->data != io->inline_data) {
		free(io->data);
		io->data = io->inline_data;
		io->cap = PROXY_BUF_SIZE;
	}
	if (nfree >= IO_CACHE_MAX) {
		free(io);
		return;
	}
	io->next_free = free_blocks;
	free_blocks = io;
	nfree++;
}

void proxy_conn_close(struct proxy_conn *c)
{
	ev_io_stop(proxy.loop, &c->w);
	if (c->ssl) {
		ERR_clear_error();
		SSL_shutdown(c->ssl); /* best effort: one close_notify, no waiting */
		SSL_free(c->ssl);
		ERR_clear_error();
		c->ssl = NULL;
	}
	if (c->w.fd >= 0)
		close(c->w.fd);
	c->w.fd = -1;
	if (c->io)
		io_put(c->io);
	c->io = NULL;
	c->want_read = c->want_write = false;
}

void proxy_conn_kick(struct proxy_conn *c)
{
	if (c->ssl && c->want_read && SSL_has_pending(c->ssl))
		ev_feed_event(proxy.loop, &c->w, EV_READ);
}

void proxy_conn_set_read(struct proxy_conn *c, bool on)
{
	if (c->want_read == on || c->w.fd < 0)
		return;
	c->want_read = on;
	update_watcher(c);
	proxy_conn_kick(c);
}

/* recv() or SSL_read(): > 0 bytes, 0 end of stream, -1 with errno (EAGAIN: try later). */
static ssize_t conn_recv(struct proxy_conn *c, void *buf, size_t n)
{
	if (!c->ssl)
		return recv(c->w.fd, buf, n, 0);
	ERR_clear_error();
	int r = SSL_read(c->ssl, buf, n > INT32_MAX ? INT32_MAX : (int)n);
	if (r > 0) {
		proxy_conn_kick(c);
		return r;
	}
	switch (SSL_get_error(c->ssl, r)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	default:
		errno = EIO;
		return -1;
	}
}

bool proxy_conn_send_now(struct proxy_conn *c, const void *p, size_t n)
{
	if (c->w.fd < 0)
		return false;
	if (c->ssl) {
		ERR_clear_error();
		int r = SSL_write(c->ssl, p, (int)n);
		ERR_clear_error();
		return r == (int)n;
	}
	return send(c->w.fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)n;
}

/* writev() or SSL_write() of each piece: bytes written, or -1 with errno. */
static ssize_t conn_writev(struct proxy_conn *c, const struct iovec *iov, int n)
{
	if (!c->ssl)
		return n == 1 ? send(c->w.fd, iov[0].iov_base, iov[0].iov_len, MSG_NOSIGNAL)
		              : writev(c->w.fd, iov, n);
	ssize_t done = 0;
	for (int i = 0; i < n; i++) {
		ERR_clear_error();
		int len = iov[i].iov_len > INT32_MAX ? INT32_MAX : (int)iov[i].iov_len;
		int r = SSL_write(c->ssl, iov[i].iov_base, len);
		if (r > 0) {
			done += r;
			if (r < len)
				return done;
			continue;
		}
		int e = SSL_get_error(c->ssl, r);
		if (done > 0)
			return done;
		errno = (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) ? EAGAIN : EIO;
		return -1;
	}
	return done;
}

void proxy_conn_set_write(struct proxy_conn *c, bool on)
{
	if (c->want_write == on || c->w.fd < 0)
		return;
	c->want_write = on;
	update_watcher(c);
}

struct proxy_io *proxy_io_get(struct proxy_conn *c)
{
	if (c->io)
		return c->io;
	struct proxy_io *io = free_blocks;
	if (io) {
		free_blocks = io->next_free;
		nfree--;
	} else {
		io = malloc(sizeof(*io));
		if (!io)
			return NULL;
		io->data = io->inline_data;
		io->cap = PROXY_BUF_SIZE;
	}
	io->next_free = NULL;
	io->start = io->scan = io->end = 0;
	io->pass = io->drop = io->need = 0;
	io->niov = 0;
	io->scratch_len = 0;
	io->out_bytes = 0;
	io->held = NULL;
	c->io = io;
	return io;
}

void proxy_io_release_idle(struct proxy_conn *c)
{
	struct proxy_io *io = c->io;
	if (!io || io->start != io->end || io->niov || io->pass || io->drop)
		return;
	io_put(io);
	c->io = NULL;
}

/* Move [scan, end) to the front, into a buffer of at least `need` bytes. */
static bool io_reserve(struct proxy_io *io, uint32_t need)
{
	if (need > PROXY_BUF_MAX)
		return false;
	uint32_t keep = io->end - io->scan;
	if (need <= io->cap) {
		memmove(io->data, io->data + io->scan, keep);
	} else {
		uint8_t *d = malloc(need);
		if (!d)
			return false;
		memcpy(d, io->data + io->scan, keep);
		if (io->data != io->inline_data)
			free(io->data);
		io->data = d;
		io->cap = need;
	}
	io->start = io->scan = 0;
	io->end = keep;
	return true;
}

enum proxy_io_result proxy_conn_read(struct proxy_conn *c)
{
	struct proxy_io *io = proxy_io_get(c);
	if (!io)
		return PROXY_IO_ERROR;
	if (io->start == io->scan) {
		uint32_t unread = io->end - io->scan;
		if (unread == 0) {
			io->start = io->scan = io->end = 0;
		} else if (io->end == io->cap || (io->need && io->cap - io->scan < io->need)) {
			uint32_t want = io->need > unread ? io->need : unread + 1;
			if (!io_reserve(io, want > io->cap ? want : io->cap))
				return PROXY_IO_ERROR;
		}
	}
	if (io->end == io->cap)
		return PROXY_IO_AGAIN;
	ssize_t n = conn_recv(c, io->data + io->end, io->cap - io->end);
	if (n > 0) {
		io->end += (uint32_t)n;
		return PROXY_IO_OK;
	}
	if (n == 0)
		return PROXY_IO_EOF;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return PROXY_IO_AGAIN;
	return PROXY_IO_ERROR;
}

void proxy_in_consumed(struct proxy_conn *c)
{
	struct proxy_io *io = c->io;
	if (io)
		io->start = io->scan;
}

bool proxy_out_ref(struct proxy_conn *c, const void *p, size_t n)
{
	if (n == 0)
		return true;
	struct proxy_io *io = proxy_io_get(c);
	if (!io)
		return false;
	if (io->niov > 0) {
		struct iovec *last = &io->iov[io->niov - 1];
		if ((const uint8_t *)last->iov_base + last->iov_len == (const uint8_t *)p) {
			last->iov_len += n;
			io->out_bytes += n;
			return true;
		}
	}
	if (io->niov == PROXY_IOV_MAX)
		return false;
	io->iov[io->niov].iov_base = (void *)p;
	io->iov[io->niov].iov_len = n;
	io->niov++;
	io->out_bytes += n;
	return true;
}

uint8_t *proxy_out_space(struct proxy_conn *c, size_t *avail)
{
	struct proxy_io *io = proxy_io_get(c);
	if (!io) {
		*avail = 0;
		return NULL;
	}
	*avail = PROXY_SCRATCH_SIZE - io->scratch_len;
	return io->scratch + io->scratch_len;
}

bool proxy_out_commit(struct proxy_conn *c, size_t n)
{
	struct proxy_io *io = c->io;
	if (!io || n > PROXY_SCRATCH_SIZE - io->scratch_len)
		return false;
	if (!proxy_out_ref(c, io->scratch + io->scratch_len, n))
		return false;
	io->scratch_len += (uint32_t)n;
	return true;
}

bool proxy_out_copy(struct proxy_conn *c, const void *p, size_t n)
{
	size_t avail;
	uint8_t *dst = proxy_out_space(c, &avail);
	if (!dst || avail < n)
		return false;
	memcpy(dst, p, n);
	return proxy_out_commit(c, n);
}

bool proxy_out_pending(const struct proxy_conn *c)
{
	return c->io && c->io->niov > 0;
}

static void out_reset(struct proxy_io *io)
{
	io->niov = 0;
	io->scratch_len = 0;
	put_held(io);
}

enum proxy_io_result proxy_out_flush(struct proxy_conn *c)
{
	struct proxy_io *io = c->io;
	if (!io || io->niov == 0)
		goto drained;
	for (;;) {
		ssize_t n = conn_writev(c, io->iov, io->niov);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			return PROXY_IO_ERROR;
		}
		/* drop what was written */
		size_t left = (size_t)n;
		int i = 0;
		while (i < io->niov && left >= io->iov[i].iov_len)
			left -= io->iov[i++].iov_len;
		if (i == io->niov) {
			out_reset(io);
			goto drained;
		}
		io->iov[i].iov_base = (uint8_t *)io->iov[i].iov_base + left;
		io->iov[i].iov_len -= left;
		memmove(io->iov, io->iov + i, (size_t)(io->niov - i) * sizeof(io->iov[0]));
		io->niov -= i;
	}
	if (!c->want_write) {
		c->want_write = true;
		update_watcher(c);
	}
	return PROXY_IO_AGAIN;
drained:
	if (c->want_write) {
		c->want_write = false;
		update_watcher(c);
	}
	return PROXY_IO_OK;
}

void proxy_out_discard(struct proxy_conn *c)
{
	if (c->io)
		out_reset(c->io);
}

void proxy_out_hold(struct proxy_conn *c, struct proxy_conn *from)
{
	if (!from->io)
		return;
	put_held(from->io); /* what `from` itself still had to write is not written */
	if (!proxy_out_pending(c)) {
		io_put(from->io);
	} else {
		from->io->held = c->io->held;
		c->io->held = from->io;
	}
	from->io = NULL;
}

void proxy_io_free_cache(void)
{
	while (free_blocks) {
		struct proxy_io *io = free_blocks;
		free_blocks = io->next_free;
		free(io);
	}
	nfree = 0;
}
