/* proc-floor.c - the floor for bench-ctr-ps.sh: the least work any /proc-based container
 * lister must do. Walks /proc once and, for every process, reads its eight namespace links
 * (readlink) and its cgroup file, then prints the number of processes seen. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(void)
{
    static const char *ns[] = {"user", "cgroup", "ipc", "uts", "net", "pid", "time", "mnt"};
    char path[64], link[64], buf[4096];
    DIR *d = opendir("/proc");
    struct dirent *e;
    long n = 0;
    if (!d)
        return 1;
    while ((e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        for (unsigned i = 0; i < sizeof ns / sizeof *ns; i++) {
            snprintf(path, sizeof path, "/proc/%s/ns/%s", e->d_name, ns[i]);
            (void)readlink(path, link, sizeof link);
        }
        snprintf(path, sizeof path, "/proc/%s/cgroup", e->d_name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            while (read(fd, buf, sizeof buf) > 0)
                ;
            close(fd);
        }
        n++;
    }
    closedir(d);
    printf("%ld\n", n);
    return 0;
}
