/* sts.c - STS AssumeRole, AssumeRoleWithWebIdentity, GetCallerIdentity:
 * form bodies out, XML answers in (aws-wire-reference 3.4, 10). */
#include "sts.h"

#include <expat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/alloc.h"
#include "../util/buf.h"
#include "../util/codec.h"
#include "../util/timeutil.h"
#include "creds_impl.h"
#include "sigv4.h"

const char *sts_action_name(enum sts_action a)
{
    switch (a) {
    case STS_ASSUME_ROLE:
        return "AssumeRole";
    case STS_ASSUME_ROLE_WITH_WEB_IDENTITY:
        return "AssumeRoleWithWebIdentity";
    case STS_GET_CALLER_IDENTITY:
        return "GetCallerIdentity";
    }
    return "?";
}

/* ---- the XML reader ------------------------------------------------------------ */

#define XP_PATH_MAX 512
#define XP_MAX_FIELDS 8
#define XP_SLACK 256 /* room for the blanks of pretty-printed XML around a value */

struct xp_field {
    const char *name; /* for messages: the element name */
    char path[160];   /* "/Root/Result/Credentials/AccessKeyId" */
    size_t max;       /* longest value after trimming */
    struct buf val;
};

struct xp {
    XML_Parser p;
    int depth;
    char path[XP_PATH_MAX];
    size_t plen[STS_MAX_XML_DEPTH + 1];
    size_t len;
    struct xp_field f[XP_MAX_FIELDS];
    int nf;
    int cur;      /* field receiving text, or -1 */
    char root[64];
    int skip;     /* open elements since the path stopped fitting */
    bool too_deep, doctype;
    int overflow; /* 1 + index of a field over its cap, or 0 */
};

static int xp_match(const struct xp *x)
{
    for (int i = 0; i < x->nf; i++)
        if (!strcmp(x->f[i].path, x->path))
            return i;
    return -1;
}

static void XMLCALL xp_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
    (void)attrs;
    struct xp *x = ud;
    if (x->depth >= STS_MAX_XML_DEPTH) {
        x->too_deep = true;
        XML_StopParser(x->p, XML_FALSE);
        return;
    }
    const char *colon = strrchr(name, ':');
    const char *ln = colon ? colon + 1 : name;
    size_t nl = strlen(ln);
    if (x->depth == 0)
        snprintf(x->root, sizeof x->root, "%s", ln);
    x->plen[x->depth++] = x->len;
    x->cur = -1;
    if (x->skip) { /* inside an element whose path did not fit: nothing we want */
        x->skip++;
        return;
    }
    if (x->len + 1 + nl >= sizeof x->path) {
        x->skip = 1;
        return;
    }
    x->path[x->len++] = '/';
    memcpy(x->path + x->len, ln, nl + 1);
    x->len += nl;
    x->cur = xp_match(x);
    if (x->cur >= 0)
        buf_reset(&x->f[x->cur].val); /* the last occurrence wins */
}

static void XMLCALL xp_end(void *ud, const XML_Char *name)
{
    (void)name;
    struct xp *x = ud;
    if (x->depth == 0)
        return;
    x->depth--;
    x->cur = -1;
    if (x->skip && --x->skip)
        return;
    x->len = x->plen[x->depth];
    x->path[x->len] = '\0';
    x->cur = xp_match(x);
}

static void XMLCALL xp_text(void *ud, const XML_Char *s, int len)
{
    struct xp *x = ud;
    if (x->cur < 0 || len <= 0)
        return;
    if (buf_add(&x->f[x->cur].val, s, (size_t)len) != BROCK_OK) {
        x->overflow = x->cur + 1;
        XML_StopParser(x->p, XML_FALSE);
    }
}

static void XMLCALL xp_doctype(void *ud, const XML_Char *name, const XML_Char *sysid, const XML_Char *pubid,
                               int has_internal_subset)
{
    (void)name;
    (void)sysid;
    (void)pubid;
    (void)has_internal_subset;
    struct xp *x = ud;
    x->doctype = true;
    XML_StopParser(x->p, XML_FALSE);
}

static void xp_add(struct xp *x, const char *root_and_result, const char *rel, size_t max)
{
    struct xp_field *f = &x->f[x->nf++];
    snprintf(f->path, sizeof f->path, "%s/%s", root_and_result, rel);
    const char *slash = strrchr(rel, '/');
    f->name = slash ? slash + 1 : rel;
    f->max = max;
    buf_init(&f->val, max + XP_SLACK);
}

static void xp_free(struct xp *x)
{
    for (int i = 0; i < x->nf; i++)
        buf_free_secure(&x->f[i].val);
}

/* Trim the value of field i in place; NULL when absent or empty. */
static const char *xp_value(struct xp *x, int i)
{
    struct buf *b = &x->f[i].val;
    if (!b->ptr)
        return NULL;
    size_t s = 0, n = b->len;
    while (s < n && (b->ptr[s] == ' ' || b->ptr[s] == '\t' || b->ptr[s] == '\n' || b->ptr[s] == '\r'))
        s++;
    while (n > s && (b->ptr[n - 1] == ' ' || b->ptr[n - 1] == '\t' || b->ptr[n - 1] == '\n' || b->ptr[n - 1] == '\r'))
        n--;
    memmove(b->ptr, b->ptr + s, n - s);
    secure_wipe(b->ptr + (n - s), b->len - (n - s));
    b->len = n - s;
    b->ptr[b->len] = '\0';
    return b->len ? b->ptr : NULL;
}

/* Run the parser over the answer; on success every field holds its text. */
static enum brock_status xp_run(struct xp *x, const char *xml, size_t n, const char *action, struct brock_err *e)
{
    char want[80];
    snprintf(want, sizeof want, "%sResponse", action);
    if (n > STS_MAX_BODY)
        return err_set(e, BROCK_ERR_TOO_LARGE, "STS %s answer: larger than %zu bytes", action, STS_MAX_BODY);
    x->p = XML_ParserCreate("UTF-8");
    if (!x->p)
        return err_set(e, BROCK_ERR_INTERNAL, "cannot create an XML parser");
    x->cur = -1;
    XML_SetUserData(x->p, x);
    XML_SetElementHandler(x->p, xp_start, xp_end);
    XML_SetCharacterDataHandler(x->p, xp_text);
    XML_SetStartDoctypeDeclHandler(x->p, xp_doctype);
    enum XML_Status xs = XML_Parse(x->p, xml ? xml : "", (int)n, XML_TRUE);
    enum brock_status st = BROCK_OK;
    if (x->doctype)
        st = err_set(e, BROCK_ERR_PARSE, "STS %s answer: has a DOCTYPE, which brock does not accept", action);
    else if (x->too_deep)
        st = err_set(e, BROCK_ERR_PARSE, "STS %s answer: XML nested deeper than %d elements", action,
                     STS_MAX_XML_DEPTH);
    else if (x->overflow)
        st = err_set(e, BROCK_ERR_TOO_LARGE, "STS %s answer: <%s> is longer than %zu bytes", action,
                     x->f[x->overflow - 1].name, x->f[x->overflow - 1].max);
    else if (xs != XML_STATUS_OK)
        st = err_set(e, BROCK_ERR_PARSE, "STS %s answer: malformed XML at line %lu, column %lu: %s", action,
                     (unsigned long)XML_GetCurrentLineNumber(x->p), (unsigned long)XML_GetCurrentColumnNumber(x->p),
                     XML_ErrorString(XML_GetErrorCode(x->p)));
    else if (strcmp(x->root, want) != 0) {
        char shown[64];
        size_t j = 0;
        for (const char *r = x->root; *r && j + 1 < sizeof shown; r++)
            shown[j++] = (unsigned char)*r < 0x20 || *r == 0x7f ? '?' : *r;
        shown[j] = '\0';
        st = err_set(e, BROCK_ERR_PARSE, "STS %s answer: expected <%s>, found <%s>", action, want, shown);
    }
    XML_ParserFree(x->p);
    x->p = NULL;
    return st;
}

/* Fetch a required field, trimmed and within its cap. */
static enum brock_status need(struct xp *x, int i, const char *action, const char **out, struct brock_err *e)
{
    *out = xp_value(x, i);
    if (!*out)
        return err_set(e, BROCK_ERR_PARSE, "STS %s answer: <%s> is missing or empty", action, x->f[i].name);
    if (x->f[i].val.len > x->f[i].max)
        return err_set(e, BROCK_ERR_TOO_LARGE, "STS %s answer: <%s> is longer than %zu bytes", action,
                       x->f[i].name, x->f[i].max);
    return BROCK_OK;
}

/* The account of "arn:PARTITION:SERVICE::ACCOUNT:..." if it is 12 digits. */
static bool arn_account(const char *arn, char out[16])
{
    const char *p = arn;
    for (int i = 0; i < 4; i++) {
        p = strchr(p, ':');
        if (!p)
            return false;
        p++;
    }
    size_t n = strcspn(p, ":");
    if (n != 12 || p[n] != ':')
        return false;
    for (size_t i = 0; i < n; i++)
        if (p[i] < '0' || p[i] > '9')
            return false;
    memcpy(out, p, n);
    out[n] = '\0';
    return true;
}

enum brock_status sts_parse_credentials(enum sts_action a, const char *xml, size_t n, const char *provider,
                                        struct aws_credentials **out, struct brock_err *e)
{
    *out = NULL;
    const char *action = sts_action_name(a);
    if (a == STS_GET_CALLER_IDENTITY)
        return err_set(e, BROCK_ERR_USAGE, "GetCallerIdentity answers hold no credentials");
    struct xp x;
    memset(&x, 0, sizeof x);
    char base[96];
    snprintf(base, sizeof base, "/%sResponse/%sResult", action, action);
    xp_add(&x, base, "Credentials/AccessKeyId", SIGV4_MAX_AKID);
    xp_add(&x, base, "Credentials/SecretAccessKey", SIGV4_MAX_SECRET);
    xp_add(&x, base, "Credentials/SessionToken", CREDS_TOKEN_MAX);
    xp_add(&x, base, "Credentials/Expiration", 64);
    xp_add(&x, base, "AssumedRoleUser/Arn", STS_ARN_MAX);
    enum brock_status st = xp_run(&x, xml, n, action, e);
    const char *akid, *secret, *token, *exps;
    if (st == BROCK_OK && (st = need(&x, 0, action, &akid, e)) == BROCK_OK &&
        (st = need(&x, 1, action, &secret, e)) == BROCK_OK && (st = need(&x, 2, action, &token, e)) == BROCK_OK &&
        (st = need(&x, 3, action, &exps, e)) == BROCK_OK) {
        int64_t exp = 0;
        char what[96];
        snprintf(what, sizeof what, "STS %s answer", action);
        if (!time_parse_iso8601(exps, &exp) || exp <= 0)
            st = err_set(e, BROCK_ERR_PARSE, "STS %s answer: <Expiration> is not an ISO-8601 time", action);
        else
            st = creds_check_strings(akid, secret, token, what, e);
        if (st == BROCK_OK) {
            char account[16] = "";
            const char *arn = xp_value(&x, 4);
            if (arn)
                arn_account(arn, account);
            *out = creds_make(akid, secret, token, exp, account[0] ? account : NULL,
                              provider ? provider : (a == STS_ASSUME_ROLE ? "assume role" : "web identity"));
        }
    }
    xp_free(&x);
    return st;
}

enum brock_status sts_parse_identity(const char *xml, size_t n, struct sts_identity *out, struct brock_err *e)
{
    struct xp x;
    memset(&x, 0, sizeof x);
    xp_add(&x, "/GetCallerIdentityResponse/GetCallerIdentityResult", "Arn", STS_ARN_MAX);
    xp_add(&x, "/GetCallerIdentityResponse/GetCallerIdentityResult", "UserId", sizeof out->user_id - 1);
    xp_add(&x, "/GetCallerIdentityResponse/GetCallerIdentityResult", "Account", sizeof out->account - 1);
    const char *action = "GetCallerIdentity";
    enum brock_status st = xp_run(&x, xml, n, action, e);
    const char *arn, *uid, *acct;
    if (st == BROCK_OK && (st = need(&x, 0, action, &arn, e)) == BROCK_OK &&
        (st = need(&x, 1, action, &uid, e)) == BROCK_OK && (st = need(&x, 2, action, &acct, e)) == BROCK_OK) {
        if (!creds_header_safe(arn, strlen(arn)) || !creds_header_safe(uid, strlen(uid)) ||
            !creds_header_safe(acct, strlen(acct)))
            st = err_set(e, BROCK_ERR_PARSE, "STS GetCallerIdentity answer: a value holds control characters");
        else {
            snprintf(out->arn, sizeof out->arn, "%s", arn);
            snprintf(out->user_id, sizeof out->user_id, "%s", uid);
            snprintf(out->account, sizeof out->account, "%s", acct);
        }
    }
    xp_free(&x);
    return st;
}

/* ---- the calls ------------------------------------------------------------------- */

static void form_add(struct buf *b, const char *k, const char *v)
{
    buf_addc(b, '&');
    buf_addstr(b, k);
    buf_addc(b, '=');
    uri_encode(b, v, strlen(v), false);
}

static bool arn_ok(const char *arn)
{
    size_t n = arn ? strlen(arn) : 0;
    return n >= 20 && n <= STS_ARN_MAX && !strncmp(arn, "arn:", 4) && creds_header_safe(arn, n);
}

static bool external_id_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 2 || n > STS_EXTERNAL_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("_+=,.@:/-", c)))
            return false;
    }
    return true;
}

/* POST the form and hand back the answer body (caller wipes and frees r). */
static enum brock_status post_form(struct aws_client *c, const struct buf *form, enum aws_auth auth,
                                   struct aws_response *r, struct brock_err *e)
{
    struct http_headers h = HTTP_HEADERS_INIT;
    enum brock_status st =
        http_headers_add(&h, "Content-Type", "application/x-www-form-urlencoded; charset=utf-8", e);
    if (st == BROCK_OK) {
        struct aws_request req = {
            .service = ENDPOINT_SVC_STS,
            .method = "POST",
            .path = "/",
            .headers = &h,
            .body = form->ptr,
            .body_len = form->len,
            .protocol = AWSERR_QUERY,
            .auth = auth,
            .max_body = STS_MAX_BODY,
        };
        st = aws_client_send(c, &req, r, e);
    }
    http_headers_cleanup(&h);
    return st;
}

static void response_free_secure(struct aws_response *r)
{
    if (r->http.body.ptr)
        secure_wipe(r->http.body.ptr, r->http.body.len);
    aws_response_free(r);
}

static enum brock_status check_common(const char *role_arn, const char *session, int duration, struct brock_err *e)
{
    if (!arn_ok(role_arn))
        return err_set(e, BROCK_ERR_CONFIG, "the role ARN must start with 'arn:' and be 20-%d characters",
                       STS_ARN_MAX);
    if (!session || !creds_valid_session_name(session))
        return err_set(e, BROCK_ERR_CONFIG,
                       "the role session name must be 2-64 of the characters A-Z a-z 0-9 _ + = , . @ -");
    if (duration != 0 && (duration < STS_DURATION_MIN || duration > STS_DURATION_MAX))
        return err_set(e, BROCK_ERR_CONFIG, "the duration must be %d-%d seconds, not %d", STS_DURATION_MIN,
                       STS_DURATION_MAX, duration);
    return BROCK_OK;
}

enum brock_status sts_assume_role(struct aws_client *c, const struct sts_assume_role *p, struct aws_credentials **out,
                                  struct brock_err *e)
{
    *out = NULL;
    enum brock_status st = check_common(p->role_arn, p->session_name, p->duration_s, e);
    if (st != BROCK_OK)
        return err_prefix(e, "STS AssumeRole");
    if (p->external_id && !external_id_ok(p->external_id))
        return err_set(e, BROCK_ERR_CONFIG,
                       "STS AssumeRole: the external id must be 2-%d of the characters A-Z a-z 0-9 _ + = , . @ : / -",
                       STS_EXTERNAL_ID_MAX);
    if (!p->mfa_serial != !p->token_code)
        return err_set(e, BROCK_ERR_USAGE, "STS AssumeRole: an MFA serial needs a token code and the reverse");
    if (p->token_code) {
        bool six = strlen(p->token_code) == 6;
        for (size_t i = 0; six && i < 6; i++)
            six = p->token_code[i] >= '0' && p->token_code[i] <= '9';
        if (!six)
            return err_set(e, BROCK_ERR_CONFIG, "STS AssumeRole: the MFA code must be 6 digits");
        if (strlen(p->mfa_serial) < 9 || strlen(p->mfa_serial) > 256 ||
            !creds_header_safe(p->mfa_serial, strlen(p->mfa_serial)))
            return err_set(e, BROCK_ERR_CONFIG, "STS AssumeRole: the MFA serial must be 9-256 characters");
    }
    struct buf form = BUF_INIT(16384);
    buf_addstr(&form, "Action=AssumeRole&Version=" STS_API_VERSION);
    form_add(&form, "RoleArn", p->role_arn);
    form_add(&form, "RoleSessionName", p->session_name);
    if (p->duration_s)
        buf_addf(&form, "&DurationSeconds=%d", p->duration_s);
    if (p->external_id)
        form_add(&form, "ExternalId", p->external_id);
    if (p->mfa_serial) {
        form_add(&form, "SerialNumber", p->mfa_serial);
        form_add(&form, "TokenCode", p->token_code);
    }
    if (buf_status(&form) != BROCK_OK) {
        buf_free(&form);
        return err_set(e, BROCK_ERR_TOO_LARGE, "STS AssumeRole: request too large");
    }
    struct aws_response r;
    aws_response_init(&r);
    st = post_form(c, &form, AWS_AUTH_SIGV4, &r, e);
    if (st == BROCK_OK)
        st = sts_parse_credentials(STS_ASSUME_ROLE, r.http.body.ptr, r.http.body.len, p->provider, out, e);
    if (st != BROCK_OK)
        err_prefix(e, "assuming role %s", p->role_arn);
    response_free_secure(&r);
    buf_free_secure(&form);
    return st;
}

enum brock_status sts_assume_role_with_web_identity(struct aws_client *c, const struct sts_web_identity *p,
                                                    struct aws_credentials **out, struct brock_err *e)
{
    *out = NULL;
    enum brock_status st = check_common(p->role_arn, p->session_name, p->duration_s, e);
    if (st != BROCK_OK)
        return err_prefix(e, "STS AssumeRoleWithWebIdentity");
    size_t tl = p->token ? strlen(p->token) : 0;
    if (tl < STS_WEB_TOKEN_MIN || tl > STS_WEB_TOKEN_MAX)
        return err_set(e, BROCK_ERR_CREDENTIALS,
                       "STS AssumeRoleWithWebIdentity: the web identity token must be %d-%d bytes, not %zu",
                       STS_WEB_TOKEN_MIN, STS_WEB_TOKEN_MAX, tl);
    struct buf form = BUF_INIT(4 * STS_WEB_TOKEN_MAX + 16384);
    buf_addstr(&form, "Action=AssumeRoleWithWebIdentity&Version=" STS_API_VERSION);
    form_add(&form, "RoleArn", p->role_arn);
    form_add(&form, "RoleSessionName", p->session_name);
    form_add(&form, "WebIdentityToken", p->token);
    if (p->duration_s)
        buf_addf(&form, "&DurationSeconds=%d", p->duration_s);
    if (buf_status(&form) != BROCK_OK) {
        buf_free_secure(&form);
        return err_set(e, BROCK_ERR_TOO_LARGE, "STS AssumeRoleWithWebIdentity: request too large");
    }
    struct aws_response r;
    aws_response_init(&r);
    st = post_form(c, &form, AWS_AUTH_NONE, &r, e);
    if (st == BROCK_OK)
        st = sts_parse_credentials(STS_ASSUME_ROLE_WITH_WEB_IDENTITY, r.http.body.ptr, r.http.body.len, p->provider,
                                   out, e);
    if (st != BROCK_OK)
        err_prefix(e, "assuming role %s with a web identity token", p->role_arn);
    response_free_secure(&r);
    buf_free_secure(&form);
    return st;
}

enum brock_status sts_get_caller_identity(struct aws_client *c, struct sts_identity *out, struct brock_err *e)
{
    memset(out, 0, sizeof *out);
    struct buf form = BUF_INIT(256);
    buf_addstr(&form, "Action=GetCallerIdentity&Version=" STS_API_VERSION);
    struct aws_response r;
    aws_response_init(&r);
    enum brock_status st = post_form(c, &form, AWS_AUTH_SIGV4, &r, e);
    if (st == BROCK_OK)
        st = sts_parse_identity(r.http.body.ptr, r.http.body.len, out, e);
    if (st == BROCK_OK)
        snprintf(out->request_id, sizeof out->request_id, "%s", r.request_id);
    if (st != BROCK_OK)
        err_prefix(e, "STS GetCallerIdentity");
    response_free_secure(&r);
    buf_free(&form);
    return st;
}
