/* tests/integration/fakepg.h — a PostgreSQL server played by the test, on a free 127.0.0.1
 * port, for the rows no real server can play: a hostile or broken server that pglane logs in to.
 * Each fake follows one script (how it answers an SSLRequest, then how it answers the startup
 * packet); every connection gets its own thread, every read a timeout, and after the script it
 * reads until pglane closes (10 s at most). Fakes live until the test process ends.
 *
 * FAKEPG_TRUST is a well-behaved server (AuthenticationOk, a few ParameterStatus, BackendKeyData,
 * ReadyForQuery; any Query is answered with one row "fake") that answers an SSLRequest 'N'; the
 * others break one rule each, named after what they send. */
#ifndef PGLANE_TESTS_FAKEPG_H
#define PGLANE_TESTS_FAKEPG_H

#include <stdatomic.h>

enum fakepg_script {
	FAKEPG_TRUST,
	/* answers to the SSLRequest */
	FAKEPG_SSL_S_GARBAGE, /* 'S' and plaintext bytes in the same write */
	FAKEPG_SSL_N_GARBAGE, /* 'N' and a whole AuthenticationOk in the same write */
	FAKEPG_SSL_NONSENSE,  /* 'X' */
	FAKEPG_SSL_CLOSE,     /* closes without answering */
	FAKEPG_SSL_S_SILENT,  /* 'S', then nothing: the handshake never starts */
	/* answers to the startup packet */
	FAKEPG_ERROR_NO_SQLSTATE,   /* ErrorResponse with severity and message, no code */
	FAKEPG_AUTH_UNKNOWN,        /* AuthenticationRequest code 99 */
	FAKEPG_SASL_NO_SCRAM,       /* AuthenticationSASL offering SCRAM-SHA-1 only */
	FAKEPG_SASL_CONTINUE_EARLY, /* SASLContinue without AuthenticationSASL first */
	FAKEPG_SASL_HUGE_NONCE,     /* SASLContinue whose nonce is 64 KB longer than ours */
	FAKEPG_SASL_LONG_NONCE, /* the same with 6000 bytes: fits the frame, not the SCRAM limit */
	FAKEPG_SASL_HUGE_ITERATIONS, /* SASLContinue with i=1000000000 */
	FAKEPG_SASL_FOREIGN_NONCE,   /* SASLContinue whose nonce does not start with ours */
	FAKEPG_SASL_OK_EARLY,  /* a valid SASLContinue, then AuthenticationOk without SASLFinal */
	FAKEPG_SASL_ITER_MAX,  /* i=100000 (pglane's cap): pglane answers; then an ErrorResponse */
	FAKEPG_SASL_ITER_OVER, /* i=100001 */
	FAKEPG_KEYDATA_SHORT,  /* AuthenticationOk, then BackendKeyData with a 4-byte body */
	FAKEPG_HUGE_LENGTH,    /* AuthenticationOk, then a message announcing 2^31 bytes */
	FAKEPG_READY_FIRST,    /* ReadyForQuery without any AuthenticationOk */
	FAKEPG_DATAROW_IN_LOGIN, /* AuthenticationOk, then a DataRow */
	FAKEPG_DRIP,             /* an honest login, one byte every 300 ms */
	/* FAKEPG_TRUST as a server older than PostgreSQL 14 (no in_hot_standby at login) that
	 * answers pglane's `SELECT pg_catalog.pg_is_in_recovery(), pg_catalog.current_setting(
	 * 'default_transaction_read_only')` with (false|true, 'off') */
	FAKEPG_OLD_PRIMARY,
	FAKEPG_OLD_STANDBY,
	FAKEPG_NSCRIPTS
};

struct fakepg {
	int lfd, port;
	enum fakepg_script script;
	atomic_int conns;        /* connections accepted */
	atomic_int ssl_requests; /* SSLRequests read */
	atomic_int startups;     /* startup packets read */
	atomic_int sasl_initial; /* SASLInitialResponses read */
	atomic_int sasl_final;   /* SASLResponses read after our SASLContinue */
	atomic_int queries;      /* Query messages answered (FAKEPG_TRUST) */
	atomic_int role_queries; /* of those, pglane's pg_is_in_recovery() (FAKEPG_OLD_*) */
};

/* Start a fake following `script` (fails the test when it cannot listen). */
struct fakepg *fakepg_start(enum fakepg_script script);
/* A short name of the script, for messages. */
const char *fakepg_script_name(enum fakepg_script script);

#endif
