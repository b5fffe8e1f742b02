/* proxy/http.h — the HTTP endpoint: /metrics, /healthz, /ready, the status page. */
#ifndef PGLANE_PROXY_HTTP_H
#define PGLANE_PROXY_HTTP_H

#include <stdbool.h>

struct cfg;

/* Serve GET /metrics and /healthz on listen.host:admin.http_port (0: off). */
__attribute__((warn_unused_result)) bool proxy_http_start(const struct cfg *cfg);
void proxy_http_stop(void);
/* The listener's descriptor for a takeover (proxy/takeover.c), -1 when there is none. */
int proxy_http_fd(void);
/* Stop accepting and close this process's listener descriptor (the process that took it over
 * serves on it now); open connections are answered as usual. */
void proxy_http_release(void);

#endif
