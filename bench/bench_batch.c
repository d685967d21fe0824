/* bench_batch.c - run a batch command N times; report records/s, CPU per record, peak RSS.
 *
 * Usage: bench_batch RUNS RECORDS COMMAND [ARGS...]
 *
 * posix_spawn (vfork semantics) + wait4, so the rusage is the command's own:
 * user + system CPU of every thread it ran, and its peak RSS, never the
 * launcher's. The command's stdout and stderr go to /dev/null. One line:
 *   median_wall_us=<n> median_cpu_us=<n> median_maxrss_kb=<n> records_per_s=<n>
 *   cpu_us_per_record=<n> runs=<N>
 * (medians over the runs; a failed run aborts with its exit status). */
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

static long median(long *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_long);
    return v[n / 2];
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s RUNS RECORDS COMMAND [ARGS...]\n", argv[0]);
        return 2;
    }
    int runs = atoi(argv[1]);
    long records = atol(argv[2]);
    if (runs < 1 || runs > 1000 || records < 1) {
        fprintf(stderr, "bench_batch: RUNS 1..1000, RECORDS >= 1\n");
        return 2;
    }
    long *wall = calloc((size_t)runs, sizeof *wall), *cpu = calloc((size_t)runs, sizeof *cpu),
         *rss = calloc((size_t)runs, sizeof *rss);
    if (!wall || !cpu || !rss)
        return 1;
    for (int i = 0; i < runs; i++) {
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
        posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
        pid_t pid;
        long t0 = now_us();
        if (posix_spawnp(&pid, argv[3], &fa, NULL, argv + 3, environ) != 0) {
            perror("posix_spawn");
            return 1;
        }
        int status;
        struct rusage ru;
        if (wait4(pid, &status, 0, &ru) < 0) {
            perror("wait4");
            return 1;
        }
        wall[i] = now_us() - t0;
        posix_spawn_file_actions_destroy(&fa);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "bench_batch: run %d failed (status %d)\n", i, status);
            return 1;
        }
        cpu[i] = (long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000L + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
        rss[i] = ru.ru_maxrss;
    }
    long w = median(wall, runs), c = median(cpu, runs), r = median(rss, runs);
    printf("median_wall_us=%ld median_cpu_us=%ld median_maxrss_kb=%ld records_per_s=%.0f cpu_us_per_record=%.1f "
           "runs=%d\n",
           w, c, r, (double)records * 1e6 / (double)w, (double)c / (double)records, runs);
    free(wall);
    free(cpu);
    free(rss);
    return 0;
}
