/* proc-floor.c - the floor for ctr-ps in bench-ctr-ps.sh and bench-scale.sh: the least work
 * any /proc-based container lister must do to print what `ctr-ps` prints, in C, with no
 * parsing beyond what picks the next file to read. Walks /proc once:
 *   - every process: its eight namespace links (readlink), to tell host processes (those in
 *     pid 1's namespaces, which need nothing more) from containers' (grouped by namespace
 *     set);
 *   - every process outside the host's namespaces: its stat (parent and start time find a
 *     container's init; CPU time and RSS are the usage of a container without a cgroup of
 *     its own);
 *   - the first process of each namespace set (a container): its cgroup file (the cgroup
 *     names its runtime's container and holds its usage), and for the table
 *       - its command line (COMMAND),
 *       - its network namespace's addresses, once per namespace that is not the host's
 *         (IP; net/fib_trie, the one file that lists them),
 *       - its memory use and CPU time, once per cgroup that is not pid 1's (MEM, CPU:
 *         memory.usage_in_bytes and cpuacct.usage on cgroup v1, memory.current and
 *         cpu.stat on v2).
 * Prints the number of processes seen.
 *
 *   proc-floor       the floor of `ctr-ps` (its default table)
 *   proc-floor -q    the floor of `ctr-ps -q` (ids only: no command, address or usage)
 *   proc-floor -w    the walk alone: ns links and the cgroup file of every process (the
 *                    floor up to 2026-12-04, kept so older numbers can be compared) */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAXSETS 65536

static char buf[65536];

/* read a whole file (relative to directory fd `at`) into buf (NUL-terminated); its
 * length, or -1. A file the kernel writes as one record (stat, cgroup, cmdline, a cgroup
 * value) ends at the first short read: `once` skips the empty read after it. */
static long slurpat(int at, const char *path, int once)
{
    int fd = openat(at, path, O_RDONLY | O_CLOEXEC);
    long n = 0, r;
    if (fd < 0)
        return -1;
    while ((r = read(fd, buf + n, sizeof buf - 1 - n)) > 0) {
        n += r;
        if (once)
            break;
    }
    close(fd);
    buf[n] = 0;
    return n;
}

static long slurp(const char *path)
{
    return slurpat(AT_FDCWD, path, 0);
}

static unsigned long ino(const char *link)
{
    const char *b = strchr(link, '[');
    return b ? strtoul(b + 1, NULL, 10) : 0;
}

/* namespace sets seen, and each set's net inode / cgroup paths read (a linear search: the
 * sets are few compared to the files read for each) */
static unsigned long sets[MAXSETS][8];
static long nsets;
static unsigned long nets[MAXSETS];
static long nnets;
static char *cgs[MAXSETS];
static long ncgs;

static int seen_set(const unsigned long *s)
{
    for (long i = 0; i < nsets; i++)
        if (!memcmp(sets[i], s, sizeof sets[i]))
            return 1;
    if (nsets < MAXSETS)
        memcpy(sets[nsets++], s, sizeof sets[0]);
    return 0;
}

static int seen_net(unsigned long n)
{
    for (long i = 0; i < nnets; i++)
        if (nets[i] == n)
            return 1;
    if (nnets < MAXSETS)
        nets[nnets++] = n;
    return 0;
}

static int seen_cg(const char *p)
{
    for (long i = 0; i < ncgs; i++)
        if (!strcmp(cgs[i], p))
            return 1;
    if (ncgs < MAXSETS)
        cgs[ncgs++] = strdup(p);
    return 0;
}

/* the path of controller `ctl` ("" for the v2 line) in the text of a cgroup file */
static int cg_path(const char *text, const char *ctl, char *out, size_t len)
{
    const char *l = text;
    while (*l) {
        const char *c1 = strchr(l, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        const char *end = strchr(l, '\n');
        if (!end)
            end = l + strlen(l);
        if (c2 && c2 < end) {
            size_t cl = (size_t)(c2 - c1 - 1), n = strlen(ctl);
            int hit = n == 0 ? cl == 0 : 0;
            for (const char *p = c1 + 1; n && p < c2;) {
                const char *q = memchr(p, ',', (size_t)(c2 - p));
                if (!q)
                    q = c2;
                if ((size_t)(q - p) == n && !memcmp(p, ctl, n))
                    hit = 1;
                p = q + 1;
            }
            if (hit) {
                snprintf(out, len, "%.*s", (int)(end - c2 - 1), c2 + 1);
                return 1;
            }
        }
        l = *end ? end + 1 : end;
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const char *ns[] = {"user", "cgroup", "ipc", "uts", "net", "pid", "time", "mnt"};
    int table = argc < 2, walk = argc > 1 && !strcmp(argv[1], "-w");
    char path[4200], link[64], host_cg[4096] = "", mine[4096], cg[4096];
    unsigned long host[8] = {0}, s[8];
    int v2 = access("/sys/fs/cgroup/memory", F_OK) != 0;
    struct dirent *e;
    long n = 0;
    DIR *d = opendir("/proc");
    if (!d)
        return 1;
    /* the host: pid 1's namespaces, or ours when they are unreadable (as ctr-ps does) */
    const char *hostpid = "1";
    for (int tries = 0; tries < 2; tries++, hostpid = "self") {
        for (unsigned i = 0; i < 8; i++) {
            snprintf(path, sizeof path, "/proc/%s/ns/%s", hostpid, ns[i]);
            ssize_t l = readlink(path, link, sizeof link - 1);
            link[l > 0 ? l : 0] = 0;
            host[i] = ino(link);
        }
        if (host[7])
            break;
    }
    snprintf(path, sizeof path, "/proc/%s/cgroup", hostpid);
    if (slurp(path) >= 0)
        snprintf(host_cg, sizeof host_cg, "%.4095s", buf);
    while ((e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        n++;
        if (walk) {
            for (unsigned i = 0; i < 8; i++) {
                snprintf(path, sizeof path, "/proc/%s/ns/%s", e->d_name, ns[i]);
                ssize_t l = readlink(path, link, sizeof link - 1);
                link[l > 0 ? l : 0] = 0;
                s[i] = ino(link);
            }
            snprintf(path, sizeof path, "/proc/%s/cgroup", e->d_name);
            slurp(path);
            continue;
        }
        /* the cheapest way measured: names relative to an O_PATH fd of /proc/PID (each
         * /proc/PID/... path is a look-up of PID again) */
        int pd = openat(dirfd(d), e->d_name, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (pd < 0)
            continue;
        for (unsigned i = 0; i < 8; i++) {
            snprintf(path, sizeof path, "ns/%s", ns[i]);
            ssize_t l = readlinkat(pd, path, link, sizeof link - 1);
            link[l > 0 ? l : 0] = 0;
            s[i] = ino(link);
        }
        if (!memcmp(s, host, sizeof s))
            goto next;
        slurpat(pd, "stat", 1);
        /* unreadable links (a zombie, a process we may not look at) go with their parent */
        if (!s[7] || seen_set(s))
            goto next;
        if (slurpat(pd, "cgroup", 1) < 0 || !table)
            goto next;
        snprintf(cg, sizeof cg, "%.4095s", buf);
        slurpat(pd, "cmdline", 1);
        if (s[4] != host[4] && !seen_net(s[4]))
            slurpat(pd, "net/fib_trie", 0);
        const char *usage[2][2] = {{"memory", "memory.usage_in_bytes"}, {"cpuacct", "cpuacct.usage"}};
        for (int u = 0; u < 2; u++) {
            const char *ctl = v2 ? "" : usage[u][0];
            char hp[4096];
            if (!cg_path(cg, ctl, mine, sizeof mine) || (cg_path(host_cg, ctl, hp, sizeof hp) && !strcmp(hp, mine)))
                continue;
            if (v2) {
                if (u == 0 && seen_cg(mine))
                    break;
                snprintf(path, sizeof path, "/sys/fs/cgroup%s/%s", mine, u ? "cpu.stat" : "memory.current");
            } else {
                snprintf(path, sizeof path, "/sys/fs/cgroup/%s%s/%s", ctl, mine, usage[u][1]);
                if (seen_cg(path))
                    continue;
            }
            slurpat(AT_FDCWD, path, 1);
        }
    next:
        close(pd);
    }
    closedir(d);
    printf("%ld\n", n);
    return 0;
}
