/*
 * procread: the I/O half of breachkit's process reading, in C.
 *
 * It does exactly what readRawProcesses (src/observe/proc/raw-read.ts) does for each pid,
 * with the same limits, the same "vanished" rules and the same failure texts, and writes
 * the raw bytes; breachkit parses them with the same TypeScript parsers as the JS reader's.
 * Nothing here interprets content beyond the stat fields needed to know a kernel thread or
 * a zombie. Why it exists: the JS reader pays about 1 us of Node overhead per system call
 * and scales poorly across threads; this one reads /proc at the kernel's price (measured by
 * bench/proc-floor.c) on several threads. When it cannot be built (no C compiler), or with
 * BREACHKIT_PROC_READER=js, the JS reader does the same work.
 *
 *   procread ROOT THREADS [SKIP_PID]       (ROOT: /proc; output: binary records on stdout)
 *   procread --launch NODE ARGS...         (bin/breachkit: read, and become node; see launch)
 *   procread --probe                       (prints "procread BKPR0004": this build runs here)
 *
 * SKIP_PID (breachkit's own process, which reads itself first) and the reader's own pid
 * are left out.
 *
 * Output, little-endian, native word sizes: "BKPR0004", then records, each a kind byte and
 * the u32 length of what follows it:
 *   'P' i32 pid, then blobs stat status (only the lines breachkit reads), then THE REST;
 *   'Q' i32 pid, then stat and status parsed (see stat_canonical): blob comm, u8 state,
 *       u64 ppid flags utime stime threads starttime rss, u32 uid gid (real, effective
 *       each), i64 VmRSS in kB (-1: none), then THE REST;
 *   THE REST: blobs cmdline cgroup cwd exeLink exeError exeStatError nsPid nsNet nsMnt
 *       (u32 length, 0xffffffff for null), then u8 hasExeStat and, when 1, u64 dev ino
 *       size nlink, i64 mtime_sec mtime_nsec ctime_sec ctime_nsec, then u32 socket count
 *       and that many blobs;
 *   'F' i32 pid, blobs source and what;
 *   'N' a network namespace's tables (see read_net_of), after every process's record;
 *   'E' end of output, no length (anything else after a write error: the reader rejects it).
 * Exit status: 0 when the output is complete, 2 on bad arguments, 1 on an I/O error.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PF_KTHREAD 0x00200000u
#define MAGIC "BKPR0004"
#define MAX_CMDLINE (1024 * 1024)
#define MAX_TEXT (256 * 1024)
#define MAX_FDS 65536
#define CHUNK 32
#define NULL_LEN 0xffffffffu

/* ---- growable output buffer -------------------------------------------------------- */

typedef struct {
  char *data;
  size_t len, cap;
} Buf;

static void die_oom(void) {
  static const char msg[] = "procread: out of memory\n";
  (void)!write(2, msg, sizeof msg - 1);
  _exit(1);
}

static void reserve(Buf *b, size_t more) {
  if (b->len + more <= b->cap) return;
  size_t cap = b->cap ? b->cap : 65536;
  while (cap < b->len + more) cap *= 2;
  char *d = realloc(b->data, cap);
  if (d == NULL) die_oom();
  b->data = d;
  b->cap = cap;
}

static void put(Buf *b, const void *p, size_t n) {
  reserve(b, n);
  memcpy(b->data + b->len, p, n);
  b->len += n;
}

static void put_u8(Buf *b, uint8_t v) { put(b, &v, 1); }
static void put_i32(Buf *b, int32_t v) { put(b, &v, 4); }
static void put_u32(Buf *b, uint32_t v) { put(b, &v, 4); }
static void put_u64(Buf *b, uint64_t v) { put(b, &v, 8); }
static void put_i64(Buf *b, int64_t v) { put(b, &v, 8); }

static void put_blob(Buf *b, const char *p, size_t n) {
  put_u32(b, (uint32_t)n);
  put(b, p, n);
}

static void put_str(Buf *b, const char *s) {
  if (s == NULL) put_u32(b, NULL_LEN);
  else put_blob(b, s, strlen(s));
}

/* ---- errno names, as Node spells err.code ------------------------------------------ */

static const char *code_of(int e) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
  const char *name = strerrorname_np(e);
  if (name != NULL) return name;
#endif
  switch (e) {
    case ENOENT: return "ENOENT";
    case ESRCH: return "ESRCH";
    case EACCES: return "EACCES";
    case EPERM: return "EPERM";
    case EIO: return "EIO";
    case ENOMEM: return "ENOMEM";
    case EINVAL: return "EINVAL";
    case ENOTDIR: return "ENOTDIR";
    case ELOOP: return "ELOOP";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    default: return "EUNKNOWN";
  }
}

static int vanished(int e) { return e == ENOENT || e == ESRCH; }

/* ---- reads ---------------------------------------------------------------------------- */

typedef struct {
  char *data;
  size_t cap;
} Scratch;

/*
 * Read a procfs file into the scratch buffer, at most `max` bytes, as fill() in
 * raw-read.ts: seq_file-backed files (and cmdline) fill the user buffer on every read until
 * their end, so a short read is the end. Returns the length, or -errno.
 */
static long fill(Scratch *s, const char *path, size_t max) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  size_t len = 0;
  for (;;) {
    if (len == s->cap) {
      if (len >= max) break;
      size_t cap = s->cap * 4 < max ? s->cap * 4 : max;
      char *d = realloc(s->data, cap);
      if (d == NULL) die_oom();
      s->data = d;
      s->cap = cap;
    }
    size_t room = (s->cap < max ? s->cap : max) - len;
    ssize_t n = read(fd, s->data + len, room);
    if (n < 0) {
      int e = errno;
      close(fd);
      return -e;
    }
    len += (size_t)n;
    if (n == 0 || (size_t)n < room) break;
  }
  close(fd);
  return (long)len;
}

/* readlink into `out` (NUL-terminated); 0, or -errno. Targets longer than 4095 bytes are
 * cut, as no procfs link of interest is. */
static int link_of(const char *path, char *out, size_t cap) {
  ssize_t n = readlink(path, out, cap - 1);
  if (n < 0) return -errno;
  out[n] = '\0';
  return 0;
}

static int alive(const char *base) {
  struct stat st;
  return stat(base, &st) == 0;
}

/*
 * Only the lines of status that parseStatus reads (about 7 of 55): the rest would be
 * decoded and dropped by breachkit for every process. Name is the first line, escaped by
 * the kernel, so no other line can be mistaken for a key.
 */
static void put_status(Buf *out, const char *s, size_t len) {
  static const char *const keys[] = {"Name:", "PPid:", "Uid:", "Gid:", "Threads:", "VmRSS:", "NSpid:"};
  size_t len_at = out->len;
  put_u32(out, 0);
  size_t start = out->len;
  for (size_t i = 0; i < len;) {
    const char *line = s + i;
    const char *nl = memchr(line, '\n', len - i);
    size_t llen = nl ? (size_t)(nl - line) + 1 : len - i;
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
      size_t kl = strlen(keys[k]);
      if (llen >= kl && memcmp(line, keys[k], kl) == 0) {
        put(out, line, llen);
        break;
      }
    }
    i += llen;
  }
  uint32_t n = (uint32_t)(out->len - start);
  memcpy(out->data + len_at, &n, 4);
}

/* ---- stat and status in their kernel shape ---------------------------------------------- */

/*
 * Most records go out parsed ('Q'): breachkit then skips its own parse of stat and status,
 * which costs more than everything else it does per process. Only text in the exact shape
 * the kernel writes is parsed here, into exactly what parseStat and parseStatus
 * (src/observe/proc/stat.ts) make of it; anything else goes out as text ('P') for them to
 * judge. A test holds both readers to the same Process objects, hostile trees included.
 */
#define MAX_SAFE 9007199254740991ULL

typedef struct {
  size_t comm_off, comm_len;
  char state;
  uint64_t ppid, flags, utime, stime, threads, starttime, rss;
  uint32_t uid[2], gid[2];
  int64_t rss_kb; /* -1: no VmRSS line */
} Facts;

/* Digits only, at most 2^53 - 1 (the numbers JS reads exactly); 0 when not so. */
static int digits_value(const char *p, size_t n, uint64_t *v) {
  if (n == 0 || n > 16) return 0;
  uint64_t x = 0;
  for (size_t i = 0; i < n; i++) {
    if (p[i] < '0' || p[i] > '9') return 0;
    x = x * 10 + (uint64_t)(p[i] - '0');
  }
  if (x > MAX_SAFE) return 0;
  *v = x;
  return 1;
}

/* "<pid> (<comm>) <state> <field>...\n": single spaces, only [0-9A-Za-z-] after the comm. */
static int stat_canonical(const char *t, size_t len, int pid, Facts *f) {
  const char *open = NULL;
  for (size_t i = 0; i + 1 < len; i++) {
    if (t[i] == ' ' && t[i + 1] == '(') {
      open = t + i;
      break;
    }
  }
  const char *close = NULL;
  for (size_t i = len; i-- > 0;) {
    if (t[i] == ')') {
      close = t + i;
      break;
    }
  }
  if (open == NULL || open == t || close == NULL || close < open) return 0;
  uint64_t spid;
  if (!digits_value(t, (size_t)(open - t), &spid) || spid != (uint64_t)pid) return 0;
  const char *end = t + len;
  if (end - close < 3 || close[1] != ' ' || end[-1] != '\n') return 0;
  const char *body = close + 2, *body_end = end - 1;
  /* The fields: tokens 0 (state) to 21 are read; all must be plain. */
  const char *tok[22];
  size_t tlen[22];
  int ntok = 0;
  const char *start = body;
  for (const char *q = body; q <= body_end; q++) {
    if (q == body_end || *q == ' ') {
      if (q == start) return 0; /* an empty field: two spaces, or one at an end */
      if (ntok < 22) {
        tok[ntok] = start;
        tlen[ntok] = (size_t)(q - start);
      }
      ntok++;
      start = q + 1;
      continue;
    }
    char c = *q;
    if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '-')) {
      return 0;
    }
  }
  if (ntok < 22 || tlen[0] != 1) return 0;
  char st = tok[0][0];
  if (!((st >= 'A' && st <= 'Z') || (st >= 'a' && st <= 'z'))) return 0;
  if (!digits_value(tok[1], tlen[1], &f->ppid) || !digits_value(tok[6], tlen[6], &f->flags) ||
      !digits_value(tok[11], tlen[11], &f->utime) || !digits_value(tok[12], tlen[12], &f->stime) ||
      !digits_value(tok[17], tlen[17], &f->threads) ||
      !digits_value(tok[19], tlen[19], &f->starttime) || !digits_value(tok[21], tlen[21], &f->rss)) {
    return 0;
  }
  f->state = st;
  f->comm_off = (size_t)(open + 2 - t);
  f->comm_len = (size_t)(close - (open + 2));
  return 1;
}

/* The value of the first line starting with `key` (its length in *n), or NULL. */
static const char *status_value(const char *s, size_t len, const char *key, size_t *n) {
  size_t kl = strlen(key);
  for (size_t i = 0; i < len;) {
    const char *line = s + i;
    const char *nl = memchr(line, '\n', len - i);
    size_t llen = nl ? (size_t)(nl - line) : len - i;
    if (llen >= kl && memcmp(line, key, kl) == 0) {
      *n = llen - kl;
      return line + kl;
    }
    i += llen + 1;
  }
  return NULL;
}

/* "\t<real>\t<effective>\t<saved>\t<fs>", as the kernel prints Uid and Gid. */
static int id_quad(const char *v, size_t n, uint32_t out[2]) {
  size_t i = 0;
  for (int k = 0; k < 4; k++) {
    if (i >= n || v[i] != '\t') return 0;
    size_t j = ++i;
    while (j < n && v[j] >= '0' && v[j] <= '9') j++;
    uint64_t x;
    if (!digits_value(v + i, j - i, &x) || x > 0xffffffffULL) return 0;
    if (k < 2) out[k] = (uint32_t)x;
    i = j;
  }
  return i == n;
}

/* status as put_status kept it: Uid, Gid and VmRSS in their kernel shape (VmRSS may lack). */
static int status_canonical(const char *s, size_t len, Facts *f) {
  size_t n;
  const char *v = status_value(s, len, "Uid:", &n);
  if (v == NULL || !id_quad(v, n, f->uid)) return 0;
  v = status_value(s, len, "Gid:", &n);
  if (v == NULL || !id_quad(v, n, f->gid)) return 0;
  v = status_value(s, len, "VmRSS:", &n);
  f->rss_kb = -1;
  if (v != NULL) {
    /* "\t    1234 kB" */
    size_t i = 0;
    while (i < n && (v[i] == ' ' || v[i] == '\t')) i++;
    size_t j = i;
    while (j < n && v[j] >= '0' && v[j] <= '9') j++;
    uint64_t kb;
    if (i == 0 || j - i > 15 || !digits_value(v + i, j - i, &kb)) return 0;
    if (n - j != 3 || memcmp(v + j, " kB", 3) != 0) return 0;
    f->rss_kb = (int64_t)kb;
  }
  return 1;
}

/* ---- one process ---------------------------------------------------------------------- */

typedef struct {
  Scratch scratch;
  char *stat_copy;
  size_t stat_cap;
} Ctx;


/* A record's u32 length, after its kind: written as 0, set by end_record. */
static size_t begin_record(Buf *out, char kind) {
  put_u8(out, (uint8_t)kind);
  size_t at = out->len;
  put_u32(out, 0);
  return at;
}

static void end_record(Buf *out, size_t at) {
  uint32_t n = (uint32_t)(out->len - at - 4);
  memcpy(out->data + at, &n, 4);
}

static void failure(Buf *out, int pid, const char *source, const char *what) {
  size_t at = begin_record(out, 'F');
  put_i32(out, pid);
  put_str(out, source);
  put_str(out, what);
  end_record(out, at);
}

/* The stat fields after comm: state is field 3, flags field 9. */
static void stat_facts(const char *stat, size_t len, int *kthread, int *zombie) {
  *kthread = 0;
  *zombie = 0;
  const char *close_paren = NULL;
  for (size_t i = len; i-- > 0;) {
    if (stat[i] == ')') {
      close_paren = stat + i;
      break;
    }
  }
  if (close_paren == NULL) return;
  const char *p = close_paren + 2;
  const char *end = stat + len;
  if (p >= end) return;
  *zombie = (*p == 'Z' || *p == 'X');
  /* after[6] in raw-read.ts: the 7th space-separated field after ") " */
  int field = 0;
  const char *q = p;
  while (q < end && field < 6) {
    if (*q == ' ') field++;
    q++;
  }
  if (field < 6) return;
  unsigned long long flags = 0;
  int digits = 0;
  while (q < end && *q >= '0' && *q <= '9') {
    flags = flags * 10 + (unsigned)(*q - '0');
    q++;
    digits++;
  }
  /* Number("") is 0 in JS, so an empty field is no kernel thread there either. */
  if (digits > 0) *kthread = (flags & PF_KTHREAD) != 0;
}

/* ---- network namespaces: their tables, read through the same process breachkit picks -- */

/*
 * The socket tables of a namespace are read through /proc/<pid>/net of a process in it.
 * Each of tcp and tcp6 walks the kernel's whole TCP hash (about 4 ms each on a host with
 * 24 GB, whatever the number of sockets), so they are read here, once every process is read,
 * while breachkit is still building the last ones. Through the process breachkit's readNetwork
 * would pick (src/observe/proc/network.ts, readerCandidates): the oldest by start time, then
 * the lowest pid, zombies left out; up to MAX_NET_TRIES of them in that order, when one exits
 * meanwhile or changes namespace (setns) while its tables are read. readNetwork takes a
 * reading only when it is through its own first pick, and otherwise reads the namespace
 * itself (and says why when it cannot).
 */
/* The /proc being read; set once the output cannot be written (then nothing more is read). */
static const char *root;
static int write_failed;
#define FAILED() __atomic_load_n(&write_failed, __ATOMIC_RELAXED)

#define MAX_NET_TRIES 5
#define MAX_NET_TABLE (64u * 1024 * 1024)
static const char *const net_tables[] = {"tcp", "tcp6", "udp", "udp6", "raw", "raw6"};

typedef struct {
  uint64_t start;
  int pid;
} NetCandidate;

typedef struct {
  char link[64];
  NetCandidate best[MAX_NET_TRIES];
  int nbest;
  Buf out;
} NetNs;

static NetNs *netns_seen;
static size_t netns_count, netns_cap;
static pthread_mutex_t netns_lock = PTHREAD_MUTEX_INITIALIZER;

static int earlier(NetCandidate a, NetCandidate b) {
  return a.start < b.start || (a.start == b.start && a.pid < b.pid);
}

/* A live process of the namespace `link`, started at `start` (clock ticks after boot). */
static void net_candidate(const char *link, uint64_t start, int pid) {
  if (strlen(link) >= sizeof netns_seen->link) return;
  NetCandidate c = {start, pid};
  pthread_mutex_lock(&netns_lock);
  NetNs *n = NULL;
  for (size_t i = 0; i < netns_count; i++) {
    if (strcmp(netns_seen[i].link, link) == 0) {
      n = &netns_seen[i];
      break;
    }
  }
  if (n == NULL) {
    if (netns_count == netns_cap) {
      size_t cap = netns_cap ? netns_cap * 2 : 16;
      NetNs *d = realloc(netns_seen, cap * sizeof *d);
      if (d == NULL) die_oom();
      netns_seen = d;
      netns_cap = cap;
    }
    n = &netns_seen[netns_count++];
    memset(n, 0, sizeof *n);
    strcpy(n->link, link);
  }
  /* Kept in order, the MAX_NET_TRIES earliest. */
  int at = n->nbest;
  while (at > 0 && earlier(c, n->best[at - 1])) at--;
  if (at < MAX_NET_TRIES) {
    int last = n->nbest < MAX_NET_TRIES ? n->nbest : MAX_NET_TRIES - 1;
    memmove(&n->best[at + 1], &n->best[at], (size_t)(last - at) * sizeof c);
    n->best[at] = c;
    if (n->nbest < MAX_NET_TRIES) n->nbest++;
  }
  pthread_mutex_unlock(&netns_lock);
}

/*
 * 'N' i32 pid, blob namespace link, blob dev, u32 count, then count times: blob table
 * name, blob text (null when not read), blob error code (null when read; a table that is
 * simply absent, as tcp6 without IPv6, is not listed). 1 when written, 0 when this process
 * could not show them (it exited, or left the namespace): nothing is written then.
 */
static int read_net_of(Scratch *sc, Buf *out, int pid, const char *link) {
  char base[4200], path[4300], again[128];
  snprintf(base, sizeof base, "%s/%d", root, pid);
  size_t mark = out->len;
  snprintf(path, sizeof path, "%s/net/dev", base);
  long n = fill(sc, path, MAX_NET_TABLE);
  if (n < 0) return 0;
  size_t at = begin_record(out, 'N');
  put_i32(out, pid);
  put_str(out, link);
  put_blob(out, sc->data, (size_t)n);
  size_t count_at = out->len;
  put_u32(out, 0);
  uint32_t count = 0;
  for (size_t i = 0; i < sizeof net_tables / sizeof net_tables[0]; i++) {
    snprintf(path, sizeof path, "%s/net/%s", base, net_tables[i]);
    long t = fill(sc, path, MAX_NET_TABLE);
    if (t < 0 && vanished((int)-t)) {
      if (!alive(base)) goto gone;
      continue; /* absent here (IPv6 off) */
    }
    put_str(out, net_tables[i]);
    if (t < 0) {
      put_str(out, NULL);
      put_str(out, code_of((int)-t));
    } else {
      put_blob(out, sc->data, (size_t)t);
      put_str(out, NULL);
    }
    count++;
  }
  memcpy(out->data + count_at, &count, 4);
  /* Still in the same namespace: the tables are that namespace's. */
  snprintf(path, sizeof path, "%s/ns/net", base);
  if (link_of(path, again, sizeof again) != 0 || strcmp(again, link) != 0) goto gone;
  end_record(out, at);
  return 1;
gone:
  out->len = mark;
  return 0;
}

static size_t next_netns;

static void *net_worker(void *arg) {
  (void)arg;
  Scratch sc = {malloc(65536), 65536};
  if (sc.data == NULL) die_oom();
  for (;;) {
    pthread_mutex_lock(&netns_lock);
    size_t i = next_netns++;
    pthread_mutex_unlock(&netns_lock);
    if (i >= netns_count || FAILED()) break;
    NetNs *n = &netns_seen[i];
    for (int k = 0; k < n->nbest; k++) {
      if (read_net_of(&sc, &n->out, n->best[k].pid, n->link)) break;
    }
  }
  free(sc.data);
  return NULL;
}

static int cmp_netns(const void *a, const void *b) {
  return strcmp(((const NetNs *)a)->link, ((const NetNs *)b)->link);
}

static void read_one(Ctx *c, Buf *out, const char *root, int pid) {
  char base[4096], path[4200], target[4096], what[256];
  snprintf(base, sizeof base, "%s/%d", root, pid);
  size_t mark = out->len;

  snprintf(path, sizeof path, "%s/stat", base);
  long n = fill(&c->scratch, path, MAX_TEXT);
  if (n < 0) {
    if (!vanished((int)-n)) {
      snprintf(what, sizeof what, "cannot read: %s", code_of((int)-n));
      failure(out, pid, "procfs stat", what);
    }
    return;
  }
  if ((size_t)n > c->stat_cap) {
    char *d = realloc(c->stat_copy, (size_t)n);
    if (d == NULL) die_oom();
    c->stat_copy = d;
    c->stat_cap = (size_t)n;
  }
  memcpy(c->stat_copy, c->scratch.data, (size_t)n);
  size_t stat_len = (size_t)n;

  snprintf(path, sizeof path, "%s/status", base);
  n = fill(&c->scratch, path, MAX_TEXT);
  if (n < 0) {
    if (!vanished((int)-n)) {
      snprintf(what, sizeof what, "cannot read: %s", code_of((int)-n));
      failure(out, pid, "procfs stat", what);
    }
    return;
  }
  /* The status lines breachkit reads, then (when both are in their kernel shape) the
   * facts of stat and status instead of their text. */
  size_t kept_at = out->len;
  put_status(out, c->scratch.data, (size_t)n);
  size_t kept_len = out->len - kept_at - 4;
  Facts facts;
  int parsed = stat_canonical(c->stat_copy, stat_len, pid, &facts) &&
               status_canonical(out->data + kept_at + 4, kept_len, &facts);
  out->len = kept_at;
  size_t record_at;
  if (parsed) {
    record_at = begin_record(out, 'Q');
    put_i32(out, pid);
    put_blob(out, c->stat_copy + facts.comm_off, facts.comm_len);
    put_u8(out, (uint8_t)facts.state);
    put_u64(out, facts.ppid);
    put_u64(out, facts.flags);
    put_u64(out, facts.utime);
    put_u64(out, facts.stime);
    put_u64(out, facts.threads);
    put_u64(out, facts.starttime);
    put_u64(out, facts.rss);
    put_u32(out, facts.uid[0]);
    put_u32(out, facts.uid[1]);
    put_u32(out, facts.gid[0]);
    put_u32(out, facts.gid[1]);
    put_i64(out, facts.rss_kb);
  } else {
    record_at = begin_record(out, 'P');
    put_i32(out, pid);
    put_blob(out, c->stat_copy, stat_len);
    put_status(out, c->scratch.data, (size_t)n);
  }

  int kthread, zombie;
  stat_facts(c->stat_copy, stat_len, &kthread, &zombie);

  /* Failures found while reading go out after the process record, as the JS reader's
   * list does (their order among records does not matter). */
  Buf fails = {0};
  const char *cmdline = NULL;
  size_t cmdline_len = 0;
  char *cmd_copy = NULL;
  char *cgroup = NULL;
  size_t cgroup_len = 0;
  char cwd[4096], exe[4096];
  int has_cwd = 0, has_exe = 0;
  const char *exe_error = NULL, *exe_stat_error = NULL;
  char exe_error_buf[64], exe_stat_error_buf[64];
  struct stat est;
  int has_est = 0;
  Buf socks = {0};
  uint32_t nsocks = 0;
  char ns[3][128];
  int has_ns[3];
  static const char *const ns_names[3] = {"ns/pid", "ns/net", "ns/mnt"};
  for (int i = 0; i < 3; i++) {
    snprintf(path, sizeof path, "%s/%s", base, ns_names[i]);
    has_ns[i] = link_of(path, ns[i], sizeof ns[i]) == 0;
  }

  if (!kthread) {
    snprintf(path, sizeof path, "%s/cmdline", base);
    n = fill(&c->scratch, path, MAX_CMDLINE);
    long gn = 0;
    if (n >= 0) {
      cmd_copy = malloc(n > 0 ? (size_t)n : 1);
      if (cmd_copy == NULL) die_oom();
      memcpy(cmd_copy, c->scratch.data, (size_t)n);
      cmdline = cmd_copy;
      cmdline_len = (size_t)n;
      snprintf(path, sizeof path, "%s/cgroup", base);
      gn = fill(&c->scratch, path, MAX_TEXT);
      if (gn >= 0) {
        cgroup = malloc(gn > 0 ? (size_t)gn : 1);
        if (cgroup == NULL) die_oom();
        memcpy(cgroup, c->scratch.data, (size_t)gn);
        cgroup_len = (size_t)gn;
      }
    }
    int err = n < 0 ? (int)-n : gn < 0 ? (int)-gn : 0;
    if (err != 0) {
      if (vanished(err)) goto skip;
      /* As in JS: the cmdline read before the cgroup failed is kept, the cgroup is empty. */
      snprintf(what, sizeof what, "cannot read cmdline or cgroup: %s", code_of(err));
      failure(&fails, pid, "procfs", what);
      if (n < 0) {
        cmdline = NULL;
        cmdline_len = 0;
      }
    }
    snprintf(path, sizeof path, "%s/cwd", base);
    has_cwd = link_of(path, cwd, sizeof cwd) == 0;
    snprintf(path, sizeof path, "%s/exe", base);
    int le = link_of(path, exe, sizeof exe);
    if (le == 0) {
      has_exe = 1;
      if (stat(path, &est) == 0) has_est = 1;
      else {
        snprintf(exe_stat_error_buf, sizeof exe_stat_error_buf, "%s", code_of(errno));
        exe_stat_error = exe_stat_error_buf;
      }
    } else {
      if (!zombie && vanished(-le) && !alive(base)) goto skip;
      if (zombie) exe_error = "zombie";
      else {
        snprintf(exe_error_buf, sizeof exe_error_buf, "%s", code_of(-le));
        exe_error = exe_error_buf;
        snprintf(what, sizeof what, "cannot read exe: %s", exe_error);
        failure(&fails, pid, "procfs exe", what);
      }
    }
    snprintf(path, sizeof path, "%s/fd", base);
    int fdd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fdd < 0) {
      int e = errno;
      if (vanished(e)) {
        if (!alive(base)) goto skip;
      } else {
        snprintf(what, sizeof what, "cannot list fds: %s", code_of(e));
        failure(&fails, pid, "procfs fd", what);
      }
    } else {
      char ents[32768];
      long got;
      int seen = 0;
      while ((got = syscall(SYS_getdents64, fdd, ents, sizeof ents)) > 0) {
        for (long off = 0; off < got;) {
          struct dirent64 *d = (struct dirent64 *)(ents + off);
          off += d->d_reclen;
          if (d->d_name[0] == '.') continue;
          if (seen++ >= MAX_FDS) continue;
          /* A descriptor closed between the listing and the readlink is skipped. */
          ssize_t tl = readlinkat(fdd, d->d_name, target, sizeof target - 1);
          if (tl < 0) continue;
          target[tl] = '\0';
          if (strncmp(target, "socket:[", 8) == 0) {
            put_blob(&socks, target, (size_t)tl);
            nsocks++;
          }
        }
      }
      int e = got < 0 ? errno : 0;
      close(fdd);
      if (e != 0) {
        /* As the JS reader, whose listing fails as a whole: no sockets from a partial one. */
        socks.len = 0;
        nsocks = 0;
        if (vanished(e)) {
          if (!alive(base)) goto skip;
        } else {
          snprintf(what, sizeof what, "cannot list fds: %s", code_of(e));
          failure(&fails, pid, "procfs fd", what);
        }
      }
    }
  }
  goto done;
skip:
  out->len = mark;
  free(fails.data);
  free(socks.data);
  free(cmd_copy);
  free(cgroup);
  return;
done:
  put_blob(out, cmdline ? cmdline : "", cmdline_len);
  put_blob(out, cgroup ? cgroup : "", cgroup_len);
  put_str(out, has_cwd ? cwd : NULL);
  put_str(out, has_exe ? exe : NULL);
  put_str(out, exe_error);
  put_str(out, exe_stat_error);
  for (int i = 0; i < 3; i++) put_str(out, has_ns[i] ? ns[i] : NULL);
  put_u8(out, (uint8_t)has_est);
  if (has_est) {
    put_u64(out, (uint64_t)est.st_dev);
    put_u64(out, (uint64_t)est.st_ino);
    put_u64(out, (uint64_t)est.st_size);
    put_u64(out, (uint64_t)est.st_nlink);
    put_i64(out, (int64_t)est.st_mtim.tv_sec);
    put_i64(out, (int64_t)est.st_mtim.tv_nsec);
    put_i64(out, (int64_t)est.st_ctim.tv_sec);
    put_i64(out, (int64_t)est.st_ctim.tv_nsec);
  }
  put_u32(out, nsocks);
  if (socks.len) put(out, socks.data, socks.len);
  end_record(out, record_at);
  if (fails.len) put(out, fails.data, fails.len);
  if (has_ns[1] && !zombie && parsed) net_candidate(ns[1], facts.starttime, pid);
  free(fails.data);
  free(socks.data);
  free(cmd_copy);
  free(cgroup);
}

/* ---- threads: chunks of pids, written in order by a writer thread -------------------- */

/*
 * Readers never write: a reader blocked on a full pipe (breachkit's main thread busy
 * loading its modules, say) would stop reading /proc meanwhile. They hand finished chunks
 * to the writer thread, which writes them in pid order while the readers go on.
 */
static int *pids;
static int npids;
static int nchunks;
static int next_chunk;
static Buf *chunks;
static unsigned char *ready;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t chunk_ready = PTHREAD_COND_INITIALIZER;

/* A pipe nobody has drained for this long: its reader is gone or stuck (a wrapper that
 * holds our pipe but will never read it, say). This reader then ends rather than wait. */
#define DRAIN_TIMEOUT_MS 30000

static int write_all(const char *p, size_t n) {
  while (n > 0) {
    struct pollfd out = {1, POLLOUT, 0};
    int ready = poll(&out, 1, DRAIN_TIMEOUT_MS);
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return -1;
    ssize_t w = write(1, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static void *worker(void *arg) {
  (void)arg;
  Ctx c = {{malloc(65536), 65536}, NULL, 0};
  if (c.scratch.data == NULL) die_oom();
  for (;;) {
    pthread_mutex_lock(&lock);
    int i = next_chunk++;
    pthread_mutex_unlock(&lock);
    if (i >= nchunks) break;
    Buf out = {0};
    /* Nobody reads any more (node closed the pipe): the rest is not read, only handed on. */
    if (!FAILED()) {
      for (int j = i * CHUNK; j < (i + 1) * CHUNK && j < npids; j++) {
        read_one(&c, &out, root, pids[j]);
      }
    }
    pthread_mutex_lock(&lock);
    chunks[i] = out;
    ready[i] = 1;
    pthread_cond_signal(&chunk_ready);
    pthread_mutex_unlock(&lock);
  }
  free(c.scratch.data);
  free(c.stat_copy);
  return NULL;
}

/* Writes every chunk in order, each once it and all before it are read. */
static void *writer(void *arg) {
  (void)arg;
  for (int i = 0; i < nchunks; i++) {
    pthread_mutex_lock(&lock);
    while (!ready[i]) pthread_cond_wait(&chunk_ready, &lock);
    Buf b = chunks[i];
    chunks[i].data = NULL;
    pthread_mutex_unlock(&lock);
    /* After a failed write the rest is still taken (and freed), never written. */
    if (!FAILED() && b.len && write_all(b.data, b.len) != 0) {
      __atomic_store_n(&write_failed, 1, __ATOMIC_RELAXED);
    }
    free(b.data);
  }
  return NULL;
}

static int cmp_int(const void *a, const void *b) {
  int x = *(const int *)a, y = *(const int *)b;
  return (x > y) - (x < y);
}

static int read_all(int threads, int skip, int skip2);
static int launch(char **argv);

int main(int argc, char **argv) {
  if (argc >= 3 && strcmp(argv[1], "--launch") == 0) return launch(argv + 2);
  /* bin/breachkit's check that this binary runs here (a copy built for another libc). */
  if (argc == 2 && strcmp(argv[1], "--probe") == 0) {
    /* What bin/breachkit compares: this binary, of this output format (not an empty or
     * cut file, which a shell would run as a script, nor an older build). */
    return puts("procread " MAGIC) == EOF ? 1 : 0;
  }
  if (argc < 3 || argc > 4) {
    fprintf(stderr, "usage: procread ROOT THREADS [SKIP_PID]\n"
                    "       procread --launch NODE ARGS...\n");
    return 2;
  }
  root = argv[1];
  int threads = atoi(argv[2]);
  int skip = argc == 4 ? atoi(argv[3]) : -1;
  if (threads < 1 || threads > 64 || strlen(root) > 3000) {
    fprintf(stderr, "procread: bad arguments\n");
    return 2;
  }
  return read_all(threads, skip, -1);
}

/*
 * --launch NODE ARGS...: the launcher's way to start the reading before node itself has
 * started (bin/breachkit uses it for the commands that begin with a live snapshot). The
 * reading runs in a grandchild, over /proc with one thread per usable core (at most 8),
 * leaving out this process's pid, which becomes node's (node reads itself), and the
 * short-lived child between them. This process then becomes NODE ARGS... with the pipe's
 * read end open, and "FD:MS:PID" in BREACHKIT_EARLY_READER: the descriptor, the start time
 * (ms since the epoch) and the pid the reading leaves out, which node checks is its own.
 * When the pipe or a fork fails, node runs without it and reads as usual.
 *
 * The grandchild belongs to nobody: init (or the nearest subreaper) reaps it. Its stdin
 * and stderr are /dev/null (it must not hold the caller's terminal or pipes open), SIGPIPE
 * is restored to its default: when node closes the pipe (a reading it does not take), the
 * reader's next write ends it, and no chunk of /proc is read after a failed write.
 */
static int launch(char **argv) {
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  long long started = (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
  unsetenv("BREACHKIT_EARLY_READER");
  /* With stdin, stdout or stderr closed, the pipe would take its number. */
  for (int fd = 0; fd < 3; fd++) {
    if (fcntl(fd, F_GETFD) < 0 && errno == EBADF) {
      int n = open("/dev/null", O_RDWR);
      if (n >= 0 && n != fd) close(n);
    }
  }
  /* With SIGCHLD ignored (inherited), waitpid would find no child to wait for. */
  struct sigaction chld_default = {0}, chld_was;
  chld_default.sa_handler = SIG_DFL;
  sigemptyset(&chld_default.sa_mask);
  int chld_saved = sigaction(SIGCHLD, &chld_default, &chld_was) == 0;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) == 0 && fds[0] > 2 && fds[1] > 2) {
    pid_t node = getpid();
    pid_t a = fork();
    if (a == 0) {
      pid_t middle = getpid();
      pid_t b = fork();
      if (b != 0) _exit(b < 0 ? 1 : 0);
      /* Only node holds the read end: its closing ends this reading at the next write. */
      close(fds[0]);
      if (dup2(fds[1], 1) < 0) _exit(1);
      close(fds[1]);
      int null = open("/dev/null", O_RDWR);
      if (null >= 0) {
        (void)dup2(null, 0);
        (void)dup2(null, 2);
        if (null > 2) close(null);
      }
      /* Nothing else of the caller's: its other descriptors (a CI runner's pipes, a
       * jobserver) and its working directory (a mount to unmount) stay free of us. */
      if (syscall(SYS_close_range, 3u, ~0u, 0u) != 0) {
        for (int fd = 3; fd < 1024; fd++) close(fd);
      }
      if (chdir("/") != 0) _exit(1);
      signal(SIGPIPE, SIG_DFL);
      sigset_t pipe_only;
      sigemptyset(&pipe_only);
      sigaddset(&pipe_only, SIGPIPE);
      (void)sigprocmask(SIG_UNBLOCK, &pipe_only, NULL);
      root = "/proc";
      cpu_set_t set;
      int threads = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
      if (threads < 1) threads = 1;
      if (threads > 8) threads = 8;
      _exit(read_all(threads, (int)node, (int)middle));
    }
    int status = 1;
    if (a > 0) (void)waitpid(a, &status, 0);
    close(fds[1]);
    if (a > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0 && fcntl(fds[0], F_SETFD, 0) == 0) {
      char value[96];
      snprintf(value, sizeof value, "%d:%lld:%d", fds[0], started, (int)node);
      setenv("BREACHKIT_EARLY_READER", value, 1);
    } else {
      close(fds[0]);
    }
  }
  if (chld_saved) (void)sigaction(SIGCHLD, &chld_was, NULL);
  execvp(argv[0], argv);
  fprintf(stderr, "breachkit: cannot run %s: %s\n", argv[0], strerror(errno));
  return 127;
}

static int read_all(int threads, int skip, int skip2) {
  long self = (long)getpid();
  DIR *d = opendir(root);
  if (d == NULL) {
    fprintf(stderr, "procread: cannot list %s: %s\n", root, code_of(errno));
    return 1;
  }
  size_t cap = 4096;
  pids = malloc(cap * sizeof *pids);
  if (pids == NULL) die_oom();
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    const char *n = e->d_name;
    if (*n < '0' || *n > '9') continue;
    char *end;
    long v = strtol(n, &end, 10);
    /* Itself neither: an artifact of the observation, which the JS reader does not have. */
    if (*end != '\0' || v <= 0 || v > 0x7fffffff || v == skip || v == skip2 || v == self) {
      continue;
    }
    if ((size_t)npids == cap) {
      cap *= 2;
      int *p = realloc(pids, cap * sizeof *pids);
      if (p == NULL) die_oom();
      pids = p;
    }
    pids[npids++] = (int)v;
  }
  closedir(d);
  qsort(pids, (size_t)npids, sizeof *pids, cmp_int);
  nchunks = (npids + CHUNK - 1) / CHUNK;
  chunks = calloc((size_t)nchunks + 1, sizeof *chunks);
  ready = calloc((size_t)nchunks + 1, 1);
  if (chunks == NULL || ready == NULL) die_oom();
  /* A bigger pipe, when stdout is one: fewer wake-ups on both sides. */
#ifdef F_SETPIPE_SZ
  (void)fcntl(1, F_SETPIPE_SZ, 1 << 20);
#endif
  if (write_all(MAGIC, 8) != 0) return 1;
  int net_threads = threads;
  if (threads > nchunks) threads = nchunks > 0 ? nchunks : 1;
  pthread_t tid[64], wtid;
  int started = 0;
  for (int i = 0; i < threads; i++) {
    if (pthread_create(&tid[i], NULL, worker, NULL) != 0) break;
    started++;
  }
  /* No thread could start: read everything here, then write it. Slower, same output. */
  if (started == 0) worker(NULL);
  int have_writer = pthread_create(&wtid, NULL, writer, NULL) == 0;
  for (int i = 0; i < started; i++) pthread_join(tid[i], NULL);

  /* Every process is read: each namespace's candidates are known. Their tables are read
   * now, while the writer (and breachkit) deal with the last processes; in link order. */
  if (netns_count > 1) qsort(netns_seen, netns_count, sizeof *netns_seen, cmp_netns);
  if ((size_t)net_threads > netns_count) net_threads = (int)netns_count;
  started = 0;
  for (int i = 0; i < net_threads; i++) {
    if (pthread_create(&tid[i], NULL, net_worker, NULL) != 0) break;
    started++;
  }
  if (started == 0) net_worker(NULL);
  for (int i = 0; i < started; i++) pthread_join(tid[i], NULL);

  if (have_writer) pthread_join(wtid, NULL);
  else writer(NULL);
  for (size_t i = 0; i < netns_count; i++) {
    Buf *b = &netns_seen[i].out;
    if (!FAILED() && b->len && write_all(b->data, b->len) != 0) write_failed = 1;
    free(b->data);
  }
  if (FAILED() || write_all("E", 1) != 0) return 1;
  return 0;
}
