/*
 * raw_writer: the native limit the JS contenders are compared with. No JS,
 * no event loop: a blocking write loop straight into the child's stdin.
 *
 *   raw_writer --sink PATH --mode write|writev --transport pipe|pipe1m|socketpair
 *              --chunk BYTES --total BYTES [--iov N] [--cpu N] [--sink-cpu N]
 *              [--children N] [--piece BYTES] [--high-water BYTES --pause-us N]
 *
 * Builds one chunk (the same byte pattern as the JS contenders), forks the
 * sink with one end of the transport as its stdin, then writes TOTAL bytes as
 * chunks: one write(2) per chunk, or writev(2) of up to N (default 1024)
 * chunks per call. Prints one JSON line: elapsed seconds from the first write
 * to the sink's exit, the sink's count, syscalls, CPU time of this process.
 * --cpu / --sink-cpu pin the writer / the sink to one CPU (for the same-core vs
 * cross-core probe; the contenders themselves are never pinned).
 * --children N (mode write only): N sinks, each with its own transport and
 * TOTAL/N bytes, fed from one thread: non-blocking fds, poll(2), one write(2)
 * per chunk to each writable fd in turn (what an event loop does, minus JS).
 * --piece BYTES (mode write, one child): write each chunk in writes of at most
 * BYTES (what ProcessWriter does with a deep queue; see src/piece_size.rs).
 * --high-water BYTES --pause-us N (one child): after each burst of chunks that
 * takes the total since the last pause over BYTES, spin N µs (mode writev: each
 * writev(2) carries one such burst, so small chunks still go in one call). This
 * is what any writer held to a high-water mark of BYTES and a low-water mark of
 * 0 must do, however fast its producer: the chunk that crosses the mark is the
 * last until the queue is empty and the producer has been told (the contract's
 * default marks, 64 KiB and 0; ProcessWriter's JS turnaround is several µs).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Busy-wait `us` microseconds (a sleep would let the scheduler take the core). */
static void spin_us(unsigned long long us) {
  double until = now_s() + (double)us / 1e6;
  while (now_s() < until) {}
}

static double tv_s(struct timeval tv) { return (double)tv.tv_sec + (double)tv.tv_usec / 1e6; }

static void die(const char *what) {
  perror(what);
  exit(2);
}

static void pin(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof set, &set) < 0) die("sched_setaffinity");
}

/* A new transport: fds[0] for the child, fds[1] ours. Returns its capacity. */
static long open_transport(const char *transport, int fds[2]) {
  long capacity = 0;
  if (!strcmp(transport, "socketpair")) {
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0) die("socketpair");
    int sndbuf = 0; socklen_t len = sizeof sndbuf;
    if (getsockopt(fds[1], SOL_SOCKET, SO_SNDBUF, &sndbuf, &len) == 0) capacity = sndbuf;
  } else {
    if (pipe2(fds, O_CLOEXEC) < 0) die("pipe2");
    if (!strcmp(transport, "pipe1m")) {
      if (fcntl(fds[1], F_SETPIPE_SZ, 1 << 20) < 0) die("F_SETPIPE_SZ");
    } else if (strcmp(transport, "pipe")) {
      fprintf(stderr, "raw_writer: unknown transport %s\n", transport);
      exit(2);
    }
    capacity = fcntl(fds[1], F_GETPIPE_SZ);
  }
  return capacity;
}

/* Fork the sink on fds[0] expecting `total` bytes, its stdout into out[1]. */
static pid_t start_sink(const char *sink, int fds[2], int out[2], unsigned long long total, int sink_cpu) {
  char expected[32];
  snprintf(expected, sizeof expected, "%llu", total);
  pid_t pid = fork();
  if (pid < 0) die("fork");
  if (pid == 0) {
    dup2(fds[0], 0);
    dup2(out[1], 1);
    signal(SIGPIPE, SIG_DFL);
    if (sink_cpu >= 0) pin(sink_cpu);
    execl(sink, sink, expected, (char *)NULL);
    _exit(127);
  }
  close(fds[0]);
  return pid;
}

/* --children N: returns 0 when every sink counted its share. */
static int feed_many(const char *sink, const char *transport, int n, const unsigned char *buf,
                     unsigned long long chunk, unsigned long long total, double *seconds,
                     unsigned long long *syscalls, long *capacity, int *err) {
  unsigned long long share = total / (unsigned long long)n;
  struct pollfd *pfd = calloc((size_t)n, sizeof *pfd);
  unsigned long long *left = calloc((size_t)n, sizeof *left), *off = calloc((size_t)n, sizeof *off);
  pid_t *pids = calloc((size_t)n, sizeof *pids);
  int *outs = calloc((size_t)n, sizeof *outs);
  if (!pfd || !left || !off || !pids || !outs) die("calloc");
  for (int i = 0; i < n; i++) {
    int fds[2], out[2];
    *capacity = open_transport(transport, fds);
    if (pipe2(out, O_CLOEXEC) < 0) die("pipe2");
    pids[i] = start_sink(sink, fds, out, share, -1);
    close(out[1]);
    outs[i] = out[0];
    fcntl(fds[1], F_SETFL, fcntl(fds[1], F_GETFL) | O_NONBLOCK);
    pfd[i].fd = fds[1];
    pfd[i].events = POLLOUT;
    left[i] = share;
  }
  double t0 = now_s();
  int open_fds = n;
  while (open_fds > 0) {
    if (poll(pfd, (nfds_t)n, -1) < 0) { if (errno == EINTR) continue; die("poll"); }
    for (int i = 0; i < n; i++) {
      if (pfd[i].fd < 0 || !pfd[i].revents) continue;
      /* Write chunks until the kernel is full, as a non-blocking writer does. */
      while (left[i] > 0) {
        unsigned long long want = (left[i] < chunk ? left[i] : chunk) - off[i];
        ssize_t w = write(pfd[i].fd, buf + off[i], want);
        (*syscalls)++;
        if (w < 0) {
          if (errno == EINTR) continue;
          if (errno == EAGAIN) break;
          *err = errno;
          left[i] = 0;
          break;
        }
        off[i] += (unsigned long long)w;
        if ((unsigned long long)w == want) { left[i] -= off[i]; off[i] = 0; }
      }
      if (left[i] == 0) { close(pfd[i].fd); pfd[i].fd = -1; open_fds--; }
    }
  }
  int ok = !*err;
  for (int i = 0; i < n; i++) {
    int status = 0;
    while (waitpid(pids[i], &status, 0) < 0 && errno == EINTR) {}
    char line[64] = {0};
    ssize_t r = read(outs[i], line, sizeof line - 1);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || r <= 0 || strtoull(line, NULL, 10) != share) ok = 0;
  }
  *seconds = now_s() - t0;
  return ok ? 0 : 1;
}

/* The one JSON result line; CPU time is this process's since `ru0`. Returns the exit status. */
static int report(int ok, double seconds, unsigned long long bytes, unsigned long long received,
                  unsigned long long syscalls, const struct rusage *ru0, long capacity, int err) {
  struct rusage ru1;
  getrusage(RUSAGE_SELF, &ru1);
  printf("{\"ok\":%s,\"seconds\":%.6f,\"bytes\":%llu,\"received\":%llu,\"syscalls\":%llu,"
         "\"cpuUser\":%.6f,\"cpuSystem\":%.6f,\"pipeCapacity\":%ld,\"error\":%s%s%s}\n",
         ok ? "true" : "false", seconds, bytes, received, syscalls,
         tv_s(ru1.ru_utime) - tv_s(ru0->ru_utime), tv_s(ru1.ru_stime) - tv_s(ru0->ru_stime), capacity,
         err ? "\"" : "", err ? strerror(err) : "null", err ? "\"" : "");
  return ok ? 0 : 1;
}

int main(int argc, char **argv) {
  const char *sink = NULL, *mode = "write", *transport = "pipe";
  unsigned long long chunk = 65536, total = 1 << 26;
  int iovmax = 1024, cpu = -1, sink_cpu = -1, children = 1;
  unsigned long long piece = 0, high_water = 0, pause_us = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const char *k = argv[i], *v = argv[i + 1];
    if (!strcmp(k, "--sink")) sink = v;
    else if (!strcmp(k, "--mode")) mode = v;
    else if (!strcmp(k, "--transport")) transport = v;
    else if (!strcmp(k, "--chunk")) chunk = strtoull(v, NULL, 10);
    else if (!strcmp(k, "--total")) total = strtoull(v, NULL, 10);
    else if (!strcmp(k, "--iov")) iovmax = atoi(v);
    else if (!strcmp(k, "--cpu")) cpu = atoi(v);
    else if (!strcmp(k, "--sink-cpu")) sink_cpu = atoi(v);
    else if (!strcmp(k, "--children")) children = atoi(v);
    else if (!strcmp(k, "--piece")) piece = strtoull(v, NULL, 10);
    else if (!strcmp(k, "--high-water")) high_water = strtoull(v, NULL, 10);
    else if (!strcmp(k, "--pause-us")) pause_us = strtoull(v, NULL, 10);
    else { fprintf(stderr, "raw_writer: unknown option %s\n", k); return 2; }
  }
  int use_writev = !strcmp(mode, "writev");
  if (!sink || chunk == 0 || iovmax < 1 || iovmax > 1024 || (!use_writev && strcmp(mode, "write")) ||
      children < 1 || (children > 1 && use_writev) || (piece && use_writev) || ((piece || high_water) && children > 1) ||
      (!high_water != !pause_us)) {
    fprintf(stderr, "raw_writer: bad arguments\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  if (cpu >= 0) pin(cpu);

  /* Same pattern as benchmark/workload.ts makeChunk(): byte i = i * 31 + 7. */
  unsigned char *buf = malloc(chunk);
  if (!buf) die("malloc");
  for (unsigned long long i = 0; i < chunk; i++) buf[i] = (unsigned char)(i * 31 + 7);

  if (children > 1) {
    double seconds = 0;
    unsigned long long syscalls = 0;
    long capacity = 0;
    int err = 0;
    struct rusage ru0;
    getrusage(RUSAGE_SELF, &ru0);
    int bad = feed_many(sink, transport, children, buf, chunk, total, &seconds, &syscalls, &capacity, &err);
    unsigned long long bytes = total / (unsigned long long)children * (unsigned long long)children;
    return report(!bad, seconds, bytes, bad ? 0ULL : bytes, syscalls, &ru0, capacity, err);
  }

  int fds[2];
  long capacity = open_transport(transport, fds);
  int out[2];
  if (pipe2(out, O_CLOEXEC) < 0) die("pipe2");
  pid_t pid = start_sink(sink, fds, out, total, sink_cpu);
  close(out[1]);
  int fd = fds[1];

  struct rusage ru0;
  getrusage(RUSAGE_SELF, &ru0);
  double t0 = now_s();
  unsigned long long sent = 0, syscalls = 0;
  int err = 0;
  if (!use_writev) {
    unsigned long long burst = 0;
    while (sent < total) {
      unsigned long long n = total - sent < chunk ? total - sent : chunk;
      unsigned long long off = 0;
      while (off < n) {
        ssize_t w = write(fd, buf + off, piece && n - off > piece ? piece : n - off);
        syscalls++;
        if (w < 0) { if (errno == EINTR) continue; err = errno; goto done; }
        off += (unsigned long long)w;
      }
      sent += n;
      if (high_water && (burst += n) > high_water) {
        spin_us(pause_us);
        burst = 0;
      }
    }
  } else {
    struct iovec *iov = malloc(sizeof(struct iovec) * (size_t)iovmax);
    if (!iov) die("malloc");
    while (sent < total) {
      int cnt = 0;
      unsigned long long batch = 0;
      while (cnt < iovmax && sent + batch < total && !(high_water && batch > high_water)) {
        unsigned long long n = total - sent - batch < chunk ? total - sent - batch : chunk;
        iov[cnt].iov_base = buf;
        iov[cnt].iov_len = n;
        batch += n;
        cnt++;
      }
      /* Write the batch, resuming inside it after a partial writev. */
      struct iovec *cur = iov;
      while (cnt > 0) {
        ssize_t w = writev(fd, cur, cnt);
        syscalls++;
        if (w < 0) { if (errno == EINTR) continue; err = errno; goto done; }
        sent += (unsigned long long)w;
        while (cnt > 0 && (size_t)w >= cur->iov_len) { w -= (ssize_t)cur->iov_len; cur++; cnt--; }
        if (cnt > 0) { cur->iov_base = (char *)cur->iov_base + w; cur->iov_len -= (size_t)w; }
      }
      if (high_water) {
        spin_us(pause_us);
      }
    }
  }
done:
  close(fd);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
  double t1 = now_s();
  char line[64] = {0};
  ssize_t r = read(out[0], line, sizeof line - 1);
  unsigned long long received = r > 0 ? strtoull(line, NULL, 10) : 0;
  int ok = !err && WIFEXITED(status) && WEXITSTATUS(status) == 0 && received == total;
  return report(ok, t1 - t0, sent, received, syscalls, &ru0, capacity, err);
}
