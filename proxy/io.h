/* proxy/io.h — sockets with their libev watcher and an I/O block attached only while bytes
 * are in flight: the input buffer (read from this socket, forwarded from in place) and the
 * output queue (iovecs pointing into a peer's input buffer or this block's scratch area,
 * written with one writev). Idle connections hold no I/O block. */
#ifndef PGLANE_PROXY_IO_H
#define PGLANE_PROXY_IO_H

#include <ev.h>
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define PROXY_BUF_SIZE         (32 * 1024) /* input buffer */
#define PROXY_SCRATCH_SIZE     4096        /* bytes pglane writes itself */
#define PROXY_IOV_MAX          32
#define PROXY_BUF_MAX          (1024 * 1024) /* a message inspected whole may grow the buffer to this */
#define PROXY_LOGIN_MAX_PACKET 8192          /* any message before authentication */
#define PROXY_MAX_PACKET       (1024u * 1024 * 1024) /* any message after */

struct proxy_io {
	struct proxy_io *next_free;
	uint8_t *data; /* inline_data, or an owned heap block when grown */
	uint32_t cap;
	/* input: [start, scan) handed to the peer's output queue (not yet written),
	 * [scan, end) not looked at yet */
	uint32_t start;
	uint32_t scan;
	uint32_t end;
	uint32_t pass; /* bytes of the current message still to forward */
	uint32_t drop; /* bytes of the current message still to skip */
	uint32_t need; /* contiguous bytes wanted from `scan` before processing goes on */
	/* output */
	int niov;
	uint32_t scratch_len;
	uint64_t out_bytes;    /* queued since the last drain, for statistics */
	struct proxy_io *held; /* owned: blocks of a closed peer the output still points into
	                          (proxy_out_hold()), freed once it is written */
	struct iovec iov[PROXY_IOV_MAX];
	uint8_t scratch[PROXY_SCRATCH_SIZE];
	uint8_t inline_data[PROXY_BUF_SIZE];
};

struct proxy_conn {
	ev_io w;             /* fd, events; w.data unused (container_of) */
	struct proxy_io *io; /* owned; NULL when nothing is in flight */
	bool want_read;      /* reading is wanted (not paused for back-pressure) */
	bool want_write;     /* output is waiting for the socket */
	SSL *ssl;            /* owned; set once TLS is negotiated */
};

enum proxy_io_result { PROXY_IO_OK, PROXY_IO_AGAIN, PROXY_IO_EOF, PROXY_IO_ERROR };

/* Prepare `c` for `fd` (nonblocking already) with `cb`; starts watching for reads. */
void proxy_conn_init(struct proxy_conn *c, int fd, void (*cb)(struct ev_loop *, ev_io *, int));
/* Stop the watcher, close the fd, free the I/O block. */
void proxy_conn_close(struct proxy_conn *c);
/* Reading on or off (back-pressure); writing is switched by flush. */
void proxy_conn_set_read(struct proxy_conn *c, bool on);
/* TLS: OpenSSL may hold bytes (read ahead, or decrypted and not read yet) the socket no longer
 * signals: while reading is on, make the loop call the watcher back. */
void proxy_conn_kick(struct proxy_conn *c);
/* Watch for writability (a connect in progress). */
void proxy_conn_set_write(struct proxy_conn *c, bool on);

/* The I/O block, attached on demand; NULL when out of memory. */
struct proxy_io *proxy_io_get(struct proxy_conn *c);
/* Give the I/O block back when nothing is in it. */
void proxy_io_release_idle(struct proxy_conn *c);
/* Best effort: write `n` bytes now, outside the output queue (before TLS, or a last error
 * before closing). False when not all were written. */
bool proxy_conn_send_now(struct proxy_conn *c, const void *p, size_t n);

/* Read once into the input buffer. When nothing before `scan` is still referenced
 * (start == scan), unread bytes are first moved to the front, and the buffer grows up to
 * PROXY_BUF_MAX when `need` asks for more than it holds. OK: bytes arrived; AGAIN: nothing
 * now, or no room; ERROR also when `need` cannot be met. */
enum proxy_io_result proxy_conn_read(struct proxy_conn *c);
/* The input before `scan` is consumed: handled here, or handed to a peer's output queue and
 * since written (or forgotten). From now on nothing refers to those bytes, and the next read
 * may move the unread rest over them (start = scan). Call it only then: while a peer's output
 * still points into [start, scan), compacting would change the bytes it is about to write.
 * Nothing happens when no I/O block is attached. */
void proxy_in_consumed(struct proxy_conn *c);

/* Queue `n` bytes at `p` (which must stay put until written) for output; merges with the
 * previous iovec when contiguous. False when the queue is full. */
__attribute__((warn_unused_result)) bool proxy_out_ref(struct proxy_conn *c, const void *p,
                                                       size_t n);
/* Copy `n` bytes into the scratch area and queue them. False when there is no room. */
__attribute__((warn_unused_result)) bool proxy_out_copy(struct proxy_conn *c, const void *p,
                                                        size_t n);
/* Bytes of scratch space left, and a pointer to it for building in place; commit with
 * proxy_out_commit(). */
uint8_t *proxy_out_space(struct proxy_conn *c, size_t *avail);
__attribute__((warn_unused_result)) bool proxy_out_commit(struct proxy_conn *c, size_t n);
/* Is output waiting to be written? */
bool proxy_out_pending(const struct proxy_conn *c);
/* Write what is queued. OK: all written; AGAIN: partly written, now watching for
 * writability; ERROR: the socket failed. */
enum proxy_io_result proxy_out_flush(struct proxy_conn *c);
/* Forget queued output (the peer is gone). */
void proxy_out_discard(struct proxy_conn *c);
/* `from` is being closed while `c`'s queued output may still point into its input buffer:
 * `c` takes `from`'s I/O block and frees it once that output is written or discarded. */
void proxy_out_hold(struct proxy_conn *c, struct proxy_conn *from);

/* Free the cached I/O blocks (at exit). */
void proxy_io_free_cache(void);

#endif
