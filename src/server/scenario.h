/* scenario.h - what `brock emulate` answers: scenario files, faults, keys files.
 *
 * A scenario (docs/scenarios.md) is a JSON file of rules. Each rule matches
 * the last user message of a request (its text, the text of its tool_result
 * blocks, or both; by substring, PCRE2 regex (with match limits), equality, or "any")
 * and gives a response, or a sequence of responses used in order on
 * successive matches, so a multi-step tool loop can be scripted. A response
 * is content blocks (thinking with a signature, text, tool_use), a stop
 * reason, usage numbers, delays, and faults to apply to that one answer.
 * A scenario may also deny models and install faults at start.
 *
 * Faults (the same JSON objects in a scenario and in POST /_emulator/faults)
 * make the next N matching requests fail: an HTTP error (throttling, 5xx,
 * ModelNotReady, any code), a dropped connection, a slow first byte, an
 * exception event after K stream events, a stream cut after K events, a bad
 * CRC on frame K, or expired credentials for one access key.
 *
 * A keys file lists the credentials the emulator accepts besides AWS's
 * documentation example keys: SigV4 access keys (with optional session token,
 * expiry and ARN) and long-term Bedrock API keys.
 *
 * All three are read by one JSON reader that keeps line and column of every
 * value, so every error reads "<what>:<line>:<col>: <field path>: <problem>",
 * e.g. "demo.json:12:17: rules[1].match.regex: bad regular expression:
 * Unmatched ( or \(". Unknown fields are errors (typos must not pass
 * silently). Errors about a keys file never repeat a value or a field name
 * from it (they may be secrets), only positions and the expected shape.
 *
 * Ownership: parse functions fill a caller's struct; the matching _free
 * releases everything (keys: wiped first). Strings in the structs are
 * NUL-terminated and owned by the struct.
 *
 * Threads: parsing is reentrant. A `struct scenario` carries the position of
 * each rule in its sequence, which scenario_match() advances: one thread at a
 * time (the emulator holds its lock). */
#ifndef BROCK_SERVER_SCENARIO_H
#define BROCK_SERVER_SCENARIO_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../util/buf.h"
#include "../util/compiler.h"
#include "../util/err.h"

/* Limits, checked while reading (before allocating). */
#define SCENARIO_MAX_BYTES ((size_t)16 * 1024 * 1024)    /* a scenario file */
#define SCENARIO_KEYS_MAX_BYTES ((size_t)4 * 1024 * 1024) /* a keys file */
#define SCENARIO_MAX_DEPTH 64                        /* JSON nesting */
#define SCENARIO_MAX_VALUES 200000                   /* JSON values in one document */
#define SCENARIO_MAX_RULES 1024
#define SCENARIO_MAX_RESPONSES 1024 /* per rule */
#define SCENARIO_MAX_BLOCKS 64      /* content blocks per response */
#define SCENARIO_MAX_FAULTS 256     /* per list */
#define SCENARIO_MAX_STRING ((size_t)1024 * 1024) /* one string value */
#define SCENARIO_MAX_PATTERN 1024   /* a match pattern */
#define SCENARIO_MAX_DELAY_MS 600000 /* 10 minutes */
#define SCENARIO_MAX_COUNT 1000000000 /* fault count, tokens, event index */
#define SCENARIO_MAX_KEYS 1024

/* Operations, as bits (a rule or fault may be limited to some). */
enum scenario_op {
    SCENARIO_OP_INVOKE = 1u << 0,        /* POST /model/{id}/invoke */
    SCENARIO_OP_INVOKE_STREAM = 1u << 1, /* .../invoke-with-response-stream */
    SCENARIO_OP_CONVERSE = 1u << 2,      /* .../converse */
    SCENARIO_OP_CONVERSE_STREAM = 1u << 3, /* .../converse-stream */
    SCENARIO_OP_COUNT_TOKENS = 1u << 4,  /* .../count-tokens */
    SCENARIO_OP_STS = 1u << 5,           /* STS (only expire_key faults apply) */
    /* the other AWS services (emulator_aws.h): error, drop, slow and
     * expire_key faults, only when named in "operations" (expire_key: always) */
    SCENARIO_OP_LOGS = 1u << 6,       /* CloudWatch Logs */
    SCENARIO_OP_CLOUDWATCH = 1u << 7, /* CloudWatch metrics, alarms, dashboards */
    SCENARIO_OP_CONTROL = 1u << 8,    /* the Bedrock control plane */
    SCENARIO_OP_IAM = 1u << 9,        /* IAM */
};
#define SCENARIO_OPS_AWS (SCENARIO_OP_LOGS | SCENARIO_OP_CLOUDWATCH | SCENARIO_OP_CONTROL | SCENARIO_OP_IAM)
#define SCENARIO_OP_LAST SCENARIO_OP_IAM
#define SCENARIO_OPS_MODEL 0x1fu
#define SCENARIO_OPS_STREAM (SCENARIO_OP_INVOKE_STREAM | SCENARIO_OP_CONVERSE_STREAM)

/* "invoke", "invoke-with-response-stream", "converse", "converse-stream",
 * "count-tokens", "sts" for one bit; NULL otherwise. */
const char *scenario_op_name(unsigned op);
/* The bit for a name (as above, also the path suffix), 0 if unknown. */
unsigned scenario_op_parse(const char *name, size_t len);

/* ---- faults ---- */

enum scenario_fault_kind {
    SCENARIO_FAULT_ERROR,            /* answer an HTTP error (code, status, message) */
    SCENARIO_FAULT_DROP,             /* close without answering */
    SCENARIO_FAULT_SLOW,             /* hold the first byte for delay_ms */
    SCENARIO_FAULT_STREAM_EXCEPTION, /* exception event after `after` events */
    SCENARIO_FAULT_TRUNCATE,         /* end (or abort) the stream after `after` events */
    SCENARIO_FAULT_BAD_CRC,          /* corrupt the CRC of frame `after` (0-based) */
    SCENARIO_FAULT_EXPIRE_KEY,       /* requests signed by access_key_id: ExpiredTokenException */
};

struct scenario_fault {
    enum scenario_fault_kind kind;
    char type[32];        /* the JSON "type" it was given ("throttling", ...) */
    int64_t count;        /* requests it still applies to; -1 = until cleared */
    unsigned ops;         /* scenario_op bits it applies to (defaulted per kind) */
    char *model;          /* only requests for this model id (or its base id); NULL = any */
    char *code;           /* ERROR: "ThrottlingException"; STREAM_EXCEPTION: "throttlingException" */
    char *message;        /* ERROR, STREAM_EXCEPTION: the message (a default if not given) */
    int status;           /* ERROR: HTTP status; STREAM_EXCEPTION (modelStreamError): originalStatusCode */
    int64_t retry_after_ms; /* ERROR: x-amz-retry-after header; -1 = none */
    int64_t after;        /* STREAM_EXCEPTION, TRUNCATE: events before; BAD_CRC: frame index */
    bool abort;           /* TRUNCATE: close the connection / reset the stream instead of ending it */
    bool prelude;         /* BAD_CRC: corrupt the prelude CRC instead of the message CRC */
    int64_t delay_ms;     /* SLOW */
    char *access_key_id;  /* EXPIRE_KEY (also a short-term API key made with it) */
    double probability;   /* 0 < p <= 1: each matching request is hit with this chance (0 = 1);
                             a request it spares does not count down `count` */
    int line, col;        /* where it was defined */
};

struct scenario_faults {
    struct scenario_fault *v;
    size_t n;
};

/* Parse faults from JSON: one fault object, an array of them, or
 * {"faults": [...]}. Appends to *out (up to SCENARIO_MAX_FAULTS in all), all
 * or nothing.
 * BROCK_ERR_PARSE / BROCK_ERR_TOO_LARGE with "<what>:<line>:<col>: ..." */
enum brock_status scenario_faults_parse(const char *text, size_t n, const char *what,
                                        struct scenario_faults *out, struct brock_err *e) BROCK_WUR;
void scenario_fault_cleanup(struct scenario_fault *f);
void scenario_faults_free(struct scenario_faults *fs); /* leaves it empty, reusable */
/* Deep copy (for installing a scenario's faults). */
void scenario_fault_copy(struct scenario_fault *dst, const struct scenario_fault *src);

/* ---- responses and rules ---- */

enum scenario_block_type { SCENARIO_TEXT, SCENARIO_THINKING, SCENARIO_TOOL_USE };

struct scenario_block {
    enum scenario_block_type type;
    char *text;      /* TEXT, THINKING */
    char *signature; /* THINKING; NULL = the emulator makes one up */
    char *id;        /* TOOL_USE; NULL = the emulator makes one up */
    char *name;      /* TOOL_USE */
    char *input;     /* TOOL_USE: compact JSON object text */
};

/* -1 = estimate from sizes. */
struct scenario_usage {
    int64_t input, output, cache_read, cache_write;
};

struct scenario_response {
    struct scenario_block *blocks;
    size_t n_blocks;
    char *stop_reason;   /* NULL = tool_use when a tool_use block is present, else end_turn */
    char *stop_sequence; /* NULL = none */
    struct scenario_usage usage;
    int64_t first_byte_delay_ms; /* before the response head */
    int64_t event_delay_ms;      /* between stream events */
    struct scenario_faults faults; /* applied to this answer (their count is ignored) */
    int line, col;
};

enum scenario_match_kind { SCENARIO_MATCH_ANY, SCENARIO_MATCH_CONTAINS, SCENARIO_MATCH_EQUALS, SCENARIO_MATCH_REGEX };
enum scenario_match_in {
    SCENARIO_IN_ALL,         /* the message's text or its tool results */
    SCENARIO_IN_TEXT,        /* the text blocks only */
    SCENARIO_IN_TOOL_RESULT, /* the tool_result blocks only */
};
/* After the last response of a sequence, the next match: */
enum scenario_then {
    SCENARIO_THEN_REPEAT_LAST, /* answers with the last response again */
    SCENARIO_THEN_CYCLE,       /* starts over */
    SCENARIO_THEN_NEXT_RULE,   /* the rule is used up: later rules are tried */
};

struct scenario_rule {
    char *name; /* NULL: "rules[i]" */
    enum scenario_match_kind kind;
    enum scenario_match_in in;
    bool ignore_case;
    char *pattern;
    pcre2_code *re; /* REGEX only (PCRE2, matched with limits) */
    char *model; /* NULL = any */
    unsigned ops; /* 0 = any model operation */
    struct scenario_response *responses;
    size_t n_responses;
    enum scenario_then then;
    size_t next;   /* state: index of the next response */
    uint64_t hits; /* state: times matched */
    int line, col;
};

struct scenario {
    char *what; /* the file name given to scenario_parse */
    char *description;
    struct scenario_rule *rules;
    size_t n_rules;
    struct scenario_response *fallback; /* "default": when no rule matches; NULL = echo */
    char **deny_models;
    size_t n_deny_models;
    struct scenario_faults faults; /* installed when the emulator starts / resets */
};

/* Parse a scenario document; `what` names it in errors (a path). On error
 * *out is left empty (scenario_free is still fine). */
enum brock_status scenario_parse(const char *text, size_t n, const char *what, struct scenario *out,
                                 struct brock_err *e) BROCK_WUR;
/* Read and parse a file (at most SCENARIO_MAX_BYTES). */
enum brock_status scenario_load(const char *path, struct scenario *out, struct brock_err *e) BROCK_WUR;
void scenario_free(struct scenario *s);
/* Rewind every sequence. */
void scenario_reset(struct scenario *s);

/* What a request offers for matching. text and tool_results are
 * NUL-terminated at their length; they may hold NULs. */
struct scenario_input {
    unsigned op;             /* one scenario_op bit */
    const char *model_id;    /* as sent (decoded) */
    const char *base_id;     /* the catalog's base id for it, or NULL */
    const char *text;        /* text blocks of the last user message, joined by '\n' */
    size_t text_len;
    const char *tool_results; /* text of its tool_result blocks, joined by '\n' */
    size_t tool_results_len;
    bool has_text;           /* the message has a text block ("any" in "text" needs one) */
    bool has_tool_results;   /* the message has a tool_result block */
};

/* The first rule (in file order) that matches and is not used up: returns
 * its next response and advances its sequence. Falls back to the scenario's
 * default response; NULL when nothing applies. *rule / *step (may be NULL)
 * say which rule (NULL for the default) and which 0-based step answered. */
const struct scenario_response *scenario_match(struct scenario *s, const struct scenario_input *in,
                                               const struct scenario_rule **rule, size_t *step);

/* True if the model (its id as sent, or its base id) is denied. */
bool scenario_denies(const struct scenario *s, const char *model_id, const char *base_id);

/* Append n bytes of UTF-8 as a JSON string literal (quotes, escapes). */
void scenario_json_quote(struct buf *b, const char *s, size_t n);

/* ---- keys files ---- */

struct scenario_key {
    char *access_key_id;     /* SigV4 key; NULL for an API key entry */
    char *secret_access_key; /* secret */
    char *session_token;     /* secret; NULL = none */
    char *api_key;           /* secret: a long-term Bedrock API key; NULL for SigV4 entries */
    char *arn;               /* NULL = the emulator's default identity */
    int64_t expires_ms;      /* 0 = never */
};

struct scenario_keys {
    struct scenario_key *v;
    size_t n;
};

/* Parse a keys file: {"keys": [entry...]} or [entry...], an entry being
 * {"AccessKeyId", "SecretAccessKey", ["SessionToken"], ["Expiration"], ["Arn"]}
 * or {"ApiKey", ["Expiration"], ["Arn"]} (Expiration: ISO 8601). Appends to
 * *out, all or nothing. Errors never contain a value from the file. */
enum brock_status scenario_keys_parse(const char *text, size_t n, const char *what,
                                      struct scenario_keys *out, struct brock_err *e) BROCK_WUR;
enum brock_status scenario_keys_load(const char *path, struct scenario_keys *out,
                                     struct brock_err *e) BROCK_WUR;
/* Wipes the secrets, frees, leaves it empty. */
void scenario_keys_free(struct scenario_keys *k);

#endif
