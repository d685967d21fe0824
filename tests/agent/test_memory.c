/* Tests for memory files: discovery order (user, then root down to the
 * working directory), one copy per file, @imports (relative, ~, depth,
 * cycles, secrets, outside paths, code blocks), caps per file and in total,
 * UTF-8 safety, FIFOs, and the rendered section. */
#include "../support/test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../src/agent/memory.h"
#include "../../src/util/fs.h"

static char *T, *HOME_, *XDG;

static void put(const char *rel, const char *content)
{
    char *p = fs_join(T, rel);
    char *d = strdup(p);
    *strrchr(d, '/') = '\0';
    assert_int_equal(fs_mkdirs(d, 0755, NULL), BROCK_OK);
    test_write_file(p, content);
    free(d);
    free(p);
}

static char *tp(const char *rel)
{
    return fs_join(T, rel);
}

static int setup(void **state)
{
    (void)state;
    char *t = test_tmpdir();
    T = realpath(t, NULL);
    free(t);
    HOME_ = tp("home");
    XDG = tp("xdg");
    put("xdg/brock/BROCK.md", "user brock\n");
    put("home/.claude/CLAUDE.md", "user claude @~/.claude/prefs.md\n");
    put("home/.claude/prefs.md", "prefs\n");
    put("home/.ssh/id_rsa", "PRIVATE KEY\n");
    put("root/CLAUDE.md", "root\n");
    put("root/a/AGENTS.md", "agents a\n");
    put("root/a/b/BROCK.md", "brock b\n");
    put("root/a/b/CLAUDE.md", "claude b: see @docs/style.md and @~/.claude/prefs.md.\n"
                              "```\n@not/imported.md\n```\n"
                              "and `@also/not.md` and x@y.z\n");
    put("root/a/b/.claude/CLAUDE.md", "dot claude b\n");
    put("root/a/b/docs/style.md", "style\n");
    char *target = tp("root/a/b/CLAUDE.md"), *link = tp("root/a/b/AGENTS.md");
    assert_int_equal(symlink(target, link), 0);
    free(target);
    free(link);
    return 0;
}

static struct memory_set *collect(const char *cwd_rel, size_t max_file, size_t max_total, bool skip_user)
{
    char *cwd = tp(cwd_rel);
    struct memory_opts o = {.cwd = cwd, .home = HOME_, .config_home = XDG, .max_file_bytes = max_file,
                            .max_total_bytes = max_total, .skip_user = skip_user};
    struct memory_set *set = NULL;
    struct brock_err e = {0};
    if (memory_collect(&o, &set, &e) != BROCK_OK)
        fail_msg("collect: %s", e.msg);
    free(cwd);
    return set;
}

/* The files under T, as "kind:relpath" joined by spaces. */
static char *listing(const struct memory_set *set)
{
    static const char kinds[] = "UPI";
    size_t tl = strlen(T);
    char *out = calloc(1, 8192);
    for (size_t i = 0; i < set->nfiles; i++) {
        const struct memory_file *f = &set->files[i];
        if (strncmp(f->path, T, tl) || f->path[tl] != '/')
            continue; /* a memory file above the test directory */
        size_t l = strlen(out);
        snprintf(out + l, 8192 - l, "%s%c:%s", l ? " " : "", kinds[f->kind], f->path + tl + 1);
    }
    return out;
}

static bool has_note(const struct memory_set *set, const char *needle)
{
    for (size_t i = 0; i < set->nnotes; i++)
        if (strstr(set->notes[i], needle))
            return true;
    return false;
}

static void test_discovery_order(void **state)
{
    (void)state;
    struct memory_set *set = collect("root/a/b", 0, 0, false);
    char *l = listing(set);
    assert_string_equal(l, "U:xdg/brock/BROCK.md U:home/.claude/CLAUDE.md I:home/.claude/prefs.md "
                           "P:root/CLAUDE.md P:root/a/AGENTS.md P:root/a/b/BROCK.md P:root/a/b/CLAUDE.md "
                           "I:root/a/b/docs/style.md P:root/a/b/.claude/CLAUDE.md");
    free(l);
    /* imports know their importer and depth */
    for (size_t i = 0; i < set->nfiles; i++) {
        const struct memory_file *f = &set->files[i];
        if (f->kind == MEMORY_IMPORT) {
            assert_true(f->parent < i);
            assert_int_equal(f->depth, set->files[f->parent].depth + 1);
        } else {
            assert_int_equal(f->parent, SIZE_MAX);
            assert_int_equal(f->depth, 0);
        }
        assert_int_equal(f->used, f->size);
        assert_int_equal(strlen(f->text), f->used);
    }
    /* code blocks, code spans and mid-word @ are not imports; nothing was even tried */
    assert_false(has_note(set, "not/imported"));
    assert_false(has_note(set, "also/not"));
    assert_false(has_note(set, "y.z"));
    assert_int_equal(set->max_file_bytes, MEMORY_MAX_FILE_BYTES);
    assert_int_equal(set->max_total_bytes, MEMORY_MAX_TOTAL_BYTES);
    memory_set_free(set);

    set = collect("root/a/b", 0, 0, true);
    l = listing(set);
    assert_string_equal(l, "P:root/CLAUDE.md P:root/a/AGENTS.md P:root/a/b/BROCK.md P:root/a/b/CLAUDE.md "
                           "I:root/a/b/docs/style.md I:home/.claude/prefs.md P:root/a/b/.claude/CLAUDE.md");
    free(l);
    memory_set_free(set);
    memory_set_free(NULL);
}

static void test_render(void **state)
{
    (void)state;
    struct memory_set *set = collect("root/a", 0, 0, true);
    struct buf b = BUF_INIT(1 << 20);
    assert_int_equal(memory_render(set, &b), BROCK_OK);
    const char *r = buf_cstr(&b);
    assert_int_equal(strncmp(r, "# Memory files\n", 15), 0);
    char *p1 = tp("root/CLAUDE.md"), *p2 = tp("root/a/AGENTS.md");
    char h1[4096], h2[4096];
    snprintf(h1, sizeof h1, "\n## %s (project memory: instructions for this codebase)\n\nroot\n", p1);
    snprintf(h2, sizeof h2, "\n## %s (project memory: instructions for this codebase)\n\nagents a\n", p2);
    const char *a = strstr(r, h1), *c = strstr(r, h2);
    assert_non_null(a);
    assert_non_null(c);
    assert_true(a < c);
    assert_null(strstr(r, "[brock:"));
    free(p1);
    free(p2);
    buf_free(&b);
    memory_set_free(set);

    /* an import names its importer; the user kind is said */
    set = collect("root/a/b", 0, 0, false);
    assert_int_equal(memory_render(set, &b), BROCK_OK);
    char *imp = tp("root/a/b/docs/style.md"), *by = tp("root/a/b/CLAUDE.md");
    char h[8192];
    snprintf(h, sizeof h, "\n## %s (imported by %s)\n\nstyle\n", imp, by);
    assert_non_null(strstr(buf_cstr(&b), h));
    assert_non_null(strstr(buf_cstr(&b), "(user memory: the user's own instructions for every project)\n\nuser brock\n"));
    free(imp);
    free(by);
    buf_free(&b);

    /* a full buffer is reported */
    struct buf small = BUF_INIT(100);
    assert_int_equal(memory_render(set, &small), BROCK_ERR_TOO_LARGE);
    buf_free(&small);
    memory_set_free(set);

    /* nothing for an empty set */
    struct memory_set empty = {0};
    assert_int_equal(memory_render(&empty, &b), BROCK_OK);
    assert_int_equal(b.len, 0);
    assert_int_equal(memory_render(NULL, &b), BROCK_OK);
    buf_free(&b);
}

static void test_import_depth_and_cycles(void **state)
{
    (void)state;
    put("deep/CLAUDE.md", "@i1.md\n");
    char name[64], body[64];
    for (int i = 1; i <= 7; i++) {
        snprintf(name, sizeof name, "deep/i%d.md", i);
        snprintf(body, sizeof body, "level %d\n@i%d.md\n", i, i + 1);
        put(name, body);
    }
    struct memory_set *set = collect("deep", 0, 0, true);
    char *l = listing(set);
    assert_string_equal(l, "P:deep/CLAUDE.md I:deep/i1.md I:deep/i2.md I:deep/i3.md I:deep/i4.md I:deep/i5.md");
    free(l);
    assert_int_equal(set->files[set->nfiles - 1].depth, MEMORY_MAX_IMPORT_DEPTH);
    memory_set_free(set);

    put("cyc/CLAUDE.md", "@x.md\n");
    put("cyc/x.md", "x @y.md\n");
    put("cyc/y.md", "y @x.md @CLAUDE.md @./x.md\n");
    set = collect("cyc", 0, 0, true);
    l = listing(set);
    assert_string_equal(l, "P:cyc/CLAUDE.md I:cyc/x.md I:cyc/y.md");
    free(l);
    memory_set_free(set);
}

static void test_import_checks(void **state)
{
    (void)state;
    put("outside.md", "outside\n");
    put("sec/CLAUDE.md", "@~/.ssh/id_rsa\n@/etc/passwd\n@missing.md\n@../outside.md\n@sub\n@.env\n");
    put("sec/.env", "TOKEN=x\n");
    char *d = tp("sec/sub");
    assert_int_equal(fs_mkdirs(d, 0755, NULL), BROCK_OK);
    free(d);
    struct memory_set *set = collect("sec", 0, 0, true);
    char *l = listing(set);
    assert_string_equal(l, "P:sec/CLAUDE.md");
    free(l);
    assert_true(has_note(set, "import @~/.ssh/id_rsa is a protected secret location; skipped"));
    assert_true(has_note(set, "import @/etc/passwd is outside the project"));
    assert_true(has_note(set, "import @missing.md not found; skipped"));
    assert_true(has_note(set, "import @../outside.md is outside the project"));
    assert_true(has_note(set, "import @sub not found"));
    assert_true(has_note(set, "import @.env is a protected secret location"));
    /* every note names the importing file */
    char *imp = tp("sec/CLAUDE.md");
    for (size_t i = 0; i < set->nnotes; i++)
        assert_int_equal(strncmp(set->notes[i], imp, strlen(imp)), 0);
    free(imp);
    struct buf b = BUF_INIT(1 << 20);
    assert_int_equal(memory_render(set, &b), BROCK_OK);
    assert_null(strstr(buf_cstr(&b), "PRIVATE KEY"));
    assert_null(strstr(buf_cstr(&b), "TOKEN=x"));
    buf_free(&b);
    memory_set_free(set);

    /* user memory may import from anywhere in home (not secrets) */
    put("home/notes/style.md", "home notes\n");
    put("xdg/brock/BROCK.md", "user brock @~/notes/style.md @~/.ssh/id_rsa\n");
    set = collect("sec", 0, 0, false);
    l = listing(set);
    assert_non_null(strstr(l, "U:xdg/brock/BROCK.md I:home/notes/style.md"));
    free(l);
    assert_true(has_note(set, "@~/.ssh/id_rsa is a protected secret location"));
    memory_set_free(set);
    put("xdg/brock/BROCK.md", "user brock\n");
}

static void test_caps(void **state)
{
    (void)state;
    /* per file: 10 lines of 30 bytes, cap 100 -> cut after line 3 (90 bytes) */
    char big[400] = "";
    for (int i = 0; i < 10; i++)
        snprintf(big + strlen(big), sizeof big - strlen(big), "line %02d 456789012345678901234\n", i);
    assert_int_equal(strlen(big), 300);
    put("caps/CLAUDE.md", big);
    struct memory_set *set = collect("caps", 100, 0, true);
    char *p = tp("caps/CLAUDE.md");
    const struct memory_file *f = NULL;
    for (size_t i = 0; i < set->nfiles; i++)
        if (!strcmp(set->files[i].path, p))
            f = &set->files[i];
    assert_non_null(f);
    assert_int_equal(f->size, 300);
    assert_int_equal(f->used, 90);
    assert_false(f->cut_total);
    assert_int_equal(memcmp(f->text, big, 90), 0);
    char note[4096];
    snprintf(note, sizeof note, "%s: cut to 90 of 300 bytes (per-file limit 100)", p);
    assert_true(has_note(set, note));
    struct buf b = BUF_INIT(1 << 20);
    assert_int_equal(memory_render(set, &b), BROCK_OK);
    assert_non_null(strstr(buf_cstr(&b), "[brock: 90 of 300 bytes of this file shown; the rest was cut by the "
                                         "per-file limit of 100 bytes]"));
    assert_null(strstr(buf_cstr(&b), "line 03"));
    buf_free(&b);
    memory_set_free(set);
    free(p);

    /* in total: the file nearest the working directory keeps all of it */
    put("caps2/CLAUDE.md", "p1 456789\np2 456789\np3 456789\np4 456789\np5 456789\n");
    put("caps2/sub/CLAUDE.md", "s1 456789\ns2 456789\ns3 456789\ns4 456789\ns5 456789\n");
    set = collect("caps2/sub", 0, 80, true);
    const struct memory_file *parent = NULL, *child = NULL;
    for (size_t i = 0; i < set->nfiles; i++) {
        if (strstr(set->files[i].path, "caps2/CLAUDE.md"))
            parent = &set->files[i];
        if (strstr(set->files[i].path, "caps2/sub/CLAUDE.md"))
            child = &set->files[i];
    }
    assert_non_null(parent);
    assert_non_null(child);
    assert_int_equal(child->used, 50);
    assert_int_equal(parent->used, 30);
    assert_true(parent->cut_total);
    assert_string_equal(parent->text, "p1 456789\np2 456789\np3 456789\n");
    assert_true(has_note(set, "cut to 30 of 50 bytes (total memory limit 80)"));
    assert_int_equal(memory_render(set, &b), BROCK_OK);
    assert_non_null(strstr(buf_cstr(&b), "cut by the total memory limit of 80 bytes"));
    buf_free(&b);
    memory_set_free(set);

    /* a budget of nothing leaves an empty entry that says so */
    set = collect("caps2/sub", 0, 50, true);
    for (size_t i = 0; i < set->nfiles; i++)
        if (strstr(set->files[i].path, "caps2/CLAUDE.md"))
            assert_int_equal(set->files[i].used, 0);
    memory_set_free(set);
}

static void test_utf8_and_odd_files(void **state)
{
    (void)state;
    /* a cut never splits a character */
    put("utf/CLAUDE.md", "aaaaaaaaa\xc3\xa9zzzz");
    struct memory_set *set = collect("utf", 10, 0, true);
    char *p = tp("utf/CLAUDE.md");
    for (size_t i = 0; i < set->nfiles; i++)
        if (!strcmp(set->files[i].path, p)) {
            assert_int_equal(set->files[i].used, 9);
            assert_string_equal(set->files[i].text, "aaaaaaaaa");
        }
    memory_set_free(set);
    /* invalid UTF-8 and NUL bytes become '?' */
    char bad[] = "ok\xff\0end \xc3\x28 \xe2\x82\xac \xf0\x9f\x98\x80 \xed\xa0\x80\n";
    char *f = tp("utf/CLAUDE.md");
    FILE *fp = fopen(f, "wb");
    fwrite(bad, 1, sizeof bad - 1, fp);
    fclose(fp);
    free(f);
    set = collect("utf", 0, 0, true);
    for (size_t i = 0; i < set->nfiles; i++)
        if (!strcmp(set->files[i].path, p))
            assert_string_equal(set->files[i].text, "ok??end ?( \xe2\x82\xac \xf0\x9f\x98\x80 ???\n");
    memory_set_free(set);
    free(p);

    /* a FIFO is skipped without blocking; a directory named CLAUDE.md too */
    char *dir = tp("odd/sub");
    assert_int_equal(fs_mkdirs(dir, 0755, NULL), BROCK_OK);
    free(dir);
    char *fifo = tp("odd/CLAUDE.md");
    assert_int_equal(mkfifo(fifo, 0600), 0);
    char *d2 = tp("odd/sub/CLAUDE.md");
    assert_int_equal(fs_mkdirs(d2, 0755, NULL), BROCK_OK);
    set = collect("odd/sub", 0, 0, true);
    char *l = listing(set);
    assert_string_equal(l, "");
    free(l);
    char note[4096];
    snprintf(note, sizeof note, "%s: not a regular file; skipped", fifo);
    assert_true(has_note(set, note));
    memory_set_free(set);
    free(fifo);
    free(d2);

    /* bad working directories */
    struct memory_opts o = {.cwd = "relative"};
    struct brock_err e = {0};
    assert_int_equal(memory_collect(&o, &set, &e), BROCK_ERR_USAGE);
    assert_null(set);
}

int main(void)
{
    test_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_discovery_order),
        cmocka_unit_test(test_render),
        cmocka_unit_test(test_import_depth_and_cycles),
        cmocka_unit_test(test_import_checks),
        cmocka_unit_test(test_caps),
        cmocka_unit_test(test_utf8_and_odd_files),
    };
    return cmocka_run_group_tests_name("memory", tests, setup, NULL);
}
