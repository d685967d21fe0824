/* test_cost_fake.h - a scripted struct model_client for the cost tests
 * (included by test_cost*.c, test_budget.c, test_respcache.c). Each step
 * answers one invoke(): a status (with an AWS code), text, usage; every
 * call records the model id it was asked for, so tests can see routing,
 * fallback and cache hits (no call at all). */
#ifndef BROCK_TESTS_COST_FAKE_H
#define BROCK_TESTS_COST_FAKE_H

#include <stdio.h>
#include <string.h>

#include "../../src/bedrock/model.h"
#include "../../src/util/alloc.h"

#define FAKE_MAX 32

struct fake_step {
    enum brock_status st;
    const char *aws_code; /* for errors */
    const char *text;     /* answer text ("" = none) */
    struct model_usage usage;
    const char *stop_reason; /* NULL = end_turn */
    bool tool_use;           /* add a tool_use block */
};

struct fake_model {
    struct model_client mc;
    const char *region; /* reported as the serving region */
    struct fake_step steps[FAKE_MAX];
    size_t nsteps, next;
    char asked[FAKE_MAX][256]; /* model ids of the calls made */
    double temps[FAKE_MAX];
    size_t calls;
    size_t text_events;        /* on_text callbacks made */
};

static enum brock_status fake_invoke(struct model_client *mc, const struct model_request *req,
                                     const struct model_events *ev, struct model_result *out, struct brock_err *e)
{
    struct fake_model *f = mc->impl;
    model_result_cleanup(out);
    model_result_init(out);
    if (f->calls < FAKE_MAX) {
        snprintf(f->asked[f->calls], sizeof f->asked[0], "%s", req->model_id ? req->model_id : "");
        f->temps[f->calls] = req->temperature;
    }
    f->calls++;
    snprintf(out->model_id, sizeof out->model_id, "%s", req->model_id ? req->model_id : "");
    snprintf(out->region, sizeof out->region, "%s", f->region ? f->region : "us-west-2");
    out->attempts = 1;
    if (f->next >= f->nsteps)
        return err_set(e, BROCK_ERR_INTERNAL, "fake model: no step %zu", f->next);
    const struct fake_step *s = &f->steps[f->next++];
    snprintf(out->request_id, sizeof out->request_id, "req-%zu", f->next);
    out->usage = s->usage;
    out->latency_ms = 120.5;
    out->ttft_ms = 40.25;
    if (s->st != BROCK_OK) {
        out->attempts = 3;
        err_set(e, s->st, "%s: scripted failure", s->aws_code ? s->aws_code : "Error");
        if (s->aws_code && e)
            snprintf(e->aws_code, sizeof e->aws_code, "%s", s->aws_code);
        return s->st;
    }
    if (s->text && *s->text) {
        json_array_append_new(out->content, json_pack("{s:s,s:s}", "type", "text", "text", s->text));
        if (ev && ev->on_text) {
            ev->on_text(ev->ctx, 0, s->text, strlen(s->text));
            f->text_events++;
        }
    }
    if (s->tool_use)
        json_array_append_new(out->content,
                              json_pack("{s:s,s:s,s:s,s:{}}", "type", "tool_use", "id", "toolu_1", "name", "Read", "input"));
    snprintf(out->stop_reason, sizeof out->stop_reason, "%s",
             s->stop_reason ? s->stop_reason : s->tool_use ? "tool_use" : "end_turn");
    snprintf(out->message_id, sizeof out->message_id, "msg_%zu", f->next);
    snprintf(out->model, sizeof out->model, "fake-model");
    return BROCK_OK;
}

static enum brock_status fake_count(struct model_client *mc, const struct model_request *req, int64_t *tokens,
                                    bool *estimated, struct brock_err *e)
{
    (void)mc;
    (void)req;
    (void)e;
    *tokens = 0;
    *estimated = true;
    return BROCK_OK;
}

static void fake_free_nothing(struct model_client *mc)
{
    (void)mc; /* the test owns the struct */
}

static void fake_free_heap(struct model_client *mc)
{
    free(mc->impl);
}

static const struct model_client_vtable fake_vtable = {fake_invoke, fake_count, fake_free_nothing};
static const struct model_client_vtable fake_heap_vtable = {fake_invoke, fake_count, fake_free_heap};

static void fake_init(struct fake_model *f)
{
    memset(f, 0, sizeof *f);
    f->mc.vtable = &fake_vtable;
    f->mc.impl = f;
}

/* A heap fake whose model_client_free frees it (for clients the ledger owns). */
static struct fake_model *fake_new_heap(const char *region)
{
    struct fake_model *f = xcalloc(1, sizeof *f);
    f->mc.vtable = &fake_heap_vtable;
    f->mc.impl = f;
    f->region = region;
    return f;
}

static void fake_add(struct fake_model *f, struct fake_step s)
{
    if (f->nsteps < FAKE_MAX)
        f->steps[f->nsteps++] = s;
}

/* A request with one user message of `text` (new references in *msgs). */
static struct model_request fake_request(const char *model_id, const char *text, json_t **msgs)
{
    *msgs = json_pack("[{s:s,s:[{s:s,s:s}]}]", "role", "user", "content", "type", "text", "text", text);
    struct model_request r = {
        .model_id = model_id,
        .messages = *msgs,
        .max_tokens = 1024,
        .temperature = MODEL_UNSET,
        .top_p = MODEL_UNSET,
        .top_k = MODEL_UNSET,
    };
    return r;
}

#endif
