/* protocol/extended.h — the extended-query messages whose names pglane rewrites: Parse,
 * Bind, Describe and Close. Parsers take the message body (after the length field) and how
 * much of it is available; Bind may be read from its first bytes only, since its parameters
 * can be large. Names are borrowed pointers into the body. */
#ifndef PGLANE_PROTOCOL_EXTENDED_H
#define PGLANE_PROTOCOL_EXTENDED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/buf.h"

#define PROTO_DESCRIBE_STATEMENT 'S'
#define PROTO_DESCRIBE_PORTAL    'P'
#define PROTO_MAX_NAME           1024 /* longest statement or portal name pglane looks at */

/* Parse: the statement name, and where the rest (query, parameter types) starts. False when
 * the body is malformed: no NUL-terminated name and query, a bad parameter count. */
__attribute__((warn_unused_result)) bool proto_parse_parse(const uint8_t *body, size_t len,
                                                           const char **name, size_t *rest_off);

/* Bind: portal and statement names from the first `avail` bytes of a body of `len` bytes.
 * `*names_end` is the offset just after the statement name's NUL. False when they are not
 * both NUL-terminated within `avail` (or PROTO_MAX_NAME each). */
__attribute__((warn_unused_result)) bool proto_parse_bind_names(const uint8_t *body, size_t avail,
                                                                const char **portal,
                                                                const char **statement,
                                                                size_t *names_end);

/* Describe or Close: the kind ('S' or 'P') and the name, which must end the body. */
__attribute__((warn_unused_result)) bool proto_parse_target(const uint8_t *body, size_t len,
                                                            uint8_t *kind, const char **name);

/* Parse named `name` with a body `rest` (query, parameter types) of `rest_len` bytes, except
 * that the rest is not written: only the header and name go to `w`, and the length covers the
 * rest, which the caller sends next. */
void proto_write_parse_head(struct proto_writer *w, const char *name, size_t rest_len);
/* Bind header with `portal` and `statement`, the length covering `rest_len` more bytes the
 * caller sends next (formats, parameters, result formats as the client sent them). */
void proto_write_bind_head(struct proto_writer *w, const char *portal, const char *statement,
                           size_t rest_len);
/* A whole Describe or Close (`type` PROTO_FE_DESCRIBE or PROTO_FE_CLOSE). */
void proto_write_target(struct proto_writer *w, uint8_t type, uint8_t kind, const char *name);
/* Messages without a body: ParseComplete, BindComplete, CloseComplete, NoData. */
void proto_write_empty(struct proto_writer *w, uint8_t type);
/* CommandComplete with `tag`. */
void proto_write_command_complete(struct proto_writer *w, const char *tag);

#endif
