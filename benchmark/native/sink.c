/*
 * sink: the one consumer every benchmark contender feeds.
 *
 *   sink [EXPECTED_BYTES] [--slow BYTES_PER_SEC]
 *
 * Reads stdin with a 1 MiB buffer until EOF, counts the bytes and prints the
 * count on stdout. With EXPECTED_BYTES it exits 1 when the count differs.
 * With --slow it never reads ahead of BYTES_PER_SEC (sleeping between reads),
 * which models a child that consumes slower than its parent produces.
 * With SINK_RUSAGE=PATH in the environment it writes its own CPU time there.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define BUF_SIZE (1u << 20)

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  long long expected = -1;
  double rate = 0; /* bytes per second, 0 = unlimited */
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--slow") == 0 && i + 1 < argc) {
      rate = strtod(argv[++i], NULL);
    } else {
      expected = strtoll(argv[i], NULL, 10);
    }
  }

  static char buf[BUF_SIZE];
  unsigned long long total = 0;
  double start = 0; /* slow mode: the clock starts at the first byte, not at exec */
  /* In slow mode read at most 64 KiB at a time so consumption is smooth. */
  size_t want = rate > 0 ? (64u << 10) : BUF_SIZE;
  for (;;) {
    ssize_t n = read(0, buf, want);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      perror("sink: read");
      return 2;
    }
    if (total == 0) start = now_s();
    total += (unsigned long long)n;
    if (rate > 0) {
      double due = start + (double)total / rate;
      double wait = due - now_s();
      if (wait > 0) {
        struct timespec ts = {(time_t)wait, (long)((wait - (double)(time_t)wait) * 1e9)};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
      }
    }
  }
  printf("%llu\n", total);
  fflush(stdout);
  /* SINK_RUSAGE=PATH: this process's CPU seconds ("user system"), for a harness that can only
   * see it added to a parent's (a sink spawned by the feeding process, reaped by it). */
  const char *ru_path = getenv("SINK_RUSAGE");
  if (ru_path && *ru_path) {
    struct rusage ru;
    FILE *f = fopen(ru_path, "w");
    if (f && getrusage(RUSAGE_SELF, &ru) == 0) {
      fprintf(f, "%.6f %.6f\n", ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6, ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6);
    }
    if (f) fclose(f);
  }
  if (expected >= 0 && (unsigned long long)expected != total) {
    fprintf(stderr, "sink: expected %lld bytes, got %llu\n", expected, total);
    return 1;
  }
  return 0;
}
