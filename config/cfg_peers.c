/* config/cfg_peers.c — the top-level peer_id and peers keys (PgBouncer's peer_id and [peers]):
 * this pglane's id among the pglanes behind one load balancer, and where the others listen, so
 * that a cancel request that reached the wrong one can be forwarded. Errors: an id out of
 * 1..CFG_PEER_ID_MAX, a duplicate id, the own peer_id in the list, a missing id or host. */
#include "config/cfg_peers.h"

#include <stdlib.h>
#include <string.h>

#include "config/cfg.h"

void cfg_peer_id_parse(struct cfg_loader *L, const config_setting_t *s)
{
	(void)cfg_get_int(L, s, "peer_id", 0, CFG_PEER_ID_MAX, &L->c->peer_id);
}

/* The keys of one entry into `p`; each error reported at its key. */
static void peer_keys(struct cfg_loader *L, const config_setting_t *g, const char *prefix,
                      struct cfg_peer *p)
{
	char key[CFG_KEY_MAX];
	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		const char *name = config_setting_name(s);
		cfg_key_join(key, prefix, name);
		if (strcmp(name, "id") == 0)
			(void)cfg_get_int(L, s, key, 1, CFG_PEER_ID_MAX, &p->id);
		else if (strcmp(name, "host") == 0)
			(void)cfg_get_string(L, s, key, CFG_STR_NONEMPTY, &p->host);
		else if (strcmp(name, "port") == 0)
			(void)cfg_get_int(L, s, key, 1, 65535, &p->port);
		else
			cfg_err_at(L, s, key, "unknown key");
	}
	const char *required[] = {"id", "host"};
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		if (config_setting_get_member(g, required[i]))
			continue;
		cfg_key_join(key, prefix, required[i]);
		cfg_err_at(L, g, key, "required");
	}
}

/* Entry `i` against the own id and the entries before it. */
static void peer_check(struct cfg_loader *L, const config_setting_t *g, const char *prefix,
                       size_t i)
{
	const struct cfg_peer *p = &L->c->peers[i];
	const config_setting_t *at = config_setting_get_member(g, "id");
	char key[CFG_KEY_MAX];
	cfg_key_join(key, prefix, "id");
	if (p->id == 0)
		return; /* missing or wrong: already reported */
	if (p->id == L->c->peer_id) {
		cfg_err_at(L, at, key, "is this pglane's own peer_id (%d): list only the others",
		           p->id);
		return;
	}
	for (size_t j = 0; j < i; j++) {
		if (L->c->peers[j].id != p->id)
			continue;
		cfg_err_at(L, at, key, "duplicate peer id %d (first defined on line %d)", p->id,
		           L->c->peers[j].line);
		return;
	}
}

void cfg_peers_parse(struct cfg_loader *L, const config_setting_t *list)
{
	size_t n = (size_t)config_setting_length(list);
	if (n == 0)
		return;
	L->c->peers = calloc(n, sizeof(*L->c->peers));
	if (!L->c->peers) {
		cfg_oom(L);
		return;
	}
	char key[CFG_KEY_MAX];
	for (size_t i = 0; i < n; i++) {
		const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
		struct cfg_peer *p = &L->c->peers[i];
		L->c->npeers = i + 1;
		p->line = (int)config_setting_source_line(g);
		p->port = CFG_PEER_DEFAULT_PORT;
		cfg_key_index(key, "peers", (int)i);
		if (!cfg_expect_group(L, g, key))
			continue;
		peer_keys(L, g, key, p);
		peer_check(L, g, key, i);
	}
}
