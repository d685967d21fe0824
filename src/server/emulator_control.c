/* emulator_control.c - the Bedrock control plane in `brock emulate`
 * (restJson1, SigV4 signing name `bedrock`, on the same port as the runtime):
 *
 *   GET|PUT|DELETE /logging/modelinvocations      model invocation logging
 *   GET  /inference-profiles[?type=&maxResults=&nextToken=]
 *   POST /inference-profiles                       application profiles (201)
 *   GET|DELETE /inference-profiles/{id or ARN}
 *   GET  /foundation-models[?byProvider=&byOutputModality=&byInferenceType=&byCustomizationType=]
 *   GET  /foundation-models/{id or ARN}
 *
 * System-defined inference profiles and foundation models come from brock's
 * model catalog (src/bedrock/catalog.h), seen from the caller's region (the
 * region of its signature): the profiles whose geography serves that region,
 * plus the global ones. Shapes follow the service model (BCP in
 * aws-wire-reference.md, sections 7, 9.7, 9.8). */
#define EMULATOR_INTERNAL
#include "emulator.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../aws/crypto.h"
#include "../bedrock/catalog.h"
#include "../util/alloc.h"
#include "../util/codec.h"
#include "../util/json.h"
#include "../util/timeutil.h"
#include "emulator_aws.h"

#define SYSTEM_PROFILE_TIME_MS 1735689600000LL /* 2025-01-01T00:00:00Z */
#define MAX_GEO_REGIONS 5

struct app_profile {
    char *id, *arn, *name, *desc, *token;
    json_t *models; /* [{"modelArn"}] */
    json_t *tags;
    int64_t created_ms;
};

struct emu_ctl {
    json_t *logging; /* the stored loggingConfig, NULL when unset */
    struct app_profile **p;
    size_t n, cap;
    uint64_t made;
};

struct emu_ctl *emu_ctl_new(void)
{
    return xcalloc(1, sizeof(struct emu_ctl));
}

static void profile_free(struct app_profile *p)
{
    free(p->id);
    free(p->arn);
    free(p->name);
    free(p->desc);
    free(p->token);
    json_decref(p->models);
    json_decref(p->tags);
    free(p);
}

const json_t *emu_ctl_logging(const struct emu_ctl *c)
{
    return c->logging;
}

void emu_ctl_free(struct emu_ctl *c)
{
    if (!c)
        return;
    json_decref(c->logging);
    for (size_t i = 0; i < c->n; i++)
        profile_free(c->p[i]);
    free(c->p);
    free(c);
}

/* ------------------------------------------------------------------ */
/* helpers                                                              */

static bool validation(struct emu_aws_resp *rs, const char *fmt, ...) BROCK_PRINTF(2, 3);
static bool validation(struct emu_aws_resp *rs, const char *fmt, ...)
{
    char m[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    return emu_aws_fail(rs, 400, "ValidationException", NULL, "%s", m);
}

static bool coral(struct emu_aws_resp *rs, const char *value, const char *field, const char *constraint)
{
    char m[800];
    emu_coral_msg(m, sizeof m, value, field, constraint);
    return validation(rs, "%s", m);
}

static bool not_found(struct emu_aws_resp *rs, const char *fmt, ...) BROCK_PRINTF(2, 3);
static bool not_found(struct emu_aws_resp *rs, const char *fmt, ...)
{
    char m[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    return emu_aws_fail(rs, 404, "ResourceNotFoundException", NULL, "%s", m);
}

static void iso_time(int64_t ms, char out[32])
{
    char t[21];
    time_fmt_iso8601(ms / 1000, t);
    t[19] = '\0';
    snprintf(out, 32, "%s.%03dZ", t, (int)(ms % 1000));
}

/* Value of `name` in a query string, percent-decoded. */
static bool query_get(const char *q, const char *name, struct buf *out)
{
    size_t nl = strlen(name);
    const char *p = q;
    while (p && *p) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        size_t kl = eq ? (size_t)(eq - p) : len;
        if (kl == nl && !memcmp(p, name, nl)) {
            buf_reset(out);
            const char *v = eq ? eq + 1 : p + len;
            size_t vl = (size_t)(p + len - v);
            struct buf raw = BUF_INIT(vl + 1);
            buf_add(&raw, v, vl);
            for (size_t i = 0; i < raw.len; i++)
                if (raw.ptr[i] == '+')
                    raw.ptr[i] = ' ';
            uri_decode(out, buf_cstr(&raw), raw.len);
            buf_free(&raw);
            return buf_status(out) == BROCK_OK;
        }
        p = amp ? amp + 1 : NULL;
    }
    return false;
}

/* The percent-decoded rest of the path after `prefix` ("" if none). */
static bool path_rest(const char *path, const char *prefix, struct buf *out)
{
    size_t pl = strlen(prefix);
    if (strncmp(path, prefix, pl))
        return false;
    buf_reset(out);
    uri_decode(out, path + pl, strlen(path + pl));
    return buf_status(out) == BROCK_OK && !memchr(buf_cstr(out), '\0', out->len);
}

static json_t *body_object(const struct emu_aws_req *rq, struct emu_aws_resp *rs)
{
    if (rq->json && json_is_object(rq->json))
        return json_incref((json_t *)rq->json);
    if (!rq->len)
        return json_object();
    json_t *v = NULL;
    struct brock_err e = {0};
    if (json_parse(rq->body, rq->len, "request body", &v, &e) != BROCK_OK) {
        emu_aws_fail(rs, 400, "SerializationException", NULL, "%s", e.msg);
        return NULL;
    }
    if (!json_is_object(v)) {
        json_decref(v);
        emu_aws_fail(rs, 400, "SerializationException", NULL, "The request body must be a JSON object.");
        return NULL;
    }
    return v;
}

/* ------------------------------------------------------------------ */
/* the catalog as Bedrock shows it                                      */

static const struct {
    enum model_geo geo;
    const char *label;
    const char *regions[MAX_GEO_REGIONS];
} k_geos[] = {
    {GEO_GLOBAL, "GLOBAL", {NULL}},
    {GEO_US, "US", {"us-east-1", "us-east-2", "us-west-2"}},
    {GEO_EU, "EU", {"eu-central-1", "eu-north-1", "eu-south-1", "eu-west-1", "eu-west-3"}},
    {GEO_APAC, "APAC", {"ap-northeast-1", "ap-northeast-2", "ap-south-1", "ap-southeast-1", "ap-southeast-2"}},
    {GEO_JP, "JP", {"ap-northeast-1", "ap-northeast-3"}},
    {GEO_AU, "AU", {"ap-southeast-2", "ap-southeast-4"}},
};

/* The geographies whose system profiles can be called from a region. */
static unsigned geos_for_region(const char *r)
{
    if (!strncmp(r, "us-gov-", 7) || !strncmp(r, "cn-", 3))
        return 0;
    if (!strncmp(r, "us-", 3))
        return GEO_GLOBAL | GEO_US;
    if (!strncmp(r, "eu-", 3))
        return GEO_GLOBAL | GEO_EU;
    if (!strcmp(r, "ap-northeast-1") || !strcmp(r, "ap-northeast-3"))
        return GEO_GLOBAL | GEO_JP | GEO_APAC;
    if (!strcmp(r, "ap-southeast-2") || !strcmp(r, "ap-southeast-4"))
        return GEO_GLOBAL | GEO_AU | GEO_APAC;
    if (!strncmp(r, "ap-", 3))
        return GEO_GLOBAL | GEO_APAC;
    return GEO_GLOBAL;
}

static json_t *geo_models(const char *region, size_t gi, const char *base_id)
{
    const char *list[MAX_GEO_REGIONS];
    size_t n = 0;
    if (k_geos[gi].geo == GEO_GLOBAL) {
        static const char *const more[] = {"us-east-1", "us-west-2", "eu-west-1", "ap-northeast-1"};
        list[n++] = region;
        for (size_t i = 0; i < BROCK_ARRAY_LEN(more) && n < MAX_GEO_REGIONS; i++)
            if (strcmp(more[i], region))
                list[n++] = more[i];
    } else {
        for (size_t i = 0; i < MAX_GEO_REGIONS && k_geos[gi].regions[i]; i++)
            list[n++] = k_geos[gi].regions[i];
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        char arn[512];
        snprintf(arn, sizeof arn, "arn:aws:bedrock:%s::foundation-model/%s", list[i], base_id);
        json_array_append_new(arr, json_pack("{s:s}", "modelArn", arn));
    }
    return arr;
}

static json_t *system_profile(const struct emu_aws_req *rq, const struct model_info *m, size_t gi)
{
    char id[300], arn[600], name[160], desc[400], t[32];
    snprintf(id, sizeof id, "%s.%s", catalog_geo_prefix(k_geos[gi].geo), m->base_id);
    snprintf(arn, sizeof arn, "arn:aws:bedrock:%s:%s:inference-profile/%s", rq->region, rq->account, id);
    snprintf(name, sizeof name, "%s Anthropic %s", k_geos[gi].label, m->name);
    json_t *models = geo_models(rq->region, gi, m->base_id);
    struct buf d = BUF_INIT(1024);
    buf_addf(&d, "Routes requests to Anthropic %s in ", m->name);
    if (k_geos[gi].geo == GEO_GLOBAL)
        buf_addstr(&d, "commercial AWS Regions worldwide");
    for (size_t i = 0; k_geos[gi].geo != GEO_GLOBAL && i < json_array_size(models); i++) {
        const char *a = json_str(json_array_get(models, i), "modelArn");
        const char *r = a + strlen("arn:aws:bedrock:");
        buf_addf(&d, "%s%.*s", i == 0 ? "" : i + 1 == json_array_size(models) ? " and " : ", ",
                 (int)(strchr(r, ':') - r), r);
    }
    buf_addc(&d, '.');
    snprintf(desc, sizeof desc, "%s", buf_cstr(&d));
    buf_free(&d);
    iso_time(SYSTEM_PROFILE_TIME_MS, t);
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:s, s:s, s:s}", "inferenceProfileName", name, "description",
                     desc, "createdAt", t, "updatedAt", t, "inferenceProfileArn", arn, "models", models,
                     "inferenceProfileId", id, "status", "ACTIVE", "type", "SYSTEM_DEFINED");
}

/* The system profiles a region sees, in catalog order. New reference. */
static json_t *system_profiles(const struct emu_aws_req *rq)
{
    size_t nm;
    const struct model_info *models = catalog_models(&nm);
    unsigned geos = geos_for_region(rq->region);
    json_t *arr = json_array();
    for (size_t i = 0; i < nm; i++)
        for (size_t g = 0; g < BROCK_ARRAY_LEN(k_geos); g++)
            if ((models[i].geos & k_geos[g].geo) && (geos & k_geos[g].geo))
                json_array_append_new(arr, system_profile(rq, &models[i], g));
    return arr;
}

static json_t *app_profile_json(const struct app_profile *p)
{
    char t[32];
    iso_time(p->created_ms, t);
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:O, s:s, s:s, s:s}", "inferenceProfileName", p->name, "createdAt", t,
                          "updatedAt", t, "inferenceProfileArn", p->arn, "models", p->models, "inferenceProfileId",
                          p->id, "status", "ACTIVE", "type", "APPLICATION");
    if (p->desc)
        json_object_set_new(o, "description", json_string(p->desc));
    return o;
}

static json_t *model_summary(const struct emu_aws_req *rq, const struct model_info *m)
{
    char arn[512];
    snprintf(arn, sizeof arn, "arn:aws:bedrock:%s::foundation-model/%s", rq->region, m->base_id);
    return json_pack("{s:s, s:s, s:s, s:s, s:[s,s], s:[s], s:b, s:[], s:[s], s:{s:s}}", "modelArn", arn, "modelId",
                     m->base_id, "modelName", m->name, "providerName", "Anthropic", "inputModalities", "TEXT", "IMAGE",
                     "outputModalities", "TEXT", "responseStreamingSupported", 1, "customizationsSupported",
                     "inferenceTypesSupported", m->in_region ? "ON_DEMAND" : "INFERENCE_PROFILE", "modelLifecycle",
                     "status", m->legacy ? "LEGACY" : "ACTIVE");
}

/* ------------------------------------------------------------------ */
/* model invocation logging                                             */

static bool bucket_ok(const char *b)
{
    size_t n = strlen(b);
    if (n < 3 || n > 63 || !isalnum((unsigned char)b[0]) || !isalnum((unsigned char)b[n - 1]))
        return false;
    int dots = 0, digits_only = 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)b[i];
        if (!(islower(c) || isdigit(c) || c == '.' || c == '-'))
            return false;
        if (c == '.' && b[i + 1] == '.')
            return false;
        dots += c == '.';
        digits_only &= isdigit(c) || c == '.';
    }
    if (dots == 3 && digits_only)
        return false; /* formatted like an IP address */
    if (!strncmp(b, "xn--", 4) || (n > 8 && !strcmp(b + n - 8, "-s3alias")))
        return false;
    return true;
}

static bool check_s3(const json_t *s3, const char *field, json_t **out, struct emu_aws_resp *rs)
{
    char f[120];
    if (!json_is_object(s3))
        return emu_aws_fail(rs, 400, "SerializationException", NULL, "%s must be an object.", field);
    const json_t *b = json_object_get(s3, "bucketName"), *k = json_object_get(s3, "keyPrefix");
    snprintf(f, sizeof f, "%s.bucketName", field);
    if (!b || json_is_null(b))
        return coral(rs, NULL, f, "Member must not be null");
    if (!json_is_string(b))
        return emu_aws_fail(rs, 400, "SerializationException", NULL, "%s must be a string.", f);
    if (json_string_length(b) < 3 || json_string_length(b) > 63)
        return coral(rs, json_string_value(b), f,
                     json_string_length(b) < 3 ? "Member must have length greater than or equal to 3"
                                               : "Member must have length less than or equal to 63");
    if (!bucket_ok(json_string_value(b)))
        return validation(rs, "The bucket name %s is not a valid S3 bucket name.", json_string_value(b));
    snprintf(f, sizeof f, "%s.keyPrefix", field);
    if (k && !json_is_null(k)) {
        if (!json_is_string(k))
            return emu_aws_fail(rs, 400, "SerializationException", NULL, "%s must be a string.", f);
        if (json_string_length(k) > 1024)
            return coral(rs, json_string_value(k), f, "Member must have length less than or equal to 1024");
    }
    *out = json_pack("{s:O}", "bucketName", b);
    if (k && json_is_string(k))
        json_object_set(*out, "keyPrefix", (json_t *)k);
    return true;
}

static bool role_arn_ok(const char *a)
{
    /* arn:aws(-[^:]+)?:iam::([0-9]{12})?:role/.+ */
    if (strncmp(a, "arn:aws", 7))
        return false;
    a += 7;
    if (*a == '-') {
        a++;
        if (*a == ':' || !*a)
            return false;
        while (*a && *a != ':')
            a++;
    }
    if (strncmp(a, ":iam::", 6))
        return false;
    a += 6;
    size_t d = 0;
    while (isdigit((unsigned char)a[d]))
        d++;
    if (d != 0 && d != 12)
        return false;
    a += d;
    return !strncmp(a, ":role/", 6) && a[6];
}

static void put_logging(struct emu_aws *a, const struct emu_aws_req *rq, struct emu_aws_resp *rs)
{
    json_t *o = body_object(rq, rs);
    if (!o)
        return;
    const json_t *lc = json_object_get(o, "loggingConfig");
    json_t *norm = json_object();
    if (!lc || json_is_null(lc)) {
        coral(rs, NULL, "loggingConfig", "Member must not be null");
        goto out;
    }
    if (!json_is_object(lc)) {
        emu_aws_fail(rs, 400, "SerializationException", NULL, "loggingConfig must be an object.");
        goto out;
    }
    const json_t *cwc = json_object_get(lc, "cloudWatchConfig"), *s3c = json_object_get(lc, "s3Config");
    if (json_is_null(cwc))
        cwc = NULL;
    if (json_is_null(s3c))
        s3c = NULL;
    static const char *const flags[] = {"textDataDeliveryEnabled", "imageDataDeliveryEnabled",
                                        "embeddingDataDeliveryEnabled", "videoDataDeliveryEnabled",
                                        "audioDataDeliveryEnabled"};
    for (size_t i = 0; i < BROCK_ARRAY_LEN(flags); i++) {
        const json_t *f = json_object_get(lc, flags[i]);
        if (f && !json_is_null(f) && !json_is_boolean(f)) {
            emu_aws_fail(rs, 400, "SerializationException", NULL, "loggingConfig.%s must be a boolean.", flags[i]);
            goto out;
        }
        if (f && json_is_boolean(f))
            json_object_set(norm, flags[i], (json_t *)f);
    }
    if (!cwc && !s3c) {
        validation(rs, "At least one of cloudWatchConfig or s3Config must be specified in loggingConfig.");
        goto out;
    }
    if (cwc) {
        if (!json_is_object(cwc)) {
            emu_aws_fail(rs, 400, "SerializationException", NULL, "loggingConfig.cloudWatchConfig must be an object.");
            goto out;
        }
        const json_t *g = json_object_get(cwc, "logGroupName"), *r = json_object_get(cwc, "roleArn"),
                     *big = json_object_get(cwc, "largeDataDeliveryS3Config");
        if (!g || json_is_null(g)) {
            coral(rs, NULL, "loggingConfig.cloudWatchConfig.logGroupName", "Member must not be null");
            goto out;
        }
        if (!r || json_is_null(r)) {
            coral(rs, NULL, "loggingConfig.cloudWatchConfig.roleArn", "Member must not be null");
            goto out;
        }
        if (!json_is_string(g) || !json_is_string(r)) {
            emu_aws_fail(rs, 400, "SerializationException", NULL, "logGroupName and roleArn must be strings.");
            goto out;
        }
        if (json_string_length(g) < 1 || json_string_length(g) > 512) {
            coral(rs, json_string_value(g), "loggingConfig.cloudWatchConfig.logGroupName",
                  "Member must have length between 1 and 512");
            goto out;
        }
        if (json_string_length(r) > 2048 || !role_arn_ok(json_string_value(r))) {
            coral(rs, json_string_value(r), "loggingConfig.cloudWatchConfig.roleArn",
                  "Member must satisfy regular expression pattern: arn:aws(-[^:]+)?:iam::([0-9]{12})?:role/.+");
            goto out;
        }
        json_t *c = json_pack("{s:O, s:O}", "logGroupName", g, "roleArn", r);
        json_object_set_new(norm, "cloudWatchConfig", c);
        if (big && !json_is_null(big)) {
            json_t *s = NULL;
            if (!check_s3(big, "loggingConfig.cloudWatchConfig.largeDataDeliveryS3Config", &s, rs))
                goto out;
            json_object_set_new(c, "largeDataDeliveryS3Config", s);
        }
        /* Bedrock checks it can deliver: the group exists, the role trusts it */
        char acct[16];
        emu_account_of(json_string_value(r), acct);
        const char *slash = strstr(json_string_value(r), ":role/");
        const char *rname = slash ? strrchr(slash + 5, '/') + 1 : "";
        const char *trust = emu_iam_role_trust(a->iam, rq->account, rname);
        bool same_account = !strcmp(acct, rq->account);
        if (!emu_logs_group_exists(a->logs, json_string_value(g)) ||
            (same_account && (!trust || !strstr(trust, "bedrock.amazonaws.com")))) {
            validation(rs,
                       "Failed to validate permissions for log group: %s, with role: %s. Verify the IAM role "
                       "permissions are correct.",
                       json_string_value(g), json_string_value(r));
            goto out;
        }
    }
    if (s3c) {
        json_t *s = NULL;
        if (!check_s3(s3c, "loggingConfig.s3Config", &s, rs))
            goto out;
        json_object_set_new(norm, "s3Config", s);
    }
    json_decref(a->ctl->logging);
    a->ctl->logging = norm;
    norm = NULL;
    emu_aws_json(rs, 200, json_object());
out:
    json_decref(norm);
    json_decref(o);
}

/* ------------------------------------------------------------------ */
/* inference profiles                                                   */

static bool profile_id_chars(const char *s)
{
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '-' && *s != ':' && *s != '.')
            return false;
    return true;
}

/* Check an identifier against (arn:...:(inference-profile|application-inference-profile)/)?[a-zA-Z0-9-:.]+ */
static bool profile_ident_ok(const char *s)
{
    if (!*s || strlen(s) > 2048)
        return false;
    if (!strncmp(s, "arn:", 4)) {
        const char *p = strstr(s, ":inference-profile/");
        const char *q = strstr(s, ":application-inference-profile/");
        const char *rest = p ? p + 19 : q ? q + 31 : NULL;
        return rest && *rest && profile_id_chars(rest) && !strncmp(s, "arn:aws", 7);
    }
    return profile_id_chars(s);
}

static struct app_profile *find_app(struct emu_ctl *c, const char *ident, size_t *at)
{
    for (size_t i = 0; i < c->n; i++)
        if (!strcmp(c->p[i]->id, ident) || !strcmp(c->p[i]->arn, ident)) {
            if (at)
                *at = i;
            return c->p[i];
        }
    return NULL;
}

/* A system profile by id or ARN, as this caller sees it (new reference). */
static json_t *find_system(const struct emu_aws_req *rq, const char *ident)
{
    json_t *all = system_profiles(rq), *hit = NULL;
    for (size_t i = 0; i < json_array_size(all) && !hit; i++) {
        json_t *p = json_array_get(all, i);
        if (!strcmp(json_str(p, "inferenceProfileId"), ident) || !strcmp(json_str(p, "inferenceProfileArn"), ident))
            hit = json_incref(p);
    }
    json_decref(all);
    return hit;
}

static void list_profiles(struct emu_aws *a, const struct emu_aws_req *rq, struct emu_aws_resp *rs)
{
    struct buf v = BUF_INIT(4096);
    bool want_sys = true, want_app = true;
    int64_t max = 1000;
    size_t start = 0;
    if (query_get(rq->query, "type", &v)) {
        if (!strcmp(buf_cstr(&v), "SYSTEM_DEFINED"))
            want_app = false;
        else if (!strcmp(buf_cstr(&v), "APPLICATION"))
            want_sys = false;
        else {
            coral(rs, buf_cstr(&v), "typeEquals", "Member must satisfy enum value set: [SYSTEM_DEFINED, APPLICATION]");
            goto out;
        }
    }
    if (query_get(rq->query, "maxResults", &v)) {
        char *end;
        long long m = strtoll(buf_cstr(&v), &end, 10);
        if (!v.len || *end) {
            validation(rs, "The value %.40s of maxResults is not a number.", buf_cstr(&v));
            goto out;
        }
        if (m < 1 || m > 1000) {
            coral(rs, buf_cstr(&v), "maxResults",
                  m < 1 ? "Member must have value greater than or equal to 1"
                        : "Member must have value less than or equal to 1000");
            goto out;
        }
        max = m;
    }
    if (query_get(rq->query, "nextToken", &v)) {
        char *end;
        if (strncmp(buf_cstr(&v), "ip-", 3) || !isdigit((unsigned char)buf_cstr(&v)[3]) ||
            (start = (size_t)strtoull(buf_cstr(&v) + 3, &end, 10), *end)) {
            validation(rs, "The pagination token is invalid.");
            goto out;
        }
    }
    json_t *all = want_sys ? system_profiles(rq) : json_array();
    for (size_t i = 0; want_app && i < a->ctl->n; i++)
        json_array_append_new(all, app_profile_json(a->ctl->p[i]));
    json_t *page = json_array();
    size_t i = start;
    for (; i < json_array_size(all) && json_array_size(page) < (size_t)max; i++)
        json_array_append(page, json_array_get(all, i));
    json_t *out = json_pack("{s:o}", "inferenceProfileSummaries", page);
    if (i < json_array_size(all)) {
        char t[40];
        snprintf(t, sizeof t, "ip-%zu", i);
        json_object_set_new(out, "nextToken", json_string(t));
    }
    json_decref(all);
    emu_aws_json(rs, 200, out);
out:
    buf_free(&v);
}

static bool name_ok(const char *s, bool desc)
{
    /* ([0-9a-zA-Z][ _-]?)+  (description: ([0-9a-zA-Z:.][ _-]?)+) */
    bool need_word = true;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        bool word = isalnum(c) || (desc && (c == ':' || c == '.'));
        if (word)
            need_word = false;
        else if ((c == ' ' || c == '_' || c == '-') && !need_word)
            need_word = true;
        else
            return false;
    }
    return true;
}

static bool tag_ok(const char *s)
{
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !isspace((unsigned char)*s) && !strchr("._:/=+@-", *s))
            return false;
    return true;
}

static void create_profile(struct emu_aws *a, const struct emu_aws_req *rq, struct emu_aws_resp *rs)
{
    struct emu_ctl *c = a->ctl;
    json_t *o = body_object(rq, rs), *models = NULL, *tags_norm = NULL;
    if (!o)
        return;
    const json_t *nm = json_object_get(o, "inferenceProfileName"), *ds = json_object_get(o, "description"),
                 *tok = json_object_get(o, "clientRequestToken"), *src = json_object_get(o, "modelSource"),
                 *tags = json_object_get(o, "tags");
    if (!nm || json_is_null(nm)) {
        coral(rs, NULL, "inferenceProfileName", "Member must not be null");
        goto out;
    }
    if (!json_is_string(nm) || (ds && !json_is_null(ds) && !json_is_string(ds)) ||
        (tok && !json_is_null(tok) && !json_is_string(tok))) {
        emu_aws_fail(rs, 400, "SerializationException", NULL,
                     "inferenceProfileName, description and clientRequestToken must be strings.");
        goto out;
    }
    const char *name = json_string_value(nm);
    if (json_string_length(nm) < 1 || json_string_length(nm) > 64 || !name_ok(name, false)) {
        coral(rs, name, "inferenceProfileName",
              "Member must satisfy regular expression pattern: ([0-9a-zA-Z][ _-]?)+ (1 to 64 characters)");
        goto out;
    }
    const char *desc = json_is_string(ds) ? json_string_value(ds) : NULL;
    if (desc && (json_string_length(ds) < 1 || json_string_length(ds) > 200 || !name_ok(desc, true))) {
        coral(rs, "*** Sensitive Data Redacted ***", "description",
              "Member must satisfy regular expression pattern: ([0-9a-zA-Z:.][ _-]?)+ (1 to 200 characters)");
        goto out;
    }
    const char *token = json_is_string(tok) ? json_string_value(tok) : NULL;
    if (token) {
        size_t tl = strlen(token);
        bool ok = tl >= 1 && tl <= 256 && isalnum((unsigned char)token[0]) && isalnum((unsigned char)token[tl - 1]);
        for (size_t i = 0; ok && i < tl; i++)
            ok = isalnum((unsigned char)token[i]) || token[i] == '-';
        if (!ok) {
            coral(rs, token, "clientRequestToken",
                  "Member must satisfy regular expression pattern: [a-zA-Z0-9]([-a-zA-Z0-9]{0,254}[a-zA-Z0-9])?");
            goto out;
        }
        for (size_t i = 0; i < c->n; i++)
            if (c->p[i]->token && !strcmp(c->p[i]->token, token)) {
                /* the same request again: the same answer */
                emu_aws_json(rs, 201, json_pack("{s:s, s:s}", "inferenceProfileArn", c->p[i]->arn, "status", "ACTIVE"));
                goto out;
            }
    }
    if (!src || json_is_null(src)) {
        coral(rs, NULL, "modelSource", "Member must not be null");
        goto out;
    }
    const json_t *from = json_object_get(src, "copyFrom");
    if (!json_is_object(src) || !json_is_string(from) || json_object_size(src) != 1) {
        validation(rs, "modelSource must have exactly one member, copyFrom (a foundation-model or inference-profile "
                       "ARN).");
        goto out;
    }
    const char *arn = json_string_value(from);
    if (tags && !json_is_null(tags)) {
        if (!json_is_array(tags)) {
            emu_aws_fail(rs, 400, "SerializationException", NULL, "tags must be a list.");
            goto out;
        }
        if (json_array_size(tags) > 200) {
            coral(rs, "[...]", "tags", "Member must have length less than or equal to 200");
            goto out;
        }
        for (size_t i = 0; i < json_array_size(tags); i++) {
            const json_t *t = json_array_get(tags, i);
            const json_t *k = json_object_get(t, "key"), *v = json_object_get(t, "value");
            char f[64];
            snprintf(f, sizeof f, "tags.%zu.member.key", i + 1);
            if (!json_is_string(k) || json_string_length(k) < 1 || json_string_length(k) > 128 ||
                !tag_ok(json_string_value(k))) {
                coral(rs, json_is_string(k) ? json_string_value(k) : NULL, f,
                      "Member must satisfy regular expression pattern: [a-zA-Z0-9\\s._:/=+@-]* (1 to 128 characters)");
                goto out;
            }
            snprintf(f, sizeof f, "tags.%zu.member.value", i + 1);
            if (!json_is_string(v) || json_string_length(v) > 256 || !tag_ok(json_string_value(v))) {
                coral(rs, json_is_string(v) ? json_string_value(v) : NULL, f,
                      "Member must satisfy regular expression pattern: [a-zA-Z0-9\\s._:/=+@-]* (0 to 256 characters)");
                goto out;
            }
        }
        tags_norm = json_deep_copy(tags);
    }
    /* what to copy */
    char prefix[200];
    snprintf(prefix, sizeof prefix, "arn:aws:bedrock:%s::foundation-model/", rq->region);
    if (!strncmp(arn, prefix, strlen(prefix))) {
        const char *id = arn + strlen(prefix);
        const struct model_info *m = catalog_find(id, NULL);
        if (!m || strcmp(m->base_id, id)) {
            not_found(rs, "The model source %s was not found.", arn);
            goto out;
        }
        models = json_pack("[{s:s}]", "modelArn", arn);
    } else if (strstr(arn, ":inference-profile/")) {
        json_t *sp = find_system(rq, arn);
        if (!sp) {
            not_found(rs, "The model source %s was not found.", arn);
            goto out;
        }
        models = json_incref(json_object_get(sp, "models"));
        json_decref(sp);
    } else {
        validation(rs, "The model source %s is not a foundation-model or inference-profile ARN of %s.", arn,
                   rq->region);
        goto out;
    }
    for (size_t i = 0; i < c->n; i++)
        if (!strcmp(c->p[i]->name, name)) {
            emu_aws_fail(rs, 400, "ConflictException", NULL, "An inference profile named %s already exists.", name);
            goto out;
        }
    if (c->n >= EMU_CTL_MAX_PROFILES) {
        emu_aws_fail(rs, 400, "ServiceQuotaExceededException", NULL,
                     "The number of application inference profiles is over the quota (%d in brock emulate).",
                     EMU_CTL_MAX_PROFILES);
        goto out;
    }
    /* a 12-character id, stable for (account, name, sequence) */
    char seed[400];
    snprintf(seed, sizeof seed, "%s/%s/%" PRIu64, rq->account, name, ++c->made);
    uint8_t d[SHA256_LEN];
    crypto_sha256(seed, strlen(seed), d);
    static const char alpha[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    char id[13];
    for (int i = 0; i < 12; i++)
        id[i] = alpha[d[i] % 36];
    id[12] = '\0';
    struct app_profile *p = xcalloc(1, sizeof *p);
    p->id = xstrdup(id);
    char full[600];
    snprintf(full, sizeof full, "arn:aws:bedrock:%s:%s:application-inference-profile/%s", rq->region, rq->account, id);
    p->arn = xstrdup(full);
    p->name = xstrdup(name);
    p->desc = desc ? xstrdup(desc) : NULL;
    p->token = token ? xstrdup(token) : NULL;
    p->models = models;
    models = NULL;
    p->tags = tags_norm;
    tags_norm = NULL;
    p->created_ms = rq->now_ms;
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 8;
        c->p = xrealloc(c->p, c->cap * sizeof *c->p);
    }
    c->p[c->n++] = p;
    emu_aws_json(rs, 201, json_pack("{s:s, s:s}", "inferenceProfileArn", p->arn, "status", "ACTIVE"));
out:
    json_decref(models);
    json_decref(tags_norm);
    json_decref(o);
}

static void profile_one(struct emu_aws *a, const struct emu_aws_req *rq, const char *ident, bool del,
                        struct emu_aws_resp *rs)
{
    if (!profile_ident_ok(ident)) {
        coral(rs, ident, "inferenceProfileIdentifier",
              "Member must satisfy regular expression pattern: (arn:aws(|-us-gov|-cn|-iso|-iso-b):bedrock:(|[0-9a-z-]"
              "{0,20}):(|[0-9]{12}):(inference-profile|application-inference-profile)/)?[a-zA-Z0-9-:.]+");
        return;
    }
    size_t at;
    struct app_profile *p = find_app(a->ctl, ident, &at);
    if (p && del) {
        profile_free(p);
        memmove(a->ctl->p + at, a->ctl->p + at + 1, (a->ctl->n - at - 1) * sizeof *a->ctl->p);
        a->ctl->n--;
        emu_aws_json(rs, 200, json_object());
        return;
    }
    if (p) {
        emu_aws_json(rs, 200, app_profile_json(p));
        return;
    }
    json_t *sp = find_system(rq, ident);
    if (sp && del) {
        json_decref(sp);
        validation(rs, "System-defined inference profiles cannot be deleted.");
        return;
    }
    if (sp) {
        emu_aws_json(rs, 200, sp);
        return;
    }
    not_found(rs, "The inference profile %s was not found.", ident);
}

/* ------------------------------------------------------------------ */
/* foundation models                                                    */

static void list_models(const struct emu_aws_req *rq, struct emu_aws_resp *rs)
{
    struct buf v = BUF_INIT(1024);
    char provider[80] = "", out_mod[32] = "", itype[32] = "";
    bool by_custom = false;
    if (query_get(rq->query, "byProvider", &v)) {
        bool ok = v.len >= 1 && v.len <= 63;
        for (size_t i = 0; ok && i < v.len; i++)
            ok = isalnum((unsigned char)v.ptr[i]) || v.ptr[i] == '-' || v.ptr[i] == ' ';
        if (!ok) {
            coral(rs, buf_cstr(&v), "byProvider", "Member must satisfy regular expression pattern: [A-Za-z0-9- ]{1,63}");
            goto out;
        }
        snprintf(provider, sizeof provider, "%s", buf_cstr(&v));
    }
    if (query_get(rq->query, "byOutputModality", &v)) {
        if (strcmp(buf_cstr(&v), "TEXT") && strcmp(buf_cstr(&v), "IMAGE") && strcmp(buf_cstr(&v), "EMBEDDING")) {
            coral(rs, buf_cstr(&v), "byOutputModality", "Member must satisfy enum value set: [TEXT, IMAGE, EMBEDDING]");
            goto out;
        }
        snprintf(out_mod, sizeof out_mod, "%s", buf_cstr(&v));
    }
    if (query_get(rq->query, "byInferenceType", &v)) {
        if (strcmp(buf_cstr(&v), "ON_DEMAND") && strcmp(buf_cstr(&v), "PROVISIONED")) {
            coral(rs, buf_cstr(&v), "byInferenceType", "Member must satisfy enum value set: [ON_DEMAND, PROVISIONED]");
            goto out;
        }
        snprintf(itype, sizeof itype, "%s", buf_cstr(&v));
    }
    if (query_get(rq->query, "byCustomizationType", &v)) {
        if (strcmp(buf_cstr(&v), "FINE_TUNING") && strcmp(buf_cstr(&v), "CONTINUED_PRE_TRAINING") &&
            strcmp(buf_cstr(&v), "DISTILLATION")) {
            coral(rs, buf_cstr(&v), "byCustomizationType",
                  "Member must satisfy enum value set: [FINE_TUNING, CONTINUED_PRE_TRAINING, DISTILLATION]");
            goto out;
        }
        by_custom = true;
    }
    size_t nm;
    const struct model_info *models = catalog_models(&nm);
    json_t *arr = json_array();
    for (size_t i = 0; i < nm; i++) {
        if (provider[0] && strcasecmp(provider, "Anthropic"))
            continue;
        if (out_mod[0] && strcmp(out_mod, "TEXT"))
            continue;
        if (by_custom)
            continue; /* no Claude model on Bedrock offers customisation here */
        if (itype[0] && (strcmp(itype, "ON_DEMAND") || !models[i].in_region))
            continue;
        json_array_append_new(arr, model_summary(rq, &models[i]));
    }
    emu_aws_json(rs, 200, json_pack("{s:o}", "modelSummaries", arr));
out:
    buf_free(&v);
}

static void get_model(const struct emu_aws_req *rq, const char *ident, struct emu_aws_resp *rs)
{
    const char *id = ident;
    if (!strncmp(ident, "arn:", 4)) {
        const char *p = strstr(ident, "::foundation-model/");
        if (!p || strncmp(ident, "arn:aws", 7)) {
            coral(rs, ident, "modelIdentifier", "Member must satisfy regular expression pattern: a foundation-model "
                                               "id or ARN");
            return;
        }
        id = p + strlen("::foundation-model/");
    }
    bool shape = *id && strchr(id, '.') && strlen(ident) <= 2048;
    for (const char *c = id; shape && *c; c++)
        shape = islower((unsigned char)*c) || isdigit((unsigned char)*c) || *c == '-' || *c == '.' || *c == ':';
    if (!shape) {
        coral(rs, ident, "modelIdentifier", "Member must satisfy regular expression pattern: a foundation-model id or "
                                            "ARN");
        return;
    }
    const struct model_info *m = catalog_find(id, NULL);
    if (!m || strcmp(m->base_id, id)) {
        not_found(rs, "Could not resolve the foundation model from the provided model identifier.");
        return;
    }
    emu_aws_json(rs, 200, json_pack("{s:o}", "modelDetails", model_summary(rq, m)));
}

/* ------------------------------------------------------------------ */
/* dispatch                                                             */

static void unknown(const struct emu_aws_req *rq, struct emu_aws_resp *rs)
{
    emu_aws_fail(rs, 404, "UnknownOperationException", NULL,
                 "The requested operation is not recognized by the service: %.10s %.120s", rq->method, rq->path);
}

void emu_ctl_handle(struct emu_aws *a, const struct emu_aws_req *rq, struct emu_aws_resp *rs)
{
    const char *m = rq->method, *path = rq->path;
    rs->ctype = "application/json";
    struct buf rest = BUF_INIT(8192);
    if (!strcmp(path, "/logging/modelinvocations")) {
        if (!strcmp(m, "GET")) {
            snprintf(rs->op, sizeof rs->op, "GetModelInvocationLoggingConfiguration");
            emu_aws_json(rs, 200,
                         a->ctl->logging ? json_pack("{s:O}", "loggingConfig", a->ctl->logging) : json_object());
        } else if (!strcmp(m, "PUT")) {
            snprintf(rs->op, sizeof rs->op, "PutModelInvocationLoggingConfiguration");
            put_logging(a, rq, rs);
        } else if (!strcmp(m, "DELETE")) {
            snprintf(rs->op, sizeof rs->op, "DeleteModelInvocationLoggingConfiguration");
            json_decref(a->ctl->logging);
            a->ctl->logging = NULL;
            emu_aws_json(rs, 200, json_object());
        } else {
            unknown(rq, rs);
        }
    } else if (!strcmp(path, "/inference-profiles") || !strcmp(path, "/inference-profiles/")) {
        if (!strcmp(m, "GET")) {
            snprintf(rs->op, sizeof rs->op, "ListInferenceProfiles");
            list_profiles(a, rq, rs);
        } else if (!strcmp(m, "POST")) {
            snprintf(rs->op, sizeof rs->op, "CreateInferenceProfile");
            create_profile(a, rq, rs);
        } else {
            unknown(rq, rs);
        }
    } else if (path_rest(path, "/inference-profiles/", &rest)) {
        bool del = !strcmp(m, "DELETE");
        if (del || !strcmp(m, "GET")) {
            snprintf(rs->op, sizeof rs->op, del ? "DeleteInferenceProfile" : "GetInferenceProfile");
            profile_one(a, rq, buf_cstr(&rest), del, rs);
        } else {
            unknown(rq, rs);
        }
    } else if (!strcmp(path, "/foundation-models") && !strcmp(m, "GET")) {
        snprintf(rs->op, sizeof rs->op, "ListFoundationModels");
        list_models(rq, rs);
    } else if (path_rest(path, "/foundation-models/", &rest) && !strcmp(m, "GET")) {
        snprintf(rs->op, sizeof rs->op, "GetFoundationModel");
        get_model(rq, buf_cstr(&rest), rs);
    } else {
        unknown(rq, rs);
    }
    buf_free(&rest);
}
