/* config/cfg_peers.h — private to config/: reading the top-level peer_id and peers keys
 * (config/cfg_peers.c). Nothing outside config/ includes this header. */
#ifndef PGLANE_CONFIG_CFG_PEERS_H
#define PGLANE_CONFIG_CFG_PEERS_H

#include <libconfig.h>

#include "config/cfg_read.h"

#define CFG_PEER_DEFAULT_PORT 6432

/* peer_id = N (0..CFG_PEER_ID_MAX) into L->c->peer_id. */
void cfg_peer_id_parse(struct cfg_loader *L, const config_setting_t *s);
/* The peers list into L->c->peers; read after peer_id (an entry may not carry the own id). */
void cfg_peers_parse(struct cfg_loader *L, const config_setting_t *list);

#endif
