/*
 * The floor under `breachkit snapshot`'s process part: the procfs reads the snapshot model
 * requires for every process, done in C with the cheapest calls there are (openat relative
 * to an open /proc/<pid> directory, one reused buffer, no parsing, no output), on 1..N
 * threads. Anything breachkit does on top is its own overhead; what this costs is the
 * kernel's price for the data, which no implementation can avoid.
 *
 *   gcc -O2 -pthread -o /tmp/proc-floor bench/proc-floor.c
 *   /tmp/proc-floor THREADS [ROUNDS]        (prints the median wall time in ms)
 *
 * Per process: stat, status, cmdline, cgroup (read), ns/pid ns/net ns/mnt cwd exe
 * (readlink), exe (fstatat, for the hash cache key), fd/ (list) and each fd (readlink).
 * `ps aux` reads stat, status and cmdline; `ss -p` lists and readlinks the fds.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int *pids;
static int npids;
static int next_index;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void read_file(int dir, const char *name) {
  char buf[65536];
  int fd = openat(dir, name, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  while (read(fd, buf, sizeof buf) == (ssize_t)sizeof buf) {
  }
  close(fd);
}

static void read_link(int dir, const char *name) {
  char buf[4096];
  (void)readlinkat(dir, name, buf, sizeof buf);
}

static void one(int pid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d", pid);
  int dir = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return;
  read_file(dir, "stat");
  read_file(dir, "status");
  read_file(dir, "cmdline");
  read_file(dir, "cgroup");
  read_link(dir, "ns/pid");
  read_link(dir, "ns/net");
  read_link(dir, "ns/mnt");
  read_link(dir, "cwd");
  read_link(dir, "exe");
  struct stat st;
  (void)fstatat(dir, "exe", &st, 0);
  int fdd = openat(dir, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fdd >= 0) {
    char ents[32768];
    long n;
    while ((n = syscall(SYS_getdents64, fdd, ents, sizeof ents)) > 0) {
      for (long off = 0; off < n;) {
        struct dirent64 *d = (struct dirent64 *)(ents + off);
        if (d->d_name[0] != '.') read_link(fdd, d->d_name);
        off += d->d_reclen;
      }
    }
    close(fdd);
  }
  close(dir);
}

static void *worker(void *arg) {
  (void)arg;
  for (;;) {
    pthread_mutex_lock(&lock);
    int i = next_index;
    next_index += 16;
    pthread_mutex_unlock(&lock);
    if (i >= npids) return NULL;
    for (int j = i; j < i + 16 && j < npids; j++) one(pids[j]);
  }
}

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 1;
  int rounds = argc > 2 ? atoi(argv[2]) : 7;
  if (threads < 1 || threads > 64 || rounds < 1 || rounds > 100) {
    fprintf(stderr, "usage: proc-floor THREADS [ROUNDS]\n");
    return 2;
  }
  double times[100];
  for (int r = 0; r < rounds; r++) {
    double t0 = now_ms();
    DIR *d = opendir("/proc");
    if (d == NULL) return 1;
    int cap = 65536;
    pids = malloc(sizeof(int) * cap);
    npids = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && npids < cap) {
      if (e->d_name[0] >= '1' && e->d_name[0] <= '9') pids[npids++] = atoi(e->d_name);
    }
    closedir(d);
    next_index = 0;
    pthread_t tid[64];
    for (int i = 1; i < threads; i++) pthread_create(&tid[i], NULL, worker, NULL);
    worker(NULL);
    for (int i = 1; i < threads; i++) pthread_join(tid[i], NULL);
    times[r] = now_ms() - t0;
    free(pids);
  }
  qsort(times, rounds, sizeof times[0], cmp);
  printf("%.1f\n", times[rounds / 2]);
  return 0;
}
