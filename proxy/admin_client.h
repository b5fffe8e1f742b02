/* proxy/admin_client.h — an admin console session, and the metrics and status documents it serves.
 */
#ifndef PGLANE_PROXY_ADMIN_CLIENT_H
#define PGLANE_PROXY_ADMIN_CLIENT_H

#include <stdbool.h>
#include <stdint.h>

struct proxy_client;
struct admin_buf;

void proxy_admin_started(void);
int64_t proxy_admin_started_ms(void);
/* After login to the admin database: false (client closed) when `user` may not. */
bool proxy_admin_login(struct proxy_client *c, const char *user);
/* Bytes from an admin client are ready. */
void proxy_admin_read(struct proxy_client *c);
/* Its output was written. */
void proxy_admin_drained(struct proxy_client *c);
/* A PAUSE it waits for may be done. */
void proxy_admin_poll(struct proxy_client *c);
void proxy_admin_free(struct proxy_client *c);
const char *proxy_admin_user(const struct proxy_client *c);
/* The Prometheus metrics text (appended to `out`). */
void proxy_admin_metrics(struct admin_buf *out);
/* The status page's JSON document (admin/status.h), appended to `out`. */
void proxy_admin_status(struct admin_buf *out);

#endif
