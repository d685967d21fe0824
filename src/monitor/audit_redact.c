/* audit_redact.c - find secrets in free text and replace them (audit.h).
 *
 * One pass over the bytes. At each position the rules whose first character
 * matches are tried: fixed-shape tokens first (AKIA..., ghp_..., -----BEGIN),
 * then keyword rules ("secret_access_key = VALUE"), which replace only the
 * value. Every rule is bounded by the text it looks at, so the whole scan is
 * linear (the private-key rule jumps past the block it swallowed). */
#include "audit.h"

#include <pthread.h>
#include <string.h>

static const char *const secret_names[AUDIT_SECRET_COUNT] = {
    [AUDIT_SECRET_AWS_ACCESS_KEY_ID] = "aws-access-key-id",
    [AUDIT_SECRET_AWS_SECRET_KEY] = "aws-secret-access-key",
    [AUDIT_SECRET_AWS_SESSION_TOKEN] = "aws-session-token",
    [AUDIT_SECRET_BEDROCK_API_KEY] = "bedrock-api-key",
    [AUDIT_SECRET_AUTHORIZATION] = "authorization",
    [AUDIT_SECRET_BEARER_TOKEN] = "bearer-token",
    [AUDIT_SECRET_SIGNATURE] = "signature",
    [AUDIT_SECRET_PRIVATE_KEY] = "private-key",
    [AUDIT_SECRET_GITHUB_TOKEN] = "github-token",
    [AUDIT_SECRET_SLACK_TOKEN] = "slack-token",
    [AUDIT_SECRET_JWT] = "jwt",
    [AUDIT_SECRET_API_KEY] = "api-key",
    [AUDIT_SECRET_PASSWORD] = "password",
};

const char *audit_secret_name(enum audit_secret k)
{
    return (unsigned)k < AUDIT_SECRET_COUNT ? secret_names[k] : "secret";
}

static inline bool is_upper_digit(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
static inline bool is_alnum(unsigned char c)
{
    return is_upper_digit(c) || (c >= 'a' && c <= 'z');
}
static inline bool is_b64(unsigned char c)
{
    return is_alnum(c) || c == '+' || c == '/' || c == '=';
}
static inline bool is_b64url(unsigned char c)
{
    return is_alnum(c) || c == '-' || c == '_';
}
/* Characters of opaque tokens: base64, base64url, URL-encoding, dots. */
static inline bool is_tok(unsigned char c)
{
    return is_b64(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '%';
}
static inline unsigned char lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}
static inline bool is_hex(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Does p[0..n) start with s (case-sensitive / any case)? */
static bool has(const unsigned char *p, size_t n, const char *s, size_t sl)
{
    return n >= sl && memcmp(p, s, sl) == 0;
}
static bool has_ci(const unsigned char *p, size_t n, const char *s, size_t sl)
{
    if (n < sl)
        return false;
    for (size_t i = 0; i < sl; i++)
        if (lower(p[i]) != (unsigned char)s[i])
            return false;
    return true;
}
#define HAS(p, n, lit) has(p, n, lit, sizeof(lit) - 1)

static size_t run(const unsigned char *p, size_t n, bool (*cls)(unsigned char))
{
    size_t i = 0;
    while (i < n && cls(p[i]))
        i++;
    return i;
}

/* A match: bytes [start, end) of the scanned text are replaced. */
struct hit {
    size_t start, end;
    enum audit_secret kind;
};

/* ---- fixed-shape tokens, tried at position i (prev = the byte before) ---- */

static bool shape_rule(const unsigned char *t, size_t n, size_t i, struct hit *h)
{
    const unsigned char *p = t + i;
    size_t left = n - i;
    unsigned char prev = i ? t[i - 1] : ' ';
    size_t k;
    switch (p[0]) {
    case 'A':
        /* AWS access key id: AKIA/ASIA + 16 of [A-Z0-9], not inside a longer
         * upper-case word (a lower-case letter before is fine: "\nAKIA..."). */
        if ((HAS(p, left, "AKIA") || HAS(p, left, "ASIA")) && !is_upper_digit(prev) && left >= 20) {
            for (k = 4; k < 20 && is_upper_digit(p[k]); k++)
                ;
            if (k == 20 && (left == 20 || !is_upper_digit(p[20]))) {
                *h = (struct hit){i, i + 20, AUDIT_SECRET_AWS_ACCESS_KEY_ID};
                return true;
            }
        }
        /* long-term Bedrock API key: ABSK + base64 */
        if (HAS(p, left, "ABSK") && !is_alnum(prev) && (k = run(p + 4, left - 4, is_b64)) >= 20) {
            *h = (struct hit){i, i + 4 + k, AUDIT_SECRET_BEDROCK_API_KEY};
            return true;
        }
        /* Google API key: AIza + 35 */
        if (HAS(p, left, "AIza") && !is_alnum(prev) && (k = run(p + 4, left - 4, is_b64url)) >= 35) {
            *h = (struct hit){i, i + 4 + k, AUDIT_SECRET_API_KEY};
            return true;
        }
        return false;
    case 'I':
    case 'F':
        /* STS session tokens are base64 that starts with these bytes. */
        if ((HAS(p, left, "IQoJb3JpZ2lu") || HAS(p, left, "FwoGZXIvYXdz") || HAS(p, left, "FQoGZXIvYXdz")) &&
            !is_alnum(prev) && (k = run(p, left, is_b64)) >= 40) {
            *h = (struct hit){i, i + k, AUDIT_SECRET_AWS_SESSION_TOKEN};
            return true;
        }
        return false;
    case 'b':
        if (HAS(p, left, "bedrock-api-key-") && (k = run(p + 16, left - 16, is_b64)) >= 8) {
            *h = (struct hit){i, i + 16 + k, AUDIT_SECRET_BEDROCK_API_KEY};
            return true;
        }
        return false;
    case 'g':
        if (left >= 4 && p[1] == 'h' && (p[2] == 'p' || p[2] == 'o' || p[2] == 'u' || p[2] == 's' || p[2] == 'r') &&
            p[3] == '_' && !is_alnum(prev) && (k = run(p + 4, left - 4, is_alnum)) >= 36) {
            *h = (struct hit){i, i + 4 + k, AUDIT_SECRET_GITHUB_TOKEN};
            return true;
        }
        if (HAS(p, left, "github_pat_") && !is_alnum(prev) && (k = run(p + 11, left - 11, is_b64url)) >= 22) {
            *h = (struct hit){i, i + 11 + k, AUDIT_SECRET_GITHUB_TOKEN};
            return true;
        }
        return false;
    case 'x':
        if (left >= 5 && p[1] == 'o' && p[2] == 'x' && strchr("abposre", p[3]) && p[3] && p[4] == '-' &&
            !is_alnum(prev) && (k = run(p + 5, left - 5, is_b64url)) >= 10) {
            *h = (struct hit){i, i + 5 + k, AUDIT_SECRET_SLACK_TOKEN};
            return true;
        }
        if (HAS(p, left, "xapp-") && !is_alnum(prev) && (k = run(p + 5, left - 5, is_b64url)) >= 10) {
            *h = (struct hit){i, i + 5 + k, AUDIT_SECRET_SLACK_TOKEN};
            return true;
        }
        return false;
    case 'e':
        /* JWT: base64url("{...") "." base64url("{...") "." signature */
        if (HAS(p, left, "eyJ") && !is_alnum(prev)) {
            size_t a = run(p, left, is_b64url);
            if (a < 10 || a >= left || p[a] != '.')
                return false;
            const unsigned char *q = p + a + 1;
            size_t ql = left - a - 1;
            if (!HAS(q, ql, "eyJ"))
                return false;
            size_t b = run(q, ql, is_b64url);
            if (b < 10)
                return false;
            size_t end = a + 1 + b;
            if (end < left && p[end] == '.')
                end += 1 + run(p + end + 1, left - end - 1, is_b64url);
            *h = (struct hit){i, i + end, AUDIT_SECRET_JWT};
            return true;
        }
        return false;
    case 's':
        if (HAS(p, left, "sk-") && !is_alnum(prev) && (k = run(p + 3, left - 3, is_b64url)) >= 20 &&
            (HAS(p, left, "sk-ant-") || k >= 32)) {
            *h = (struct hit){i, i + 3 + k, AUDIT_SECRET_API_KEY};
            return true;
        }
        return false;
    case '-':
        if (HAS(p, left, "-----BEGIN ")) {
            /* the label runs to the next "-----" on this line */
            size_t j = 11;
            while (j < left && j < 11 + 80 && p[j] != '-' && p[j] != '\n')
                j++;
            if (j + 5 > left || memcmp(p + j, "-----", 5) != 0)
                return false;
            bool priv = false;
            for (size_t m = 11; m + 11 <= j && !priv; m++)
                priv = memcmp(p + m, "PRIVATE KEY", 11) == 0;
            if (!priv)
                return false;
            /* to the end of the matching -----END ...----- line, or of the text */
            size_t end = left;
            const unsigned char *f = p + j + 5;
            size_t fl = left - j - 5;
            const unsigned char *e = memmem(f, fl, "-----END", 8);
            if (e) {
                size_t off = (size_t)(e - p) + 8;
                const unsigned char *close =
                    off < left ? memmem(p + off, left - off < 96 ? left - off : 96, "-----", 5) : NULL;
                end = close ? (size_t)(close - p) + 5 : off;
            }
            *h = (struct hit){i, i + end, AUDIT_SECRET_PRIVATE_KEY};
            return true;
        }
        return false;
    default:
        return false;
    }
}

/* "Bearer <token>" in any case, as in an Authorization header or a curl -H. */
static bool bearer_rule(const unsigned char *t, size_t n, size_t i, struct hit *h)
{
    const unsigned char *p = t + i;
    size_t left = n - i;
    if (!has_ci(p, left, "bearer", 6) || (i && is_alnum(t[i - 1])))
        return false;
    size_t j = 6;
    size_t sp = 0;
    while (j < left && (p[j] == ' ' || p[j] == '\t')) {
        j++;
        sp++;
    }
    if (!sp)
        return false;
    size_t k = run(p + j, left - j, is_tok);
    if (k < 16)
        return false;
    *h = (struct hit){i + j, i + j + k, AUDIT_SECRET_BEARER_TOKEN};
    return true;
}

/* ---- keyword = value ----------------------------------------------------- */

enum value_class { VC_B64, VC_TOKEN, VC_LINE, VC_HEX64, VC_WORD };

struct kw {
    const char *kw;
    unsigned char len;
    unsigned char min;
    enum value_class vc;
    enum audit_secret kind;
};

#define KW(s, min, vc, kind)                                                                                           \
    {                                                                                                                  \
        s, sizeof(s) - 1, min, vc, kind                                                                                \
    }
static const struct kw keywords[] = {
    KW("access_token", 12, VC_TOKEN, AUDIT_SECRET_API_KEY),
    KW("accesstoken", 12, VC_TOKEN, AUDIT_SECRET_API_KEY),
    KW("api_key", 12, VC_TOKEN, AUDIT_SECRET_API_KEY),
    KW("apikey", 12, VC_TOKEN, AUDIT_SECRET_API_KEY),
    KW("auth_token", 12, VC_TOKEN, AUDIT_SECRET_API_KEY),
    KW("authorization", 1, VC_LINE, AUDIT_SECRET_AUTHORIZATION),
    KW("bearer_token", 8, VC_TOKEN, AUDIT_SECRET_BEARER_TOKEN),
    KW("client_secret", 8, VC_TOKEN, AUDIT_SECRET_API_KEY),
    KW("passwd", 4, VC_WORD, AUDIT_SECRET_PASSWORD),
    KW("password", 4, VC_WORD, AUDIT_SECRET_PASSWORD),
    KW("refresh_token", 12, VC_TOKEN, AUDIT_SECRET_API_KEY),
    KW("secret-access-key", 16, VC_B64, AUDIT_SECRET_AWS_SECRET_KEY),
    KW("secret_access_key", 16, VC_B64, AUDIT_SECRET_AWS_SECRET_KEY),
    KW("secret_key", 16, VC_B64, AUDIT_SECRET_AWS_SECRET_KEY),
    KW("secretaccesskey", 16, VC_B64, AUDIT_SECRET_AWS_SECRET_KEY),
    KW("secretkey", 16, VC_B64, AUDIT_SECRET_AWS_SECRET_KEY),
    KW("security-token", 16, VC_TOKEN, AUDIT_SECRET_AWS_SESSION_TOKEN),
    KW("security_token", 16, VC_TOKEN, AUDIT_SECRET_AWS_SESSION_TOKEN),
    KW("securitytoken", 16, VC_TOKEN, AUDIT_SECRET_AWS_SESSION_TOKEN),
    KW("session-token", 16, VC_TOKEN, AUDIT_SECRET_AWS_SESSION_TOKEN),
    KW("session_token", 16, VC_TOKEN, AUDIT_SECRET_AWS_SESSION_TOKEN),
    KW("sessiontoken", 16, VC_TOKEN, AUDIT_SECRET_AWS_SESSION_TOKEN),
    KW("signature", 64, VC_HEX64, AUDIT_SECRET_SIGNATURE),
};

static inline bool is_ident(unsigned char c)
{
    return is_alnum(c) || c == '_';
}
static inline bool is_quote(unsigned char c)
{
    return c == '"' || c == '\'' || c == '\\' || c == '`';
}

/* Find where the value after a keyword starts: identifier suffix, quotes and
 * blanks, one separator (= : >), blanks and quotes. Returns false when the
 * keyword is not followed by a separator. *quote gets the opening quote. */
static bool value_start(const unsigned char *p, size_t left, size_t j, size_t *out, unsigned char *quote)
{
    size_t lim = j + 64; /* a keyword's suffix and punctuation are short */
    while (j < left && j < lim && is_ident(p[j]))
        j++;
    while (j < left && j < lim && (is_quote(p[j]) || p[j] == ' ' || p[j] == '\t'))
        j++;
    if (j >= left || (p[j] != '=' && p[j] != ':' && p[j] != '>'))
        return false;
    j++;
    if (j < left && p[j] == '>') /* "=>" */
        j++;
    *quote = 0;
    while (j < left && j < lim + 16 && (is_quote(p[j]) || p[j] == ' ' || p[j] == '\t')) {
        if (p[j] == '"' || p[j] == '\'' || p[j] == '`')
            *quote = p[j];
        j++;
    }
    *out = j;
    return j < left;
}

/* The keywords starting with each letter: [first, end) in the sorted table. */
struct kw_index {
    unsigned char first[26], end[26];
};

/* Built once: audit_redact runs for every text field of every event. */
static struct kw_index kw_idx;
static pthread_once_t kw_once = PTHREAD_ONCE_INIT;

static void kw_index_init(void)
{
    for (size_t r = BROCK_ARRAY_LEN(keywords); r-- > 0;) {
        unsigned l = (unsigned)(keywords[r].kw[0] - 'a');
        if (!kw_idx.end[l])
            kw_idx.end[l] = (unsigned char)(r + 1);
        kw_idx.first[l] = (unsigned char)r;
    }
}

static bool keyword_rule(const struct kw_index *x, const unsigned char *t, size_t n, size_t i, struct hit *h)
{
    const unsigned char *p = t + i;
    size_t left = n - i;
    unsigned char c0 = lower(p[0]);
    if (c0 < 'a' || c0 > 'z' || left < 2)
        return false;
    unsigned char c1 = lower(p[1]);
    for (size_t r = x->first[c0 - 'a']; r < x->end[c0 - 'a']; r++) {
        const struct kw *k = &keywords[r];
        if ((unsigned char)k->kw[1] != c1 || !has_ci(p, left, k->kw, k->len))
            continue;
        size_t v;
        unsigned char q;
        if (!value_start(p, left, k->len, &v, &q))
            continue;
        /* "Authorization: Bearer x" in quotes as a whole ends at that quote */
        if (!q && i > 0 && (t[i - 1] == '"' || t[i - 1] == '\''))
            q = t[i - 1];
        const unsigned char *val = p + v;
        size_t vl = left - v, len = 0;
        switch (k->vc) {
        case VC_B64:
            len = run(val, vl, is_b64);
            break;
        case VC_TOKEN:
            len = run(val, vl, is_tok);
            break;
        case VC_HEX64:
            while (len < vl && len < 64 && is_hex(val[len]))
                len++;
            if (len != 64 || (vl > 64 && is_hex(val[64])))
                len = 0;
            break;
        case VC_WORD:
            while (len < vl && val[len] > ' ' && !is_quote(val[len]) && val[len] != ',' && val[len] != ';' &&
                   val[len] != '&' && val[len] != '<' && val[len] != '}')
                len++;
            break;
        case VC_LINE:
            /* to the end of the line, the closing quote, or an escape */
            while (len < vl && val[len] != '\n' && val[len] != '\r' && val[len] != '\\' && !(q && val[len] == q) &&
                   !(!q && val[len] == '<'))
                len++;
            while (len > 0 && (val[len - 1] == ' ' || val[len - 1] == '\t'))
                len--;
            break;
        }
        if (len < k->min || len == 0)
            continue;
        *h = (struct hit){i + v, i + v + len, k->kind};
        return true;
    }
    return false;
}

size_t audit_redact(struct buf *out, const char *text, size_t n, unsigned *kinds)
{
    const unsigned char *t = (const unsigned char *)text;
    size_t count = 0, pending = 0;
    pthread_once(&kw_once, kw_index_init);
    const struct kw_index *x = &kw_idx;
    unsigned found = 0;
    for (size_t i = 0; i < n;) {
        unsigned char c = t[i];
        struct hit h;
        bool hit = false;
        /* cheap first-byte filter: every rule starts with one of these */
        switch (c) {
        case 'A':
        case 'I':
        case 'F':
        case 'g':
        case 'x':
        case 'e':
        case '-':
        case 'b':
        case 's':
            hit = shape_rule(t, n, i, &h);
            break;
        default:
            break;
        }
        if (!hit && (c == 'b' || c == 'B'))
            hit = bearer_rule(t, n, i, &h);
        if (!hit) {
            switch (lower(c)) {
            case 'a':
            case 'b':
            case 'c':
            case 'p':
            case 'r':
            case 's':
                hit = keyword_rule(x, t, n, i, &h);
                break;
            default:
                break;
            }
        }
        if (!hit) {
            i++;
            continue;
        }
        buf_add(out, text + pending, h.start - pending);
        buf_addf(out, "[REDACTED:%s]", secret_names[h.kind]);
        count++;
        found |= 1u << h.kind;
        i = pending = h.end;
    }
    buf_add(out, text + pending, n - pending);
    if (kinds)
        *kinds = found;
    return count;
}
