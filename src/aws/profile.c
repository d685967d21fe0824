/* profile.c - the AWS shared config and credentials files.
 *
 * One pass per file, line by line, in the manner of the smithy-rs parser the
 * AWS suites come from: a line is blank, a comment ('#' or ';' in column 1),
 * a section header ('[' in column 1), a continuation (' ' or '\t' in column
 * 1) or a property. Section and property names are validated when a property
 * is committed, so lines inside ignored sections are still checked.
 *
 * Storage: every section, property and sub-property is a `struct node` in
 * one tree (three roots, one per section kind), allocated with every string
 * from an arena that is wiped and freed with the set. One open-addressing
 * index keyed by (parent node, name) finds any node in O(1), so hostile
 * files with many sections or keys stay linear. A replaced property gets a
 * new node spliced into the old one's place, so the old sub-properties, still
 * keyed by the old node, simply become unreachable. */
#include "profile.h"

#include <pwd.h>
#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../util/alloc.h"
#include "../util/buf.h"
#include "../util/fs.h"

static inline unsigned char lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + ('a' - 'A')) : c;
}

/* --- Arena ------------------------------------------------------------- */

#define ARENA_CHUNK ((size_t)16 * 1024)

struct chunk {
    struct chunk *next;
    size_t size, used;
    alignas(max_align_t) unsigned char data[];
};

static void *arena_alloc(struct chunk **head, size_t n)
{
    const size_t align = alignof(max_align_t);
    n = (n + align - 1) & ~(align - 1);
    struct chunk *c = *head;
    if (!c || c->size - c->used < n) {
        size_t size = n > ARENA_CHUNK / 4 ? n : ARENA_CHUNK;
        struct chunk *nc = xmalloc(sizeof *nc + size);
        nc->size = size;
        nc->used = 0;
        if (c && size != ARENA_CHUNK) {
            /* A big one-off block: keep filling the current chunk after it. */
            nc->next = c->next;
            c->next = nc;
            nc->used = n;
            return nc->data;
        }
        nc->next = c;
        *head = c = nc;
    }
    void *p = c->data + c->used;
    c->used += n;
    return p;
}

static char *arena_strdup(struct chunk **head, const char *s, size_t n, bool fold)
{
    char *d = arena_alloc(head, n + 1);
    if (fold) {
        for (size_t i = 0; i < n; i++)
            d[i] = (char)lower((unsigned char)s[i]);
    } else if (n) {
        memcpy(d, s, n);
    }
    d[n] = '\0';
    return d;
}

static void arena_free(struct chunk *c)
{
    while (c) {
        struct chunk *next = c->next;
        secure_wipe(c->data, c->used); /* values include secret keys and tokens */
        free(c);
        c = next;
    }
}

/* --- Tree and index ---------------------------------------------------- */

enum node_type { NODE_ROOT, NODE_SECTION, NODE_PROP, NODE_SUB };

struct node {
    struct aws_profile_prop pub; /* first: props and subs are handed out as &node->pub */
    struct aws_profile_set *set; /* owner, for lookups below this node */
    struct node *parent, *first, *last, *prev, *next;
    size_t nchild;
    uint64_t hash;
    size_t nlen;
    unsigned char type; /* enum node_type */
    unsigned char kind; /* enum aws_profile_kind, for sections and roots */
    bool subs;          /* a property whose value was empty on its own line */
};

struct aws_profile_set {
    struct chunk *arena;
    struct node **slots; /* open addressing, linear probing; NULL = empty */
    size_t cap, used;    /* cap is a power of two, used <= cap / 2 */
    struct node roots[AWS_PROFILE_KIND_COUNT];
};

/* struct aws_profile_section is never defined: a section handle is a node
 * pointer in disguise, and a property is a node's first member. */
static const struct aws_profile_section *as_section(const struct node *n)
{
    return (const struct aws_profile_section *)(const void *)n;
}

static const struct node *sec_node(const struct aws_profile_section *s)
{
    return (const struct node *)(const void *)s;
}

static const struct node *prop_node(const struct aws_profile_prop *p)
{
    return (const struct node *)(const void *)p;
}

/* Sections are case-sensitive; property and sub-property names fold ASCII
 * case (they are stored folded, so only the query needs folding). */
static bool folds(const struct node *parent)
{
    return parent->type != NODE_ROOT;
}

static uint64_t key_hash(const struct node *parent, const char *name, size_t n, bool fold)
{
    uint64_t h = 0xcbf29ce484222325ULL ^ ((uint64_t)(uintptr_t)parent * 0x9e3779b97f4a7c15ULL);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        h = (h ^ (fold ? lower(c) : c)) * 0x100000001b3ULL;
    }
    return h ^ (h >> 29);
}

static struct node **index_slot(const struct aws_profile_set *set, const struct node *parent,
                                const char *name, size_t n, uint64_t h)
{
    bool fold = folds(parent);
    size_t mask = set->cap - 1;
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        struct node *x = set->slots[i];
        if (!x)
            return &set->slots[i];
        if (x->hash != h || x->parent != parent || x->nlen != n)
            continue;
        size_t k = 0;
        if (fold) {
            while (k < n && lower((unsigned char)name[k]) == (unsigned char)x->pub.name[k])
                k++;
        } else if (memcmp(name, x->pub.name, n) == 0) {
            k = n;
        }
        if (k == n)
            return &set->slots[i];
    }
}

/* Make room for one more entry (call before index_slot when inserting). */
static void index_reserve(struct aws_profile_set *set)
{
    if ((set->used + 1) * 2 <= set->cap)
        return;
    size_t ncap = set->cap ? set->cap * 2 : 64;
    struct node **old = set->slots;
    size_t ocap = set->cap;
    set->slots = xcalloc(ncap, sizeof *set->slots);
    set->cap = ncap;
    for (size_t i = 0; i < ocap; i++) {
        if (!old[i])
            continue;
        size_t j = (size_t)old[i]->hash & (ncap - 1);
        while (set->slots[j])
            j = (j + 1) & (ncap - 1);
        set->slots[j] = old[i];
    }
    free(old);
}

static const struct node *lookup(const struct aws_profile_set *set, const struct node *parent,
                                 const char *name)
{
    if (!set->cap || !name)
        return NULL;
    size_t n = strlen(name);
    return *index_slot(set, parent, name, n, key_hash(parent, name, n, folds(parent)));
}

static void append_child(struct node *parent, struct node *n)
{
    n->set = parent->set;
    n->parent = parent;
    n->prev = parent->last;
    if (parent->last)
        parent->last->next = n;
    else
        parent->first = n;
    parent->last = n;
    parent->nchild++;
}

/* Put `n` where `old` was in its parent's list. */
static void replace_child(struct node *old, struct node *n)
{
    struct node *parent = old->parent;
    n->set = parent->set;
    n->parent = parent;
    n->prev = old->prev;
    n->next = old->next;
    if (n->prev)
        n->prev->next = n;
    else
        parent->first = n;
    if (n->next)
        n->next->prev = n;
    else
        parent->last = n;
}

/* The node for (parent, name), creating an empty one at the end of the
 * parent's list if there is none. `name` is stored as given. */
static struct node *get_or_add(struct aws_profile_set *set, struct node *parent, const char *name, size_t n,
                               enum node_type type)
{
    index_reserve(set);
    uint64_t h = key_hash(parent, name, n, folds(parent));
    struct node **slot = index_slot(set, parent, name, n, h);
    struct node *found = *slot;
    if (found)
        return found;
    struct node *x = arena_alloc(&set->arena, sizeof *x);
    memset(x, 0, sizeof *x);
    x->pub.name = arena_strdup(&set->arena, name, n, type != NODE_SECTION);
    x->pub.value = "";
    x->hash = h;
    x->nlen = n;
    x->type = (unsigned char)type;
    x->kind = parent->kind;
    append_child(parent, x);
    *slot = x;
    set->used++;
    return x;
}

/* --- Set --------------------------------------------------------------- */

struct aws_profile_set *aws_profile_set_new(void)
{
    struct aws_profile_set *set = xcalloc(1, sizeof *set);
    for (int k = 0; k < AWS_PROFILE_KIND_COUNT; k++) {
        set->roots[k].set = set;
        set->roots[k].type = NODE_ROOT;
        set->roots[k].kind = (unsigned char)k;
        set->roots[k].pub.name = "";
        set->roots[k].pub.value = "";
    }
    return set;
}

void aws_profile_set_free(struct aws_profile_set *set)
{
    if (!set)
        return;
    arena_free(set->arena);
    free(set->slots);
    free(set);
}

/* --- Lexical rules ----------------------------------------------------- */

/* The suites' "whitespace" is exactly space and tab. */
static inline bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* What counts as whitespace before an inline comment and around the parts of
 * a section header (Rust's char::is_whitespace, restricted to ASCII). */
static inline bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

struct span {
    const char *p;
    size_t n;
};

static struct span trim_blank(struct span s)
{
    while (s.n && is_blank(s.p[0])) {
        s.p++;
        s.n--;
    }
    while (s.n && is_blank(s.p[s.n - 1]))
        s.n--;
    return s;
}

static struct span trim_space(struct span s)
{
    while (s.n && is_space(s.p[0])) {
        s.p++;
        s.n--;
    }
    while (s.n && is_space(s.p[s.n - 1]))
        s.n--;
    return s;
}

static const char *find_byte(const char *from, const char *end, char c)
{
    const char *p = from < end ? memchr(from, c, (size_t)(end - from)) : NULL;
    return p ? p : end;
}

/* Trim, then cut an inline comment: on property lines a '#' or ';' starts a
 * comment only after whitespace; on section lines anywhere. memchr finds
 * the candidates; each kind is scanned once, so long lines stay linear. */
static struct span strip_comment(struct span s, bool need_space)
{
    s = trim_blank(s);
    const char *end = s.p + s.n;
    const char *hash = find_byte(s.p, end, '#'), *semi = find_byte(s.p, end, ';');
    while (hash < end || semi < end) {
        const char *c = hash < semi ? hash : semi;
        if (!need_space || (c > s.p && is_space(c[-1]))) {
            s.n = (size_t)(c - s.p);
            break;
        }
        if (c == hash)
            hash = find_byte(c + 1, end, '#');
        else
            semi = find_byte(c + 1, end, ';');
    }
    return trim_blank(s);
}

/* Identifiers (section and property names): [A-Za-z0-9_\-/.%@:+]+ */
static bool valid_ident(struct span s)
{
    if (!s.n)
        return false;
    for (size_t i = 0; i < s.n; i++) {
        unsigned char c = (unsigned char)s.p[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                  c == '-' || c == '/' || c == '.' || c == '%' || c == '@' || c == ':' || c == '+';
        if (!ok)
            return false;
    }
    return true;
}

static bool span_is(struct span s, const char *lit)
{
    size_t n = strlen(lit);
    return s.n == n && memcmp(s.p, lit, n) == 0;
}

/* What a section header means. */
struct header {
    bool keep;            /* a section brock keeps */
    bool plain_default;   /* config "[default]" (hidden by "[profile default]") */
    bool profile_default; /* config "[profile default]" */
    enum aws_profile_kind kind;
    struct span name;
};

/* `in` is the text between the brackets. */
static struct header classify(struct span in, enum aws_profile_file file)
{
    struct header h = {0};
    in = trim_blank(in);
    size_t i = 0;
    while (i < in.n && !is_blank(in.p[i]))
        i++;
    bool prefixed = i < in.n;
    struct span prefix = trim_space((struct span){in.p, i});
    h.name = prefixed ? trim_space((struct span){in.p + i + 1, in.n - i - 1}) : trim_space(in);

    if (file == AWS_PROFILE_FILE_CREDENTIALS) {
        /* Only "[name]"; "[profile x]" and other prefixes are ignored. */
        h.keep = !prefixed && valid_ident(h.name);
        h.kind = AWS_PROFILE_KIND_PROFILE;
        return h;
    }
    if (!prefixed) {
        /* The config file allows no unprefixed section but [default]. */
        h.keep = h.plain_default = span_is(h.name, "default");
        h.kind = AWS_PROFILE_KIND_PROFILE;
        return h;
    }
    if (!valid_ident(h.name))
        return h;
    if (span_is(prefix, "profile")) {
        h.kind = AWS_PROFILE_KIND_PROFILE;
        h.profile_default = span_is(h.name, "default");
    } else if (span_is(prefix, "sso-session")) {
        h.kind = AWS_PROFILE_KIND_SSO_SESSION;
    } else if (span_is(prefix, "services")) {
        h.kind = AWS_PROFILE_KIND_SERVICES;
    } else {
        return h; /* an unknown (or misspelt) prefix */
    }
    h.keep = true;
    return h;
}

/* --- Parser ------------------------------------------------------------ */

struct pending_sub {
    size_t name_off, name_len, val_off, val_len; /* into parser.value */
    unsigned line;
};

struct parser {
    struct aws_profile_set *set;
    enum aws_profile_file file;
    const char *path; /* arena copy */
    unsigned line;
    bool hide_plain_default;

    bool in_section;      /* a header was seen */
    struct node *section; /* where properties go; NULL inside an ignored section */

    bool in_prop;   /* a property is open: continuation lines belong to it */
    bool prop_subs; /* its first line had no value: continuations are sub-properties */
    bool prop_keep; /* it will be stored (its section is kept and its name valid) */
    unsigned prop_line;
    struct buf name;  /* the open property's name */
    struct buf value; /* its value so far (raw, continuation lines joined) */
    struct pending_sub *subs;
    size_t nsubs, subs_cap;
};

static enum brock_status parse_error(const struct parser *ps, struct brock_err *e, const char *what)
{
    return err_set(e, BROCK_ERR_PARSE, "%s:%u: %s", ps->path, ps->line, what);
}

/* Store the open property, if any. */
static void commit(struct parser *ps)
{
    if (!ps->in_prop)
        return;
    ps->in_prop = false;
    if (!ps->prop_keep)
        return;
    struct aws_profile_set *set = ps->set;
    struct node *sec = ps->section;
    const char *name = buf_cstr(&ps->name);
    size_t nlen = ps->name.len;

    index_reserve(set);
    uint64_t h = key_hash(sec, name, nlen, true);
    struct node **slot = index_slot(set, sec, name, nlen, h);
    struct node *old = *slot;
    /* The credentials file wins over the config file, whichever came first. */
    if (old && old->pub.file == AWS_PROFILE_FILE_CREDENTIALS && ps->file == AWS_PROFILE_FILE_CONFIG)
        return;

    struct node *x = arena_alloc(&set->arena, sizeof *x);
    memset(x, 0, sizeof *x);
    x->pub.name = old ? old->pub.name : arena_strdup(&set->arena, name, nlen, true);
    x->pub.value = arena_strdup(&set->arena, buf_cstr(&ps->value), ps->value.len, false);
    x->pub.path = ps->path;
    x->pub.line = ps->prop_line;
    x->pub.file = ps->file;
    x->hash = h;
    x->nlen = nlen;
    x->type = NODE_PROP;
    x->kind = sec->kind;
    x->subs = ps->prop_subs;
    if (old) {
        replace_child(old, x);
    } else {
        append_child(sec, x);
        set->used++;
    }
    *slot = x;

    for (size_t i = 0; i < ps->nsubs; i++) {
        const struct pending_sub *s = &ps->subs[i];
        struct node *sub = get_or_add(set, x, ps->value.ptr + s->name_off, s->name_len, NODE_SUB);
        /* A repeated key keeps its first position and takes the last value. */
        sub->pub.value = arena_strdup(&set->arena, ps->value.ptr + s->val_off, s->val_len, false);
        sub->pub.path = ps->path;
        sub->pub.line = s->line;
        sub->pub.file = ps->file;
    }
}

static enum brock_status header_line(struct parser *ps, struct span line, struct brock_err *e)
{
    commit(ps);
    struct span s = strip_comment(line, false);
    if (s.n < 2 || s.p[s.n - 1] != ']')
        return parse_error(ps, e, "profile definition must end with ']'");
    struct header h = classify((struct span){s.p + 1, s.n - 2}, ps->file);
    ps->in_section = true;
    ps->section = NULL;
    if (h.keep && !(h.plain_default && ps->hide_plain_default))
        ps->section = get_or_add(ps->set, &ps->set->roots[h.kind], h.name.p, h.name.n, NODE_SECTION);
    return BROCK_OK;
}

/* Split "key = value" (comment already cut); key must not be empty. */
static int split_property(struct span s, struct span *key, struct span *val)
{
    const char *eq = s.n ? memchr(s.p, '=', s.n) : NULL;
    if (!eq)
        return -1;
    *key = trim_blank((struct span){s.p, (size_t)(eq - s.p)});
    *val = trim_blank((struct span){eq + 1, s.n - (size_t)(eq - s.p) - 1});
    return key->n ? 0 : -2;
}

static enum brock_status property_line(struct parser *ps, struct span line, struct brock_err *e)
{
    commit(ps);
    if (!ps->in_section)
        return parse_error(ps, e, "expected a profile definition (a '[...]' section header) before this property");
    struct span key, val;
    int r = split_property(strip_comment(line, true), &key, &val);
    if (r == -1)
        return parse_error(ps, e, "expected an '=' sign defining a property");
    if (r == -2)
        return parse_error(ps, e, "property did not have a name (nothing before '=')");
    ps->in_prop = true;
    ps->prop_subs = val.n == 0;
    ps->prop_line = ps->line;
    ps->prop_keep = ps->section && valid_ident(key);
    ps->nsubs = 0;
    buf_reset(&ps->name);
    buf_reset(&ps->value);
    if (ps->prop_keep) {
        /* Cannot overflow: a name fits in a line, a value in the file. */
        buf_add(&ps->name, key.p, key.n);
        buf_add(&ps->value, val.p, val.n);
    }
    return BROCK_OK;
}

static enum brock_status continuation_line(struct parser *ps, struct span line, struct brock_err *e)
{
    if (!ps->in_section)
        return parse_error(ps, e, "expected a profile definition (a '[...]' section header) before this indented line");
    if (!ps->in_prop)
        return parse_error(ps, e, "expected a property definition, found continuation (an indented line must follow 'name = value')");
    struct span key, val;
    if (ps->prop_subs) {
        int r = split_property(strip_comment(line, true), &key, &val);
        if (r == -1)
            return parse_error(ps, e, "expected an '=' sign defining a sub-property");
        if (r == -2)
            return parse_error(ps, e, "sub-property did not have a name (nothing before '=')");
    }
    if (!ps->prop_keep)
        return BROCK_OK;
    /* The raw text keeps comments; so does a sub-property's value. */
    struct span t = trim_blank(line);
    size_t off = ps->value.len + 1;
    buf_addc(&ps->value, '\n');
    buf_add(&ps->value, t.p, t.n);
    if (!ps->prop_subs)
        return BROCK_OK;
    split_property(t, &key, &val); /* same '=' as above: the comment-free text is a prefix */
    if (!valid_ident(key))
        return BROCK_OK; /* kept in the raw text, not as a sub-property */
    if (ps->nsubs == ps->subs_cap) {
        ps->subs_cap = ps->subs_cap ? ps->subs_cap * 2 : 8;
        ps->subs = xrealloc(ps->subs, ps->subs_cap * sizeof *ps->subs);
    }
    ps->subs[ps->nsubs++] = (struct pending_sub){
        .name_off = off + (size_t)(key.p - t.p),
        .name_len = key.n,
        .val_off = off + (size_t)(val.p - t.p),
        .val_len = val.n,
        .line = ps->line,
    };
    return BROCK_OK;
}

/* Next line of [*p, end): Rust's str::lines(), i.e. split at '\n' and drop
 * one '\r' before it. False at the end. */
static bool next_line(const char **p, const char *end, struct span *line)
{
    if (*p >= end)
        return false;
    const char *nl = memchr(*p, '\n', (size_t)(end - *p));
    const char *stop = nl ? nl : end;
    line->p = *p;
    line->n = (size_t)(stop - *p);
    if (line->n && line->p[line->n - 1] == '\r')
        line->n--;
    *p = nl ? nl + 1 : end;
    return true;
}

/* Does a config file have a "[profile default]"? Then its "[default]"
 * sections are ignored, wherever they are. */
static bool has_profile_default(const char *text, size_t len)
{
    const char *p = text, *end = text + len;
    struct span line;
    while (next_line(&p, end, &line)) {
        if (!line.n || line.p[0] != '[')
            continue;
        struct span s = strip_comment(line, false);
        if (s.n >= 2 && s.p[s.n - 1] == ']' &&
            classify((struct span){s.p + 1, s.n - 2}, AWS_PROFILE_FILE_CONFIG).profile_default)
            return true;
    }
    return false;
}

enum brock_status aws_profile_set_parse(struct aws_profile_set *set, enum aws_profile_file kind,
                                        const char *text, size_t len, const char *path, struct brock_err *e)
{
    if (!set || (!text && len) || (kind != AWS_PROFILE_FILE_CONFIG && kind != AWS_PROFILE_FILE_CREDENTIALS))
        return err_set(e, BROCK_ERR_USAGE, "aws_profile_set_parse: bad arguments");
    if (!path)
        path = kind == AWS_PROFILE_FILE_CONFIG ? "config" : "credentials";
    if (len > AWS_PROFILE_MAX_FILE_BYTES)
        return err_set(e, BROCK_ERR_TOO_LARGE, "%s: larger than the %zu-byte limit for an AWS %s file", path,
                       AWS_PROFILE_MAX_FILE_BYTES, kind == AWS_PROFILE_FILE_CONFIG ? "config" : "credentials");
    if (!text)
        text = "";

    struct parser ps = {
        .set = set,
        .file = kind,
        .path = arena_strdup(&set->arena, path, strlen(path), false),
        .hide_plain_default = kind == AWS_PROFILE_FILE_CONFIG && has_profile_default(text, len),
        .name = BUF_INIT(AWS_PROFILE_MAX_LINE_BYTES),
        .value = BUF_INIT(AWS_PROFILE_MAX_FILE_BYTES),
    };
    /* Sized once for the same reason: a value is never longer than the file,
     * a name never longer than a line. */
    if (len) {
        (void)buf_reserve(&ps.value, len);
        (void)buf_reserve(&ps.name, len < AWS_PROFILE_MAX_LINE_BYTES ? len : AWS_PROFILE_MAX_LINE_BYTES);
    }
    enum brock_status st = BROCK_OK;
    const char *p = text, *end = text + len;
    struct span line;
    while (st == BROCK_OK && next_line(&p, end, &line)) {
        ps.line++;
        if (line.n > AWS_PROFILE_MAX_LINE_BYTES) {
            st = err_set(e, BROCK_ERR_TOO_LARGE, "%s:%u: line longer than the %zu-byte limit", ps.path, ps.line,
                         AWS_PROFILE_MAX_LINE_BYTES);
            break;
        }
        if (memchr(line.p, '\0', line.n)) {
            st = parse_error(&ps, e, "NUL byte in the file (not a text file?)");
            break;
        }
        if (!trim_blank(line).n || line.p[0] == '#' || line.p[0] == ';')
            continue;
        if (line.p[0] == '[')
            st = header_line(&ps, line, e);
        else if (is_blank(line.p[0]))
            st = continuation_line(&ps, line, e);
        else
            st = property_line(&ps, line, e);
    }
    if (st == BROCK_OK)
        commit(&ps);
    buf_free_secure(&ps.name);
    buf_free_secure(&ps.value);
    free(ps.subs);
    return st;
}

/* --- Files and locations ----------------------------------------------- */

enum brock_status aws_profile_set_load_file(struct aws_profile_set *set, enum aws_profile_file kind,
                                            const char *path, struct brock_err *e)
{
    struct buf b = BUF_INIT(AWS_PROFILE_MAX_FILE_BYTES);
    /* Size the buffer once: growing it would leave unwiped copies of the
     * file (secrets) in freed memory. */
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode) && (uint64_t)sb.st_size <= AWS_PROFILE_MAX_FILE_BYTES)
        (void)buf_reserve(&b, (size_t)sb.st_size);
    enum brock_status st = fs_read_file(path, AWS_PROFILE_MAX_FILE_BYTES, &b, e);
    if (st == BROCK_OK)
        st = aws_profile_set_parse(set, kind, b.ptr, b.len, path, e);
    buf_free_secure(&b);
    return st;
}

/* A variable, or NULL when unset or empty. */
static const char *env_get(const struct aws_profile_env *env, const char *name)
{
    const char *v = env && env->getenv ? env->getenv(env->env_ctx, name) : getenv(name);
    return v && *v ? v : NULL;
}

/* Expand a leading "~" or "~/" (a new string), or NULL if the home
 * directory is needed but unknown. */
static char *expand_home(const char *path, const struct aws_profile_env *env)
{
    if (path[0] != '~' || (path[1] != '\0' && path[1] != '/'))
        return xstrdup(path);
    const char *home = env_get(env, "HOME");
    if (!home && env && env->home && *env->home)
        home = env->home;
    if (home)
        return path[1] ? fs_join(home, path + 2) : xstrdup(home);

    struct passwd pw, *res = NULL;
    char tmp[4096];
    if (getpwuid_r(getuid(), &pw, tmp, sizeof tmp, &res) != 0 || !res || !res->pw_dir || !*res->pw_dir)
        return NULL;
    return path[1] ? fs_join(res->pw_dir, path + 2) : xstrdup(res->pw_dir);
}

static char *file_path(const struct aws_profile_env *env, const char *var, const char *dflt)
{
    const char *set = env_get(env, var);
    if (!set)
        return expand_home(dflt, env);
    char *p = expand_home(set, env);
    return p ? p : xstrdup(set); /* "~/x" with no known home stays as it is */
}

char *aws_profile_config_path(const struct aws_profile_env *env)
{
    return file_path(env, "AWS_CONFIG_FILE", "~/.aws/config");
}

char *aws_profile_credentials_path(const struct aws_profile_env *env)
{
    return file_path(env, "AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials");
}

const char *aws_profile_active_name(const char *explicit_name, const struct aws_profile_env *env)
{
    if (explicit_name && *explicit_name)
        return explicit_name;
    const char *v = env_get(env, "AWS_PROFILE");
    return v ? v : "default";
}

enum brock_status aws_profile_set_load(const struct aws_profile_env *env, struct aws_profile_set **out,
                                       struct brock_err *e)
{
    *out = NULL;
    struct aws_profile_set *set = aws_profile_set_new();
    char *paths[2] = {aws_profile_config_path(env), aws_profile_credentials_path(env)};
    const enum aws_profile_file kinds[2] = {AWS_PROFILE_FILE_CONFIG, AWS_PROFILE_FILE_CREDENTIALS};
    enum brock_status st = BROCK_OK;
    for (int i = 0; i < 2 && st == BROCK_OK; i++) {
        if (!paths[i])
            continue; /* no home directory: no default file */
        st = aws_profile_set_load_file(set, kinds[i], paths[i], e);
        if (st == BROCK_ERR_NOT_FOUND) {
            err_clear(e);
            st = BROCK_OK;
        }
    }
    free(paths[0]);
    free(paths[1]);
    if (st != BROCK_OK) {
        aws_profile_set_free(set);
        return st;
    }
    *out = set;
    return BROCK_OK;
}

/* --- Lookups and iteration --------------------------------------------- */

const struct aws_profile_section *aws_profile_find(const struct aws_profile_set *set, enum aws_profile_kind kind,
                                                   const char *name)
{
    if (!set || (unsigned)kind >= AWS_PROFILE_KIND_COUNT)
        return NULL;
    const struct node *n = lookup(set, &set->roots[kind], name);
    return n ? as_section(n) : NULL;
}

const char *aws_profile_section_name(const struct aws_profile_section *s)
{
    return s ? sec_node(s)->pub.name : NULL;
}

enum aws_profile_kind aws_profile_section_kind(const struct aws_profile_section *s)
{
    return s ? (enum aws_profile_kind)sec_node(s)->kind : AWS_PROFILE_KIND_PROFILE;
}

const struct aws_profile_prop *aws_profile_prop(const struct aws_profile_section *s, const char *name)
{
    if (!s)
        return NULL;
    const struct node *n = lookup(sec_node(s)->set, sec_node(s), name);
    return n ? &n->pub : NULL;
}

const char *aws_profile_value(const struct aws_profile_section *s, const char *name)
{
    const struct aws_profile_prop *p = aws_profile_prop(s, name);
    return p ? p->value : NULL;
}

const struct aws_profile_prop *aws_profile_sub(const struct aws_profile_section *s, const char *prop,
                                               const char *sub)
{
    const struct aws_profile_prop *p = aws_profile_prop(s, prop);
    if (!p)
        return NULL;
    const struct node *pn = prop_node(p);
    const struct node *n = lookup(pn->set, pn, sub);
    return n ? &n->pub : NULL;
}

const char *aws_profile_sub_value(const struct aws_profile_section *s, const char *prop, const char *sub)
{
    const struct aws_profile_prop *p = aws_profile_sub(s, prop, sub);
    return p ? p->value : NULL;
}

const struct aws_profile_section *aws_profile_first(const struct aws_profile_set *set, enum aws_profile_kind kind)
{
    if (!set || (unsigned)kind >= AWS_PROFILE_KIND_COUNT || !set->roots[kind].first)
        return NULL;
    return as_section(set->roots[kind].first);
}

const struct aws_profile_section *aws_profile_next(const struct aws_profile_section *s)
{
    return s && sec_node(s)->next ? as_section(sec_node(s)->next) : NULL;
}

size_t aws_profile_count(const struct aws_profile_set *set, enum aws_profile_kind kind)
{
    if (!set || (unsigned)kind >= AWS_PROFILE_KIND_COUNT)
        return 0;
    return set->roots[kind].nchild;
}

const struct aws_profile_prop *aws_profile_props(const struct aws_profile_section *s)
{
    return s && sec_node(s)->first ? &sec_node(s)->first->pub : NULL;
}

const struct aws_profile_prop *aws_profile_subs(const struct aws_profile_prop *p)
{
    const struct node *n = p ? prop_node(p) : NULL;
    return n && n->first ? &n->first->pub : NULL;
}

const struct aws_profile_prop *aws_profile_prop_next(const struct aws_profile_prop *p)
{
    const struct node *n = p ? prop_node(p) : NULL;
    return n && n->next ? &n->next->pub : NULL;
}

bool aws_profile_prop_has_subs(const struct aws_profile_prop *p)
{
    return p && prop_node(p)->subs;
}

/* --- Credential source ------------------------------------------------- */

static bool has(const struct aws_profile_section *s, const char *name)
{
    const char *v = aws_profile_value(s, name);
    return v && *v;
}

enum aws_profile_creds aws_profile_creds_kind(const struct aws_profile_section *p)
{
    if (!p)
        return AWS_PROFILE_CREDS_NONE;
    if (has(p, "role_arn"))
        return has(p, "web_identity_token_file") ? AWS_PROFILE_CREDS_WEB_IDENTITY : AWS_PROFILE_CREDS_ASSUME_ROLE;
    if (has(p, "sso_session") || has(p, "sso_start_url") || has(p, "sso_account_id") || has(p, "sso_role_name"))
        return AWS_PROFILE_CREDS_SSO;
    bool keys = has(p, "aws_access_key_id") && has(p, "aws_secret_access_key");
    enum aws_profile_creds stat = has(p, "aws_session_token") || has(p, "aws_security_token")
                                      ? AWS_PROFILE_CREDS_SESSION
                                      : AWS_PROFILE_CREDS_BASIC;
    /* Keys from the credentials file come before login and process; keys
     * from the config file after them (botocore's provider order). */
    if (keys && aws_profile_prop(p, "aws_access_key_id")->file == AWS_PROFILE_FILE_CREDENTIALS)
        return stat;
    if (has(p, "login_session"))
        return AWS_PROFILE_CREDS_LOGIN;
    if (has(p, "credential_process"))
        return AWS_PROFILE_CREDS_PROCESS;
    return keys ? stat : AWS_PROFILE_CREDS_NONE;
}

const char *aws_profile_creds_name(enum aws_profile_creds kind)
{
    static const char *const names[] = {
        [AWS_PROFILE_CREDS_NONE] = "none",
        [AWS_PROFILE_CREDS_ASSUME_ROLE] = "assume-role",
        [AWS_PROFILE_CREDS_WEB_IDENTITY] = "web-identity",
        [AWS_PROFILE_CREDS_SSO] = "sso",
        [AWS_PROFILE_CREDS_SESSION] = "session",
        [AWS_PROFILE_CREDS_BASIC] = "basic",
        [AWS_PROFILE_CREDS_LOGIN] = "login",
        [AWS_PROFILE_CREDS_PROCESS] = "process",
    };
    return (unsigned)kind < BROCK_ARRAY_LEN(names) ? names[kind] : "unknown";
}
