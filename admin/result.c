/* admin/result.c — building RowDescription, DataRow and errors for admin answers. */
#include "admin/result.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/buf.h"

#define TEXT_OID    25
#define INT4_OID    23
#define INT8_OID    20
#define NUMERIC_OID 1700
#define BYTEA_OID   17

/* A column type letter as PgBouncer writes them: s text, i int4, q int8, N numeric, b bytea. */
static int32_t type_oid(char t, int16_t *size)
{
	switch (t) {
	case 'i':
		*size = 4;
		return INT4_OID;
	case 'q':
		*size = 8;
		return INT8_OID;
	case 'N':
		*size = -1;
		return NUMERIC_OID;
	case 'b':
		*size = -1;
		return BYTEA_OID;
	default:
		*size = -1;
		return TEXT_OID;
	}
}

void admin_buf_put(struct admin_buf *b, const void *p, size_t n)
{
	if (b->failed || n == 0)
		return;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n)
			cap *= 2;
		uint8_t *d = realloc(b->data, cap);
		if (!d) {
			b->failed = true;
			return;
		}
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

void admin_buf_free(struct admin_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

static void put_u8(struct admin_buf *b, uint8_t v)
{
	admin_buf_put(b, &v, 1);
}

static void put_i16(struct admin_buf *b, int16_t v)
{
	uint8_t x[2] = {(uint8_t)((uint16_t)v >> 8), (uint8_t)v};
	admin_buf_put(b, x, 2);
}

static void put_i32(struct admin_buf *b, int32_t v)
{
	uint8_t x[4];
	proto_put_be32(x, (uint32_t)v);
	admin_buf_put(b, x, 4);
}

static void patch_len(struct admin_buf *b, size_t start)
{
	if (!b->failed)
		proto_put_be32(b->data + start + 1, (uint32_t)(b->len - start - 1));
}

void admin_result_init(struct admin_result *r)
{
	memset(r, 0, sizeof(*r));
}

void admin_result_free(struct admin_result *r)
{
	admin_buf_free(&r->desc);
	admin_buf_free(&r->rows);
	memset(r, 0, sizeof(*r));
}

void admin_result_columns(struct admin_result *r, const char *const *names, int n)
{
	admin_result_columns_typed(r, names, NULL, n);
}

void admin_result_columns_typed(struct admin_result *r, const char *const *names, const char *types,
                                int n)
{
	struct admin_buf *b = &r->desc;
	b->len = 0;
	size_t start = b->len;
	put_u8(b, 'T');
	put_i32(b, 0);
	put_i16(b, (int16_t)n);
	for (int i = 0; i < n; i++) {
		admin_buf_put(b, names[i], strlen(names[i]) + 1);
		put_i32(b, 0); /* table */
		put_i16(b, 0); /* column */
		int16_t size;
		char t = types && (size_t)i < strlen(types) ? types[i] : 's';
		put_i32(b, type_oid(t, &size)); /* type */
		put_i16(b, size);
		put_i32(b, -1); /* modifier */
		put_i16(b, 0);  /* text */
	}
	patch_len(b, start);
	r->ncols = n;
}

void admin_row_begin(struct admin_result *r)
{
	r->row_start = r->rows.len;
	r->row_fields = 0;
	put_u8(&r->rows, 'D');
	put_i32(&r->rows, 0);
	put_i16(&r->rows, (int16_t)r->ncols);
}

void admin_row_str(struct admin_result *r, const char *v)
{
	r->row_fields++;
	if (!v) {
		put_i32(&r->rows, -1);
		return;
	}
	size_t n = strlen(v);
	put_i32(&r->rows, (int32_t)n);
	admin_buf_put(&r->rows, v, n);
}

void admin_row_int(struct admin_result *r, int64_t v)
{
	char s[32];
	snprintf(s, sizeof(s), "%" PRId64, v);
	admin_row_str(r, s);
}

void admin_row_uint(struct admin_result *r, uint64_t v)
{
	char s[32];
	snprintf(s, sizeof(s), "%" PRIu64, v);
	admin_row_str(r, s);
}

void admin_row_double(struct admin_result *r, double v, int decimals)
{
	char s[64];
	snprintf(s, sizeof(s), "%.*f", decimals, v);
	admin_row_str(r, s);
}

void admin_row_bool(struct admin_result *r, bool v)
{
	admin_row_str(r, v ? "yes" : "no");
}

void admin_row_end(struct admin_result *r)
{
	/* a short row is padded with NULLs so the message always matches its header */
	while (r->row_fields < r->ncols)
		admin_row_str(r, NULL);
	patch_len(&r->rows, r->row_start);
	r->nrows++;
}

void admin_result_tag(struct admin_result *r, const char *tag)
{
	snprintf(r->tag, sizeof(r->tag), "%s", tag);
}

void admin_result_error(struct admin_result *r, const char *sqlstate, const char *fmt, ...)
{
	snprintf(r->sqlstate, sizeof(r->sqlstate), "%s", sqlstate);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->message, sizeof(r->message), fmt, ap);
	va_end(ap);
}

bool admin_result_is_error(const struct admin_result *r)
{
	return r->sqlstate[0] != '\0';
}
