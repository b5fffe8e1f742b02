/* tests/unit/test_cancel_pid.c — the layout of the cancel pid pglane hands its clients
 * (proxy/cancel.h): forwarded bit 31, peer_id bits 30..20, worker bits 19..14, serial bits
 * 13..0; every field reads back what was put in, none spills into another, serials wrap
 * past 0. */
#include <criterion/criterion.h>
#include <stdint.h>

#include "config/cfg.h"
#include "proxy/cancel.h"

Test(cancel_pid, fields_read_back)
{
	static const unsigned peers[] = {0, 1, 2, 3, 1024, CFG_PEER_ID_MAX};
	static const unsigned workers[] = {0, 1, 31, 63};
	static const unsigned serials[] = {1, 2, 4095, 4096, 16383};
	for (size_t i = 0; i < sizeof(peers) / sizeof(peers[0]); i++)
		for (size_t j = 0; j < sizeof(workers) / sizeof(workers[0]); j++)
			for (size_t k = 0; k < sizeof(serials) / sizeof(serials[0]); k++) {
				uint32_t pid =
				        proxy_cancel_pid_make(peers[i], workers[j], serials[k]);
				cr_expect_eq(proxy_cancel_pid_peer(pid), peers[i]);
				cr_expect_eq(proxy_cancel_pid_worker(pid), workers[j]);
				cr_expect_eq(proxy_cancel_pid_serial(pid), serials[k]);
				cr_expect_not(proxy_cancel_pid_forwarded(pid));
				cr_expect_gt((int32_t)pid, 0, "a pid is positive");
			}
}

Test(cancel_pid, exact_bits)
{
	cr_expect_eq(proxy_cancel_pid_make(1, 0, 0), 1u << 20);
	cr_expect_eq(proxy_cancel_pid_make(0, 1, 0), 1u << 14);
	cr_expect_eq(proxy_cancel_pid_make(0, 0, 1), 1u);
	cr_expect_eq(proxy_cancel_pid_make(2047, 63, 16383), 0x7fffffffu);
	cr_expect_eq(proxy_cancel_pid_make(3, 2, 5), (3u << 20) | (2u << 14) | 5u);
	/* the peer_id range is the config's */
	cr_expect_eq(PROXY_CANCEL_PEER_MASK, (unsigned)CFG_PEER_ID_MAX);
}

Test(cancel_pid, fields_are_cut_to_their_width)
{
	uint32_t pid = proxy_cancel_pid_make(2048 + 5, 64 + 7, 16384 + 9);
	cr_expect_eq(proxy_cancel_pid_peer(pid), 5u);
	cr_expect_eq(proxy_cancel_pid_worker(pid), 7u);
	cr_expect_eq(proxy_cancel_pid_serial(pid), 9u);
	cr_expect_not(proxy_cancel_pid_forwarded(pid), "a large peer never sets bit 31");
}

Test(cancel_pid, forwarded_bit_leaves_the_fields)
{
	uint32_t pid = proxy_cancel_pid_make(7, 3, 1234);
	uint32_t fwd = pid | PROXY_CANCEL_FORWARDED;
	cr_expect(proxy_cancel_pid_forwarded(fwd));
	cr_expect_lt((int32_t)fwd, 0, "on the wire it is a negative pid");
	cr_expect_eq(proxy_cancel_pid_peer(fwd), 7u);
	cr_expect_eq(proxy_cancel_pid_worker(fwd), 3u);
	cr_expect_eq(proxy_cancel_pid_serial(fwd), 1234u);
	cr_expect_eq(fwd & ~PROXY_CANCEL_FORWARDED, pid);
}

Test(cancel_pid, serial_wraps_past_zero)
{
	cr_expect_eq(proxy_cancel_serial_next(0), 1u);
	cr_expect_eq(proxy_cancel_serial_next(1), 2u);
	cr_expect_eq(proxy_cancel_serial_next(16382), 16383u);
	cr_expect_eq(proxy_cancel_serial_next(16383), 1u, "0 is skipped");
	unsigned s = 0, seen_one = 0;
	for (int i = 0; i < 3 * 16383; i++) {
		s = proxy_cancel_serial_next(s);
		cr_assert_neq(s, 0u);
		cr_assert_leq(s, PROXY_CANCEL_SERIAL_MASK);
		seen_one += s == 1;
	}
	cr_expect_eq(seen_one, 3u, "one wrap per 16383 serials");
}
