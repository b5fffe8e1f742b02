/* config/tlsproto.c — PgBouncer's TLS protocol-list syntax parsed into a set of versions, and
 * the cipher-list words that mean OpenSSL's default. */
#include "config/tlsproto.h"

#include <stddef.h>
#include <string.h>
#include <strings.h>

static const struct {
	const char *word;
	unsigned set;
} words[] = {
        {"tlsv1.0", CFG_TLSV1_0},
        {"tlsv1.1", CFG_TLSV1_1},
        {"tlsv1.2", CFG_TLSV1_2},
        {"tlsv1.3", CFG_TLSV1_3},
        {"tlsv1", CFG_TLS_VERSIONS_ALL},
        {"all", CFG_TLS_VERSIONS_ALL},
        {"legacy", CFG_TLS_VERSIONS_ALL},
        {"secure", CFG_TLS_VERSIONS_SECURE},
        {"default", CFG_TLS_VERSIONS_SECURE},
};

/* The set a word names, 0 when none. */
static unsigned word_set(const char *w, size_t n)
{
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strlen(words[i].word) == n && strncasecmp(words[i].word, w, n) == 0)
			return words[i].set;
	return 0;
}

bool cfg_tls_protocols_parse(const char *s, unsigned *set)
{
	static const char seps[] = ",: \t";
	unsigned out = 0;
	bool any = false;
	if (!s)
		return false;
	while (*s) {
		s += strspn(s, seps);
		size_t n = strcspn(s, seps);
		if (n == 0)
			break;
		bool negate = s[0] == '!';
		unsigned v = word_set(s + negate, n - negate);
		if (!v)
			return false;
		if (negate) {
			if (!any)
				out = CFG_TLS_VERSIONS_ALL;
			out &= ~v;
		} else {
			out |= v;
		}
		any = true;
		s += n;
	}
	if (!out)
		return false;
	*set = out;
	return true;
}

unsigned cfg_tls_versions_min(unsigned set)
{
	return set & -set;
}

unsigned cfg_tls_versions_max(unsigned set)
{
	unsigned top = 0;
	for (unsigned b = 1; b && b <= set; b <<= 1)
		if (set & b)
			top = b;
	return top;
}

bool cfg_tls_ciphers_default(const char *s)
{
	return !s || !s[0] || strcasecmp(s, "default") == 0 || strcasecmp(s, "secure") == 0 ||
	       strcasecmp(s, "normal") == 0 || strcasecmp(s, "fast") == 0;
}
