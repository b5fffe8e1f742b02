/* proxy/http.h — the HTTP endpoint: /metrics, /healthz, /ready, the status page. */
#ifndef PGLANE_PROXY_HTTP_H
#define PGLANE_PROXY_HTTP_H

#include <stdbool.h>

struct cfg;

/* Serve GET /metrics and /healthz on listen.host:admin.http_port (0: off). */
__attribute__((warn_unused_result)) bool proxy_http_start(const struct cfg *cfg);
void proxy_http_stop(void);

#endif
