/* pricing.c - the catalog's prices with the user's overrides (see pricing.h).
 *
 * Facts: shared/docs/aws-wire-reference.md 4.9 (cache write 1.25x / 2x,
 * read 0.1x) and 7.2 (list prices, the ~10 % regional premium over global
 * profiles, batch at 50 % of on-demand input and output). */
#include "pricing.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/alloc.h"
#include "../util/buf.h"
#include "../util/fs.h"
#include "../util/json.h"

#define DEFAULT_BATCH_DISCOUNT 0.5
#define DEFAULT_GEO_PREMIUM 0.10

struct override {
    char *id;      /* normalised key (see norm_id) */
    bool exact;    /* a profile id or an application/other ARN: priced as written */
    struct model_prices p;
    double batch_discount;
    double premium; /* applied to non-global calls of a base-model override */
};

struct pricing {
    struct override *ov;
    size_t n;
    char date[16];
    char *origin; /* the file, or NULL for the catalog */
};

struct pricing *pricing_new(void)
{
    struct pricing *p = xcalloc(1, sizeof *p);
    snprintf(p->date, sizeof p->date, "%s", catalog_price_date());
    return p;
}

static void clear_overrides(struct pricing *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->ov[i].id);
    free(p->ov);
    p->ov = NULL;
    p->n = 0;
    free(p->origin);
    p->origin = NULL;
    snprintf(p->date, sizeof p->date, "%s", catalog_price_date());
}

void pricing_free(struct pricing *p)
{
    if (!p)
        return;
    clear_overrides(p);
    free(p);
}

const char *pricing_date(const struct pricing *p)
{
    return p->date;
}

const char *pricing_origin(const struct pricing *p)
{
    return p->origin ? p->origin : "catalog";
}

size_t pricing_override_count(const struct pricing *p)
{
    return p->n;
}

char *pricing_default_path(void)
{
    const char *xdg = getenv("XDG_CONFIG_HOME");
    char *dir;
    if (xdg && xdg[0] == '/') {
        dir = fs_join(xdg, "brock");
    } else {
        const char *home = fs_home_dir();
        if (!home)
            return NULL;
        dir = fs_join(home, ".config/brock");
    }
    char *path = fs_join(dir, PRICING_FILE_NAME);
    free(dir);
    return path;
}

/* ---- ids ---------------------------------------------------------------- */

static const char *const geo_names[] = {"global", "us", "eu", "apac", "jp", "au"};

/* The geography prefix of a profile id ("us." -> GEO_US), GEO_NONE if none. */
static enum model_geo id_geo(const char *id, size_t *prefix_len)
{
    const char *dot = strchr(id, '.');
    *prefix_len = 0;
    if (!dot)
        return GEO_NONE;
    size_t n = (size_t)(dot - id);
    for (size_t i = 0; i < BROCK_ARRAY_LEN(geo_names); i++) {
        if (strlen(geo_names[i]) == n && !memcmp(id, geo_names[i], n)) {
            *prefix_len = n + 1;
            return (enum model_geo)(1u << i);
        }
    }
    return GEO_NONE;
}

/* Foundation-model and inference-profile ARNs become the id after the
 * slash; everything else stays as given. Returns a pointer into id. */
static const char *norm_id(const char *id)
{
    if (strncmp(id, "arn:", 4))
        return id;
    const char *slash = strchr(id, '/');
    if (slash && (strstr(id, ":foundation-model/") || strstr(id, ":inference-profile/")))
        return slash + 1;
    return id;
}

static bool is_other_arn(const char *id)
{
    return !strncmp(id, "arn:", 4);
}

static bool valid_key(const char *k)
{
    size_t n = strlen(k);
    if (n == 0 || n > PRICING_ID_MAX)
        return false;
    for (const unsigned char *c = (const unsigned char *)k; *c; c++)
        if (!isalnum(*c) && !strchr("._-:/+", *c))
            return false;
    return true;
}

/* ---- positions in the file ------------------------------------------------ */

/* Line and column (1-based) of the value at the key path keys[0..n), or of
 * the deepest part of it found. A small scanner: the document already parsed,
 * so it only needs to skip values correctly. */
struct scan {
    const char *s;
    size_t n, i;
    int line, col;
};

static void sc_next(struct scan *c)
{
    if (c->i >= c->n)
        return;
    unsigned char ch = (unsigned char)c->s[c->i++];
    if (ch == '\n') {
        c->line++;
        c->col = 1;
    } else if ((ch & 0xC0) != 0x80) {
        c->col++;
    }
}

static void sc_ws(struct scan *c)
{
    while (c->i < c->n && (c->s[c->i] == ' ' || c->s[c->i] == '\t' || c->s[c->i] == '\r' || c->s[c->i] == '\n'))
        sc_next(c);
}

/* Skip a string; copy its raw bytes (escapes not decoded) into key. */
static void sc_string(struct scan *c, char *key, size_t cap, bool *escaped)
{
    size_t k = 0;
    *escaped = false;
    sc_next(c);
    while (c->i < c->n) {
        char ch = c->s[c->i];
        sc_next(c);
        if (ch == '"')
            break;
        if (ch == '\\') {
            *escaped = true;
            sc_next(c);
            continue;
        }
        if (key && k + 1 < cap)
            key[k++] = ch;
    }
    if (key)
        key[k] = '\0';
}

static void sc_value(struct scan *c)
{
    bool esc;
    if (c->i >= c->n)
        return;
    if (c->s[c->i] == '"') {
        sc_string(c, NULL, 0, &esc);
        return;
    }
    if (c->s[c->i] == '{' || c->s[c->i] == '[') {
        size_t depth = 0;
        while (c->i < c->n) {
            char ch = c->s[c->i];
            if (ch == '"') {
                sc_string(c, NULL, 0, &esc);
                continue;
            }
            sc_next(c);
            if (ch == '{' || ch == '[')
                depth++;
            else if ((ch == '}' || ch == ']') && --depth == 0)
                return;
        }
        return;
    }
    while (c->i < c->n && !strchr(",]} \t\r\n", c->s[c->i]))
        sc_next(c);
}

static void locate(const char *text, size_t len, const char *const *keys, size_t n, int *line, int *col)
{
    struct scan c = {text, len, 0, 1, 1};
    sc_ws(&c);
    *line = c.line;
    *col = c.col;
    for (size_t d = 0; d < n; d++) {
        if (c.i >= c.n || c.s[c.i] != '{')
            return;
        sc_next(&c);
        bool found = false;
        while (!found) {
            sc_ws(&c);
            if (c.i >= c.n || c.s[c.i] != '"')
                return;
            char key[PRICING_ID_MAX + 2];
            bool esc;
            sc_string(&c, key, sizeof key, &esc);
            sc_ws(&c);
            if (c.i >= c.n || c.s[c.i] != ':')
                return;
            sc_next(&c);
            sc_ws(&c);
            if (!esc && !strcmp(key, keys[d])) {
                found = true;
                break;
            }
            sc_value(&c);
            sc_ws(&c);
            if (c.i >= c.n || c.s[c.i] != ',')
                return;
            sc_next(&c);
        }
        *line = c.line;
        *col = c.col;
    }
}

struct pctx {
    const char *what, *text;
    size_t len;
    struct brock_err *e;
};

static enum brock_status bad(const struct pctx *c, const char *const *keys, size_t n, const char *what)
{
    int line, col;
    locate(c->text, c->len, keys, n, &line, &col);
    char path[PRICING_ID_MAX + 64];
    size_t o = 0;
    path[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        int w = snprintf(path + o, sizeof path - o, "%s%s", i ? "." : "", keys[i]);
        if (w < 0 || (size_t)w >= sizeof path - o)
            break;
        o += (size_t)w;
    }
    return err_set(c->e, BROCK_ERR_CONFIG, "%s:%d:%d: %s: %s", c->what, line, col, n ? path : "(top)", what);
}

/* ---- parsing -------------------------------------------------------------- */

static bool valid_date(const char *s)
{
    unsigned y, m, d;
    char tail;
    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-' || sscanf(s, "%4u-%2u-%2u%c", &y, &m, &d, &tail) != 3)
        return false;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && !isdigit((unsigned char)s[i]))
            return false;
    if (y < 2000 || y > 2999 || m < 1 || m > 12 || d < 1 || d > 31)
        return false;
    /* the day exists in that month */
    static const unsigned mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return d <= mdays[m - 1] + (m == 2 && leap);
}

/* A number member within [lo, hi]; *set false if absent. */
static enum brock_status number(const struct pctx *c, const json_t *obj, const char *const *keys, size_t n,
                                double lo, double hi, double *out, bool *set)
{
    json_t *v = json_object_get(obj, keys[n - 1]);
    *set = false;
    if (!v)
        return BROCK_OK;
    if (!json_is_number(v)) {
        char why[96];
        snprintf(why, sizeof why, "expected a number from %g to %g", lo, hi);
        return bad(c, keys, n, why);
    }
    double d = json_number_value(v);
    if (!isfinite(d) || d < lo || d > hi) {
        char why[96];
        snprintf(why, sizeof why, "expected a number from %g to %g", lo, hi);
        return bad(c, keys, n, why);
    }
    *out = d;
    *set = true;
    return BROCK_OK;
}

static const char *const price_fields[] = {"input", "output", "cache_write_5m", "cache_write_1h", "cache_read"};

static double *price_slot(struct model_prices *p, size_t i)
{
    double *slots[] = {&p->input, &p->output, &p->cache_write_5m, &p->cache_write_1h, &p->cache_read};
    return slots[i];
}

static enum brock_status parse_model(const struct pctx *c, const char *key, const json_t *m, double def_batch,
                                     bool def_batch_set, double def_premium, bool def_premium_set,
                                     struct override *out)
{
    const char *keys[3] = {"models", key, NULL};
    memset(out, 0, sizeof *out);
    if (!valid_key(key))
        return bad(c, keys, 2, "not a model id, inference profile id or ARN (letters, digits and ._-:/+, at most 255)");
    if (!json_is_object(m))
        return bad(c, keys, 2, "expected an object of prices");
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)m, k, v)
    {
        bool known = !strcmp(k, "batch_discount") || !strcmp(k, "regional_premium") || !strcmp(k, "note");
        for (size_t i = 0; i < BROCK_ARRAY_LEN(price_fields) && !known; i++)
            known = !strcmp(k, price_fields[i]);
        if (!known) {
            keys[2] = k;
            return bad(c, keys, valid_key(k) ? 3 : 2,
                       "unknown field (expected input, output, cache_write_5m, cache_write_1h, cache_read, "
                       "batch_discount, regional_premium, note)");
        }
    }

    /* what the key names */
    const char *id = key;
    const struct model_info *mi = NULL;
    struct model_choice ch;
    if (!strcasecmp(key, "sonnet") || !strcasecmp(key, "opus") || !strcasecmp(key, "haiku")) {
        if (catalog_resolve(key, NULL, false, &ch, NULL) == BROCK_OK && ch.model) {
            mi = ch.model;
            id = mi->base_id;
        }
    }
    const char *nid = norm_id(id);
    size_t pl;
    enum model_geo geo = id_geo(nid, &pl);
    if (!mi)
        mi = catalog_find(nid, NULL);
    out->exact = geo != GEO_NONE || is_other_arn(nid);
    out->id = xstrdup(nid);

    struct model_prices base = {0};
    bool have_base = false;
    if (mi) {
        base = out->exact ? catalog_prices(mi, geo) : mi->prices;
        have_base = true;
    }
    bool set[5];
    for (size_t i = 0; i < BROCK_ARRAY_LEN(price_fields); i++) {
        keys[2] = price_fields[i];
        double d = 0;
        enum brock_status st = number(c, m, keys, 3, 0, PRICING_PRICE_MAX, &d, &set[i]);
        if (st != BROCK_OK)
            return st;
        *price_slot(&out->p, i) = set[i] ? d : *price_slot(&base, i);
    }
    if (!have_base) {
        if (!set[0] || !set[1]) {
            keys[2] = NULL;
            return bad(c, keys, 2, "a model brock's catalog does not know needs both input and output prices");
        }
        if (!set[2])
            out->p.cache_write_5m = out->p.input * 1.25;
        if (!set[3])
            out->p.cache_write_1h = out->p.input * 2;
        if (!set[4])
            out->p.cache_read = out->p.input * 0.1;
    }
    bool bset, pset;
    keys[2] = "batch_discount";
    enum brock_status st = number(c, m, keys, 3, 0, 1, &out->batch_discount, &bset);
    if (st != BROCK_OK)
        return st;
    if (!bset)
        out->batch_discount = def_batch_set ? def_batch : DEFAULT_BATCH_DISCOUNT;
    keys[2] = "regional_premium";
    if ((st = number(c, m, keys, 3, 0, PRICING_PREMIUM_MAX, &out->premium, &pset)) != BROCK_OK)
        return st;
    if (!pset)
        out->premium = def_premium_set ? def_premium : mi && mi->geo_premium ? DEFAULT_GEO_PREMIUM : 0;
    keys[2] = "note";
    json_t *note = json_object_get(m, "note");
    if (note && !json_is_string(note))
        return bad(c, keys, 3, "expected a string");
    return BROCK_OK;
}

enum brock_status pricing_parse(struct pricing *p, const char *text, size_t len, const char *what, struct brock_err *e)
{
    struct pctx c = {what ? what : "prices", text, len, e};
    if (len > PRICING_FILE_MAX)
        return err_set(e, BROCK_ERR_TOO_LARGE, "%s: larger than %zu KiB", c.what, PRICING_FILE_MAX >> 10);
    json_t *doc = NULL;
    enum brock_status st = json_parse(text, len, c.what, &doc, e);
    if (st != BROCK_OK)
        return st;
    struct override *ov = NULL;
    size_t n = 0;
    const char *keys[1] = {NULL};
    if (!json_is_object(doc)) {
        st = bad(&c, keys, 0, "expected an object with date and models");
        goto done;
    }
    const char *k;
    json_t *v;
    json_object_foreach(doc, k, v)
    {
        if (strcmp(k, "date") && strcmp(k, "source") && strcmp(k, "models") && strcmp(k, "batch_discount") &&
            strcmp(k, "regional_premium") && strcmp(k, "note")) {
            keys[0] = k;
            st = bad(&c, keys, valid_key(k) ? 1 : 0,
                     "unknown field (expected date, source, note, batch_discount, regional_premium, models)");
            goto done;
        }
    }
    keys[0] = "date";
    const char *date = json_str(doc, "date");
    if (!json_object_get(doc, "date")) {
        st = bad(&c, keys, 0, "missing \"date\": say when the prices were taken (YYYY-MM-DD)");
        goto done;
    }
    if (!date || !valid_date(date)) {
        st = bad(&c, keys, 1, "expected a date YYYY-MM-DD");
        goto done;
    }
    keys[0] = "source";
    if (json_object_get(doc, "source") && !json_is_string(json_object_get(doc, "source"))) {
        st = bad(&c, keys, 1, "expected a string");
        goto done;
    }
    keys[0] = "note";
    if (json_object_get(doc, "note") && !json_is_string(json_object_get(doc, "note"))) {
        st = bad(&c, keys, 1, "expected a string");
        goto done;
    }
    double def_batch = 0, def_premium = 0;
    bool def_batch_set, def_premium_set;
    keys[0] = "batch_discount";
    if ((st = number(&c, doc, keys, 1, 0, 1, &def_batch, &def_batch_set)) != BROCK_OK)
        goto done;
    keys[0] = "regional_premium";
    if ((st = number(&c, doc, keys, 1, 0, PRICING_PREMIUM_MAX, &def_premium, &def_premium_set)) != BROCK_OK)
        goto done;
    json_t *models = json_object_get(doc, "models");
    keys[0] = "models";
    if (models && !json_is_object(models)) {
        st = bad(&c, keys, 1, "expected an object: model id -> prices");
        goto done;
    }
    if (json_object_size(models) > PRICING_MAX_MODELS) {
        char why[64];
        snprintf(why, sizeof why, "more than %d models", PRICING_MAX_MODELS);
        st = bad(&c, keys, 1, why);
        goto done;
    }
    ov = xcalloc(json_object_size(models) + 1, sizeof *ov);
    json_object_foreach(models, k, v)
    {
        st = parse_model(&c, k, v, def_batch, def_batch_set, def_premium, def_premium_set, &ov[n]);
        if (ov[n].id)
            n++;
        if (st != BROCK_OK)
            goto done;
        for (size_t i = 0; i + 1 < n; i++) {
            if (!strcmp(ov[i].id, ov[n - 1].id)) {
                const char *mk[2] = {"models", k};
                st = bad(&c, mk, 2, "names the same model as an earlier key");
                goto done;
            }
        }
    }
    clear_overrides(p);
    p->ov = ov;
    p->n = n;
    ov = NULL;
    n = 0;
    snprintf(p->date, sizeof p->date, "%s", date);
    p->origin = xstrdup(c.what);
done:
    for (size_t i = 0; i < n; i++)
        free(ov[i].id);
    free(ov);
    json_decref(doc);
    return st;
}

enum brock_status pricing_load_file(struct pricing *p, const char *path, struct brock_err *e)
{
    struct buf b = BUF_INIT(PRICING_FILE_MAX);
    enum brock_status st = fs_read_file(path, PRICING_FILE_MAX, &b, e);
    if (st == BROCK_OK)
        st = pricing_parse(p, buf_cstr(&b), b.len, path, e);
    else if (st == BROCK_ERR_TOO_LARGE)
        err_set(e, st, "%s: larger than %zu KiB", path, PRICING_FILE_MAX >> 10);
    buf_free(&b);
    return st;
}

/* ---- lookup and cost ---------------------------------------------------------- */

static const struct override *find_override(const struct pricing *p, const char *id)
{
    for (size_t i = 0; i < p->n; i++)
        if (!strcmp(p->ov[i].id, id))
            return &p->ov[i];
    return NULL;
}

static struct model_prices scaled(struct model_prices p, double f)
{
    p.input *= f;
    p.output *= f;
    p.cache_write_5m *= f;
    p.cache_write_1h *= f;
    p.cache_read *= f;
    return p;
}

bool pricing_rate(const struct pricing *p, const char *model_id, struct pricing_rate *out)
{
    memset(out, 0, sizeof *out);
    if (!model_id || !*model_id)
        return false;
    const char *nid = norm_id(model_id);
    size_t pl;
    enum model_geo geo = id_geo(nid, &pl);
    out->geo = geo;
    out->model = catalog_find(nid, NULL);
    const struct override *o = p->n ? find_override(p, nid) : NULL;
    if (o) {
        out->p = o->p;
        out->batch_discount = o->batch_discount;
        out->source = PRICING_OVERRIDE;
        return true;
    }
    if (p->n && !is_other_arn(nid)) {
        o = find_override(p, nid + pl);
        if (o && !o->exact) {
            out->p = geo == GEO_GLOBAL ? o->p : scaled(o->p, 1.0 + o->premium);
            out->batch_discount = o->batch_discount;
            out->source = PRICING_OVERRIDE;
            return true;
        }
    }
    if (out->model) {
        out->p = catalog_prices(out->model, geo);
        out->batch_discount = DEFAULT_BATCH_DISCOUNT;
        out->source = PRICING_CATALOG;
        return true;
    }
    return false;
}

double pricing_rate_cost(const struct pricing_rate *r, const struct model_usage *u, int64_t cache_write_1h,
                         bool batch)
{
    double f = batch ? 1.0 - r->batch_discount : 1.0;
    int64_t in = u->input_tokens > 0 ? u->input_tokens : 0, out = u->output_tokens > 0 ? u->output_tokens : 0;
    int64_t rd = u->cache_read_tokens > 0 ? u->cache_read_tokens : 0;
    int64_t w = u->cache_write_tokens > 0 ? u->cache_write_tokens : 0;
    int64_t w1h = cache_write_1h < 0 ? 0 : cache_write_1h > w ? w : cache_write_1h;
    struct model_prices p = catalog_long_prices(r->model, r->p, in + rd + w);
    double usd = (double)in * p.input * f + (double)out * p.output * f + (double)rd * p.cache_read +
                 (double)(w - w1h) * p.cache_write_5m + (double)w1h * p.cache_write_1h;
    return usd / 1e6;
}

double pricing_cost(const struct pricing *p, const char *model_id, const struct model_usage *u, int64_t cache_write_1h,
                    bool batch, bool *known)
{
    struct pricing_rate r;
    bool k = pricing_rate(p, model_id, &r);
    if (known)
        *known = k;
    return k ? pricing_rate_cost(&r, u, cache_write_1h, batch) : 0.0;
}
