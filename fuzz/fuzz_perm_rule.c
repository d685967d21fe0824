/* fuzz_perm_rule.c - the permission-rule parser, the shell-command reader and
 * the matchers on arbitrary bytes.
 *
 * The input's first line is a rule; the rest is a subject (a Bash command, a
 * path, a URL). The rule is parsed (paths resolve under a directory that does
 * not exist, so nothing real is touched beyond lstat calls); the subject is
 * split as a shell command; then the rule is matched against every part, the
 * resolved path and the raw subject. Invariants (a broken one traps, so
 * libFuzzer reports it like a crash):
 *   - perm_rule_check agrees with perm_rule_parse on syntax;
 *   - the shell reader's parts are in range, and its caps hold;
 *   - every "always allow" proposal parses and matches the part it was made
 *     for (so answering "always" really stops the question);
 *   - a failed parse always says why. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../src/agent/perm.h"
#include "../src/agent/perm_int.h"

#include "fuzz.h"

static enum brock_status check_cb(void *ctx, const char *rule, struct brock_err *e)
{
    (void)ctx;
    CHECK(rule[0] != '\0');
    (void)perm_rule_check(rule, e);
    return BROCK_OK;
}

static const char *const tool_names[] = {"Bash", "Read", "Edit", "Write", "Glob", "LS", "mcp__a__b", "WebFetch", "Task"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 64 * 1024)
        return 0;
    const char *text = (const char *)data;
    const char *nl = memchr(text, '\n', size);
    size_t rl = nl ? (size_t)(nl - text) : size;
    char *rule = malloc(rl + 1);
    memcpy(rule, text, rl);
    rule[rl] = '\0';
    size_t sl = nl ? size - rl - 1 : 0;
    char *subj = malloc(sl + 1);
    if (sl)
        memcpy(subj, nl + 1, sl);
    subj[sl] = '\0';

    /* the rule */
    static const struct perm_rule_ctx ctx = {"/nonexistent-brock-fuzz/w", "/nonexistent-brock-fuzz/h",
                                             "/nonexistent-brock-fuzz/a"};
    struct perm_rule *r = NULL;
    struct brock_err e = {0};
    enum brock_status st = perm_rule_parse(rule, &ctx, &r, &e);
    struct brock_err e2 = {0};
    enum brock_status st2 = perm_rule_check(rule, &e2);
    if (st != BROCK_OK) {
        CHECK(r == NULL && e.msg[0]);
    } else {
        CHECK(r && r->text && r->tool);
        CHECK(st2 == BROCK_OK);
    }
    if (st2 != BROCK_OK)
        CHECK(!strncmp(e2.msg, "rule \"", 6));

    /* the subject as a shell command */
    struct perm_shell sh;
    perm_shell_parse(subj, sl, &sh);
    CHECK(sh.nparts <= PERM_SHELL_MAX_PARTS && sh.nwords <= PERM_SHELL_MAX_WORDS);
    static const struct perm_rule_ctx sctx = {"/w", "/h", "/w"};
    for (size_t i = 0; i < sh.nparts; i++) {
        const struct perm_part *p = &sh.parts[i];
        CHECK(p->n > 0 && p->first + p->n <= sh.nwords);
        size_t end = p->first + p->n;
        size_t as = perm_shell_command_start(&sh, p, false);
        size_t ds = perm_shell_command_start(&sh, p, true);
        CHECK(as >= p->first && as <= end && ds >= p->first && ds <= end);
        char *allow = perm_shell_join(&sh, as, end, false, false);
        char *deny = perm_shell_join(&sh, ds, end, true, true);
        if (r) {
            (void)perm_rule_match_command(r, allow);
            (void)perm_rule_match_command(r, deny);
        }
        char *sug = perm_shell_suggest(&sh, p);
        if (sug) {
            struct perm_rule *sr = NULL;
            CHECK(perm_rule_parse(sug, &sctx, &sr, NULL) == BROCK_OK);
            CHECK(sr->kind == PERM_RULE_BASH);
            CHECK(perm_rule_match_command(sr, allow));
            perm_rule_free(sr);
            free(sug);
        }
        free(allow);
        free(deny);
    }
    for (size_t i = 0; i < sh.nredirs; i++)
        CHECK(sh.redirs[i].target != NULL);
    perm_shell_cleanup(&sh);

    /* the subject as a path and as a URL */
    if (r) {
        for (size_t t = 0; t < sizeof tool_names / sizeof tool_names[0]; t++)
            (void)perm_rule_covers_tool(r, tool_names[t], perm_tool_class(tool_names[t]));
        char res[PERM_PATH_MAX];
        bool is_dir = false;
        if (sl && !memchr(subj, '\0', sl) &&
            perm_resolve_path("/nonexistent-brock-fuzz/w", subj, res, &is_dir, NULL) == BROCK_OK) {
            CHECK(res[0] == '/');
            (void)perm_rule_match_path(r, res, false, false);
            (void)perm_rule_match_path(r, res, true, true);
            (void)perm_path_is_secret(res, "/nonexistent-brock-fuzz/h", "/nonexistent-brock-fuzz/c");
        }
        (void)perm_rule_match_subject(r, subj);
        perm_rule_free(r);
    }
    (void)perm_glob_segment(rule, rl, subj, strlen(subj));
    (void)perm_glob_text(rule, subj);
    (void)perm_split_rule_list(rule, check_cb, NULL, &e);

    free(rule);
    free(subj);
    return 0;
}
