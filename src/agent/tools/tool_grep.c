/* tool_grep.c - Grep: search file contents with a PCRE2 regular expression,
 * printing results the way ripgrep does.
 *
 * Each file is read whole into one reused buffer and searched with one
 * pcre2_match() per matching line, not per line: the pattern runs over the
 * buffer (PCRE2_MULTILINE, newline convention ANYCRLF) and a match is mapped
 * to its line. Without `multiline`, a match that runs past the end of its
 * line is retried on that line alone, so results are per line as in
 * ripgrep; with it, `.` matches newlines and a match covers every line it
 * spans. UTF-8 mode with PCRE2_MATCH_INVALID_UTF: files need not be valid
 * UTF-8; printed lines are made valid. JIT when available, with a match limit
 * per call so a pathological pattern costs bounded time per file.
 *
 * Files with a NUL byte are binary and skipped (ripgrep's default); files over
 * grep_max_file are skipped and named in a note. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "../../util/alloc.h"
#include "tool_int.h"

#define GREP_MATCH_LIMIT 5000000u
#define GREP_HEAP_LIMIT_KIB 65536u
#define GREP_MAX_NAMED 5 /* skipped files named in a note */

const char tool_grep_desc[] =
    "Searches file contents with a regular expression (PCRE2 syntax, like ripgrep's).\n"
    "\n"
    "Usage:\n"
    "- Always use Grep for content searches; do not run grep or rg through Bash.\n"
    "- pattern is a regular expression: \"log.*Error\", \"function\\\\s+\\\\w+\". Literal "
    "braces and other metacharacters need escaping (\"interface\\\\{\\\\}\").\n"
    "- path: the absolute file or directory to search (default: the working directory).\n"
    "- Filter files with glob (\"*.js\", \"*.{ts,tsx}\", \"!*.min.js\"; several separated by "
    "spaces) or type (js, ts, py, c, cpp, go, rust, java, ... : cheaper than glob for "
    "standard file types).\n"
    "- output_mode: \"files_with_matches\" (default) lists files, newest first; \"content\" "
    "shows matching lines as path:line:text (-n adds line numbers, on by default; -A, -B, -C "
    "add context lines); \"count\" gives matching lines per file.\n"
    "- -i: case-insensitive. multiline: true lets `.` match newlines and patterns span "
    "lines.\n"
    "- head_limit: only the first N lines or entries of the output.\n"
    "- .gitignore rules apply; .git and binary files are skipped; output is capped.";

const char tool_grep_schema[] =
    "{\"type\":\"object\",\"properties\":{"
    "\"pattern\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":4096,"
    "\"description\":\"The regular expression to search for\"},"
    "\"path\":{\"type\":\"string\",\"maxLength\":4096,\"description\":\"File or directory to "
    "search in (absolute). Defaults to the working directory\"},"
    "\"glob\":{\"type\":\"string\",\"maxLength\":4096,\"description\":\"Glob to filter files, "
    "e.g. \\\"*.js\\\" or \\\"*.{ts,tsx}\\\"\"},"
    "\"type\":{\"type\":\"string\",\"maxLength\":64,\"description\":\"File type to search, "
    "e.g. js, py, rust, go, java, c\"},"
    "\"output_mode\":{\"type\":\"string\",\"enum\":[\"content\",\"files_with_matches\","
    "\"count\"],\"description\":\"content: matching lines; files_with_matches: file paths "
    "(default); count: matching lines per file\"},"
    "\"-i\":{\"type\":\"boolean\",\"description\":\"Case-insensitive search\"},"
    "\"-n\":{\"type\":\"boolean\",\"description\":\"Show line numbers (content mode; default "
    "true)\"},"
    "\"-A\":{\"type\":\"integer\",\"minimum\":0,\"description\":\"Lines to show after each "
    "match (content mode)\"},"
    "\"-B\":{\"type\":\"integer\",\"minimum\":0,\"description\":\"Lines to show before each "
    "match (content mode)\"},"
    "\"-C\":{\"type\":\"integer\",\"minimum\":0,\"description\":\"Lines to show before and "
    "after each match (content mode)\"},"
    "\"multiline\":{\"type\":\"boolean\",\"description\":\"Let . match newlines and patterns "
    "span lines (default false)\"},"
    "\"head_limit\":{\"type\":\"integer\",\"minimum\":0,\"description\":\"Only the first N "
    "lines/entries of the output (0 = all)\"}},"
    "\"required\":[\"pattern\"],\"additionalProperties\":false}";

/* File types: ripgrep's common names (and a few aliases) -> name globs. */
static const struct {
    const char *name;
    const char *globs;
} types[] = {
    {"asm", "*.asm *.s *.S"},
    {"c", "*.c *.h"},
    {"clojure", "*.clj *.cljs *.cljc *.edn"},
    {"cmake", "CMakeLists.txt *.cmake"},
    {"cpp", "*.cpp *.cc *.cxx *.c++ *.hpp *.hh *.hxx *.h++ *.h *.inl"},
    {"cs", "*.cs *.csx"},
    {"csharp", "*.cs *.csx"},
    {"css", "*.css *.scss *.sass *.less"},
    {"dart", "*.dart"},
    {"docker", "Dockerfile Dockerfile.* *.dockerfile"},
    {"elixir", "*.ex *.exs"},
    {"erlang", "*.erl *.hrl"},
    {"go", "*.go"},
    {"gradle", "*.gradle *.gradle.kts"},
    {"graphql", "*.graphql *.gql"},
    {"haskell", "*.hs *.lhs"},
    {"html", "*.html *.htm *.xhtml"},
    {"java", "*.java"},
    {"javascript", "*.js *.jsx *.mjs *.cjs"},
    {"js", "*.js *.jsx *.mjs *.cjs"},
    {"json", "*.json *.jsonl *.json5"},
    {"jsx", "*.jsx"},
    {"kotlin", "*.kt *.kts"},
    {"lua", "*.lua"},
    {"make", "Makefile makefile GNUmakefile *.mk *.mak"},
    {"markdown", "*.md *.markdown *.mdx"},
    {"md", "*.md *.markdown *.mdx"},
    {"nix", "*.nix"},
    {"objc", "*.m *.h"},
    {"ocaml", "*.ml *.mli"},
    {"perl", "*.pl *.pm *.t"},
    {"php", "*.php *.phtml"},
    {"proto", "*.proto"},
    {"py", "*.py *.pyi *.pyw"},
    {"python", "*.py *.pyi *.pyw"},
    {"r", "*.R *.r *.Rmd"},
    {"ruby", "*.rb *.rake *.gemspec Gemfile Rakefile"},
    {"rust", "*.rs"},
    {"scala", "*.scala *.sc"},
    {"sh", "*.sh *.bash *.zsh *.ksh .bashrc .zshrc .profile"},
    {"sql", "*.sql"},
    {"svelte", "*.svelte"},
    {"swift", "*.swift"},
    {"tf", "*.tf *.tfvars"},
    {"toml", "*.toml"},
    {"ts", "*.ts *.tsx *.mts *.cts"},
    {"tsx", "*.tsx"},
    {"txt", "*.txt"},
    {"typescript", "*.ts *.tsx *.mts *.cts"},
    {"vue", "*.vue"},
    {"xml", "*.xml *.xsd *.xsl *.svg"},
    {"yaml", "*.yaml *.yml"},
    {"zig", "*.zig"},
};

struct filt {
    char *pat;
    bool anchored; /* has a '/': matched against the relative path */
};

struct fhit {
    char *path;
    struct timespec mtime;
};

enum mode { MODE_FILES, MODE_CONTENT, MODE_COUNT };

struct grep {
    struct tool_ctx *ctx;
    struct buf *text;
    pcre2_code *re;
    pcre2_match_data *md;
    pcre2_match_context *mc;
    pcre2_jit_stack *js;
    enum mode mode;
    bool multiline, numbers, single;
    size_t before, after, head_limit;
    struct filt *inc, *exc;
    size_t ninc, nexc;
    const char *type_globs;
    struct buf data;
    /* results */
    size_t files, lines, out_lines;
    bool stop, out_full, limited, printed_any;
    struct fhit *hits;
    size_t nhits, caphits;
    char *large[GREP_MAX_NAMED];
    size_t nlarge;
    char *costly[GREP_MAX_NAMED];
    size_t ncostly;
};

/* Per file: where the line cursor is and what was printed. */
struct fstate {
    const char *path; /* NULL when the path is not printed (single file) */
    const char *d;
    size_t n;
    size_t cur_off, cur_line; /* start offset of line cur_line */
    size_t last_line;         /* last printed line (0: none) */
    size_t last_end;          /* offset after it */
    size_t after_left;
    size_t count;
};

static bool type_match(const char *globs, const char *name, size_t nn)
{
    const char *p = globs;
    while (*p) {
        const char *e = strchr(p, ' ');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (tool_wild_seg(p, l, name, nn))
            return true;
        p += l;
        while (*p == ' ')
            p++;
    }
    return false;
}

static bool filt_match(const struct filt *f, const char *rel, size_t rl, const char *name,
                       size_t nn)
{
    return f->anchored ? tool_wild_path(f->pat, strlen(f->pat), rel, rl, false)
                       : tool_wild_seg(f->pat, strlen(f->pat), name, nn);
}

/* --- Output ------------------------------------------------------------ */

/* One output line; false when the output is full or head_limit reached. */
static bool room(struct grep *g)
{
    if (g->stop)
        return false;
    if (g->head_limit && g->out_lines >= g->head_limit) {
        g->limited = g->stop = true;
        return false;
    }
    if (g->text->len >= g->ctx->lim.grep_max_output) {
        g->out_full = g->stop = true;
        return false;
    }
    return true;
}

static void put_line(struct grep *g, struct fstate *fs, size_t lineno, char sep, size_t off)
{
    if (!room(g))
        return;
    const char *d = fs->d;
    const char *nl = memchr(d + off, '\n', fs->n - off);
    size_t e = nl ? (size_t)(nl - d) : fs->n;
    size_t l = e - off;
    if (l && d[off + l - 1] == '\r')
        l--;
    struct buf *t = g->text;
    if (fs->path) {
        tool_utf8_add(t, fs->path, strlen(fs->path));
        buf_addc(t, sep);
    }
    if (g->numbers)
        buf_addf(t, "%zu%c", lineno, sep);
    size_t b = 0, chars = 0, maxc = g->ctx->lim.grep_max_columns;
    while (b < l && chars < maxc) {
        b++;
        while (b < l && ((unsigned char)d[off + b] & 0xC0) == 0x80)
            b++;
        chars++;
    }
    tool_utf8_add(t, d + off, b);
    if (b < l)
        buf_addf(t, " [... %zu more bytes]", l - b);
    buf_addc(t, '\n');
    g->out_lines++;
    g->printed_any = true;
}

static void put_sep(struct grep *g)
{
    if (!room(g))
        return;
    buf_addstr(g->text, "--\n");
    g->out_lines++;
}

/* Move the cursor to the line holding offset x (x >= cursor). */
static void seek_line(struct fstate *fs, size_t x)
{
    const char *d = fs->d;
    while (fs->cur_off < x) {
        const char *nl = memchr(d + fs->cur_off, '\n', x - fs->cur_off);
        if (!nl)
            break;
        fs->cur_off = (size_t)(nl - d) + 1;
        fs->cur_line++;
    }
}

static size_t line_end(const struct fstate *fs, size_t off)
{
    const char *nl = memchr(fs->d + off, '\n', fs->n - off);
    return nl ? (size_t)(nl - fs->d) : fs->n;
}

/* After-context lines up to (not including) line `upto`. */
static void flush_after(struct grep *g, struct fstate *fs, size_t upto)
{
    while (fs->after_left && fs->last_line + 1 < upto && fs->last_end < fs->n && !g->stop) {
        put_line(g, fs, fs->last_line + 1, '-', fs->last_end);
        fs->last_line++;
        fs->last_end = line_end(fs, fs->last_end) + 1;
        fs->after_left--;
    }
}

/* Print lines [first, last] as matches, starting at offset off (line first). */
static void emit(struct grep *g, struct fstate *fs, size_t first, size_t off, size_t last)
{
    flush_after(g, fs, first);
    size_t want = first > g->before ? first - g->before : 1;
    if (want <= fs->last_line)
        want = fs->last_line + 1;
    size_t o = off;
    for (size_t l = first; l > want && o > 0; l--) {
        /* the start of the line before the one at o */
        const char *prev = o >= 2 ? memrchr(fs->d, '\n', o - 1) : NULL;
        o = prev ? (size_t)(prev - fs->d) + 1 : 0;
    }
    if (first <= fs->last_line) {
        /* a multiline match starting on a line already shown */
        while (first <= fs->last_line && first <= last) {
            off = line_end(fs, off) + 1;
            first++;
        }
        if (first > last)
            return;
        o = off;
        want = first;
    }
    bool context = g->before || g->after;
    if (context && g->printed_any && (fs->last_line == 0 || want > fs->last_line + 1))
        put_sep(g);
    size_t l = want;
    for (; l < first; l++) {
        put_line(g, fs, l, '-', o);
        o = line_end(fs, o) + 1;
    }
    for (; l <= last && o <= fs->n; l++) {
        put_line(g, fs, l, ':', o);
        o = line_end(fs, o) + 1;
    }
    fs->last_line = last;
    fs->last_end = o;
    fs->after_left = g->after;
}

/* --- Searching --------------------------------------------------------- */

static void note_name(char **list, size_t *n, const char *path)
{
    if (*n < GREP_MAX_NAMED)
        list[*n] = xstrdup(path);
    (*n)++;
}

static bool load(struct grep *g, const char *abs, struct stat *st)
{
    int fd = open(abs, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return false;
    bool ok = false;
    if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode))
        goto out;
    if ((uint64_t)st->st_size > g->ctx->lim.grep_max_file) {
        note_name(g->large, &g->nlarge, abs);
        goto out;
    }
    buf_reset(&g->data);
    char chunk[65536];
    for (;;) {
        ssize_t r = read(fd, chunk, sizeof chunk);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            goto out;
        if (r == 0)
            break;
        if (buf_add(&g->data, chunk, (size_t)r) != BROCK_OK) {
            g->data.overflow = false;
            note_name(g->large, &g->nlarge, abs); /* it grew while we read */
            goto out;
        }
    }
    ok = !memchr(buf_cstr(&g->data), '\0', g->data.len);
out:
    close(fd);
    return ok;
}

static void search_file(struct grep *g, const char *abs)
{
    struct stat st;
    if (!load(g, abs, &st))
        return;
    struct fstate fs = {.path = g->single ? NULL : abs, .d = buf_cstr(&g->data), .n = g->data.len,
                        .cur_line = 1};
    const char *d = fs.d;
    size_t n = fs.n, off = 0;
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(g->md);
    while (off <= n && !g->stop) {
        int rc = pcre2_match(g->re, (PCRE2_SPTR)d, n, off, 0, g->md, g->mc);
        if (rc == PCRE2_ERROR_NOMATCH)
            break;
        if (rc < 0) {
            note_name(g->costly, &g->ncostly, abs);
            break;
        }
        size_t ms = ov[0], me = ov[1];
        if (ms > n || me > n || me < ms)
            break;
        if (ms == n && n && d[n - 1] == '\n')
            break; /* the empty "line" after the final newline */
        seek_line(&fs, ms);
        size_t first = fs.cur_line, ls = fs.cur_off, le = line_end(&fs, ms), last = first, next;
        if (!g->multiline) {
            if (me > le) {
                int rc2 = pcre2_match(g->re, (PCRE2_SPTR)d, le, ls, 0, g->md, g->mc);
                if (rc2 < 0) {
                    off = le + 1;
                    continue;
                }
            }
            next = le + 1;
        } else {
            size_t endp = me > ms ? me - 1 : ms;
            if (endp >= n)
                endp = n ? n - 1 : 0;
            for (const char *q = d + ms; q < d + endp; q++) {
                q = memchr(q, '\n', (size_t)(d + endp - q));
                if (!q)
                    break;
                last++;
            }
            if (me > ms) {
                next = me;
            } else {
                uint32_t cp;
                next = ms < n ? ms + tool_utf8_dec(d + ms, n - ms, &cp) : n + 1;
            }
        }
        /* lines this match adds (a multiline match may share lines with the last) */
        size_t from = first > fs.last_line ? first : fs.last_line + 1;
        size_t newl = last >= from ? last - from + 1 : 0;
        if (fs.count == 0 && newl)
            g->files++;
        fs.count += newl;
        g->lines += newl;
        if (g->mode == MODE_FILES)
            break;
        if (g->mode == MODE_CONTENT) {
            emit(g, &fs, first, ls, last);
        } else {
            fs.last_line = last;
        }
        off = next;
    }
    if (g->mode == MODE_CONTENT && fs.count)
        flush_after(g, &fs, SIZE_MAX);
    if (!fs.count)
        return;
    if (g->mode == MODE_FILES) {
        if (g->nhits == g->caphits) {
            g->caphits = g->caphits ? g->caphits * 2 : 64;
            g->hits = xrealloc(g->hits, g->caphits * sizeof *g->hits);
        }
        g->hits[g->nhits++] = (struct fhit){xstrdup(abs), st.st_mtim};
    } else if (g->mode == MODE_COUNT && room(g)) {
        if (fs.path) {
            tool_utf8_add(g->text, abs, strlen(abs));
            buf_addc(g->text, ':');
        }
        buf_addf(g->text, "%zu\n", fs.count);
        g->out_lines++;
    }
}

static enum tool_walk_verdict visit(void *ud, const char *abs, const char *rel, size_t rl,
                                    enum tool_walk_kind kind, int depth)
{
    (void)depth;
    struct grep *g = ud;
    if (g->stop)
        return TOOL_WALK_STOP;
    const char *slash = memrchr(rel, '/', rl);
    const char *name = slash ? slash + 1 : rel;
    size_t nn = rl - (size_t)(name - rel);
    if (kind == TOOL_WALK_DIR) {
        for (size_t i = 0; i < g->nexc; i++)
            if (filt_match(&g->exc[i], rel, rl, name, nn))
                return TOOL_WALK_SKIP;
        return TOOL_WALK_CONTINUE;
    }
    if (kind != TOOL_WALK_FILE)
        return TOOL_WALK_CONTINUE;
    if (g->type_globs && !type_match(g->type_globs, name, nn))
        return TOOL_WALK_CONTINUE;
    if (g->ninc) {
        bool any = false;
        for (size_t i = 0; i < g->ninc && !any; i++)
            any = filt_match(&g->inc[i], rel, rl, name, nn);
        if (!any)
            return TOOL_WALK_CONTINUE;
    }
    for (size_t i = 0; i < g->nexc; i++)
        if (filt_match(&g->exc[i], rel, rl, name, nn))
            return TOOL_WALK_CONTINUE;
    search_file(g, abs);
    return g->stop ? TOOL_WALK_STOP : TOOL_WALK_CONTINUE;
}

/* Split `glob` on blanks outside braces into include / exclude filters. */
static enum brock_status parse_globs(struct grep *g, const char *s, struct brock_err *e)
{
    size_t i = 0, n = strlen(s);
    while (i < n) {
        while (i < n && (s[i] == ' ' || s[i] == '\t'))
            i++;
        if (i == n)
            break;
        size_t b = i;
        int depth = 0;
        while (i < n && (depth > 0 || (s[i] != ' ' && s[i] != '\t'))) {
            if (s[i] == '\\' && i + 1 < n)
                i++;
            else if (s[i] == '{')
                depth++;
            else if (s[i] == '}' && depth > 0)
                depth--;
            i++;
        }
        bool neg = s[b] == '!';
        if (neg)
            b++;
        char **alts = NULL;
        size_t na = 0;
        if (tool_brace_expand(s + b, i - b, &alts, &na, e) != BROCK_OK) {
            tool_strv_free(alts, na);
            return BROCK_ERR_USAGE;
        }
        for (size_t k = 0; k < na; k++) {
            struct filt **list = neg ? &g->exc : &g->inc;
            size_t *cnt = neg ? &g->nexc : &g->ninc;
            if (*cnt >= 4 * TOOL_BRACE_MAX) {
                tool_strv_free(alts, na);
                return err_set(e, BROCK_ERR_USAGE, "too many glob filters");
            }
            *list = xrealloc(*list, (*cnt + 1) * sizeof **list);
            char *p = alts[k];
            bool anchored = strchr(p, '/') != NULL;
            if (p[0] == '/')
                memmove(p, p + 1, strlen(p));
            (*list)[(*cnt)++] = (struct filt){p, anchored};
            alts[k] = NULL;
        }
        tool_strv_free(alts, na);
    }
    return BROCK_OK;
}

static int cmp_fhit(const void *a, const void *b)
{
    const struct fhit *x = a, *y = b;
    if (x->mtime.tv_sec != y->mtime.tv_sec)
        return x->mtime.tv_sec > y->mtime.tv_sec ? -1 : 1;
    if (x->mtime.tv_nsec != y->mtime.tv_nsec)
        return x->mtime.tv_nsec > y->mtime.tv_nsec ? -1 : 1;
    return strcmp(x->path, y->path);
}

char *tool_grep_subject(const struct tool_ctx *ctx, const json_t *input)
{
    return tool_subject_dir_path(ctx, input);
}

void tool_grep_summary(const struct tool_ctx *ctx, const json_t *input, struct buf *out)
{
    size_t n;
    const char *pat = tool_arg_str(input, "pattern", &n);
    buf_addstr(out, "Grep \"");
    tool_add_short(out, pat ? pat : "", pat ? n : 0, 60);
    buf_addc(out, '"');
    if (tool_arg_has(input, "path")) {
        char *p = tool_subject_dir_path(ctx, input);
        buf_addf(out, " in %s", tool_path_show(ctx, p));
        free(p);
    }
}

static void add_names(struct buf *t, const char *what, char **list, size_t n)
{
    buf_addf(t, "(%s %zu file%s:", what, n, n == 1 ? "" : "s");
    for (size_t i = 0; i < n && i < GREP_MAX_NAMED; i++)
        buf_addf(t, "%s %s", i ? "," : "", list[i]);
    buf_addf(t, "%s)\n", n > GREP_MAX_NAMED ? ", ..." : "");
}

enum brock_status tool_grep_run(struct tool_ctx *ctx, const json_t *input, struct tool_result *out)
{
    size_t patlen, plen = 0;
    const char *pat = tool_arg_str(input, "pattern", &patlen);
    const char *path = tool_arg_str(input, "path", &plen);
    const char *glob = tool_arg_str(input, "glob", NULL);
    const char *type = tool_arg_str(input, "type", NULL);
    const char *mode = tool_arg_str(input, "output_mode", NULL);
    if (!pat || !patlen)
        return tool_fail(out, "Grep: `pattern` is required");
    if (path && plen && !tool_check_path(ctx, "Grep", "path", path, plen, out))
        return BROCK_OK;
    struct grep g = {.ctx = ctx, .text = &out->text};
    buf_init(&g.data, ctx->lim.grep_max_file);
    g.mode = !mode || !strcmp(mode, "files_with_matches") ? MODE_FILES
             : !strcmp(mode, "content")                   ? MODE_CONTENT
                                                          : MODE_COUNT;
    g.multiline = tool_arg_bool(input, "multiline", false);
    g.numbers = tool_arg_bool(input, "-n", true);
    int64_t c = tool_arg_int(input, "-C", 0);
    g.before = (size_t)tool_arg_int(input, "-B", c);
    g.after = (size_t)tool_arg_int(input, "-A", c);
    g.head_limit = (size_t)tool_arg_int(input, "head_limit", 0);
    char *root = tool_subject_dir_path(ctx, input);
    struct brock_err e;
    pcre2_compile_context *cc = NULL;
    struct stat st;
    if (type) {
        for (size_t i = 0; i < BROCK_ARRAY_LEN(types) && !g.type_globs; i++)
            if (!strcmp(types[i].name, type))
                g.type_globs = types[i].globs;
        if (!g.type_globs) {
            struct buf names = BUF_INIT(4096);
            for (size_t i = 0; i < BROCK_ARRAY_LEN(types); i++)
                buf_addf(&names, "%s%s", i ? ", " : "", types[i].name);
            tool_fail(out, "Grep: unknown type \"%s\". Known types: %s. Or use glob.", type,
                      buf_cstr(&names));
            buf_free(&names);
            goto done;
        }
    }
    if (glob && parse_globs(&g, glob, &e) != BROCK_OK) {
        tool_fail(out, "Grep: bad glob: %s", e.msg);
        goto done;
    }
    if (stat(root, &st) != 0) {
        tool_fail(out, "Path does not exist: %s", root);
        goto done;
    }
    cc = pcre2_compile_context_create(NULL);
    pcre2_set_newline(cc, PCRE2_NEWLINE_ANYCRLF);
    uint32_t opts = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_MULTILINE;
    if (tool_arg_bool(input, "-i", false))
        opts |= PCRE2_CASELESS;
    if (g.multiline)
        opts |= PCRE2_DOTALL;
    int errcode;
    PCRE2_SIZE erroff;
    g.re = pcre2_compile((PCRE2_SPTR)pat, patlen, opts, &errcode, &erroff, cc);
    if (!g.re) {
        PCRE2_UCHAR msg[256];
        if (pcre2_get_error_message(errcode, msg, sizeof msg) < 0)
            strcpy((char *)msg, "unknown error");
        tool_fail(out, "Grep: invalid regular expression at offset %zu: %s", (size_t)erroff,
                  (const char *)msg);
        goto done;
    }
    pcre2_jit_compile(g.re, PCRE2_JIT_COMPLETE); /* the interpreter if it fails */
    g.md = pcre2_match_data_create_from_pattern(g.re, NULL);
    g.mc = pcre2_match_context_create(NULL);
    pcre2_set_match_limit(g.mc, GREP_MATCH_LIMIT);
    pcre2_set_heap_limit(g.mc, GREP_HEAP_LIMIT_KIB);
    g.js = pcre2_jit_stack_create(32 * 1024, 1024 * 1024, NULL);
    if (g.js)
        pcre2_jit_stack_assign(g.mc, NULL, g.js);
    if (!g.md || !g.mc) {
        tool_fail(out, "Grep: out of memory");
        goto done;
    }
    bool walk_truncated = false;
    if (S_ISDIR(st.st_mode)) {
        struct tool_walk w = {
            .root = root,
            .gitignore = true,
            .max_entries = ctx->lim.walk_max_entries,
            .cancel = ctx->cancel,
            .visit = visit,
            .ud = &g,
        };
        if (tool_walk_run(&w, &e) != BROCK_OK) {
            tool_fail(out, "Grep: %s", e.msg);
            goto done;
        }
        if (w.cancelled) {
            out->interrupted = true;
            tool_fail(out, "Grep was interrupted by the user.");
            goto done;
        }
        walk_truncated = w.truncated;
    } else {
        g.single = true;
        search_file(&g, root);
    }
    /* the result text */
    if (g.mode == MODE_FILES) {
        if (!g.nhits) {
            buf_addstr(&out->text, "No files found\n");
        } else {
            qsort(g.hits, g.nhits, sizeof *g.hits, cmp_fhit);
            size_t show = g.head_limit && g.head_limit < g.nhits ? g.head_limit : g.nhits;
            buf_addf(&out->text, "Found %zu file%s\n", g.nhits, g.nhits == 1 ? "" : "s");
            for (size_t i = 0; i < show; i++) {
                if (out->text.len >= ctx->lim.grep_max_output) {
                    g.out_full = true;
                    break;
                }
                tool_utf8_add(&out->text, g.hits[i].path, strlen(g.hits[i].path));
                buf_addc(&out->text, '\n');
            }
            if (show < g.nhits)
                g.limited = true;
        }
    } else if (!g.files) {
        buf_addstr(&out->text, "No matches found\n");
    } else if (g.mode == MODE_COUNT && !g.limited && !g.out_full) {
        buf_addf(&out->text, "\nFound %zu matching line%s in %zu file%s.\n", g.lines,
                 g.lines == 1 ? "" : "s", g.files, g.files == 1 ? "" : "s");
    }
    if (g.limited)
        buf_addf(&out->text, "(Stopped at head_limit %zu; there are more results.)\n",
                 g.head_limit);
    if (g.out_full)
        buf_addf(&out->text,
                 "(Output truncated at %zu bytes. Narrow the search with path, glob, type or "
                 "head_limit.)\n",
                 ctx->lim.grep_max_output);
    if (g.nlarge)
        add_names(&out->text, "Skipped (too large to search)", g.large, g.nlarge);
    if (g.ncostly)
        add_names(&out->text, "The pattern was too costly to finish (match limit) in", g.costly,
                  g.ncostly);
    if (walk_truncated)
        buf_addf(&out->text, "(The search stopped after %zu directory entries; use a narrower "
                             "path.)\n", ctx->lim.walk_max_entries);
    if (g.mode == MODE_FILES)
        tool_set_summary(out, "Grep \"%s\" (%zu file%s)", pat, g.nhits, g.nhits == 1 ? "" : "s");
    else
        tool_set_summary(out, "Grep \"%s\" (%zu line%s in %zu file%s)", pat, g.lines,
                         g.lines == 1 ? "" : "s", g.files, g.files == 1 ? "" : "s");
done:
    pcre2_compile_context_free(cc);
    pcre2_code_free(g.re);
    pcre2_match_data_free(g.md);
    pcre2_match_context_free(g.mc);
    pcre2_jit_stack_free(g.js);
    for (size_t i = 0; i < g.ninc; i++)
        free(g.inc[i].pat);
    for (size_t i = 0; i < g.nexc; i++)
        free(g.exc[i].pat);
    free(g.inc);
    free(g.exc);
    for (size_t i = 0; i < g.nhits; i++)
        free(g.hits[i].path);
    free(g.hits);
    for (size_t i = 0; i < g.nlarge && i < GREP_MAX_NAMED; i++)
        free(g.large[i]);
    for (size_t i = 0; i < g.ncostly && i < GREP_MAX_NAMED; i++)
        free(g.costly[i]);
    buf_free(&g.data);
    free(root);
    return BROCK_OK;
}
