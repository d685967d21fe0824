/* monitor.c - monitoring settings and the shared text helpers (monitor.h). */
#include "monitor.h"

#include <errno.h>
#include <math.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../util/timeutil.h"

static const int retention_days[] = {1,   3,   5,   7,   14,   30,   60,   90,   120,  150,  180,
                                     365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653};

void monitor_config_init(struct monitor_config *c)
{
    memset(c, 0, sizeof *c);
    c->content = MONITOR_CONTENT_METADATA;
    c->metrics = MONITOR_METRICS_EMF;
    snprintf(c->metric_namespace, sizeof c->metric_namespace, "%s", MONITOR_DEFAULT_NAMESPACE);
    c->dim_sets[0] = 0;
    c->dim_sets[1] = MONITOR_DIM_MODEL;
    c->n_dim_sets = 2;
    snprintf(c->log_stream, sizeof c->log_stream, "%s", MONITOR_DEFAULT_STREAM);
    c->retention_days = MONITOR_DEFAULT_RETENTION_DAYS;
    c->exit_deadline_ms = MONITOR_DEFAULT_EXIT_DEADLINE_MS;
    c->interval_ms = MONITOR_DEFAULT_INTERVAL_MS;
    c->throttle_threshold = MONITOR_DEFAULT_THROTTLE_THRESHOLD;
}

const char *monitor_content_name(enum monitor_content v)
{
    switch (v) {
    case MONITOR_CONTENT_NONE:
        return "none";
    case MONITOR_CONTENT_METADATA:
        return "metadata";
    case MONITOR_CONTENT_FULL:
        return "full";
    }
    return "?";
}

const char *monitor_metrics_name(enum monitor_metrics v)
{
    switch (v) {
    case MONITOR_METRICS_EMF:
        return "emf";
    case MONITOR_METRICS_PUT_METRIC_DATA:
        return "put-metric-data";
    case MONITOR_METRICS_NONE:
        return "none";
    }
    return "?";
}

const char *monitor_dim_name(enum monitor_dim d)
{
    switch (d) {
    case MONITOR_DIM_MODEL:
        return "Model";
    case MONITOR_DIM_PROJECT:
        return "Project";
    case MONITOR_DIM_USER:
        return "User";
    }
    return "?";
}

bool monitor_retention_valid(long days)
{
    for (size_t i = 0; i < BROCK_ARRAY_LEN(retention_days); i++)
        if (retention_days[i] == days)
            return true;
    return false;
}

const char *monitor_retention_list(void)
{
    return "1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, "
           "3288, 3653";
}

static bool why(char *w, size_t n, const char *msg)
{
    if (w && n)
        snprintf(w, n, "%s", msg);
    return false;
}

bool monitor_log_group_valid(const char *name, char *w, size_t n)
{
    size_t len = name ? strlen(name) : 0;
    if (len == 0)
        return why(w, n, "is empty");
    if (len > MONITOR_LOG_GROUP_MAX)
        return why(w, n, "is longer than 512 characters");
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
              c == '_' || c == '/' || c == '#'))
            return why(w, n, "may only hold letters, digits and . - _ / #");
    }
    if (!strncmp(name, "aws/", 4))
        return why(w, n, "must not start with aws/ (reserved for AWS services)");
    return true;
}

bool monitor_log_stream_valid(const char *name, char *w, size_t n)
{
    size_t len = name ? strlen(name) : 0;
    if (len == 0)
        return why(w, n, "is empty");
    if (len > MONITOR_LOG_STREAM_MAX)
        return why(w, n, "is longer than 512 characters");
    if (strpbrk(name, ":*"))
        return why(w, n, "must not contain ':' or '*'");
    if (!monitor_utf8_valid(name, len))
        return why(w, n, "is not valid UTF-8");
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
            return why(w, n, "must not contain control characters");
    return true;
}

bool monitor_namespace_valid(const char *ns, char *w, size_t n)
{
    size_t len = ns ? strlen(ns) : 0;
    if (len == 0)
        return why(w, n, "is empty");
    if (len > MONITOR_NAMESPACE_MAX)
        return why(w, n, "is longer than 255 characters");
    if (ns[0] == ':')
        return why(w, n, "must not start with ':'");
    if (!strncmp(ns, "AWS/", 4))
        return why(w, n, "must not start with AWS/ (reserved for AWS services)");
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)ns[i] < 0x20 || (unsigned char)ns[i] > 0x7e)
            return why(w, n, "may only hold printable ASCII characters");
    return true;
}

/* ---- loading --------------------------------------------------------------- */

struct loader {
    const char *(*getenv_fn)(void *ctx, const char *name);
    void *env_ctx;
    struct brock_err *e;
};

static const char *env(const struct loader *l, const char *name)
{
    const char *v = l->getenv_fn ? l->getenv_fn(l->env_ctx, name) : getenv(name);
    return v && *v ? v : NULL;
}

static const char *type_name(const json_t *v)
{
    if (!v)
        return "nothing";
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        return "null";
    }
    return "something else";
}

/* A string setting: the environment variable (if given and set) wins over the
 * settings key. *src names where it came from. */
static enum brock_status get_str(const struct loader *l, const json_t *mon, const char *key, const char *var,
                                 const char **out, const char **src)
{
    *out = NULL;
    if (var && (*out = env(l, var))) {
        *src = var;
        return BROCK_OK;
    }
    json_t *v = mon ? json_object_get(mon, key) : NULL;
    if (!v || json_is_null(v))
        return BROCK_OK;
    if (!json_is_string(v))
        return err_set(l->e, BROCK_ERR_CONFIG, "settings brock.monitoring.%s: expected a string, found %s", key,
                       type_name(v));
    *out = json_string_value(v);
    *src = "settings";
    return BROCK_OK;
}

static enum brock_status get_int(const struct loader *l, const json_t *mon, const char *key, int64_t lo, int64_t hi,
                                 int64_t *out)
{
    json_t *v = mon ? json_object_get(mon, key) : NULL;
    if (!v || json_is_null(v))
        return BROCK_OK;
    double d = json_is_integer(v) ? (double)json_integer_value(v) : json_is_real(v) ? json_real_value(v) : NAN;
    if (!json_is_number(v) || d != floor(d) || d < (double)lo || d > (double)hi)
        return err_set(l->e, BROCK_ERR_CONFIG,
                       "settings brock.monitoring.%s: expected a whole number from %lld to %lld, found %s", key,
                       (long long)lo, (long long)hi, json_is_number(v) ? "another number" : type_name(v));
    *out = (int64_t)d;
    return BROCK_OK;
}

/* Quote a short enumerated value in a message (never long free text). */
static void quoted(const char *v, char *out, size_t n)
{
    size_t len = strlen(v);
    bool plain = len <= 32;
    for (size_t i = 0; plain && i < len; i++)
        plain = v[i] > 0x20 && v[i] < 0x7f && v[i] != '\'';
    if (plain)
        snprintf(out, n, "'%s'", v);
    else
        snprintf(out, n, "a value of %zu bytes", len);
}

static enum brock_status load_dims(const struct loader *l, const json_t *mon, struct monitor_config *c)
{
    json_t *v = mon ? json_object_get(mon, "dimensions") : NULL;
    if (!v || json_is_null(v))
        return BROCK_OK;
    if (!json_is_array(v))
        return err_set(l->e, BROCK_ERR_CONFIG,
                       "settings brock.monitoring.dimensions: expected an array of names or of arrays of names, "
                       "found %s",
                       type_name(v));
    /* ["Model", "User"] is one set; [["Model"], ["Model", "User"]] several. */
    bool nested = json_array_size(v) > 0 && json_is_array(json_array_get(v, 0));
    size_t nsets = nested ? json_array_size(v) : 1;
    c->dims_from_settings = true;
    c->n_dim_sets = 1;
    c->dim_sets[0] = 0;
    for (size_t s = 0; s < nsets; s++) {
        const json_t *set = nested ? json_array_get(v, s) : v;
        if (!json_is_array(set))
            return err_set(l->e, BROCK_ERR_CONFIG,
                           "settings brock.monitoring.dimensions[%zu]: expected an array of names, found %s", s,
                           type_name(set));
        unsigned bits = 0;
        for (size_t i = 0; i < json_array_size(set); i++) {
            const json_t *name = json_array_get(set, i);
            const char *nm = json_string_value(name);
            unsigned bit = 0;
            for (unsigned d = 1; d < (1u << MONITOR_DIM_COUNT); d <<= 1)
                if (nm && !strcmp(nm, monitor_dim_name((enum monitor_dim)d)))
                    bit = d;
            if (!bit) {
                char q[48];
                quoted(nm ? nm : "", q, sizeof q);
                return err_set(l->e, BROCK_ERR_CONFIG,
                               "settings brock.monitoring.dimensions%s: %s is not a dimension (use Model, Project or "
                               "User)",
                               nested ? "[..]" : "", nm ? q : type_name(name));
            }
            bits |= bit;
        }
        bool dup = false;
        for (size_t k = 0; k < c->n_dim_sets; k++)
            dup |= c->dim_sets[k] == bits;
        if (dup)
            continue;
        if (c->n_dim_sets >= MONITOR_MAX_DIM_SETS)
            return err_set(l->e, BROCK_ERR_CONFIG, "settings brock.monitoring.dimensions: more than %d sets",
                           MONITOR_MAX_DIM_SETS - 1);
        c->dim_sets[c->n_dim_sets++] = bits;
    }
    return BROCK_OK;
}

enum brock_status monitor_config_load(struct monitor_config *c, const json_t *brock,
                                      const char *(*getenv_fn)(void *ctx, const char *name), void *env_ctx,
                                      struct brock_err *e)
{
    monitor_config_init(c);
    struct loader l = {getenv_fn, env_ctx, e};
    const json_t *mon = brock ? json_object_get(brock, "monitoring") : NULL;
    if (mon && json_is_null(mon))
        mon = NULL;
    if (mon && !json_is_object(mon))
        return err_set(e, BROCK_ERR_CONFIG, "settings brock.monitoring: expected an object, found %s", type_name(mon));
    const char *v, *src = NULL;
    char w[96], q[48];
    enum brock_status st;

    if ((st = get_str(&l, mon, "log_group", "BROCK_LOG_GROUP", &v, &src)) != BROCK_OK)
        return st;
    if (v) {
        if (!monitor_log_group_valid(v, w, sizeof w))
            return err_set(e, BROCK_ERR_CONFIG, "%s%s: the log group name %s",
                           !strcmp(src, "settings") ? "settings brock.monitoring." : "",
                           !strcmp(src, "settings") ? "log_group" : src, w);
        snprintf(c->log_group, sizeof c->log_group, "%s", v);
        snprintf(c->log_group_source, sizeof c->log_group_source, "%s", src);
    }

    if ((st = get_str(&l, mon, "log_stream", "BROCK_LOG_STREAM", &v, &src)) != BROCK_OK)
        return st;
    if (v) {
        if (strlen(v) > MONITOR_LOG_STREAM_MAX || !*v)
            return err_set(e, BROCK_ERR_CONFIG, "%s: the stream name template must be 1 to 512 characters",
                           !strcmp(src, "settings") ? "settings brock.monitoring.log_stream" : src);
        snprintf(c->log_stream, sizeof c->log_stream, "%s", v);
        char test[MONITOR_LOG_STREAM_MAX + 1];
        struct brock_err e2 = {0};
        if (monitor_stream_name(c, "host", "user", 0, test, &e2) != BROCK_OK)
            return err_set(e, BROCK_ERR_CONFIG, "%s: %s",
                           !strcmp(src, "settings") ? "settings brock.monitoring.log_stream" : src, e2.msg);
    }

    if ((st = get_str(&l, mon, "log_content", "BROCK_LOG_CONTENT", &v, &src)) != BROCK_OK)
        return st;
    if (v) {
        if (!strcmp(v, "none"))
            c->content = MONITOR_CONTENT_NONE;
        else if (!strcmp(v, "metadata"))
            c->content = MONITOR_CONTENT_METADATA;
        else if (!strcmp(v, "full"))
            c->content = MONITOR_CONTENT_FULL;
        else {
            quoted(v, q, sizeof q);
            return err_set(e, BROCK_ERR_CONFIG, "%s: expected none, metadata or full, found %s",
                           !strcmp(src, "settings") ? "settings brock.monitoring.log_content" : src, q);
        }
    }

    if ((st = get_str(&l, mon, "metrics", "BROCK_METRICS", &v, &src)) != BROCK_OK)
        return st;
    if (v) {
        if (!strcmp(v, "emf"))
            c->metrics = MONITOR_METRICS_EMF;
        else if (!strcmp(v, "put-metric-data"))
            c->metrics = MONITOR_METRICS_PUT_METRIC_DATA;
        else if (!strcmp(v, "none"))
            c->metrics = MONITOR_METRICS_NONE;
        else {
            quoted(v, q, sizeof q);
            return err_set(e, BROCK_ERR_CONFIG, "%s: expected emf, put-metric-data or none, found %s",
                           !strcmp(src, "settings") ? "settings brock.monitoring.metrics" : src, q);
        }
    }

    if ((st = get_str(&l, mon, "namespace", "BROCK_METRICS_NAMESPACE", &v, &src)) != BROCK_OK)
        return st;
    if (v) {
        if (!monitor_namespace_valid(v, w, sizeof w))
            return err_set(e, BROCK_ERR_CONFIG, "%s: the metric namespace %s",
                           !strcmp(src, "settings") ? "settings brock.monitoring.namespace" : src, w);
        snprintf(c->metric_namespace, sizeof c->metric_namespace, "%s", v);
    }

    if ((st = get_str(&l, mon, "region", NULL, &v, &src)) != BROCK_OK)
        return st;
    if (v) {
        size_t n = strlen(v);
        bool ok = n > 0 && n < sizeof c->region && v[0] != '-' && v[n - 1] != '-';
        for (size_t i = 0; ok && i < n; i++)
            ok = (v[i] >= 'a' && v[i] <= 'z') || (v[i] >= '0' && v[i] <= '9') || v[i] == '-';
        if (!ok)
            return err_set(e, BROCK_ERR_CONFIG, "settings brock.monitoring.region: not a region name");
        snprintf(c->region, sizeof c->region, "%s", v);
    }

    int64_t iv = c->retention_days;
    if ((st = get_int(&l, mon, "retention_days", 0, 3653, &iv)) != BROCK_OK)
        return st;
    if (iv != 0 && !monitor_retention_valid((long)iv))
        return err_set(e, BROCK_ERR_CONFIG,
                       "settings brock.monitoring.retention_days: %lld is not allowed (use one of %s, or 0 for none)",
                       (long long)iv, monitor_retention_list());
    c->retention_days = (int)iv;

    if ((st = get_int(&l, mon, "exit_deadline_ms", 0, 60000, &c->exit_deadline_ms)) != BROCK_OK)
        return st;
    iv = c->interval_ms / 1000;
    if ((st = get_int(&l, mon, "ship_interval_s", 1, 86400, &iv)) != BROCK_OK)
        return st;
    c->interval_ms = iv * 1000;
    iv = c->throttle_threshold;
    if ((st = get_int(&l, mon, "throttle_alarm_threshold", 1, 1000000, &iv)) != BROCK_OK)
        return st;
    c->throttle_threshold = (int)iv;

    return load_dims(&l, mon, c);
}

/* ---- stream names ----------------------------------------------------------- */

bool monitor_stream_per_day(const struct monitor_config *c)
{
    return strstr(c->log_stream, "{date}") != NULL;
}

static void add_part(struct buf *b, const char *v)
{
    for (; *v; v++)
        buf_addc(b, (*v == ':' || *v == '*' || (unsigned char)*v < 0x20 || *v == 0x7f) ? '_' : *v);
}

enum brock_status monitor_stream_name(const struct monitor_config *c, const char *host, const char *user, int64_t ts_ms,
                                      char out[MONITOR_LOG_STREAM_MAX + 1], struct brock_err *e)
{
    char hostbuf[256], userbuf[256];
    if (!host) {
        if (gethostname(hostbuf, sizeof hostbuf) != 0)
            snprintf(hostbuf, sizeof hostbuf, "localhost");
        hostbuf[sizeof hostbuf - 1] = '\0';
        host = hostbuf;
    }
    if (!user) {
        const char *u = getenv("USER");
        if (!u || !*u) {
            struct passwd *pw = getpwuid(getuid());
            u = pw && pw->pw_name ? pw->pw_name : "unknown";
        }
        snprintf(userbuf, sizeof userbuf, "%s", u);
        user = userbuf;
    }
    struct buf b = BUF_INIT(MONITOR_LOG_STREAM_MAX + 64);
    for (const char *p = c->log_stream; *p;) {
        if (!strncmp(p, "{host}", 6)) {
            add_part(&b, *host ? host : "unknown");
            p += 6;
        } else if (!strncmp(p, "{user}", 6)) {
            add_part(&b, *user ? user : "unknown");
            p += 6;
        } else if (!strncmp(p, "{date}", 6)) {
            int64_t day = ts_ms >= 0 ? ts_ms / 86400000 : -((-ts_ms + 86399999) / 86400000);
            char d[21];
            time_fmt_iso8601(day * 86400, d);
            d[10] = '\0';
            buf_addstr(&b, d);
            p += 6;
        } else {
            buf_addc(&b, *p++);
        }
    }
    char w[96];
    enum brock_status st = BROCK_OK;
    if (buf_status(&b) != BROCK_OK || b.len > MONITOR_LOG_STREAM_MAX)
        st = err_set(e, BROCK_ERR_CONFIG, "the log stream name would be longer than 512 characters");
    else if (!monitor_log_stream_valid(buf_cstr(&b), w, sizeof w))
        st = err_set(e, BROCK_ERR_CONFIG, "the log stream name %s", w);
    else
        memcpy(out, buf_cstr(&b), b.len + 1);
    buf_free(&b);
    return st;
}

/* ---- UTF-8 and JSON text -------------------------------------------------------- */

size_t monitor_utf8_seq(const unsigned char *p, size_t n)
{
    if (n == 0)
        return 0;
    unsigned char c = p[0];
    if (c < 0x80)
        return 1;
    if (c < 0xc2)
        return 0;
    if (c < 0xe0)
        return n >= 2 && (p[1] & 0xc0) == 0x80 ? 2 : 0;
    if (c < 0xf0) {
        if (n < 3 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80)
            return 0;
        if (c == 0xe0 && p[1] < 0xa0)
            return 0; /* overlong */
        if (c == 0xed && p[1] > 0x9f)
            return 0; /* surrogate */
        return 3;
    }
    if (c < 0xf5) {
        if (n < 4 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80 || (p[3] & 0xc0) != 0x80)
            return 0;
        if (c == 0xf0 && p[1] < 0x90)
            return 0; /* overlong */
        if (c == 0xf4 && p[1] > 0x8f)
            return 0; /* past U+10FFFF */
        return 4;
    }
    return 0;
}

bool monitor_utf8_valid(const char *p, size_t n)
{
    const unsigned char *u = (const unsigned char *)p;
    for (size_t i = 0; i < n;) {
        if (u[i] < 0x80) {
            i++;
            continue;
        }
        size_t k = monitor_utf8_seq(u + i, n - i);
        if (!k)
            return false;
        i += k;
    }
    return true;
}

size_t monitor_utf8_clean_len(const char *p, size_t n)
{
    const unsigned char *u = (const unsigned char *)p;
    size_t out = 0;
    for (size_t i = 0; i < n;) {
        size_t k = u[i] < 0x80 ? 1 : monitor_utf8_seq(u + i, n - i);
        if (k) {
            out += k;
            i += k;
        } else {
            out += 3;
            i++;
        }
    }
    return out;
}

enum brock_status monitor_utf8_clean(struct buf *out, const char *p, size_t n)
{
    const unsigned char *u = (const unsigned char *)p;
    size_t run = 0; /* start of the pending valid run */
    for (size_t i = 0; i < n;) {
        size_t k = u[i] < 0x80 ? 1 : monitor_utf8_seq(u + i, n - i);
        if (k) {
            i += k;
            continue;
        }
        buf_add(out, p + run, i - run);
        buf_add(out, "\xef\xbf\xbd", 3);
        run = ++i;
    }
    buf_add(out, p + run, n - run);
    return buf_status(out);
}

size_t monitor_utf8_cut(const char *p, size_t n, size_t max)
{
    if (n <= max)
        return n;
    size_t i = max;
    /* back up over continuation bytes to the start of the cut character (a
     * character has at most three; more are invalid bytes, cut anywhere) */
    while (i > 0 && max - i < 3 && ((unsigned char)p[i] & 0xc0) == 0x80)
        i--;
    if (((unsigned char)p[i] & 0xc0) == 0x80)
        return max;
    return i;
}

enum brock_status monitor_json_str(struct buf *out, const char *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *u = (const unsigned char *)p;
    buf_addc(out, '"');
    size_t run = 0;
    for (size_t i = 0; i < n;) {
        unsigned char c = u[i];
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            i++;
            continue;
        }
        if (c >= 0x80) {
            size_t k = monitor_utf8_seq(u + i, n - i);
            if (k) {
                i += k;
                continue;
            }
        }
        buf_add(out, p + run, i - run);
        switch (c) {
        case '"':
            buf_add(out, "\\\"", 2);
            break;
        case '\\':
            buf_add(out, "\\\\", 2);
            break;
        case '\n':
            buf_add(out, "\\n", 2);
            break;
        case '\r':
            buf_add(out, "\\r", 2);
            break;
        case '\t':
            buf_add(out, "\\t", 2);
            break;
        default:
            if (c < 0x20) {
                char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
                buf_add(out, esc, 6);
            } else {
                buf_add(out, "\xef\xbf\xbd", 3); /* an invalid byte */
            }
        }
        run = ++i;
    }
    buf_add(out, p + run, n - run);
    buf_addc(out, '"');
    return buf_status(out);
}

enum brock_status monitor_json_num(struct buf *out, double v)
{
    if (!isfinite(v))
        return buf_addc(out, '0');
    if (v == floor(v) && fabs(v) < 1e15)
        return buf_addi64(out, (int64_t)v);
    return buf_addf(out, "%.9g", v);
}
