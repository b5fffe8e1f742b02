/* tests/fuzz/fuzz_startup.c — libFuzzer target for protocol/startup: the input is what a client
 * sends first. It is framed with proto_startup_frame() (PROTO_MAX_STARTUP_LEN, as before
 * login) and the packet parsed with proto_startup_parse(), then looked into with
 * proto_startup_get(). The raw input is also parsed unframed (a length field that disagrees
 * with the size must be refused). A parsed v3 packet is rebuilt with proto_write_startup() and
 * parsed again: user, database and every parameter must survive. */
#include <stdbool.h>
#include <string.h>

#include "protocol/buf.h"
#include "protocol/frame.h"
#include "protocol/startup.h"
#include "tests/fuzz/fuzz.h"

/* The contract of a successful parse of the `len` bytes at `p`. */
static void check_parsed(const struct proto_startup *s, const uint8_t *p, size_t len)
{
	FUZZ_CHECK(proto_be32(p) == len);
	FUZZ_CHECK(s->code == proto_be32(p + 4));
	switch (s->kind) {
	case PROTO_STARTUP_CANCEL:
		FUZZ_CHECK(len == PROTO_CANCEL_REQUEST_LEN);
		break;
	case PROTO_STARTUP_SSL:
	case PROTO_STARTUP_GSSENC:
		FUZZ_CHECK(len == PROTO_STARTUP_HEADER_SIZE);
		break;
	case PROTO_STARTUP_UNSUPPORTED:
		FUZZ_CHECK(s->nparams == 0 && !s->user);
		FUZZ_CHECK(proto_startup_get(s, "user") == NULL);
		break;
	case PROTO_STARTUP_V3: {
		FUZZ_CHECK(s->nparams >= 1 && s->nparams <= PROTO_STARTUP_MAX_PARAMS);
		FUZZ_CHECK(s->user && s->database);
		size_t ulen = strlen(s->user), dlen = strlen(s->database);
		FUZZ_CHECK(ulen > 0 && ulen < PROTO_NAMEDATALEN && dlen < PROTO_NAMEDATALEN);
		FUZZ_CHECK(fuzz_inside(s->user, ulen + 1, p, len));
		FUZZ_CHECK(fuzz_inside(s->database, dlen + 1, p, len));
		FUZZ_CHECK(p[len - 1] == 0);
		for (size_t i = 0; i < s->nparams; i++) {
			const struct proto_startup_param *pp = &s->params[i];
			FUZZ_CHECK(fuzz_inside(pp->name, strlen(pp->name) + 1, p, len));
			FUZZ_CHECK(fuzz_inside(pp->value, strlen(pp->value) + 1, p, len));
			FUZZ_CHECK(pp->name[0] != '\0');
			/* names are unique, so the lookup finds this very pair */
			FUZZ_CHECK(proto_startup_get(s, pp->name) == pp->value);
		}
		FUZZ_CHECK(proto_startup_get(s, "user") == s->user);
		const char *db = proto_startup_get(s, "database");
		FUZZ_CHECK(db == s->database || ((!db || !db[0]) && s->database == s->user));
		(void)proto_startup_get(s, "application_name");
		FUZZ_CHECK(proto_startup_get(s, "") == NULL);
		break;
	}
	default:
		FUZZ_CHECK(!"unknown startup kind");
	}
}

/* Rebuild a parsed v3 packet and parse it again. */
static void round_trip(const struct proto_startup *s)
{
	static uint8_t buf[2 * PROTO_MAX_STARTUP_LEN];
	struct proto_writer w;
	proto_writer_init(&w, buf, sizeof(buf));
	proto_write_startup(&w, s->user, s->database, s->params, s->nparams);
	FUZZ_CHECK(proto_writer_ok(&w));

	size_t extra = 0; /* pairs other than user and database */
	for (size_t i = 0; i < s->nparams; i++)
		if (strcmp(s->params[i].name, "user") != 0 &&
		    strcmp(s->params[i].name, "database") != 0)
			extra++;
	bool fits = w.len <= PROTO_MAX_STARTUP_LEN && extra + 2 <= PROTO_STARTUP_MAX_PARAMS;

	struct proto_startup again;
	bool ok = proto_startup_parse(buf, w.len, &again);
	if (!fits)
		return;
	FUZZ_CHECK(ok);
	FUZZ_CHECK(again.kind == PROTO_STARTUP_V3 && again.code == PROTO_VERSION_3);
	FUZZ_CHECK(strcmp(again.user, s->user) == 0);
	FUZZ_CHECK(strcmp(again.database, s->database) == 0);
	for (size_t i = 0; i < s->nparams; i++) {
		const char *name = s->params[i].name;
		if (strcmp(name, "database") == 0)
			continue; /* an empty one is not sent again */
		const char *v = proto_startup_get(&again, name);
		FUZZ_CHECK(v && strcmp(v, s->params[i].value) == 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_startup s;

	/* unframed: the size given is the input's, whatever the length field says */
	if (proto_startup_parse(data, size, &s))
		check_parsed(&s, data, size);
	else
		FUZZ_CHECK(s.nparams == 0 && !s.user && !s.database);

	struct proto_frame f;
	if (proto_startup_frame(data, size, PROTO_MAX_STARTUP_LEN, &f) != PROTO_FRAME_OK)
		return 0;
	/* the packet in a block of its own size, so that ASan sees any read past it */
	uint8_t *p = malloc(f.size);
	if (!p)
		abort();
	memcpy(p, data, f.size);
	if (proto_startup_parse(p, f.size, &s)) {
		check_parsed(&s, p, f.size);
		if (s.kind == PROTO_STARTUP_V3)
			round_trip(&s);
	} else {
		FUZZ_CHECK(s.nparams == 0 && !s.user && !s.database);
	}
	free(p);
	return 0;
}
