/* emulator_iam.c - the slice of IAM `brock setup monitoring` uses to create
 * the role Bedrock's model invocation logging assumes: CreateRole, GetRole,
 * DeleteRole, PutRolePolicy, GetRolePolicy, DeleteRolePolicy,
 * ListRolePolicies. awsQuery (Version 2010-05-08, signing name `iam`, the
 * global endpoint's region us-east-1), XML answers in IAM's namespace.
 *
 * Policy documents are checked the way IAM rejects them: valid JSON, a
 * Statement, a known Version, Effect Allow|Deny, actions prefaced by a
 * service, resources in permission policies and none in trust policies,
 * principals in trust policies only; trust policies <= 2048 characters and a
 * role's inline policies <= 10,240 characters together (whitespace not
 * counted). Documents come back URL-encoded, as IAM returns them. */
#define EMULATOR_INTERNAL
#include "emulator.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../aws/crypto.h"
#include "../util/alloc.h"
#include "../util/codec.h"
#include "../util/json.h"
#include "emulator_aws.h"

#define IAM_XMLNS "https://iam.amazonaws.com/doc/2010-05-08/"
#define IAM_MAX_TRUST 2048
#define IAM_MAX_INLINE 10240

struct role {
    char *name, *path, *id, *arn, *trust, *desc, *account;
    int64_t max_session;
    int64_t created_ms;
    json_t *policies; /* name -> document (string) */
    json_t *tags;     /* [{"Key","Value"}] */
};

struct emu_iam {
    struct role **r;
    size_t n, cap;
};

struct emu_iam *emu_iam_new(void)
{
    return xcalloc(1, sizeof(struct emu_iam));
}

static void role_free(struct role *r)
{
    free(r->name);
    free(r->path);
    free(r->id);
    free(r->arn);
    free(r->trust);
    free(r->desc);
    free(r->account);
    json_decref(r->policies);
    json_decref(r->tags);
    free(r);
}

void emu_iam_free(struct emu_iam *iam)
{
    if (!iam)
        return;
    for (size_t i = 0; i < iam->n; i++)
        role_free(iam->r[i]);
    free(iam->r);
    free(iam);
}

/* Role names are case-insensitive in IAM. */
static struct role *find_role(const struct emu_iam *iam, const char *name, size_t *at)
{
    for (size_t i = 0; i < iam->n; i++)
        if (!strcasecmp(iam->r[i]->name, name)) {
            if (at)
                *at = i;
            return iam->r[i];
        }
    return NULL;
}

const char *emu_iam_role_trust(const struct emu_iam *iam, const char *account, const char *name)
{
    const struct role *r = find_role(iam, name, NULL);
    return r && !strcmp(r->account, account) ? r->trust : NULL;
}

/* ------------------------------------------------------------------ */
/* validation                                                           */

static bool iam_fail(struct emu_aws_resp *rs, int status, const char *code, const char *fmt, ...) BROCK_PRINTF(4, 5);
static bool iam_fail(struct emu_aws_resp *rs, int status, const char *code, const char *fmt, ...)
{
    char m[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    return emu_aws_fail(rs, status, code, NULL, "%s", m);
}

static bool coral(struct emu_aws_resp *rs, const char *value, const char *field, const char *constraint)
{
    char m[800];
    emu_coral_msg(m, sizeof m, value, field, constraint);
    return iam_fail(rs, 400, "ValidationError", "%s", m);
}

/* A [\w+=,.@-]+ name of 1..max characters, required. */
static bool check_name(const json_t *o, const char *key, const char *field, size_t max, const char **out,
                       struct emu_aws_resp *rs)
{
    const char *v = json_str(o, key);
    *out = v;
    if (!v)
        return coral(rs, NULL, field, "Member must not be null");
    size_t n = strlen(v);
    if (n < 1 || n > max) {
        char c[96];
        snprintf(c, sizeof c, "Member must have length %s %zu", n < 1 ? "greater than or equal to" : "less than or equal to",
                 n < 1 ? (size_t)1 : max);
        return coral(rs, v, field, c);
    }
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)v[i]) && !strchr("_+=,.@-", v[i]))
            return coral(rs, v, field, "Member must satisfy regular expression pattern: [\\w+=,.@-]+");
    return true;
}

static size_t non_space_len(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += !isspace((unsigned char)*s);
    return n;
}

static bool action_ok(const json_t *a)
{
    if (!json_is_string(a))
        return false;
    const char *s = json_string_value(a);
    if (!strcmp(s, "*"))
        return true;
    const char *colon = strchr(s, ':');
    if (!colon || colon == s || !colon[1])
        return false;
    for (const char *p = s; p < colon; p++)
        if (!isalnum((unsigned char)*p) && *p != '-')
            return false;
    return true;
}

static bool actions_ok(const json_t *v)
{
    if (json_is_string(v))
        return action_ok(v);
    if (!json_is_array(v) || !json_array_size(v))
        return false;
    for (size_t i = 0; i < json_array_size(v); i++)
        if (!action_ok(json_array_get(v, i)))
            return false;
    return true;
}

/* Check a policy document; trust = a role's AssumeRolePolicyDocument. */
static bool check_policy(const char *doc, bool trust, struct emu_aws_resp *rs)
{
    json_error_t je;
    json_t *root = json_loads(doc, JSON_REJECT_DUPLICATES, &je);
    bool ok = false;
    if (!root) {
        iam_fail(rs, 400, "MalformedPolicyDocument", "This policy contains invalid Json");
        return false;
    }
    const json_t *ver = json_object_get(root, "Version"), *st = json_object_get(root, "Statement");
    if (!json_is_object(root) || !st || !(json_is_object(st) || json_is_array(st))) {
        iam_fail(rs, 400, "MalformedPolicyDocument", "Syntax errors in policy.");
        goto out;
    }
    if (ver && (!json_is_string(ver) ||
                (strcmp(json_string_value(ver), "2012-10-17") && strcmp(json_string_value(ver), "2008-10-17")))) {
        iam_fail(rs, 400, "MalformedPolicyDocument", "The policy failed legacy parsing");
        goto out;
    }
    size_t n = json_is_array(st) ? json_array_size(st) : 1;
    if (!n) {
        iam_fail(rs, 400, "MalformedPolicyDocument", "Syntax errors in policy.");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *s = json_is_array(st) ? json_array_get(st, i) : st;
        if (!json_is_object(s)) {
            iam_fail(rs, 400, "MalformedPolicyDocument", "Syntax errors in policy.");
            goto out;
        }
        const char *eff = json_str(s, "Effect");
        if (!eff || (strcmp(eff, "Allow") && strcmp(eff, "Deny"))) {
            iam_fail(rs, 400, "MalformedPolicyDocument", "Invalid effect: %.40s", eff ? eff : "(missing)");
            goto out;
        }
        const json_t *act = json_object_get(s, "Action"), *nact = json_object_get(s, "NotAction");
        if (!act && !nact) {
            iam_fail(rs, 400, "MalformedPolicyDocument", "Policy statement must contain actions.");
            goto out;
        }
        if ((act && !actions_ok(act)) || (nact && !actions_ok(nact))) {
            iam_fail(rs, 400, "MalformedPolicyDocument",
                     "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.");
            goto out;
        }
        bool has_res = json_object_get(s, "Resource") || json_object_get(s, "NotResource");
        bool has_pr = json_object_get(s, "Principal") || json_object_get(s, "NotPrincipal");
        if (trust) {
            if (has_res) {
                iam_fail(rs, 400, "MalformedPolicyDocument", "Has prohibited field Resource");
                goto out;
            }
            if (!has_pr) {
                iam_fail(rs, 400, "MalformedPolicyDocument", "Missing required field Principal");
                goto out;
            }
        } else {
            if (has_pr) {
                iam_fail(rs, 400, "MalformedPolicyDocument", "Policy document should not specify a principal.");
                goto out;
            }
            if (!has_res) {
                iam_fail(rs, 400, "MalformedPolicyDocument", "Policy statement must contain resources.");
                goto out;
            }
        }
    }
    ok = true;
out:
    json_decref(root);
    return ok;
}

/* ------------------------------------------------------------------ */
/* answers                                                              */

static void url_encoded(struct emu_out *w, const char *name, const char *doc)
{
    struct buf b = BUF_INIT(1 << 20);
    uri_encode(&b, doc, strlen(doc), false);
    emu_out_str(w, name, buf_cstr(&b));
    buf_free(&b);
}

static void role_out(struct emu_out *w, const struct role *r)
{
    emu_out_obj(w, "Role");
    emu_out_str(w, "Path", r->path);
    emu_out_str(w, "RoleName", r->name);
    emu_out_str(w, "RoleId", r->id);
    emu_out_str(w, "Arn", r->arn);
    emu_out_time(w, "CreateDate", r->created_ms);
    url_encoded(w, "AssumeRolePolicyDocument", r->trust);
    if (r->desc)
        emu_out_str(w, "Description", r->desc);
    emu_out_int(w, "MaxSessionDuration", r->max_session);
    if (json_array_size(r->tags))
        emu_out_json(w, "Tags", r->tags);
    emu_out_obj(w, "RoleLastUsed");
    emu_out_close(w);
    emu_out_close(w);
}

static void simple_ok(const struct emu_aws_req *rq, struct emu_aws_resp *rs, const char *op)
{
    struct emu_out w;
    emu_out_begin(&w, &rs->body, true, op, IAM_XMLNS, false);
    emu_out_end(&w, op, rq->request_id, false);
}

/* ------------------------------------------------------------------ */
/* operations                                                           */

static void create_role(struct emu_iam *iam, const struct emu_aws_req *rq, const json_t *o, struct emu_aws_resp *rs)
{
    const char *name, *doc = json_str(o, "AssumeRolePolicyDocument"), *path = json_str(o, "Path"),
                      *desc = json_str(o, "Description"), *msd = json_str(o, "MaxSessionDuration");
    if (!check_name(o, "RoleName", "roleName", 64, &name, rs))
        return;
    if (!doc) {
        coral(rs, NULL, "assumeRolePolicyDocument", "Member must not be null");
        return;
    }
    if (!*doc || strlen(doc) > 131072) {
        coral(rs, "...", "assumeRolePolicyDocument", "Member must have length between 1 and 131072");
        return;
    }
    if (path) {
        size_t pl = strlen(path);
        bool ok = pl >= 1 && pl <= 512 && path[0] == '/' && path[pl - 1] == '/';
        for (size_t i = 0; ok && i < pl; i++)
            ok = path[i] >= 0x21 && path[i] <= 0x7e;
        if (!ok) {
            coral(rs, path, "path", "Member must satisfy regular expression pattern: (\\u002F)|(\\u002F[\\u0021-\\u007E]+"
                                    "\\u002F)");
            return;
        }
    }
    if (desc && strlen(desc) > 1000) {
        coral(rs, desc, "description", "Member must have length less than or equal to 1000");
        return;
    }
    int64_t max_session = 3600;
    if (msd) {
        char *end;
        long long v = strtoll(msd, &end, 10);
        if (!*msd || *end || v < 3600 || v > 43200) {
            coral(rs, msd, "maxSessionDuration", "Member must have value between 3600 and 43200");
            return;
        }
        max_session = v;
    }
    const json_t *tags = json_object_get(o, "Tags");
    if (tags && (!json_is_array(tags) || json_array_size(tags) > 50)) {
        coral(rs, "[...]", "tags", "Member must have length less than or equal to 50");
        return;
    }
    for (size_t i = 0; i < json_array_size(tags); i++) {
        const json_t *t = json_array_get(tags, i);
        const char *k = json_str(t, "Key"), *v = json_str(t, "Value");
        if (!k || !v || !*k || strlen(k) > 128 || strlen(v) > 256) {
            char f[48];
            snprintf(f, sizeof f, "tags.%zu.member", i + 1);
            coral(rs, k ? k : NULL, f, "Member must have a Key of 1 to 128 and a Value of 0 to 256 characters");
            return;
        }
    }
    if (strlen(doc) > IAM_MAX_TRUST) {
        iam_fail(rs, 409, "LimitExceeded", "Cannot exceed quota for ACLSizePerRole: %d", IAM_MAX_TRUST);
        return;
    }
    if (!check_policy(doc, true, rs))
        return;
    if (find_role(iam, name, NULL)) {
        iam_fail(rs, 409, "EntityAlreadyExists", "Role with name %s already exists.", name);
        return;
    }
    if (iam->n >= EMU_IAM_MAX_ROLES) {
        iam_fail(rs, 409, "LimitExceeded", "Cannot exceed quota for RolesPerAccount: %d", EMU_IAM_MAX_ROLES);
        return;
    }
    struct role *r = xcalloc(1, sizeof *r);
    r->name = xstrdup(name);
    r->path = xstrdup(path ? path : "/");
    r->account = xstrdup(rq->account);
    char arn[800];
    snprintf(arn, sizeof arn, "arn:aws:iam::%s:role%s%s", rq->account, r->path, name);
    r->arn = xstrdup(arn);
    /* a stable unique id: "AROA" + 17 characters */
    static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    uint8_t d[SHA256_LEN];
    crypto_sha256(arn, strlen(arn), d);
    char id[24] = "AROA";
    for (int i = 0; i < 17; i++)
        id[4 + i] = alpha[d[i] & 31];
    id[21] = '\0';
    r->id = xstrdup(id);
    r->trust = xstrdup(doc);
    r->desc = desc ? xstrdup(desc) : NULL;
    r->max_session = max_session;
    r->created_ms = rq->now_ms;
    r->policies = json_object();
    r->tags = tags ? json_deep_copy(tags) : json_array();
    if (iam->n == iam->cap) {
        iam->cap = iam->cap ? 2 * iam->cap : 8;
        iam->r = xrealloc(iam->r, iam->cap * sizeof *iam->r);
    }
    iam->r[iam->n++] = r;
    struct emu_out w;
    emu_out_begin(&w, &rs->body, true, "CreateRole", IAM_XMLNS, true);
    role_out(&w, r);
    emu_out_end(&w, "CreateRole", rq->request_id, true);
}

static struct role *role_arg(struct emu_iam *iam, const json_t *o, struct emu_aws_resp *rs, size_t *at)
{
    const char *name;
    if (!check_name(o, "RoleName", "roleName", 64, &name, rs))
        return NULL;
    struct role *r = find_role(iam, name, at);
    if (!r)
        iam_fail(rs, 404, "NoSuchEntity", "The role with name %s cannot be found.", name);
    return r;
}

static void get_role(struct emu_iam *iam, const struct emu_aws_req *rq, const json_t *o, struct emu_aws_resp *rs)
{
    struct role *r = role_arg(iam, o, rs, NULL);
    if (!r)
        return;
    struct emu_out w;
    emu_out_begin(&w, &rs->body, true, "GetRole", IAM_XMLNS, true);
    role_out(&w, r);
    emu_out_end(&w, "GetRole", rq->request_id, true);
}

static void delete_role(struct emu_iam *iam, const struct emu_aws_req *rq, const json_t *o, struct emu_aws_resp *rs)
{
    size_t at;
    struct role *r = role_arg(iam, o, rs, &at);
    if (!r)
        return;
    if (json_object_size(r->policies)) {
        iam_fail(rs, 409, "DeleteConflict", "Cannot delete entity, must delete policies first.");
        return;
    }
    role_free(r);
    memmove(iam->r + at, iam->r + at + 1, (iam->n - at - 1) * sizeof *iam->r);
    iam->n--;
    simple_ok(rq, rs, "DeleteRole");
}

static void put_role_policy(struct emu_iam *iam, const struct emu_aws_req *rq, const json_t *o,
                            struct emu_aws_resp *rs)
{
    const char *pname, *doc = json_str(o, "PolicyDocument"), *rname;
    if (!check_name(o, "RoleName", "roleName", 64, &rname, rs) ||
        !check_name(o, "PolicyName", "policyName", 128, &pname, rs))
        return;
    if (!doc) {
        coral(rs, NULL, "policyDocument", "Member must not be null");
        return;
    }
    if (!*doc || strlen(doc) > 131072) {
        coral(rs, "...", "policyDocument", "Member must have length between 1 and 131072");
        return;
    }
    struct role *r = find_role(iam, rname, NULL);
    if (!r) {
        iam_fail(rs, 404, "NoSuchEntity", "The role with name %s cannot be found.", rname);
        return;
    }
    if (!check_policy(doc, false, rs))
        return;
    size_t total = non_space_len(doc);
    const char *k;
    const json_t *v;
    json_object_foreach(r->policies, k, v)
    {
        if (strcmp(k, pname))
            total += non_space_len(json_string_value(v));
    }
    if (total > IAM_MAX_INLINE) {
        iam_fail(rs, 409, "LimitExceeded", "Maximum policy size of %d bytes exceeded for role %s", IAM_MAX_INLINE,
                 r->name);
        return;
    }
    json_object_set_new(r->policies, pname, json_string(doc));
    simple_ok(rq, rs, "PutRolePolicy");
}

static void get_role_policy(struct emu_iam *iam, const struct emu_aws_req *rq, const json_t *o, bool del,
                            struct emu_aws_resp *rs)
{
    const char *pname;
    struct role *r = role_arg(iam, o, rs, NULL);
    if (!r || !check_name(o, "PolicyName", "policyName", 128, &pname, rs))
        return;
    const json_t *doc = json_object_get(r->policies, pname);
    if (!doc) {
        iam_fail(rs, 404, "NoSuchEntity", "The role policy with name %s cannot be found.", pname);
        return;
    }
    if (del) {
        json_object_del(r->policies, pname);
        simple_ok(rq, rs, "DeleteRolePolicy");
        return;
    }
    struct emu_out w;
    emu_out_begin(&w, &rs->body, true, "GetRolePolicy", IAM_XMLNS, true);
    emu_out_str(&w, "RoleName", r->name);
    emu_out_str(&w, "PolicyName", pname);
    url_encoded(&w, "PolicyDocument", json_string_value(doc));
    emu_out_end(&w, "GetRolePolicy", rq->request_id, true);
}

static void list_role_policies(struct emu_iam *iam, const struct emu_aws_req *rq, const json_t *o,
                               struct emu_aws_resp *rs)
{
    struct role *r = role_arg(iam, o, rs, NULL);
    if (!r)
        return;
    struct emu_out w;
    emu_out_begin(&w, &rs->body, true, "ListRolePolicies", IAM_XMLNS, true);
    emu_out_list(&w, "PolicyNames");
    const char *k;
    const json_t *v;
    json_object_foreach(r->policies, k, v)
    {
        (void)v;
        emu_out_str(&w, NULL, k);
    }
    emu_out_close(&w);
    emu_out_bool(&w, "IsTruncated", false);
    emu_out_end(&w, "ListRolePolicies", rq->request_id, true);
}

void emu_iam_handle(struct emu_aws *a, const struct emu_aws_req *rq, struct emu_aws_resp *rs)
{
    rs->ctype = "text/xml";
    char why[200];
    json_t *o = emu_query_parse(rq->body, rq->len, why, sizeof why);
    if (!o) {
        iam_fail(rs, 400, "MalformedQueryString", "Malformed query: %s", why);
        return;
    }
    /* every parameter of these operations is a string or a list of tags */
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v)
    {
        if (!json_is_string(v) && strcmp(k, "Tags")) {
            iam_fail(rs, 400, "ValidationError", "The parameter %.100s is malformed.", k);
            json_decref(o);
            return;
        }
    }
    const char *op = rq->op ? rq->op : "";
    struct emu_iam *iam = a->iam;
    if (!strcmp(op, "CreateRole"))
        create_role(iam, rq, o, rs);
    else if (!strcmp(op, "GetRole"))
        get_role(iam, rq, o, rs);
    else if (!strcmp(op, "DeleteRole"))
        delete_role(iam, rq, o, rs);
    else if (!strcmp(op, "PutRolePolicy"))
        put_role_policy(iam, rq, o, rs);
    else if (!strcmp(op, "GetRolePolicy"))
        get_role_policy(iam, rq, o, false, rs);
    else if (!strcmp(op, "DeleteRolePolicy"))
        get_role_policy(iam, rq, o, true, rs);
    else if (!strcmp(op, "ListRolePolicies"))
        list_role_policies(iam, rq, o, rs);
    else
        iam_fail(rs, 400, "InvalidAction", "Could not find operation %.80s for version 2010-05-08", op);
    json_decref(o);
    if (!rs->code && buf_status(&rs->body) != BROCK_OK)
        iam_fail(rs, 500, "ServiceFailure", "The answer is too large.");
}
