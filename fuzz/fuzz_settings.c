/* fuzz_settings.c - the settings-file parser on arbitrary bytes, then an
 * engine built from what it accepted, deciding a few calls.
 *
 * The input is split at its first NUL: the bytes before are a project
 * settings file, the bytes after a user settings file (merged on top of the
 * project one, which exercises the merge). Invariants (traps on failure):
 *   - every error and warning starts with the file's path;
 *   - errors are only parse, config or too-large;
 *   - an accepted file gives an engine whose decisions are complete records. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../src/agent/perm.h"
#include "../src/agent/settings.h"

#include "fuzz.h"

#define ROOT "/nonexistent-brock-fuzz"

static void check_msg(const struct settings *s, enum settings_scope sc, const char *msg)
{
    const char *p = s->src[sc].path;
    CHECK(!strncmp(msg, p, strlen(p)));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    const char *nul = memchr(text, '\0', size);
    size_t plen = nul ? (size_t)(nul - text) : size;

    struct settings_opts o = {.cwd = ROOT "/w", .home = ROOT "/h", .user_file = ROOT "/u/settings.json"};
    struct settings *s;
    if (settings_new(&o, &s, NULL) != BROCK_OK)
        __builtin_trap();
    struct brock_err e = {0};
    enum brock_status st = settings_parse(s, SETTINGS_PROJECT, text, plen, &e);
    enum settings_scope last = SETTINGS_PROJECT;
    if (st == BROCK_OK && nul) {
        last = SETTINGS_USER;
        st = settings_parse(s, SETTINGS_USER, nul + 1, size - plen - 1, &e);
    }
    if (st != BROCK_OK) {
        CHECK(st == BROCK_ERR_PARSE || st == BROCK_ERR_CONFIG || st == BROCK_ERR_TOO_LARGE);
        CHECK(e.status == st);
        check_msg(s, last, e.msg);
        settings_free(s);
        return 0;
    }
    for (size_t i = 0; i < s->nwarnings; i++) {
        const char *w = s->warnings[i];
        CHECK(!strncmp(w, s->src[SETTINGS_PROJECT].path, strlen(s->src[SETTINGS_PROJECT].path)) ||
              !strncmp(w, s->src[SETTINGS_USER].path, strlen(s->src[SETTINGS_USER].path)));
    }
    for (size_t i = 0; i < s->nrules; i++)
        CHECK(perm_rule_check(s->rules[i].text, NULL) == BROCK_OK);
    CHECK(json_is_object(s->env) && json_is_object(s->hooks) && json_is_object(s->brock));

    struct perm_env env = {.cwd = ROOT "/w", .home = ROOT "/h", .config_home = ROOT "/c", .interactive = size & 1};
    struct perm_engine *pe = NULL;
    st = perm_engine_new(s, &env, &pe, &e);
    if (st != BROCK_OK) {
        CHECK(st == BROCK_ERR_CONFIG && s->bypass_disabled && s->mode == PERM_MODE_BYPASS);
        settings_free(s);
        return 0;
    }
    static const char *const calls[][2] = {
        {"Bash", "git status && npm test -- --watch; rm -rf build > out.txt"},
        {"Bash", "echo $(id) | tee x"},
        {"Read", "src/main.c"},
        {"Read", "~/.aws/credentials"},
        {"Edit", ROOT "/w/docs/a.md"},
        {"Write", "/etc/passwd"},
        {"Grep", NULL},
        {"mcp__srv__tool", NULL},
        {"WebFetch", "https://docs.example.com/x"},
        {"TodoWrite", NULL},
    };
    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
        struct perm_decision d;
        enum perm_verdict v = perm_check(pe, calls[i][0], calls[i][1], &d);
        CHECK(v == d.verdict && (v == PERM_ALLOW || v == PERM_ASK || v == PERM_DENY));
        CHECK(d.message && d.tool);
        CHECK(!(d.why == PERM_WHY_RULE) || (d.rule && d.rule_source));
        CHECK(d.nsuggest <= PERM_MAX_SUGGEST);
        json_t *j = perm_decision_json(&d);
        CHECK(j != NULL);
        json_decref(j);
        perm_decision_cleanup(&d);
    }
    perm_engine_free(pe);
    settings_free(s);
    return 0;
}
