/* bench_launch.c - run a command N times and report median wall time and peak RSS.
 *
 * Usage: bench_launch N COMMAND [ARGS...]
 *
 * Uses posix_spawn (vfork semantics), so the child's ru_maxrss is the command's
 * own peak, not the launcher's memory copied at fork. Output is one line:
 *   median_wall_us=<n> median_cpu_us=<n> median_maxrss_kb=<n> runs=<N>
 * (cpu = user + system time of the command, which a loaded machine inflates
 * far less than wall time).
 * stdout of the command goes to /dev/null. */
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static int cmp_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

static long now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000L + ts.tv_nsec / 1000;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s N COMMAND [ARGS...]\n", argv[0]);
        return 2;
    }
    int n = atoi(argv[1]);
    if (n < 1)
        n = 1;
    long *wall = calloc((size_t)n, sizeof *wall), *rss = calloc((size_t)n, sizeof *rss),
         *cpu = calloc((size_t)n, sizeof *cpu);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    for (int i = 0; i < n; i++) {
        pid_t pid;
        long t0 = now_us();
        if (posix_spawnp(&pid, argv[2], &fa, NULL, argv + 2, environ) != 0) {
            perror(argv[2]);
            return 1;
        }
        int status;
        struct rusage ru;
        if (wait4(pid, &status, 0, &ru) < 0) {
            perror("wait4");
            return 1;
        }
        wall[i] = now_us() - t0;
        rss[i] = ru.ru_maxrss;
        cpu[i] = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000L + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "%s exited abnormally (status %d)\n", argv[2], status);
            return 1;
        }
    }
    qsort(wall, (size_t)n, sizeof *wall, cmp_long);
    qsort(rss, (size_t)n, sizeof *rss, cmp_long);
    qsort(cpu, (size_t)n, sizeof *cpu, cmp_long);
    printf("median_wall_us=%ld median_cpu_us=%ld median_maxrss_kb=%ld runs=%d\n", wall[n / 2], cpu[n / 2], rss[n / 2],
           n);
    free(wall);
    free(rss);
    free(cpu);
    return 0;
}
