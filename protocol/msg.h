/* protocol/msg.h — named message types and authentication codes, with builders and
 * parsers for every typed message pglane itself writes or looks inside.
 *
 * Builders append one whole message to a proto_writer (check proto_writer_ok() once).
 * Parsers take the message body (after the length field) and its size, return false when
 * it is malformed, and hand out pointers borrowed from the body. */
#ifndef PGLANE_PROTOCOL_MSG_H
#define PGLANE_PROTOCOL_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/buf.h"

/* Frontend (client → server) message types. */
enum proto_fe_type {
	PROTO_FE_BIND = 'B',
	PROTO_FE_CLOSE = 'C',
	PROTO_FE_DESCRIBE = 'D',
	PROTO_FE_EXECUTE = 'E',
	PROTO_FE_FUNCTION_CALL = 'F',
	PROTO_FE_FLUSH = 'H',
	PROTO_FE_PARSE = 'P',
	PROTO_FE_QUERY = 'Q',
	PROTO_FE_SYNC = 'S',
	PROTO_FE_TERMINATE = 'X',
	PROTO_FE_COPY_DONE = 'c',
	PROTO_FE_COPY_DATA = 'd',
	PROTO_FE_COPY_FAIL = 'f',
	PROTO_FE_PASSWORD = 'p', /* also SASLInitialResponse, SASLResponse */
};

/* Backend (server → client) message types. */
enum proto_be_type {
	PROTO_BE_PARSE_COMPLETE = '1',
	PROTO_BE_BIND_COMPLETE = '2',
	PROTO_BE_CLOSE_COMPLETE = '3',
	PROTO_BE_NOTIFICATION = 'A',
	PROTO_BE_COMMAND_COMPLETE = 'C',
	PROTO_BE_DATA_ROW = 'D',
	PROTO_BE_ERROR = 'E',
	PROTO_BE_COPY_IN = 'G',
	PROTO_BE_COPY_OUT = 'H',
	PROTO_BE_EMPTY_QUERY = 'I',
	PROTO_BE_KEY_DATA = 'K',
	PROTO_BE_NOTICE = 'N',
	PROTO_BE_AUTH = 'R',
	PROTO_BE_PARAM_STATUS = 'S',
	PROTO_BE_ROW_DESCRIPTION = 'T',
	PROTO_BE_FUNCTION_RESULT = 'V',
	PROTO_BE_COPY_BOTH = 'W',
	PROTO_BE_READY = 'Z',
	PROTO_BE_COPY_DONE = 'c',
	PROTO_BE_COPY_DATA = 'd',
	PROTO_BE_NO_DATA = 'n',
	PROTO_BE_PORTAL_SUSPENDED = 's',
	PROTO_BE_PARAM_DESCRIPTION = 't',
	PROTO_BE_NEGOTIATE_VERSION = 'v',
};

/* Authentication request codes ('R' messages). */
enum proto_auth_code {
	PROTO_AUTH_OK = 0,
	PROTO_AUTH_KERBEROS_V5 = 2,
	PROTO_AUTH_CLEARTEXT = 3,
	PROTO_AUTH_MD5 = 5,
	PROTO_AUTH_GSS = 7,
	PROTO_AUTH_GSS_CONTINUE = 8,
	PROTO_AUTH_SSPI = 9,
	PROTO_AUTH_SASL = 10,
	PROTO_AUTH_SASL_CONTINUE = 11,
	PROTO_AUTH_SASL_FINAL = 12,
};

/* Transaction status in ReadyForQuery. */
enum proto_tx_status {
	PROTO_TX_IDLE = 'I',
	PROTO_TX_BLOCK = 'T',
	PROTO_TX_FAILED = 'E',
};

#define PROTO_SCRAM_MECHANISM "SCRAM-SHA-256"

/* ErrorResponse / NoticeResponse field codes. */
enum proto_error_field {
	PROTO_ERR_SEVERITY = 'S',
	PROTO_ERR_SEVERITY_NONLOCAL = 'V',
	PROTO_ERR_SQLSTATE = 'C',
	PROTO_ERR_MESSAGE = 'M',
	PROTO_ERR_DETAIL = 'D',
	PROTO_ERR_HINT = 'H',
};

/* SQLSTATEs pglane itself reports. */
#define PROTO_SQLSTATE_PROTOCOL_VIOLATION     "08P01"
#define PROTO_SQLSTATE_CONNECTION_FAILURE     "08006"
#define PROTO_SQLSTATE_CANNOT_CONNECT         "08001"
#define PROTO_SQLSTATE_INVALID_PASSWORD       "28P01"
#define PROTO_SQLSTATE_INVALID_AUTH_SPEC      "28000"
#define PROTO_SQLSTATE_TOO_MANY_CONNECTIONS   "53300"
#define PROTO_SQLSTATE_QUERY_CANCELED         "57014"
#define PROTO_SQLSTATE_ADMIN_SHUTDOWN         "57P01"
#define PROTO_SQLSTATE_CANNOT_CONNECT_NOW     "57P03"
#define PROTO_SQLSTATE_FEATURE_NOT_SUPPORTED  "0A000"
#define PROTO_SQLSTATE_INVALID_CATALOG        "3D000"
#define PROTO_SQLSTATE_INTERNAL               "XX000"
#define PROTO_SQLSTATE_IDLE_IN_TX_TIMEOUT     "25P03"
#define PROTO_SQLSTATE_TRANSACTION_TIMEOUT    "25P04"
#define PROTO_SQLSTATE_INVALID_TX_STATE       "25000"
#define PROTO_SQLSTATE_ACTIVE_SQL_TRANSACTION "25001"
#define PROTO_SQLSTATE_SUCCESSFUL             "00000"
#define PROTO_SQLSTATE_IDLE_SESSION_TIMEOUT   "57P05"
#define PROTO_SQLSTATE_IN_FAILED_TX           "25P02"
#define PROTO_SQLSTATE_SYNTAX_ERROR           "42601"
#define PROTO_SQLSTATE_INSUFFICIENT_PRIVILEGE "42501"
#define PROTO_SQLSTATE_UNDEFINED_OBJECT       "42704"
#define PROTO_SQLSTATE_CANT_CHANGE_RUNTIME    "55P02"

/* Fields of an ErrorResponse or NoticeResponse; absent fields are NULL. */
struct proto_error {
	const char *severity;          /* localized 'S' */
	const char *severity_nonlocal; /* 'V' (PostgreSQL 9.6+) */
	const char *sqlstate;
	const char *message;
	const char *detail;
	const char *hint;
};

/* ---- builders ---- */
/* ErrorResponse (or NoticeResponse when `type` is PROTO_BE_NOTICE) with S, V (both
 * `severity`, which must be the non-localized word such as "FATAL"), C, M and, unless
 * `detail` is NULL, D fields, then the final NUL. */
void proto_write_error(struct proto_writer *w, uint8_t type, const char *severity,
                       const char *sqlstate, const char *message, const char *detail);
/* Authentication request `code` followed by `n` bytes of `data` (salt, SASL payload). For
 * PROTO_AUTH_SASL pass the mechanism list already NUL-separated and double-terminated. */
void proto_write_auth(struct proto_writer *w, int32_t code, const void *data, size_t n);
void proto_write_param_status(struct proto_writer *w, const char *name, const char *value);
void proto_write_key_data(struct proto_writer *w, int32_t pid, int32_t key);
void proto_write_ready(struct proto_writer *w, uint8_t tx_status);
void proto_write_query(struct proto_writer *w, const char *sql);
void proto_write_sync(struct proto_writer *w);
void proto_write_terminate(struct proto_writer *w);
/* PasswordMessage with a NUL-terminated password or MD5 response. */
void proto_write_password(struct proto_writer *w, const char *password);
/* SASLInitialResponse: mechanism name, then int32 length and the data. */
void proto_write_sasl_initial(struct proto_writer *w, const char *mechanism, const void *data,
                              size_t n);
/* SASLResponse: the raw data. */
void proto_write_sasl_response(struct proto_writer *w, const void *data, size_t n);

/* ---- parsers ---- */
/* 'R': the code and whatever follows it (salt, SASL mechanisms or payload). The size is
 * checked for the codes that have one: nothing after OK, cleartext, Kerberos, GSS and SSPI;
 * exactly a 4-byte salt after MD5; a list ending in two NULs after SASL. Other codes (SASL
 * continue/final, GSS continue, unknown) accept any data. */
__attribute__((warn_unused_result)) bool proto_parse_auth(const uint8_t *body, size_t len,
                                                          int32_t *code, const uint8_t **data,
                                                          size_t *data_len);
/* Does the NUL-separated SASL mechanism list of an AuthenticationSASL hold `mech`? */
__attribute__((warn_unused_result)) bool proto_sasl_has_mechanism(const uint8_t *data, size_t len,
                                                                  const char *mech);
/* 'E' / 'N': the known fields; unknown field codes are skipped. False when a field is not
 * NUL-terminated, the final terminator is missing or is not the last byte. */
__attribute__((warn_unused_result)) bool proto_parse_error(const uint8_t *body, size_t len,
                                                           struct proto_error *out);
/* 'D' DataRow: column `col` (from 0) as bytes (not NUL-terminated) and length; *null for SQL
 * NULL. False when malformed (counts and lengths checked against `len`) or no such column. */
__attribute__((warn_unused_result)) bool proto_parse_data_column(const uint8_t *body, size_t len,
                                                                 int col, const uint8_t **value,
                                                                 size_t *vlen, bool *null);
/* 'S' ParameterStatus. */
__attribute__((warn_unused_result)) bool
proto_parse_param_status(const uint8_t *body, size_t len, const char **name, const char **value);
/* 'K' BackendKeyData: exactly two int32 (protocol 3.0). */
__attribute__((warn_unused_result)) bool proto_parse_key_data(const uint8_t *body, size_t len,
                                                              int32_t *pid, int32_t *key);
/* 'Z' ReadyForQuery: status is one of I, T, E. */
__attribute__((warn_unused_result)) bool proto_parse_ready(const uint8_t *body, size_t len,
                                                           uint8_t *tx_status);
/* 'p' as PasswordMessage: a NUL-terminated string filling the body exactly. */
__attribute__((warn_unused_result)) bool proto_parse_password(const uint8_t *body, size_t len,
                                                              const char **password);
/* 'p' as SASLInitialResponse: mechanism, then int32 length (-1: none) and the data, which
 * must fill the rest of the body exactly. A length of -1 gives `*data` NULL, `*data_len` 0. */
__attribute__((warn_unused_result)) bool proto_parse_sasl_initial(const uint8_t *body, size_t len,
                                                                  const char **mechanism,
                                                                  const uint8_t **data,
                                                                  size_t *data_len);

#endif
