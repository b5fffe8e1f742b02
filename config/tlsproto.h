/* config/tlsproto.h — TLS protocol versions and cipher lists written as PgBouncer writes them
 * (client_tls_protocols, client_tls_ciphers): pure parsing, no OpenSSL. proxy/tls.c turns the
 * result into an SSL_CTX's settings; cfg_load validates listen.tls.protocols and
 * server_tls.protocols with it. */
#ifndef PGLANE_CONFIG_TLSPROTO_H
#define PGLANE_CONFIG_TLSPROTO_H

#include <stdbool.h>

/* A set of TLS versions: bits. */
enum cfg_tls_version {
	CFG_TLSV1_0 = 1u << 0,
	CFG_TLSV1_1 = 1u << 1,
	CFG_TLSV1_2 = 1u << 2,
	CFG_TLSV1_3 = 1u << 3,
};
#define CFG_TLS_VERSIONS_ALL    (CFG_TLSV1_0 | CFG_TLSV1_1 | CFG_TLSV1_2 | CFG_TLSV1_3)
#define CFG_TLS_VERSIONS_SECURE (CFG_TLSV1_2 | CFG_TLSV1_3)

/* Parse a protocol list into a set of versions (bits of enum cfg_tls_version). Words, case
 * insensitive, separated by commas, colons or blanks: "tlsv1.0" ... "tlsv1.3", "tlsv1" (all
 * four), "all" and "legacy" (all four), "secure" and "default" (TLSv1.2 and TLSv1.3); a word
 * after '!' is taken out of the set (a list that begins with one starts from all four), as in
 * PgBouncer. False, *set untouched, for an unknown word or a list that leaves no version. */
__attribute__((warn_unused_result)) bool cfg_tls_protocols_parse(const char *s, unsigned *set);
/* The lowest and the highest version in a non-empty set (as enum cfg_tls_version bits). */
unsigned cfg_tls_versions_min(unsigned set);
unsigned cfg_tls_versions_max(unsigned set);
/* Does a cipher list mean OpenSSL's own default ("" or, case insensitive, "default", "secure",
 * "normal", "fast", as in PgBouncer)? Anything else is an OpenSSL cipher list ("all" = "ALL"). */
bool cfg_tls_ciphers_default(const char *s);

#endif
