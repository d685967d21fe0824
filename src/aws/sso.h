/* sso.h - IAM Identity Center (SSO): the cached token, its refresh, and
 * the role credentials (aws-wire-reference 3.5).
 *
 *   token cache   ~/.aws/sso/cache/<sha1hex(key)>.json, key = the
 *                 sso-session name, or the start URL for legacy profiles;
 *                 written by `aws sso login`, rewritten by a refresh
 *   refresh       SSO OIDC CreateToken: POST /token (unsigned JSON,
 *                 grantType refresh_token) on oidc.{sso_region}
 *   credentials   GetRoleCredentials: GET /federation/credentials?role_name=
 *                 &account_id= with x-amz-sso_bearer_token, unsigned, on
 *                 portal.sso.{sso_region}
 *
 * The endpoints come from the client (client.h): AWS_ENDPOINT_URL_SSO /
 * AWS_ENDPOINT_URL_SSO_OIDC / AWS_ENDPOINT_URL and the profile's services
 * override them, which is how tests reach a loopback server.
 *
 * A rewritten cache file keeps the fields botocore writes (startUrl, region,
 * accessToken, expiresAt, clientId, clientSecret, registrationExpiresAt,
 * refreshToken) and is replaced atomically (temporary file, fsync, rename)
 * with mode 0600.
 *
 * Secrets: the access token, refresh token and client secret, and the role
 * credentials, never appear in a message or log line; they are wiped on free.
 * Messages never quote the cache file or an answer body.
 *
 * Ownership: a `struct sso_token` owns its strings (sso_token_cleanup).
 * Thread-safety: the client is used by one thread at a time; the rest is
 * reentrant. Two processes refreshing one cache file at once each write a
 * complete file; the last rename wins. */
#ifndef BROCK_AWS_SSO_H
#define BROCK_AWS_SSO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../util/compiler.h"
#include "../util/err.h"
#include "client.h"
#include "credentials.h"

#define SSO_MAX_CACHE_FILE ((size_t)64 * 1024)
#define SSO_MAX_BODY ((size_t)64 * 1024)
#define SSO_REFRESH_WINDOW_MS (15LL * 60 * 1000) /* refresh a token this close to expiry */
#define SSO_SHA1_HEX_LEN 40

/* A cached token. Strings may be NULL when the file lacks them. */
struct sso_token {
    char *start_url;
    char *region;
    char *access_token; /* secret; required */
    int64_t expires_at_ms; /* required */
    char *client_id;
    char *client_secret; /* secret */
    char *registration_expires_at; /* kept as written */
    int64_t registration_expires_at_ms; /* 0 when absent or unparsable */
    char *refresh_token; /* secret */
};

void sso_token_cleanup(struct sso_token *t); /* wipes; zeroes the struct */

/* Lowercase hex SHA-1 of n bytes (the cache file name). */
void sso_sha1_hex(const void *p, size_t n, char out[SSO_SHA1_HEX_LEN + 1]);
/* dir/<sha1hex(key)>.json; a new string. */
char *sso_cache_path(const char *dir, const char *key);

/* Parse a cache file's text. `what` names it in messages (the path).
 * accessToken and expiresAt are required (BROCK_ERR_PARSE naming the field). */
enum brock_status sso_token_parse(const char *text, size_t n, const char *what, struct sso_token *out,
                                  struct brock_err *e) BROCK_WUR;
/* Read and parse a cache file; a missing file is BROCK_ERR_NOT_FOUND. */
enum brock_status sso_token_load(const char *path, struct sso_token *out, struct brock_err *e) BROCK_WUR;
/* Write it atomically with mode 0600 (the directory must exist). */
enum brock_status sso_token_save(const char *path, const struct sso_token *t, struct brock_err *e) BROCK_WUR;

/* True if the token has what a refresh needs: refreshToken, clientId,
 * clientSecret, and a registration that has not expired at now_ms. */
bool sso_token_refreshable(const struct sso_token *t, int64_t now_ms);

/* CreateToken with the refresh token; on success `t` gets the new access
 * token, expiry (now_ms + expiresIn) and, when returned, refresh token. */
enum brock_status sso_oidc_refresh(struct aws_client *c, struct sso_token *t, int64_t now_ms,
                                   struct brock_err *e) BROCK_WUR;

/* GetRoleCredentials. `provider` goes into the result; the account id is set
 * to `account_id`. A 401 (expired or revoked token) is BROCK_ERR_AUTH with
 * aws_code "UnauthorizedException". */
enum brock_status sso_get_role_credentials(struct aws_client *c, const char *access_token, const char *account_id,
                                           const char *role_name, const char *provider,
                                           struct aws_credentials **out, struct brock_err *e) BROCK_WUR;

/* The parsers behind the two calls (pure; public for tests and fuzzing). */
enum brock_status sso_parse_role_credentials(const char *json, size_t n, const char *provider,
                                             struct aws_credentials **out, struct brock_err *e) BROCK_WUR;
/* Fills access token, expiry and (if present) refresh token of `t`. */
enum brock_status sso_parse_create_token(const char *json, size_t n, int64_t now_ms, struct sso_token *t,
                                         struct brock_err *e) BROCK_WUR;

#endif
