/* Tests for the caching, single-flight credential wrapper
 * (src/aws/creds_cache.c), driven through real providers against the
 * loopback fake server (the container endpoint counts every fetch): the
 * advisory and mandatory refresh windows on a fake clock, keeping the old set
 * when an advisory refresh fails, invalidate(), short-lived and already
 * expired sets, N threads getting while one slow refresh runs (exactly one
 * fetch; the waiters share its result, success or error), and the AWS client
 * refreshing once through the cache on an ExpiredTokenException. */
#include "../support/test.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../../src/aws/client.h"
#include "../../src/aws/creds.h"
#include "../support/fakesrv.h"

#define NOW_MS 1735689600000LL /* 2025-01-01T00:00:00Z */
#define MIN_MS 60000LL

struct env_map {
    const char *k[16], *v[16];
    int n;
};
static void env_set(struct env_map *m, const char *k, const char *v)
{
    for (int i = 0; i < m->n; i++)
        if (!strcmp(m->k[i], k)) {
            m->v[i] = v;
            return;
        }
    m->k[m->n] = k;
    m->v[m->n++] = v;
}
static const char *map_getenv(void *ctx, const char *name)
{
    struct env_map *m = ctx;
    for (int i = 0; i < m->n; i++)
        if (!strcmp(m->k[i], name))
            return m->v[i];
    return NULL;
}

/* The fake clock: read by server and client threads, moved only by the test
 * thread (and by retry sleeps, which never overlap a move). */
struct fake_time {
    volatile int64_t now_ms;
};
static int64_t ft_now(void *ctx)
{
    return __atomic_load_n(&((struct fake_time *)ctx)->now_ms, __ATOMIC_SEQ_CST);
}
static void ft_sleep(void *ctx, int64_t ms)
{
    __atomic_add_fetch(&((struct fake_time *)ctx)->now_ms, ms, __ATOMIC_SEQ_CST);
}

/* The container endpoint: each fetch returns a new key ASIA<n> that expires
 * `lifetime_ms` after the fake now, unless told to fail. */
struct endpoint_state {
    pthread_mutex_t mu;
    int fetches;
    int status;    /* 0 = answer with credentials */
    int delay_ms;
    int64_t lifetime_ms;
    struct fake_time *t;
};

static void ep_handler(void *ctx, const struct fakesrv_request *req, struct fakesrv_response *out)
{
    (void)req;
    struct endpoint_state *s = ctx;
    pthread_mutex_lock(&s->mu);
    int n = ++s->fetches;
    int status = s->status, delay = s->delay_ms;
    int64_t exp = ft_now(s->t) + s->lifetime_ms;
    pthread_mutex_unlock(&s->mu);
    out->delay_ms = delay;
    if (status) {
        out->status = status;
        out->body = "{\"message\":\"unavailable\"}";
        return;
    }
    char when[21];
    time_fmt_iso8601(exp / 1000, when);
    char *body = malloc(512);
    snprintf(body, 512,
             "{\"AccessKeyId\":\"ASIA%d\",\"SecretAccessKey\":\"SECRET-%d-abcdef\",\"Token\":\"TOKEN-%d\","
             "\"Expiration\":\"%s\"}",
             n, n, n, when);
    out->body = body;
    out->free_body = true;
}

struct world {
    struct env_map env;
    struct endpoint_lookup lk;
    struct fake_time t;
    struct clock clk;
    struct fakesrv *srv;
    struct endpoint_state ep;
    struct creds_config cfg;
    struct creds_cache *cache;
};

static void world_init(struct world *w)
{
    memset(w, 0, sizeof *w);
    w->t.now_ms = NOW_MS;
    w->clk = (struct clock){ft_now, ft_sleep, &w->t};
    pthread_mutex_init(&w->ep.mu, NULL);
    w->ep.lifetime_ms = 60 * MIN_MS;
    w->ep.t = &w->t;
    w->srv = fakesrv_start(NULL);
    fakesrv_set_handler(w->srv, ep_handler, &w->ep);
    w->lk = (struct endpoint_lookup){.getenv = map_getenv, .env_ctx = &w->env};
    env_set(&w->env, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/creds");
    w->cfg = (struct creds_config){.lookup = &w->lk, .clock = &w->clk, .container_host = fakesrv_url(w->srv)};
    w->cache = creds_cache_new(creds_provider_container(&w->cfg), &w->clk);
}

static void world_free(struct world *w)
{
    creds_cache_free(w->cache);
    fakesrv_stop(w->srv);
    pthread_mutex_destroy(&w->ep.mu);
}

static int fetches(struct world *w)
{
    pthread_mutex_lock(&w->ep.mu);
    int n = w->ep.fetches;
    pthread_mutex_unlock(&w->ep.mu);
    return n;
}

static void set_failing(struct world *w, int status)
{
    pthread_mutex_lock(&w->ep.mu);
    w->ep.status = status;
    pthread_mutex_unlock(&w->ep.mu);
}

/* get and return the access key id (static storage), or the error. */
static const char *akid_of(struct world *w, enum brock_status *st, struct brock_err *e)
{
    static char out[64];
    struct aws_credentials *c = NULL;
    *st = creds_cache_get(w->cache, &c, e);
    snprintf(out, sizeof out, "%s", c ? c->access_key_id : "(none)");
    aws_credentials_release(c);
    return out;
}

#define assert_contains(hay, needle)                                                                             \
    do {                                                                                                         \
        if (!strstr((hay), (needle)))                                                                            \
            fail_msg("'%s' does not contain '%s'", (hay), (needle));                                             \
    } while (0)

/* ---- windows ----------------------------------------------------------------------- */
/* get_ahead: a background refresher's get. It refreshes a set that expires
 * within its own margin, before the callers' advisory window; the callers
 * then get the new set without a fetch. */
static void test_get_ahead(void **state)
{
    (void)state;
    struct world w;
    world_init(&w);
    enum brock_status st;
    struct brock_err e = {0};
    struct aws_credentials *c = NULL;
    assert_string_equal(akid_of(&w, &st, &e), "ASIA1");
    /* 20 minutes left: a get keeps the set, a get 25 minutes ahead refreshes */
    w.t.now_ms = NOW_MS + 40 * MIN_MS;
    assert_string_equal(akid_of(&w, &st, &e), "ASIA1");
    assert_int_equal(fetches(&w), 1);
    assert_int_equal(creds_cache_get_ahead(w.cache, 25 * MIN_MS, &c, &e), BROCK_OK);
    assert_string_equal(c->access_key_id, "ASIA2");
    aws_credentials_release(c);
    assert_int_equal(fetches(&w), 2);
    assert_string_equal(akid_of(&w, &st, &e), "ASIA2");
    assert_int_equal(fetches(&w), 2);
    /* not yet within the margin: nothing fetched */
    w.t.now_ms += 30 * MIN_MS; /* 30 minutes left */
    assert_int_equal(creds_cache_get_ahead(w.cache, 25 * MIN_MS, &c, &e), BROCK_OK);
    assert_string_equal(c->access_key_id, "ASIA2");
    aws_credentials_release(c);
    assert_int_equal(fetches(&w), 2);
    /* a failed refresh ahead keeps the set, for get_ahead and get alike */
    set_failing(&w, 500);
    w.t.now_ms += 10 * MIN_MS; /* 20 minutes left */
    assert_int_equal(creds_cache_get_ahead(w.cache, 25 * MIN_MS, &c, &e), BROCK_OK);
    assert_string_equal(c->access_key_id, "ASIA2");
    aws_credentials_release(c);
    assert_int_equal(fetches(&w), 2 + 3); /* the container's 3 attempts */
    assert_string_equal(akid_of(&w, &st, &e), "ASIA2");
    assert_int_equal(st, BROCK_OK);
    assert_int_equal(fetches(&w), 5);
    /* the source hands get_ahead out */
    struct aws_creds_source src = creds_cache_source(w.cache);
    assert_non_null(src.get_ahead);
    set_failing(&w, 0);
    w.t.now_ms += MIN_MS; /* past the 30 s wait after the failure */
    assert_int_equal(src.get_ahead(src.ctx, 25 * MIN_MS, &c, &e), BROCK_OK);
    assert_string_equal(c->access_key_id, "ASIA6");
    aws_credentials_release(c);
    world_free(&w);
}


/* peek never asks the provider nor waits: the current set while it is
 * usable, else why not (the gateway's loop) */
static void test_peek(void **state)
{
    (void)state;
    struct world w;
    world_init(&w);
    enum brock_status st;
    struct brock_err e = {0};
    struct aws_credentials *c = NULL;
    assert_int_equal(creds_cache_peek(w.cache, &c, &e), BROCK_ERR_CREDENTIALS);
    assert_null(c);
    assert_non_null(strstr(e.msg, "none fetched yet"));
    assert_int_equal(fetches(&w), 0);
    assert_string_equal(akid_of(&w, &st, &e), "ASIA1");
    assert_int_equal(creds_cache_peek(w.cache, &c, &e), BROCK_OK);
    assert_string_equal(c->access_key_id, "ASIA1");
    aws_credentials_release(c);
    /* 14 minutes left (advisory window): still handed out, nothing fetched */
    w.t.now_ms = NOW_MS + 46 * MIN_MS;
    assert_int_equal(creds_cache_peek(w.cache, &c, &e), BROCK_OK);
    assert_string_equal(c->access_key_id, "ASIA1");
    aws_credentials_release(c);
    assert_int_equal(fetches(&w), 1);
    /* 9 minutes left (mandatory window): not usable, still nothing fetched */
    w.t.now_ms = NOW_MS + 51 * MIN_MS;
    assert_int_equal(creds_cache_peek(w.cache, &c, &e), BROCK_ERR_CREDENTIALS);
    assert_null(c);
    assert_non_null(strstr(e.msg, "expires within 10 minutes"));
    assert_int_equal(fetches(&w), 1);
    /* a refresh that failed: peek says so */
    set_failing(&w, 500);
    assert_int_equal(creds_cache_get_ahead(w.cache, 25 * MIN_MS, &c, &e), BROCK_ERR_CREDENTIALS);
    assert_int_equal(creds_cache_peek(w.cache, &c, &e), BROCK_ERR_CREDENTIALS);
    assert_non_null(strstr(e.msg, "the last refresh failed"));
    assert_null(strstr(e.msg, "SECRET"));
    set_failing(&w, 0);
    int n = fetches(&w);
    char want[16];
    snprintf(want, sizeof want, "ASIA%d", n + 1);
    assert_string_equal(akid_of(&w, &st, &e), want);
    assert_int_equal(fetches(&w), n + 1);
    /* rejected (invalidated): not usable until refreshed */
    struct aws_creds_source src = creds_cache_source(w.cache);
    assert_non_null(src.peek);
    assert_int_equal(src.peek(src.ctx, &c, &e), BROCK_OK);
    aws_credentials_release(c);
    creds_cache_invalidate(w.cache);
    assert_int_equal(src.peek(src.ctx, &c, &e), BROCK_ERR_CREDENTIALS);
    assert_non_null(strstr(e.msg, "rejected"));
    assert_int_equal(fetches(&w), n + 1);
    world_free(&w);
}

static void test_refresh_windows(void **state)
{
    (void)state;
    struct world w;
    world_init(&w);
    enum brock_status st;
    struct brock_err e = {0};
    assert_string_equal(akid_of(&w, &st, &e), "ASIA1");
    assert_int_equal(fetches(&w), 1);
    /* 16 minutes left: still fresh */
    w.t.now_ms = NOW_MS + 44 * MIN_MS;
    assert_string_equal(akid_of(&w, &st, &e), "ASIA1");
    assert_int_equal(fetches(&w), 1);
    /* 14 minutes left: advisory refresh */
    w.t.now_ms = NOW_MS + 46 * MIN_MS;
    assert_string_equal(akid_of(&w, &st, &e), "ASIA2");
    assert_int_equal(fetches(&w), 2);
    int64_t exp2 = w.t.now_ms + 60 * MIN_MS;

    /* advisory refresh fails: keep the old set; no new try for 30 s */
    set_failing(&w, 500);
    w.t.now_ms = exp2 - 14 * MIN_MS;
    assert_string_equal(akid_of(&w, &st, &e), "ASIA2");
    assert_int_equal(st, BROCK_OK);
    assert_int_equal(fetches(&w), 2 + 3); /* one refresh = the container's 3 attempts */
    w.t.now_ms += 10000;
    assert_string_equal(akid_of(&w, &st, &e), "ASIA2");
    assert_int_equal(fetches(&w), 5);
    w.t.now_ms += 40000;
    assert_string_equal(akid_of(&w, &st, &e), "ASIA2");
    assert_int_equal(fetches(&w), 8);

    /* 9 minutes left: mandatory; a failure is an error */
    w.t.now_ms = exp2 - 9 * MIN_MS;
    assert_string_equal(akid_of(&w, &st, &e), "(none)");
    assert_int_equal(st, BROCK_ERR_CREDENTIALS);
    assert_contains(e.msg, "answered HTTP 500 (3 attempts)");
    assert_int_equal(fetches(&w), 11);
    /* the endpoint recovers */
    set_failing(&w, 0);
    assert_string_equal(akid_of(&w, &st, &e), "ASIA12");
    assert_int_equal(st, BROCK_OK);
    world_free(&w);
}

static void test_invalidate_forces_one_refresh(void **state)
{
    (void)state;
    struct world w;
    world_init(&w);
    enum brock_status st;
    struct brock_err e = {0};
    assert_string_equal(akid_of(&w, &st, &e), "ASIA1");
    assert_string_equal(akid_of(&w, &st, &e), "ASIA1");
    creds_cache_invalidate(w.cache);
    assert_string_equal(akid_of(&w, &st, &e), "ASIA2");
    assert_string_equal(akid_of(&w, &st, &e), "ASIA2");
    assert_int_equal(fetches(&w), 2);
    /* after an invalidation a failed refresh is an error, not the rejected set */
    creds_cache_invalidate(w.cache);
    set_failing(&w, 503);
    assert_string_equal(akid_of(&w, &st, &e), "(none)");
    assert_int_equal(st, BROCK_ERR_CREDENTIALS);
    /* and it stays invalidated until a refresh works */
    set_failing(&w, 0);
    assert_string_equal(akid_of(&w, &st, &e), "ASIA6");
    world_free(&w);
}

static void test_short_lived_and_expired_sets(void **state)
{
    (void)state;
    struct world w;
    world_init(&w);
    enum brock_status st;
    struct brock_err e = {0};
    /* 5 minutes of life: used, and refreshed after half of it, not on every get */
    w.ep.lifetime_ms = 5 * MIN_MS;
    assert_string_equal(akid_of(&w, &st, &e), "ASIA1");
    w.t.now_ms += MIN_MS;
    assert_string_equal(akid_of(&w, &st, &e), "ASIA1");
    assert_int_equal(fetches(&w), 1);
    w.t.now_ms += 2 * MIN_MS;
    assert_string_equal(akid_of(&w, &st, &e), "ASIA2");
    /* a provider that hands out an already expired set */
    w.ep.lifetime_ms = -MIN_MS;
    creds_cache_invalidate(w.cache);
    assert_string_equal(akid_of(&w, &st, &e), "(none)");
    assert_int_equal(st, BROCK_ERR_CREDENTIALS);
    assert_contains(e.msg, "the credentials from container expired at 2025-01-01T00:02:00Z; nothing newer came");
    world_free(&w);
}

static void test_no_expiry_never_refreshed(void **state)
{
    (void)state;
    char *dir = test_tmpdir();
    char script[1024], counter[1024];
    snprintf(counter, sizeof counter, "%s/runs", dir);
    snprintf(script, sizeof script, "%s/creds.sh", dir);
    char body[2048];
    snprintf(body, sizeof body,
             "#!/bin/sh\necho run >> '%s'\necho '{\"Version\":1,\"AccessKeyId\":\"AKIAPROC\","
             "\"SecretAccessKey\":\"s\"}'\n",
             counter);
    test_write_file(script, body);
    chmod(script, 0700);
    char config[1200];
    snprintf(config, sizeof config, "[default]\ncredential_process = %s\n", script);
    struct aws_profile_set *set = aws_profile_set_new();
    struct brock_err e = {0};
    assert_int_equal(aws_profile_set_parse(set, AWS_PROFILE_FILE_CONFIG, config, strlen(config), "config", &e), BROCK_OK);
    struct fake_time t = {NOW_MS};
    struct clock clk = {ft_now, ft_sleep, &t};
    struct creds_config cfg = {.profiles = set, .clock = &clk};
    struct creds_cache *cache = creds_cache_new(creds_provider_profile(&cfg, NULL), &clk);
    for (int i = 0; i < 3; i++) {
        struct aws_credentials *c = NULL;
        assert_int_equal(creds_cache_get(cache, &c, &e), BROCK_OK);
        assert_string_equal(c->access_key_id, "AKIAPROC");
        aws_credentials_release(c);
        t.now_ms += 10 * 3600000LL;
    }
    char *runs = test_read_file(counter, NULL);
    assert_string_equal(runs, "run\n");
    free(runs);
    creds_cache_invalidate(cache);
    struct aws_credentials *c = NULL;
    assert_int_equal(creds_cache_get(cache, &c, &e), BROCK_OK);
    aws_credentials_release(c);
    runs = test_read_file(counter, NULL);
    assert_string_equal(runs, "run\nrun\n");
    free(runs);
    creds_cache_free(cache);
    aws_profile_set_free(set);
    free(dir);
}

/* ---- threads ------------------------------------------------------------------------ */

#define NTHREADS 8

struct getter {
    struct world *w;
    pthread_barrier_t *start;
    enum brock_status st;
    char akid[32];
    char msg[800];
    int64_t took_ms;
};

static void *getter_main(void *arg)
{
    struct getter *g = arg;
    if (g->start)
        pthread_barrier_wait(g->start);
    int64_t t0 = time_mono_ms();
    struct aws_credentials *c = NULL;
    struct brock_err e = {0};
    g->st = creds_cache_get(g->w->cache, &c, &e);
    g->took_ms = time_mono_ms() - t0;
    snprintf(g->akid, sizeof g->akid, "%s", c ? c->access_key_id : "(none)");
    snprintf(g->msg, sizeof g->msg, "%s", e.msg);
    aws_credentials_release(c);
    return NULL;
}

static void run_getters(struct world *w, struct getter *g, int n)
{
    pthread_barrier_t b;
    pthread_barrier_init(&b, NULL, (unsigned)n);
    pthread_t th[NTHREADS];
    for (int i = 0; i < n; i++) {
        g[i] = (struct getter){.w = w, .start = &b};
        pthread_create(&th[i], NULL, getter_main, &g[i]);
    }
    for (int i = 0; i < n; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&b);
}

static void test_single_flight(void **state)
{
    (void)state;
    struct world w;
    world_init(&w);
    w.ep.delay_ms = 300;
    struct getter g[NTHREADS];
    run_getters(&w, g, NTHREADS);
    assert_int_equal(fetches(&w), 1);
    for (int i = 0; i < NTHREADS; i++) {
        assert_int_equal(g[i].st, BROCK_OK);
        assert_string_equal(g[i].akid, "ASIA1");
    }
    /* mandatory refresh: everyone waits for the one refresh */
    w.t.now_ms += 51 * MIN_MS;
    run_getters(&w, g, NTHREADS);
    assert_int_equal(fetches(&w), 2);
    for (int i = 0; i < NTHREADS; i++)
        assert_string_equal(g[i].akid, "ASIA2");
    world_free(&w);
}

static void test_single_flight_failure_is_shared(void **state)
{
    (void)state;
    struct world w;
    world_init(&w);
    w.ep.delay_ms = 200;
    w.ep.status = 500;
    struct getter g[NTHREADS];
    run_getters(&w, g, NTHREADS);
    /* one refresh (three attempts of the container provider), not eight */
    assert_int_equal(fetches(&w), 3);
    for (int i = 0; i < NTHREADS; i++) {
        assert_int_equal(g[i].st, BROCK_ERR_CREDENTIALS);
        assert_contains(g[i].msg, "answered HTTP 500");
    }
    world_free(&w);
}

static void test_advisory_refresh_does_not_block_others(void **state)
{
    (void)state;
    struct world w;
    world_init(&w);
    enum brock_status st;
    struct brock_err e = {0};
    assert_string_equal(akid_of(&w, &st, &e), "ASIA1");
    w.t.now_ms += 46 * MIN_MS; /* advisory window */
    w.ep.delay_ms = 600;
    struct getter slow = {.w = &w};
    pthread_t th;
    pthread_create(&th, NULL, getter_main, &slow);
    assert_true(fakesrv_wait_requests(w.srv, 2, 5000)); /* the refresh is in flight */
    int64_t t0 = time_mono_ms();
    assert_string_equal(akid_of(&w, &st, &e), "ASIA1");
    assert_true(time_mono_ms() - t0 < 300);
    pthread_join(th, NULL);
    assert_string_equal(slow.akid, "ASIA2");
    assert_true(slow.took_ms >= 500);
    assert_int_equal(fetches(&w), 2);
    world_free(&w);
}

/* ---- the client on ExpiredToken -------------------------------------------------------- */

static void test_client_refreshes_once_on_expired_token(void **state)
{
    (void)state;
    struct world w;
    world_init(&w);
    struct fakesrv *bedrock = fakesrv_start(NULL);
    fakesrv_push(bedrock, &(struct fakesrv_response){
                              .status = 403,
                              .headers = "x-amzn-ErrorType: ExpiredTokenException\r\nx-amzn-RequestId: r1\r\n",
                              .body = "{\"message\":\"The security token included in the request is expired\"}"});
    fakesrv_push(bedrock, &(struct fakesrv_response){.body = "{\"ok\":true}"});
    struct aws_client_config cfg = {
        .region = "us-west-2",
        .lookup = &w.lk,
        .endpoint_url = fakesrv_url(bedrock),
        .creds = creds_cache_source(w.cache),
        .clock = &w.clk,
    };
    struct aws_client *c = aws_client_new(&cfg);
    struct aws_request req = {
        .service = ENDPOINT_SVC_BEDROCK_RUNTIME,
        .method = "POST",
        .path = "/model/x/converse",
        .body = "{}",
        .body_len = 2,
        .protocol = AWSERR_REST_JSON,
    };
    struct aws_response r;
    aws_response_init(&r);
    struct brock_err e = {0};
    if (aws_client_send(c, &req, &r, &e) != BROCK_OK)
        fail_msg("%s", e.msg);
    assert_true(r.credentials_refreshed);
    assert_int_equal(fetches(&w), 2);
    assert_contains(fakesrv_header(fakesrv_request(bedrock, 0), "Authorization"), "Credential=ASIA1/");
    assert_contains(fakesrv_header(fakesrv_request(bedrock, 1), "Authorization"), "Credential=ASIA2/");
    assert_string_equal(fakesrv_header(fakesrv_request(bedrock, 1), "X-Amz-Security-Token"), "TOKEN-2");
    aws_response_free(&r);
    aws_client_free(c);
    fakesrv_stop(bedrock);
    world_free(&w);
}

int main(void)
{
    test_init();
    static const char *const proxies[] = {"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"};
    for (size_t i = 0; i < sizeof proxies / sizeof proxies[0]; i++)
        unsetenv(proxies[i]);
    struct brock_err e = {0};
    if (http_global_init(&e) != BROCK_OK) {
        fprintf(stderr, "setup failed: %s\n", e.msg);
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refresh_windows),
        cmocka_unit_test(test_get_ahead),
        cmocka_unit_test(test_peek),
        cmocka_unit_test(test_invalidate_forces_one_refresh),
        cmocka_unit_test(test_short_lived_and_expired_sets),
        cmocka_unit_test(test_no_expiry_never_refreshed),
        cmocka_unit_test(test_single_flight),
        cmocka_unit_test(test_single_flight_failure_is_shared),
        cmocka_unit_test(test_advisory_refresh_does_not_block_others),
        cmocka_unit_test(test_client_refreshes_once_on_expired_token),
    };
    int rc = cmocka_run_group_tests_name("creds_cache", tests, NULL, NULL);
    http_global_cleanup();
    return rc;
}
