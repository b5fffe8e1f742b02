/* pool/route.c — the lane of a transaction. */
#include "pool/route.h"

#include <fnmatch.h>
#include <string.h>

static enum cfg_lane_kind usable(const struct cfg_database *db, enum cfg_lane_kind lane)
{
	return db->lanes[lane].enabled ? lane : CFG_LANE_OLTP;
}

static bool route_matches(const struct cfg_route *r, const char *dbname, const char *user,
                          const char *app)
{
	if (r->user && strcmp(r->user, user) != 0)
		return false;
	if (r->database && strcmp(r->database, dbname) != 0)
		return false;
	if (r->application_name && fnmatch(r->application_name, app ? app : "", 0) != 0)
		return false;
	return true;
}

enum cfg_lane_kind pool_route(const struct cfg *cfg, const struct cfg_database *db,
                              const char *dbname, const char *user, const char *application_name,
                              const char *hint)
{
	if (hint) {
		for (int k = 0; k < CFG_LANE_COUNT; k++)
			if (strcmp(hint, cfg_lane_name((enum cfg_lane_kind)k)) == 0)
				return usable(db, (enum cfg_lane_kind)k);
	}
	for (size_t i = 0; i < cfg->nroutes; i++)
		if (route_matches(&cfg->routes[i], dbname, user, application_name))
			return usable(db, cfg->routes[i].lane);
	return usable(db, db->default_lane);
}
