/* agent_prompt.c - brock's own system prompt: who it is, where it runs, how
 * to use the tools. Memory files and --append-system-prompt follow it
 * (agent.c joins them). */
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>

#include "../util/alloc.h"
#include "../util/buf.h"
#include "../util/fs.h"
#include "agent_int.h"

static bool in_git_repo(const char *cwd)
{
    char path[4096];
    size_t n = strlen(cwd);
    if (n >= sizeof path - 8)
        return false;
    memcpy(path, cwd, n + 1);
    for (;;) {
        memcpy(path + n, "/.git", 6);
        if (fs_exists(path))
            return true;
        while (n > 0 && path[n - 1] != '/')
            n--;
        if (n <= 1)
            return false;
        n--; /* drop the '/' */
        path[n] = '\0';
    }
}

char *agent_default_prompt(const char *cwd, int64_t now_ms, bool tools)
{
    struct utsname u;
    const char *os = "unknown";
    char osbuf[160] = "";
    if (uname(&u) == 0) {
        snprintf(osbuf, sizeof osbuf, "%s %s", u.sysname, u.release);
        os = osbuf;
    }
    time_t t = (time_t)(now_ms / 1000);
    struct tm tm;
    char date[16] = "unknown";
    if (gmtime_r(&t, &tm))
        strftime(date, sizeof date, "%Y-%m-%d", &tm);

    struct buf b = BUF_INIT(64 * 1024);
    buf_addstr(&b,
               "You are brock, a coding assistant that runs in the user's terminal and works through "
               "Claude on Amazon Bedrock. You help with software engineering: reading and explaining "
               "code, finding bugs, changing files, running builds and tests.\n\n");
    buf_addf(&b,
             "Environment:\n"
             "- Working directory: %s\n"
             "- Git repository: %s\n"
             "- Platform: %s\n"
             "- Today's date: %s\n\n",
             cwd, in_git_repo(cwd) ? "yes" : "no", os, date);
    if (!tools) {
        buf_addstr(&b, "You have no tools in this session: answer from what the user gives you, and say so when "
                       "you would need to see more. Be concise; use Markdown only where it helps.\n");
        goto done;
    }
    buf_addstr(&b,
               "How to work:\n"
               "- Look before you answer: use Glob, Grep, LS and Read to find and read the code "
               "instead of guessing. Request independent lookups together in one answer; they run "
               "in parallel.\n"
               "- Paths given to tools must be absolute (start from the working directory).\n"
               "- Read a file before you change it. Change files with Edit or MultiEdit (Write only "
               "for new files or complete rewrites); keep the code's existing style and make the "
               "smallest change that does the job.\n"
               "- Run commands with Bash: builds, tests, git. Check your work by running the tests "
               "when there are any.\n"
               "- A tool result marked as an error says what went wrong: fix the call or the code and "
               "go on. A call refused by the user's permission settings must not be retried as it "
               "was: explain what you need, or find another way.\n"
               "- Never print, copy or ask for secrets (AWS keys, tokens, passwords).\n"
               "- Be concise. No preamble and no recap of what you did unless asked. Use Markdown "
               "only where it helps (code blocks, short lists) and refer to code as path:line.\n");
done:
    if (buf_status(&b) != BROCK_OK) { /* a working directory of 60 KiB: keep the head */
        buf_free(&b);
        return xstrdup("You are brock, a coding assistant running in the user's terminal.");
    }
    return buf_take(&b);
}
