/*
 * wate: the breach lab's trojan stand-in. NOT malware: it only imitates what the real `wate`
 * did in the incident this project is built around (delete its own file, then flood), and it
 * does so safely:
 *   - every datagram goes to 127.0.0.1 (the loopback of the network namespace it runs in);
 *     no other destination exists in this program;
 *   - the rate is paced (about 5,000 packets/s; unthrottled it reaches ~125,000/s, which would
 *     eat one of the two CPUs of a CI machine);
 *   - it stops by itself after a duration (default and hard maximum 15 minutes) and after a
 *     maximum packet count, whichever comes first; SIGTERM/SIGINT/SIGHUP end it cleanly.
 *
 * Like the real one, it keeps its command server only in memory: the address below is built at
 * run time from numbers and never appears in the file on disk, so a memory dump can be told
 * from a copy of the executable (`collect --memory`). Nothing is ever sent to it: it is a
 * documentation address (RFC 5737), and this program has no code that connects anywhere.
 *
 * Usage: wate [seconds [max-packets]]
 * Build: gcc -static -O2 -o wate wate.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_SECONDS 900L
#define RATE_PER_SECOND 5000L
#define TICKS_PER_SECOND 100L
#define BATCH (RATE_PER_SECOND / TICKS_PER_SECOND)
#define MAX_PACKETS (MAX_SECONDS * RATE_PER_SECOND)
/* The discard port: nothing is expected to answer, the packets only have to be counted. */
#define TARGET_PORT 9

static volatile sig_atomic_t stop_requested = 0;

/* The memory-only command server: "http://198.51.100.77:8443/wate/beacon" once built. The
 * parts are volatile so that the compiler cannot fold them into a string in the binary. */
static volatile int c2_parts[5] = {198, 51, 100, 77, 8443};
static char *volatile c2_address = NULL;

static void build_c2_address(void) {
  static char buf[96];
  snprintf(buf, sizeof(buf), "http://%d.%d.%d.%d:%d/%c%c%c%c/beacon", c2_parts[0], c2_parts[1],
           c2_parts[2], c2_parts[3], c2_parts[4], 'w', 'a', 't', 'e');
  c2_address = buf;
}

static void on_signal(int sig) {
  (void)sig;
  stop_requested = 1;
}

/* Parses a positive decimal number; anything else (or overflow) yields the fallback. */
static long parse_positive(const char *text, long fallback) {
  char *end = NULL;
  errno = 0;
  long value = strtol(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || value <= 0) return fallback;
  return value;
}

/* Removes the file this process runs from, like the real dropper did to hide its traces.
 * /proc/self/exe is used rather than argv[0], which is whatever the caller chose to pass. */
static void delete_own_file(void) {
  char path[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
  if (n <= 0) return;
  path[n] = '\0';
  unlink(path);
}

static void add_ns(struct timespec *t, long ns) {
  t->tv_nsec += ns;
  while (t->tv_nsec >= 1000000000L) {
    t->tv_nsec -= 1000000000L;
    t->tv_sec += 1;
  }
}

int main(int argc, char **argv) {
  long seconds = argc > 1 ? parse_positive(argv[1], MAX_SECONDS) : MAX_SECONDS;
  long max_packets = argc > 2 ? parse_positive(argv[2], MAX_PACKETS) : MAX_PACKETS;
  if (seconds > MAX_SECONDS) seconds = MAX_SECONDS;
  if (max_packets > MAX_PACKETS) max_packets = MAX_PACKETS;

  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);

  delete_own_file();
  build_c2_address();

  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) return 1;
  struct sockaddr_in dst;
  memset(&dst, 0, sizeof(dst));
  dst.sin_family = AF_INET;
  dst.sin_port = htons(TARGET_PORT);
  dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

  static const char payload[64] = "wate-lab-flood";
  struct timespec start, next, now;
  clock_gettime(CLOCK_MONOTONIC, &start);
  next = start;
  long sent = 0;

  while (!stop_requested && sent < max_packets) {
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec - start.tv_sec >= seconds) break;
    for (long i = 0; i < BATCH && sent < max_packets; i++) {
      /* Unconnected sendto: the ICMP "port unreachable" answers are not reported back as
       * errors, so the pace does not depend on whether anything listens on the port. */
      if (sendto(fd, payload, sizeof(payload), 0, (const struct sockaddr *)&dst, sizeof(dst)) >= 0) {
        sent++;
      } else if (errno != EINTR && errno != ENOBUFS && errno != EAGAIN) {
        sent++; /* count failures too, so a broken socket cannot make the loop unbounded */
      }
    }
    /* Absolute deadlines keep the average rate steady when a tick runs a little late; after a
     * long stall (a frozen container, a suspended machine) the schedule restarts from now, so
     * the backlog is dropped instead of sent as a burst. */
    add_ns(&next, 1000000000L / TICKS_PER_SECOND);
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec > next.tv_sec + 1) next = now;
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR) {
      if (stop_requested) break;
    }
  }
  close(fd);
  return 0;
}
