/* sts.h - the three AWS STS calls brock makes (awsQuery, API 2011-06-15).
 *
 *   AssumeRole                   signed with the source credentials
 *   AssumeRoleWithWebIdentity    unsigned (the token is the proof)
 *   GetCallerIdentity            signed; "who am I" for brock doctor
 *
 * Each is a POST of a form body (Action=...&Version=2011-06-15&...) to the
 * STS endpoint of the client (`sts.{region}.amazonaws.com`, or
 * AWS_ENDPOINT_URL_STS / AWS_ENDPOINT_URL / the profile's services, as
 * resolved by client.h). The answer is XML, read with expat (no DTD: a
 * DOCTYPE stops the parse; depth, body and field sizes capped). Errors are
 * AWS's (awserr.h, query XML) with the request id, prefixed by what was
 * being done ("assuming role arn:...: AccessDenied (HTTP 403, ...): ...").
 *
 * Parameters are checked before anything is sent, against STS's limits:
 * RoleSessionName 2-64 of [A-Za-z0-9_+=,.@-], DurationSeconds 900-43200,
 * ExternalId 2-1224 of [A-Za-z0-9_+=,.@:/-], TokenCode 6 digits,
 * WebIdentityToken 4-20000 bytes, RoleArn 20-2048 bytes.
 *
 * Secrets (the web identity token, the returned secret key and session
 * token, and the request body that carries the token) never reach a log
 * line or a message; the buffers holding them are wiped.
 *
 * Ownership: results are new references (credentials) or caller-owned
 * structs. The client is borrowed. Thread-safety: as the client (one thread
 * at a time per client); the parsers are pure. */
#ifndef BROCK_AWS_STS_H
#define BROCK_AWS_STS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../util/compiler.h"
#include "../util/err.h"
#include "client.h"
#include "credentials.h"

#define STS_API_VERSION "2011-06-15"
#define STS_MAX_BODY ((size_t)64 * 1024) /* answer bytes read */
#define STS_MAX_XML_DEPTH 16
#define STS_DURATION_MIN 900
#define STS_DURATION_MAX 43200
#define STS_ARN_MAX 2048
#define STS_EXTERNAL_ID_MAX 1224
#define STS_WEB_TOKEN_MIN 4
#define STS_WEB_TOKEN_MAX 20000

struct sts_assume_role {
    const char *role_arn;     /* required */
    const char *session_name; /* required */
    int duration_s;           /* 0 = STS default (1 h) */
    const char *external_id;  /* NULL = none */
    const char *mfa_serial;   /* with token_code, or both NULL */
    const char *token_code;
    const char *provider;     /* goes into the result's provider field */
};

struct sts_web_identity {
    const char *role_arn;
    const char *session_name;
    const char *token;  /* secret: the contents of the token file */
    int duration_s;     /* 0 = STS default */
    const char *provider;
};

struct sts_identity {
    char account[16];          /* 12 digits */
    char arn[STS_ARN_MAX + 1];
    char user_id[256];
    char request_id[96];
};

enum brock_status sts_assume_role(struct aws_client *c, const struct sts_assume_role *p,
                                  struct aws_credentials **out, struct brock_err *e) BROCK_WUR;
enum brock_status sts_assume_role_with_web_identity(struct aws_client *c, const struct sts_web_identity *p,
                                                    struct aws_credentials **out, struct brock_err *e) BROCK_WUR;
enum brock_status sts_get_caller_identity(struct aws_client *c, struct sts_identity *out,
                                          struct brock_err *e) BROCK_WUR;

/* ---- the answer parsers (pure; public for tests and fuzzing) ---------- */

enum sts_action { STS_ASSUME_ROLE, STS_ASSUME_ROLE_WITH_WEB_IDENTITY, STS_GET_CALLER_IDENTITY };

/* "AssumeRole", "AssumeRoleWithWebIdentity", "GetCallerIdentity". */
const char *sts_action_name(enum sts_action a);

/* The <Credentials> of an AssumeRole / AssumeRoleWithWebIdentity answer.
 * The account id comes from <AssumedRoleUser><Arn> when it has one.
 * BROCK_ERR_PARSE (malformed XML, wrong root, a missing or empty field, a
 * bad Expiration, a character that cannot go into a header) or
 * BROCK_ERR_TOO_LARGE; messages name the element, never its text. */
enum brock_status sts_parse_credentials(enum sts_action a, const char *xml, size_t n, const char *provider,
                                        struct aws_credentials **out, struct brock_err *e) BROCK_WUR;
/* A GetCallerIdentity answer (request_id is left alone). */
enum brock_status sts_parse_identity(const char *xml, size_t n, struct sts_identity *out,
                                     struct brock_err *e) BROCK_WUR;

#endif
