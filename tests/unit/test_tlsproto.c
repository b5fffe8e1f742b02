/* tests/unit/test_tlsproto.c — config/tlsproto: PgBouncer's TLS protocol lists parsed into a set
 * of versions (every word, separators, negation, case, errors), the lowest and highest version
 * of a set, and the cipher words that mean OpenSSL's default. */
#include <criterion/criterion.h>

#include "config/tlsproto.h"

#define V10 CFG_TLSV1_0
#define V11 CFG_TLSV1_1
#define V12 CFG_TLSV1_2
#define V13 CFG_TLSV1_3

Test(tlsproto, words_and_lists)
{
	static const struct {
		const char *s;
		unsigned want;
	} rows[] = {
	        {"secure", V12 | V13},
	        {"default", V12 | V13},
	        {"all", V10 | V11 | V12 | V13},
	        {"legacy", V10 | V11 | V12 | V13},
	        {"tlsv1", V10 | V11 | V12 | V13},
	        {"tlsv1.0", V10},
	        {"tlsv1.1", V11},
	        {"tlsv1.2", V12},
	        {"tlsv1.3", V13},
	        {"TLSv1.3", V13},
	        {"tlsv1.2,tlsv1.3", V12 | V13},
	        {"tlsv1.2, tlsv1.3", V12 | V13},
	        {"tlsv1.2 tlsv1.3", V12 | V13},
	        {"tlsv1.2:tlsv1.3", V12 | V13},
	        {"  tlsv1.0,\ttlsv1.3  ", V10 | V13},
	        {"all,!tlsv1.0", V11 | V12 | V13},
	        {"!tlsv1.0", V11 | V12 | V13},
	        {"!tlsv1.0,!tlsv1.1", V12 | V13},
	        {"secure,tlsv1.1", V11 | V12 | V13},
	        {"!secure", V10 | V11},
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		unsigned set = 0xdead;
		cr_expect(cfg_tls_protocols_parse(rows[i].s, &set), "\"%s\" refused", rows[i].s);
		cr_expect_eq(set, rows[i].want, "\"%s\": 0x%x, expected 0x%x", rows[i].s, set,
		             rows[i].want);
	}
}

Test(tlsproto, bad_lists_leave_the_set_alone)
{
	static const char *const bad[] = {
	        "",      "   ",      ",",      "tls1.2", "tlsv1.4",       "sslv3", "tlsv1.2,foo",
	        "!all",  "tlsv1.2!", "!",      "tlsv12", "secure;tlsv1.0", "1.2",   "tlsv1.3,!tlsv1.3",
	        "none",  "tlsv1.2x", "x,tlsv1.2",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		unsigned set = 0x55;
		cr_expect_not(cfg_tls_protocols_parse(bad[i], &set), "\"%s\" accepted (0x%x)", bad[i],
		              set);
		cr_expect_eq(set, 0x55u, "\"%s\" changed the set", bad[i]);
	}
	unsigned set = 0;
	cr_expect_not(cfg_tls_protocols_parse(NULL, &set));
}

Test(tlsproto, lowest_and_highest)
{
	cr_expect_eq(cfg_tls_versions_min(V12 | V13), (unsigned)V12);
	cr_expect_eq(cfg_tls_versions_max(V12 | V13), (unsigned)V13);
	cr_expect_eq(cfg_tls_versions_min(V10 | V13), (unsigned)V10);
	cr_expect_eq(cfg_tls_versions_max(V10 | V13), (unsigned)V13);
	cr_expect_eq(cfg_tls_versions_min(V11), (unsigned)V11);
	cr_expect_eq(cfg_tls_versions_max(V11), (unsigned)V11);
	cr_expect_eq(cfg_tls_versions_max(V10 | V11 | V12), (unsigned)V12);
	cr_expect_eq(cfg_tls_versions_min(0), 0u);
	cr_expect_eq(cfg_tls_versions_max(0), 0u);
}

Test(tlsproto, cipher_words)
{
	static const char *const dflt[] = {"", "default", "DEFAULT", "secure", "normal", "fast",
	                                   "Fast"};
	for (size_t i = 0; i < sizeof dflt / sizeof dflt[0]; i++)
		cr_expect(cfg_tls_ciphers_default(dflt[i]), "\"%s\"", dflt[i]);
	cr_expect(cfg_tls_ciphers_default(NULL));
	static const char *const lists[] = {"all", "HIGH:!aNULL", "ECDHE-RSA-AES128-GCM-SHA256",
	                                    "defaults", "secure:HIGH"};
	for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++)
		cr_expect_not(cfg_tls_ciphers_default(lists[i]), "\"%s\"", lists[i]);
}
