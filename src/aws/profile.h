/* profile.h - the AWS shared config and credentials files (~/.aws/config,
 * ~/.aws/credentials), parsed as the AWS SDKs parse them.
 *
 * The rules are the cross-SDK "profile file" rules encoded by the AWS test
 * suites (smithy-rs profile-parser-tests.json, the SDK for Ruby copy of the
 * SEP suites); docs/internals/profile.md lists them with the quirks.
 *
 *   config:       [default]  [profile NAME]  [sso-session NAME]  [services NAME]
 *   credentials:  [NAME]
 *
 * A `struct aws_profile_set` holds the sections of both files merged:
 * sections with the same kind and name merge, a later property replaces an
 * earlier one of the same name, and a property from the credentials file
 * always beats one from the config file whatever the parse order. In the
 * config file, `[profile default]` hides every `[default]` of that file.
 * Section names are case-sensitive; property and sub-property names are
 * stored in lower case and looked up case-insensitively. Invalid section
 * names, property names and sub-property names are ignored, not errors.
 *
 * A property whose value is empty on its own line starts a block of
 * sub-properties, indented `key = value` lines:
 *
 *   [services local]
 *   bedrock_runtime =
 *     endpoint_url = http://127.0.0.1:8787
 *
 * The property keeps the raw text ("\nendpoint_url = http://127.0.0.1:8787")
 * as its value, and the parsed pairs are available as sub-properties.
 *
 * Ownership: the set owns every string and every section/property it hands
 * out; they stay valid until aws_profile_set_free(), even across later
 * parses into the same set (a replaced value is no longer reachable but its
 * memory lives on). The set holds secrets (aws_secret_access_key,
 * aws_session_token): aws_profile_set_free() wipes all of it.
 *
 * Errors: a malformed line is BROCK_ERR_PARSE with "PATH:LINE: what was
 * expected"; input over AWS_PROFILE_MAX_FILE_BYTES, or a line over
 * AWS_PROFILE_MAX_LINE_BYTES, is BROCK_ERR_TOO_LARGE. Messages never quote
 * the text of the file, so they cannot leak a secret. After a failed parse
 * the set may hold part of that file: discard it.
 *
 * Thread-safety: a set is not locked. Lookups and iteration only read, so
 * any number of threads may use a set that no thread is parsing into. */
#ifndef BROCK_AWS_PROFILE_H
#define BROCK_AWS_PROFILE_H

#include <stdbool.h>
#include <stddef.h>

#include "../util/compiler.h"
#include "../util/err.h"

/* Caps on input from outside. */
#define AWS_PROFILE_MAX_FILE_BYTES ((size_t)1024 * 1024) /* per file */
#define AWS_PROFILE_MAX_LINE_BYTES ((size_t)64 * 1024)   /* per line, without the newline */

enum aws_profile_file {
    AWS_PROFILE_FILE_CONFIG = 0,  /* ~/.aws/config, AWS_CONFIG_FILE */
    AWS_PROFILE_FILE_CREDENTIALS, /* ~/.aws/credentials, AWS_SHARED_CREDENTIALS_FILE */
};

enum aws_profile_kind {
    AWS_PROFILE_KIND_PROFILE = 0, /* [default], [profile NAME]; [NAME] in credentials */
    AWS_PROFILE_KIND_SSO_SESSION, /* [sso-session NAME] (config only) */
    AWS_PROFILE_KIND_SERVICES,    /* [services NAME] (config only) */
    AWS_PROFILE_KIND_COUNT
};

struct aws_profile_set;     /* opaque */
struct aws_profile_section; /* opaque; borrowed from its set */

/* A property or a sub-property, borrowed from its set. */
struct aws_profile_prop {
    const char *name;          /* lower case */
    const char *value;         /* "" when empty; continuation lines joined with '\n' */
    const char *path;          /* the file it came from, as given to the parser */
    unsigned line;             /* 1-based line of "name = ..." in that file */
    enum aws_profile_file file;
};

struct aws_profile_set *aws_profile_set_new(void);
void aws_profile_set_free(struct aws_profile_set *set); /* NULL is fine */

/* Parse `len` bytes of one file of `kind` and merge them into `set`. `path`
 * names the file in messages and in aws_profile_prop.path (it is copied;
 * NULL = "config" or "credentials"). The text need not be NUL-terminated;
 * a NUL byte in it is an error. */
enum brock_status aws_profile_set_parse(struct aws_profile_set *set, enum aws_profile_file kind,
                                        const char *text, size_t len, const char *path,
                                        struct brock_err *e) BROCK_WUR;

/* Read `path` and parse it. A missing file is BROCK_ERR_NOT_FOUND and leaves
 * the set untouched; any other read failure is BROCK_ERR_IO. */
enum brock_status aws_profile_set_load_file(struct aws_profile_set *set, enum aws_profile_file kind,
                                            const char *path, struct brock_err *e) BROCK_WUR;

/* --- Locations and the active profile --------------------------------- */

/* Where settings come from. A NULL `struct aws_profile_env *`, or a NULL
 * member, means the process: getenv(3) and the passwd entry's home. */
struct aws_profile_env {
    const char *(*getenv)(void *ctx, const char *name); /* variable or NULL */
    void *env_ctx;
    const char *home; /* home when $HOME is unset or empty; NULL = passwd entry */
};

/* The config file: $AWS_CONFIG_FILE, else ~/.aws/config. A leading "~" or
 * "~/" is replaced by the home directory ($HOME first); "~user" is not. An
 * empty variable counts as unset. Returns a new string (free()), or NULL
 * when the default is needed and no home directory is known. */
char *aws_profile_config_path(const struct aws_profile_env *env);
/* The credentials file: $AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/credentials. */
char *aws_profile_credentials_path(const struct aws_profile_env *env);

/* The profile to use: `explicit_name` (a --profile flag) if non-empty, else
 * $AWS_PROFILE if non-empty, else "default". Borrowed from the argument,
 * the environment, or static storage. */
const char *aws_profile_active_name(const char *explicit_name, const struct aws_profile_env *env);

/* Load both files from their resolved locations into a new set (*out).
 * Missing files are fine (an empty set is a valid result); an unreadable,
 * oversized or malformed file is an error and *out is NULL. */
enum brock_status aws_profile_set_load(const struct aws_profile_env *env, struct aws_profile_set **out,
                                       struct brock_err *e) BROCK_WUR;

/* --- Lookups (all accept NULL and then return NULL) ------------------- */

const struct aws_profile_section *aws_profile_find(const struct aws_profile_set *set,
                                                   enum aws_profile_kind kind, const char *name);
static inline const struct aws_profile_section *aws_profile_get(const struct aws_profile_set *set,
                                                                const char *name)
{
    return aws_profile_find(set, AWS_PROFILE_KIND_PROFILE, name);
}
static inline const struct aws_profile_section *aws_profile_sso_session(const struct aws_profile_set *set,
                                                                        const char *name)
{
    return aws_profile_find(set, AWS_PROFILE_KIND_SSO_SESSION, name);
}
static inline const struct aws_profile_section *aws_profile_services(const struct aws_profile_set *set,
                                                                     const char *name)
{
    return aws_profile_find(set, AWS_PROFILE_KIND_SERVICES, name);
}

const char *aws_profile_section_name(const struct aws_profile_section *s);
enum aws_profile_kind aws_profile_section_kind(const struct aws_profile_section *s);

/* A property of a section (name matched case-insensitively), or NULL. */
const struct aws_profile_prop *aws_profile_prop(const struct aws_profile_section *s, const char *name);
/* Its value: NULL when absent, "" when present but empty. */
const char *aws_profile_value(const struct aws_profile_section *s, const char *name);
/* A sub-property (`prop` =, then indented `sub = value` lines), or NULL. */
const struct aws_profile_prop *aws_profile_sub(const struct aws_profile_section *s, const char *prop,
                                               const char *sub);
const char *aws_profile_sub_value(const struct aws_profile_section *s, const char *prop, const char *sub);

/* --- Iteration, in order of first appearance --------------------------- */

const struct aws_profile_section *aws_profile_first(const struct aws_profile_set *set,
                                                    enum aws_profile_kind kind);
const struct aws_profile_section *aws_profile_next(const struct aws_profile_section *s);
size_t aws_profile_count(const struct aws_profile_set *set, enum aws_profile_kind kind);

/* The first property of a section, the first sub-property of a property;
 * aws_profile_prop_next() walks either list. */
const struct aws_profile_prop *aws_profile_props(const struct aws_profile_section *s);
const struct aws_profile_prop *aws_profile_subs(const struct aws_profile_prop *p);
const struct aws_profile_prop *aws_profile_prop_next(const struct aws_profile_prop *p);
/* True if `p` started a sub-property block (its own line had no value). */
bool aws_profile_prop_has_subs(const struct aws_profile_prop *p);

/* --- Credential source of a profile ------------------------------------ */

/* What kind of credentials a profile describes, in the order the SDKs try
 * them (wire reference 3.1): a role to assume beats web identity, which
 * beats IAM Identity Center, which beats static keys from the credentials
 * file, then `aws login`, then credential_process, then static keys from the
 * config file. Only the presence of non-empty values is checked; the
 * providers validate the rest (e.g. role_arn without source_profile). */
enum aws_profile_creds {
    AWS_PROFILE_CREDS_NONE = 0,
    AWS_PROFILE_CREDS_ASSUME_ROLE,  /* role_arn (source_profile / credential_source) */
    AWS_PROFILE_CREDS_WEB_IDENTITY, /* role_arn + web_identity_token_file */
    AWS_PROFILE_CREDS_SSO,          /* sso_session, sso_start_url, sso_account_id or sso_role_name */
    AWS_PROFILE_CREDS_SESSION,      /* aws_access_key_id + aws_secret_access_key + aws_session_token */
    AWS_PROFILE_CREDS_BASIC,        /* aws_access_key_id + aws_secret_access_key */
    AWS_PROFILE_CREDS_LOGIN,        /* login_session */
    AWS_PROFILE_CREDS_PROCESS,      /* credential_process */
};

enum aws_profile_creds aws_profile_creds_kind(const struct aws_profile_section *profile);
/* "none", "assume-role", "web-identity", "sso", "session", "basic", "login", "process". */
const char *aws_profile_creds_name(enum aws_profile_creds kind);

#endif
