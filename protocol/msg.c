/* protocol/msg.c — builders and parsers of the typed messages pglane writes or looks inside:
 * authentication, errors and notices, ParameterStatus, BackendKeyData, ReadyForQuery, Query,
 * Sync, Terminate, PasswordMessage and the SASL responses. */
#include "protocol/msg.h"

#include <string.h>

#define KEY_DATA_LEN 8 /* int32 pid + int32 key (protocol 3.0) */

/* ---- builders ---- */

void proto_write_error(struct proto_writer *w, uint8_t type, const char *severity,
                       const char *sqlstate, const char *message, const char *detail)
{
	proto_begin(w, type);
	proto_put_u8(w, PROTO_ERR_SEVERITY);
	proto_put_cstr(w, severity);
	proto_put_u8(w, PROTO_ERR_SEVERITY_NONLOCAL);
	proto_put_cstr(w, severity);
	proto_put_u8(w, PROTO_ERR_SQLSTATE);
	proto_put_cstr(w, sqlstate);
	proto_put_u8(w, PROTO_ERR_MESSAGE);
	proto_put_cstr(w, message);
	if (detail) {
		proto_put_u8(w, PROTO_ERR_DETAIL);
		proto_put_cstr(w, detail);
	}
	proto_put_u8(w, 0);
	proto_end(w);
}

void proto_write_auth(struct proto_writer *w, int32_t code, const void *data, size_t n)
{
	proto_begin(w, PROTO_BE_AUTH);
	proto_put_i32(w, code);
	proto_put_bytes(w, data, n);
	proto_end(w);
}

void proto_write_param_status(struct proto_writer *w, const char *name, const char *value)
{
	proto_begin(w, PROTO_BE_PARAM_STATUS);
	proto_put_cstr(w, name);
	proto_put_cstr(w, value);
	proto_end(w);
}

void proto_write_key_data(struct proto_writer *w, int32_t pid, int32_t key)
{
	proto_begin(w, PROTO_BE_KEY_DATA);
	proto_put_i32(w, pid);
	proto_put_i32(w, key);
	proto_end(w);
}

void proto_write_ready(struct proto_writer *w, uint8_t tx_status)
{
	proto_begin(w, PROTO_BE_READY);
	proto_put_u8(w, tx_status);
	proto_end(w);
}

void proto_write_query(struct proto_writer *w, const char *sql)
{
	proto_begin(w, PROTO_FE_QUERY);
	proto_put_cstr(w, sql);
	proto_end(w);
}

void proto_write_sync(struct proto_writer *w)
{
	proto_begin(w, PROTO_FE_SYNC);
	proto_end(w);
}

void proto_write_terminate(struct proto_writer *w)
{
	proto_begin(w, PROTO_FE_TERMINATE);
	proto_end(w);
}

void proto_write_password(struct proto_writer *w, const char *password)
{
	proto_begin(w, PROTO_FE_PASSWORD);
	proto_put_cstr(w, password);
	proto_end(w);
}

void proto_write_sasl_initial(struct proto_writer *w, const char *mechanism, const void *data,
                              size_t n)
{
	proto_begin(w, PROTO_FE_PASSWORD);
	proto_put_cstr(w, mechanism);
	if (n > INT32_MAX)
		w->failed = true;
	proto_put_i32(w, (int32_t)n);
	proto_put_bytes(w, data, n);
	proto_end(w);
}

void proto_write_sasl_response(struct proto_writer *w, const void *data, size_t n)
{
	proto_begin(w, PROTO_FE_PASSWORD);
	proto_put_bytes(w, data, n);
	proto_end(w);
}

/* ---- parsers ---- */

bool proto_parse_auth(const uint8_t *body, size_t len, int32_t *code, const uint8_t **data,
                      size_t *data_len)
{
	struct proto_reader r;
	int32_t c;
	size_t n;

	proto_reader_init(&r, body, len);
	c = proto_get_i32(&r);
	if (r.failed)
		return false;
	n = proto_reader_left(&r);
	switch (c) {
	case PROTO_AUTH_OK:
	case PROTO_AUTH_KERBEROS_V5:
	case PROTO_AUTH_CLEARTEXT:
	case PROTO_AUTH_GSS:
	case PROTO_AUTH_SSPI:
		if (n != 0)
			return false;
		break;
	case PROTO_AUTH_MD5:
		if (n != 4)
			return false;
		break;
	case PROTO_AUTH_SASL: /* a list of names, each NUL-terminated, then a final NUL */
		if (n < 2 || body[len - 1] != 0 || body[len - 2] != 0)
			return false;
		break;
	default: /* SASL continue/final, GSS continue, or a code the caller will refuse */
		break;
	}
	*code = c;
	*data = body + 4;
	*data_len = n;
	return true;
}

bool proto_sasl_has_mechanism(const uint8_t *data, size_t len, const char *mech)
{
	struct proto_reader r;

	proto_reader_init(&r, data, len);
	for (;;) {
		size_t n;
		const char *name = proto_get_cstr(&r, &n);

		if (!name || n == 0)
			return false;
		if (strcmp(name, mech) == 0)
			return true;
	}
}

bool proto_parse_error(const uint8_t *body, size_t len, struct proto_error *out)
{
	struct proto_reader r;

	memset(out, 0, sizeof(*out));
	proto_reader_init(&r, body, len);
	for (;;) {
		uint8_t field = proto_get_u8(&r);
		const char *value;

		if (r.failed)
			break; /* no final terminator */
		if (field == 0) {
			if (proto_reader_left(&r) == 0)
				return true;
			break; /* bytes after the terminator */
		}
		value = proto_get_cstr(&r, NULL);
		if (!value)
			break;
		switch (field) {
		case PROTO_ERR_SEVERITY:
			out->severity = value;
			break;
		case PROTO_ERR_SEVERITY_NONLOCAL:
			out->severity_nonlocal = value;
			break;
		case PROTO_ERR_SQLSTATE:
			out->sqlstate = value;
			break;
		case PROTO_ERR_MESSAGE:
			out->message = value;
			break;
		case PROTO_ERR_DETAIL:
			out->detail = value;
			break;
		case PROTO_ERR_HINT:
			out->hint = value;
			break;
		default:
			break;
		}
	}
	memset(out, 0, sizeof(*out));
	return false;
}

bool proto_parse_param_status(const uint8_t *body, size_t len, const char **name,
                              const char **value)
{
	struct proto_reader r;
	const char *n, *v;

	proto_reader_init(&r, body, len);
	n = proto_get_cstr(&r, NULL);
	v = proto_get_cstr(&r, NULL);
	if (r.failed || proto_reader_left(&r) != 0)
		return false;
	*name = n;
	*value = v;
	return true;
}

bool proto_parse_key_data(const uint8_t *body, size_t len, int32_t *pid, int32_t *key)
{
	struct proto_reader r;

	if (len != KEY_DATA_LEN)
		return false;
	proto_reader_init(&r, body, len);
	*pid = proto_get_i32(&r);
	*key = proto_get_i32(&r);
	return !r.failed;
}

bool proto_parse_data_column(const uint8_t *body, size_t len, int col, const uint8_t **value,
                             size_t *vlen, bool *null)
{
	struct proto_reader r;
	proto_reader_init(&r, body, len);
	int16_t n = proto_get_i16(&r);
	if (r.failed || col < 0 || col >= n)
		return false;
	for (int i = 0; i <= col; i++) {
		int32_t l = proto_get_i32(&r);
		if (r.failed || l < -1)
			return false;
		const uint8_t *v = l > 0 ? proto_get_bytes(&r, (size_t)l) : NULL;
		if (r.failed)
			return false;
		if (i == col) {
			*null = l == -1;
			*value = l > 0 ? v : (const uint8_t *)"";
			*vlen = l > 0 ? (size_t)l : 0;
		}
	}
	return true;
}

bool proto_parse_ready(const uint8_t *body, size_t len, uint8_t *tx_status)
{
	if (len != 1 || !body)
		return false;
	switch (body[0]) {
	case PROTO_TX_IDLE:
	case PROTO_TX_BLOCK:
	case PROTO_TX_FAILED:
		*tx_status = body[0];
		return true;
	default:
		return false;
	}
}

bool proto_parse_password(const uint8_t *body, size_t len, const char **password)
{
	struct proto_reader r;
	const char *pw;

	proto_reader_init(&r, body, len);
	pw = proto_get_cstr(&r, NULL);
	if (!pw || proto_reader_left(&r) != 0)
		return false;
	*password = pw;
	return true;
}

bool proto_parse_sasl_initial(const uint8_t *body, size_t len, const char **mechanism,
                              const uint8_t **data, size_t *data_len)
{
	struct proto_reader r;
	const char *mech;
	int32_t n;
	const uint8_t *d = NULL;

	proto_reader_init(&r, body, len);
	mech = proto_get_cstr(&r, NULL);
	n = proto_get_i32(&r);
	if (r.failed || n < -1)
		return false;
	if (n == -1) {
		if (proto_reader_left(&r) != 0)
			return false;
		n = 0;
	} else {
		if ((size_t)n != proto_reader_left(&r))
			return false;
		d = proto_get_bytes(&r, (size_t)n);
		if (!d)
			return false;
	}
	*mechanism = mech;
	*data = d;
	*data_len = (size_t)n;
	return true;
}
