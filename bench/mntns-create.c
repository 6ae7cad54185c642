/* mntns-create.c - for bench-mntns.sh: the cost of a new mount namespace. Runs RUNS children
 * that each unshare(CLONE_NEWNS) and exit, alternating: one from the caller's mount namespace
 * (which copies every mount it holds), one that first joins the template namespace TEMPLATE
 * (a /proc/PID/ns/mnt with few mounts). Prints the two medians in microseconds. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int tfd = -1;

static double child(int from_template)
{
    struct timespec a, b;
    int st;
    clock_gettime(CLOCK_MONOTONIC, &a);
    pid_t p = fork();
    if (p == 0) {
        if (from_template && setns(tfd, CLONE_NEWNS) != 0)
            _exit(2);
        _exit(unshare(CLONE_NEWNS) == 0 ? 0 : 3);
    }
    if (p < 0 || waitpid(p, &st, 0) != p || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "mntns-create: a child failed\n");
        exit(1);
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    return (b.tv_sec - a.tv_sec) * 1e6 + (b.tv_nsec - a.tv_nsec) / 1e3;
}

static int cmp(const void *x, const void *y)
{
    double d = *(const double *)x - *(const double *)y;
    return (d > 0) - (d < 0);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: mntns-create TEMPLATE RUNS\n");
        return 2;
    }
    int runs = atoi(argv[2]);
    if (runs < 1 || runs > 100000)
        return 2;
    tfd = open(argv[1], O_RDONLY | O_CLOEXEC);
    if (tfd < 0) {
        perror(argv[1]);
        return 1;
    }
    double *h = calloc(runs, sizeof *h), *t = calloc(runs, sizeof *t);
    if (!h || !t)
        return 1;
    for (int i = 0; i < runs; i++) {
        h[i] = child(0);
        t[i] = child(1);
    }
    qsort(h, runs, sizeof *h, cmp);
    qsort(t, runs, sizeof *t, cmp);
    printf("%.1f %.1f\n", h[runs / 2], t[runs / 2]);
    return 0;
}
