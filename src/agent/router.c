/* router.c - model routing rules (see router.h). */
#include "router.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "../util/alloc.h"
#include "../util/buf.h"

#define RULE_MATCH_LIMIT 100000
#define RULE_HEAP_LIMIT_KIB 4096

struct rule {
    char *pattern;
    char *model;
    pcre2_code *re;
};

struct router {
    bool auto_mode;
    bool classify;
    char *pin[ROUTER_TASK_COUNT];
    struct rule *rules;
    size_t nrules;
};

static const char *const task_names[ROUTER_TASK_COUNT] = {"main", "compaction", "title", "classify"};

const char *router_task_name(enum router_task t)
{
    return (unsigned)t < ROUTER_TASK_COUNT ? task_names[t] : "unknown";
}

/* ---- words ---------------------------------------------------------------------
 *
 * A word ending in '~' matches as a prefix ("architect~" matches
 * "architecture"); others need a non-letter after them. All match only at
 * the start of a word. */

/* Planning and hard reasoning: the most capable model. */
static const char *const hard_words[] = {
    "architect~", "system design", "design a", "design an", "design the", "design doc~", "prove", "proof",
    "formally", "formal verification", "invariant~", "refactor the whole", "refactor the entire",
    "refactor all", "rewrite the whole", "rewrite the entire", "restructure", "whole codebase",
    "entire codebase", "across the codebase", "migration plan", "implementation plan", "plan the",
    "plan out", "plan for", "plan how", "roadmap", "trade-off~", "tradeoff~", "race condition~", "deadlock~",
    "data race~", "concurrency", "lock-free", "memory model", "memory ordering", "threat model~",
    "security audit", "security review", "root cause", "algorithm~", "complexity analysis",
    "time complexity", "big-o", "distributed", "consensus", "scalab~", "scale to", "scaling", "from scratch", "think hard",
    "think deeply", "ultrathink", "deep dive", "in depth", "in-depth", "intermittent~", "heisenbug",
    "non-obvious", "subtle bug~", "evaluate the approach~", "compare the approaches", "strategy for",
};

/* Small mechanical work: fine for the Haiku-class model even as an edit. */
static const char *const simple_edit_words[] = {
    "typo~", "rename", "spelling", "misspell~", "commit message", "docstring~", "add a comment",
    "add comments", "reformat", "reword", "capitaliz~", "sort the imports", "sort imports",
    "bump the version", "update the copyright", "trailing whitespace", "fix the indentation",
    "changelog entry", "one-liner", "one liner",
};

/* Questions and lookups: Haiku when short and no real work is asked for. */
static const char *const question_words[] = {
    "what is", "what's", "what are", "what does", "what do", "whats", "define", "definition of", "how do i",
    "how do you", "how to", "which command", "what command", "regex for", "explain what", "summari~", "tl;dr",
    "tldr", "translate", "convert", "list the", "list all", "show me", "where is", "who", "when was",
    "hello", "hi", "hey", "thanks", "thank you", "quick question",
};

/* Work that needs the agent to read, change and run things: not Haiku. */
static const char *const work_words[] = {
    "fix", "implement~", "debug~", "refactor~", "write a test", "write tests", "add tests", "add a test",
    "add a feature", "add support", "build", "make the tests pass", "failing", "fails", "broken", "crash~",
    "segfault~", "bug", "regression", "investigate~", "optimi~", "speed up", "port", "migrate",
    "integrate", "review", "write a", "write the", "create a", "set up", "upgrade",
};

static bool is_word_char(unsigned char c)
{
    return isalnum(c) || c == '_' || c >= 0x80;
}

/* `lower` is ASCII-lowercased text. */
static bool has_word(const char *lower, size_t n, const char *w)
{
    size_t wl = strlen(w);
    bool prefix = wl && w[wl - 1] == '~';
    if (prefix)
        wl--;
    if (!wl || wl > n)
        return false;
    for (const char *p = lower; (size_t)(p - lower) + wl <= n;) {
        const char *hit = memmem(p, n - (size_t)(p - lower), w, wl);
        if (!hit)
            return false;
        size_t at = (size_t)(hit - lower);
        bool start_ok = at == 0 || !is_word_char((unsigned char)lower[at - 1]);
        bool end_ok = prefix || at + wl >= n || !is_word_char((unsigned char)lower[at + wl]);
        if (start_ok && end_ok)
            return true;
        p = hit + 1;
    }
    return false;
}

static const char *first_word(const char *lower, size_t n, const char *const *words, size_t nw)
{
    for (size_t i = 0; i < nw; i++)
        if (has_word(lower, n, words[i]))
            return words[i];
    return NULL;
}

/* "architect~" -> "architect" for messages */
static void word_name(const char *w, char *out, size_t cap)
{
    size_t l = strlen(w);
    if (l && w[l - 1] == '~')
        l--;
    snprintf(out, cap, "%.*s", (int)l, w);
}

/* ---- construction ---------------------------------------------------------------- */

void router_free(struct router *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nrules; i++) {
        free(r->rules[i].pattern);
        free(r->rules[i].model);
        pcre2_code_free(r->rules[i].re);
    }
    free(r->rules);
    for (int t = 0; t < ROUTER_TASK_COUNT; t++)
        free(r->pin[t]);
    free(r);
}

bool router_auto(const struct router *r)
{
    return r && r->auto_mode;
}

bool router_classify_enabled(const struct router *r)
{
    return r && r->classify;
}

const char *router_pin(const struct router *r, enum router_task t)
{
    return r && (unsigned)t < ROUTER_TASK_COUNT ? r->pin[t] : NULL;
}

static bool valid_spec(const char *s)
{
    size_t n = strlen(s);
    if (!n || n >= ROUTER_SPEC_MAX)
        return false;
    for (const unsigned char *c = (const unsigned char *)s; *c; c++)
        if (!isalnum(*c) && !strchr("._-:/+", *c))
            return false;
    return true;
}

static enum brock_status parse_rules(struct router *r, const json_t *rules, struct brock_err *e)
{
    if (!json_is_array(rules))
        return err_set(e, BROCK_ERR_CONFIG, "settings: brock.router.rules: expected an array of {\"match\", \"model\"}");
    if (json_array_size(rules) > ROUTER_MAX_RULES)
        return err_set(e, BROCK_ERR_CONFIG, "settings: brock.router.rules: more than %d rules", ROUTER_MAX_RULES);
    r->rules = xcalloc(json_array_size(rules) + 1, sizeof *r->rules);
    size_t i;
    json_t *it;
    json_array_foreach(rules, i, it)
    {
        if (!json_is_object(it))
            return err_set(e, BROCK_ERR_CONFIG, "settings: brock.router.rules[%zu]: expected an object", i);
        const char *k;
        json_t *v;
        json_object_foreach(it, k, v)
        {
            if (strcmp(k, "match") && strcmp(k, "model"))
                return err_set(e, BROCK_ERR_CONFIG,
                               "settings: brock.router.rules[%zu]: unknown field (expected match, model)", i);
        }
        json_t *m = json_object_get(it, "match"), *mo = json_object_get(it, "model");
        if (!json_is_string(m) || !json_string_length(m) || json_string_length(m) > ROUTER_PATTERN_MAX)
            return err_set(e, BROCK_ERR_CONFIG,
                           "settings: brock.router.rules[%zu].match: expected a regular expression (1 to %d bytes)", i,
                           ROUTER_PATTERN_MAX);
        if (!json_is_string(mo) || !valid_spec(json_string_value(mo)))
            return err_set(e, BROCK_ERR_CONFIG,
                           "settings: brock.router.rules[%zu].model: expected haiku, sonnet, opus or a model id", i);
        int code;
        PCRE2_SIZE off;
        pcre2_code *re = pcre2_compile((PCRE2_SPTR)json_string_value(m), json_string_length(m),
                                       PCRE2_CASELESS | PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &code, &off, NULL);
        if (!re) {
            PCRE2_UCHAR msg[160];
            if (pcre2_get_error_message(code, msg, sizeof msg) < 0)
                snprintf((char *)msg, sizeof msg, "error %d", code);
            return err_set(e, BROCK_ERR_CONFIG, "settings: brock.router.rules[%zu].match: bad regular expression at "
                                                "offset %zu: %s",
                           i, (size_t)off, (const char *)msg);
        }
        struct rule *ru = &r->rules[r->nrules++];
        ru->re = re;
        ru->pattern = xstrdup(json_string_value(m));
        ru->model = xstrdup(json_string_value(mo));
    }
    return BROCK_OK;
}

static enum brock_status parse_router(struct router *r, const json_t *ro, struct brock_err *e)
{
    if (!json_is_object(ro))
        return err_set(e, BROCK_ERR_CONFIG, "settings: brock.router: expected an object");
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)ro, k, v)
    {
        if (!strcmp(k, "rules")) {
            enum brock_status st = parse_rules(r, v, e);
            if (st != BROCK_OK)
                return st;
        } else if (!strcmp(k, "classify")) {
            if (!json_is_boolean(v))
                return err_set(e, BROCK_ERR_CONFIG, "settings: brock.router.classify: expected true or false");
            r->classify = json_is_true(v);
        } else if (!strcmp(k, "pin")) {
            if (!json_is_object(v))
                return err_set(e, BROCK_ERR_CONFIG, "settings: brock.router.pin: expected an object: task -> model");
            const char *t;
            json_t *m;
            json_object_foreach(v, t, m)
            {
                int ti = -1;
                for (int i = 0; i < ROUTER_TASK_COUNT; i++)
                    if (!strcmp(t, task_names[i]))
                        ti = i;
                if (ti < 0)
                    return err_set(e, BROCK_ERR_CONFIG,
                                   "settings: brock.router.pin: unknown task (expected main, compaction, title, "
                                   "classify)");
                if (!json_is_string(m) || !valid_spec(json_string_value(m)))
                    return err_set(e, BROCK_ERR_CONFIG,
                                   "settings: brock.router.pin.%s: expected haiku, sonnet, opus or a model id",
                                   task_names[ti]);
                free(r->pin[ti]);
                r->pin[ti] = xstrdup(json_string_value(m));
            }
        } else {
            return err_set(e, BROCK_ERR_CONFIG, "settings: brock.router: unknown field (expected rules, classify, pin)");
        }
    }
    return BROCK_OK;
}

enum brock_status router_new(const json_t *brock, bool auto_mode, struct router **out, struct brock_err *e)
{
    struct router *r = xcalloc(1, sizeof *r);
    r->auto_mode = auto_mode;
    json_t *ro = brock ? json_object_get(brock, "router") : NULL;
    if (ro && !json_is_null(ro)) {
        enum brock_status st = parse_router(r, ro, e);
        if (st != BROCK_OK) {
            router_free(r);
            *out = NULL;
            return st;
        }
    }
    *out = r;
    return BROCK_OK;
}

/* ---- decisions --------------------------------------------------------------- */

static void choose(struct router_choice *c, enum router_via via, const char *spec, const char *fmt, ...)
    BROCK_PRINTF(4, 5);
static void choose(struct router_choice *c, enum router_via via, const char *spec, const char *fmt, ...)
{
    c->via = via;
    snprintf(c->spec, sizeof c->spec, "%s", spec);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->why, sizeof c->why, fmt, ap);
    va_end(ap);
}

static bool rule_matches(const struct rule *ru, const char *text, size_t len)
{
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(ru->re, NULL);
    pcre2_match_context *mc = pcre2_match_context_create(NULL);
    pcre2_set_match_limit(mc, RULE_MATCH_LIMIT);
    pcre2_set_heap_limit(mc, RULE_HEAP_LIMIT_KIB);
    int rc = pcre2_match(ru->re, (PCRE2_SPTR)text, len, 0, 0, md, mc);
    pcre2_match_context_free(mc);
    pcre2_match_data_free(md);
    return rc >= 0; /* a match limit hit is no match */
}

void router_decide(const struct router *r, enum router_task task, const struct router_input *in,
                   struct router_choice *out)
{
    memset(out, 0, sizeof *out);
    const char *pin = router_pin(r, task);
    if (pin && (task != ROUTER_MAIN || router_auto(r))) {
        choose(out, ROUTER_VIA_PIN, pin, "pinned by brock.router.pin.%s", router_task_name(task));
        return;
    }
    if (task != ROUTER_MAIN) {
        choose(out, ROUTER_VIA_BACKGROUND, "haiku", "background work (%s) goes to the Haiku-class model",
               router_task_name(task));
        return;
    }
    if (!router_auto(r)) {
        choose(out, ROUTER_VIA_FIXED, "", "model given");
        return;
    }
    const char *text = in && in->text ? in->text : "";
    size_t len = in ? in->len : 0;
    for (size_t i = 0; i < r->nrules; i++) {
        if (rule_matches(&r->rules[i], text, len)) {
            choose(out, ROUTER_VIA_RULE, r->rules[i].model, "brock.router.rules[%zu] matched", i);
            return;
        }
    }
    size_t n = len < ROUTER_SCAN_BYTES ? len : ROUTER_SCAN_BYTES;
    char *lower = xmalloc(n + 1);
    for (size_t i = 0; i < n; i++)
        lower[i] = (char)tolower((unsigned char)text[i]);
    lower[n] = '\0';
    char w[64];
    const char *hit = first_word(lower, n, hard_words, BROCK_ARRAY_LEN(hard_words));
    int64_t ctx = in ? in->context_tokens : 0;
    if (hit) {
        word_name(hit, w, sizeof w);
        choose(out, ROUTER_VIA_KEYWORD, "opus", "planning/hard-reasoning words ('%s')", w);
    } else if (ctx > ROUTER_HAIKU_MAX_CONTEXT) {
        choose(out, ROUTER_VIA_SIZE, "sonnet", "context of about %lld tokens is too big for Haiku", (long long)ctx);
    } else if ((hit = first_word(lower, n, simple_edit_words, BROCK_ARRAY_LEN(simple_edit_words))) &&
               len <= ROUTER_SIMPLE_PROMPT) {
        word_name(hit, w, sizeof w);
        choose(out, ROUTER_VIA_SIMPLE, "haiku", "small mechanical work ('%s')", w);
    } else if (len <= ROUTER_SHORT_PROMPT && !first_word(lower, n, work_words, BROCK_ARRAY_LEN(work_words)) &&
               (hit = first_word(lower, n, question_words, BROCK_ARRAY_LEN(question_words)))) {
        word_name(hit, w, sizeof w);
        choose(out, ROUTER_VIA_SIMPLE, "haiku", "a short question ('%s')", w);
    } else if (router_classify_enabled(r)) {
        choose(out, ROUTER_VIA_CLASSIFY, "sonnet", "no rule decided; asking the classifier");
    } else {
        hit = first_word(lower, n, work_words, BROCK_ARRAY_LEN(work_words));
        if (hit) {
            word_name(hit, w, sizeof w);
            choose(out, ROUTER_VIA_DEFAULT, "sonnet", "coding work ('%s')", w);
        } else {
            choose(out, ROUTER_VIA_DEFAULT, "sonnet", "no rule decided: the default");
        }
    }
    free(lower);
}

/* ---- requests ------------------------------------------------------------------ */

void router_input_from_request(const struct model_request *req, struct router_input *in, char **text)
{
    memset(in, 0, sizeof *in);
    *text = NULL;
    in->n_tools = json_array_size(req->tools);
    size_t n = json_array_size(req->messages);
    const json_t *last = NULL;
    for (size_t i = n; i-- > 0 && !last;) {
        const json_t *m = json_array_get(req->messages, i);
        const char *role = json_string_value(json_object_get(m, "role"));
        if (role && !strcmp(role, "user"))
            last = m;
    }
    struct buf b = BUF_INIT(ROUTER_SCAN_BYTES);
    const json_t *content = json_object_get(last, "content");
    if (json_is_string(content)) {
        size_t l = json_string_length(content);
        buf_add(&b, json_string_value(content), l < ROUTER_SCAN_BYTES ? l : ROUTER_SCAN_BYTES);
    }
    size_t i;
    json_t *blk;
    json_array_foreach(content, i, blk)
    {
        const char *type = json_string_value(json_object_get(blk, "type"));
        if (!type)
            continue;
        if (!strcmp(type, "tool_result")) {
            in->continuing = true;
        } else if (!strcmp(type, "text")) {
            json_t *t = json_object_get(blk, "text");
            if (!json_is_string(t) || b.len >= ROUTER_SCAN_BYTES)
                continue;
            if (b.len)
                buf_addc(&b, '\n');
            size_t room = ROUTER_SCAN_BYTES - b.len, l = json_string_length(t);
            buf_add(&b, json_string_value(t), l < room ? l : room);
        }
    }
    in->len = b.len;
    *text = buf_take(&b);
    in->text = *text;
}

const char *router_classify_system(void)
{
    return "You sort requests made to a coding assistant by how much model capability they need. Answer with "
           "exactly one word and nothing else: simple (a quick fact, a lookup, a small mechanical edit such as "
           "a rename or a typo), standard (ordinary coding work: write, fix, test or explain code), or complex "
           "(architecture and design, planning a large change, proofs, subtle concurrency or performance "
           "problems, hard debugging).";
}

char *router_classify_prompt(const char *text, size_t len)
{
    struct buf b = BUF_INIT(ROUTER_SCAN_BYTES + 256);
    buf_addstr(&b, "Classify this request (simple, standard or complex):\n<request>\n");
    buf_add(&b, text, len < ROUTER_SCAN_BYTES ? len : ROUTER_SCAN_BYTES);
    buf_addstr(&b, "\n</request>");
    return buf_take(&b);
}

bool router_apply_classification(const char *answer, struct router_choice *out)
{
    if (!answer)
        return false;
    while (*answer && !isalpha((unsigned char)*answer))
        answer++;
    static const struct {
        const char *word, *spec;
    } map[] = {{"simple", "haiku"}, {"standard", "sonnet"}, {"complex", "opus"}};
    for (size_t i = 0; i < BROCK_ARRAY_LEN(map); i++) {
        size_t l = strlen(map[i].word);
        if (!strncasecmp(answer, map[i].word, l) && !isalpha((unsigned char)answer[l])) {
            choose(out, ROUTER_VIA_CLASSIFY, map[i].spec, "the classifier said %s", map[i].word);
            return true;
        }
    }
    return false;
}
