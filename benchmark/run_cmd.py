"""One measurement of a command-line contender (the CLI, pv, cat): a shell-free pipeline.

    python3 run_cmd.py '<RunSpec as JSON>' '<pipeline: list of argv lists, the sink's stage last>'

Starts the stages with stdout of each into stdin of the next (the last one's stdout is read for
the sink's count), times them from the first start to the last exit, and takes each stage's
resource use from wait4(). The feeding side is every stage but the sink: its CPU, and the largest
peak RSS among its processes. Where the sink is a stage's own child (the CLI spawns it), that
stage's usage includes the sink's once reaped, so the sink's own CPU (SINK_RUSAGE) is taken
off. Prints one JSON line shaped like run-one.ts's (no ELU, no idle RSS: not a Node process).
"""

import json
import os
import subprocess
import sys
import tempfile
import time


def main():
    spec = json.loads(sys.argv[1])
    stages = json.loads(sys.argv[2])
    sink = spec["sink"]
    fd, ru_path = tempfile.mkstemp(prefix="sink-rusage-")
    os.close(fd)
    env = dict(os.environ, SINK_RUSAGE=ru_path)
    procs = []
    t0 = time.perf_counter()
    prev = subprocess.DEVNULL
    for i, argv in enumerate(stages):
        last = i == len(stages) - 1
        p = subprocess.Popen(argv, stdin=prev, stdout=subprocess.PIPE, env=env)
        if prev is not subprocess.DEVNULL:
            prev.close()
        procs.append(p)
        prev = p.stdout
    out = procs[-1].stdout.read()
    usage = []
    for p in procs:
        _, status, ru = os.wait4(p.pid, 0)
        usage.append((os.waitstatus_to_exitcode(status), ru))
    seconds = time.perf_counter() - t0
    try:
        with open(ru_path) as f:
            sink_cpu = sum(float(x) for x in f.read().split())
    except (OSError, ValueError):
        sink_cpu = 0.0
    os.unlink(ru_path)

    total = spec["total"]
    codes = [c for c, _ in usage]
    lines = [l for l in out.decode(errors="replace").split() if l.isdigit()]
    count = int(lines[-1]) if lines else -1
    cpu = 0.0
    peak = 0
    for argv, (_, ru) in zip(stages, usage):
        if argv[0] == sink:
            continue  # the sink itself
        cpu += ru.ru_utime + ru.ru_stime
        if sink in argv:
            cpu -= sink_cpu  # reaped by this stage: included in its usage
        peak = max(peak, ru.ru_maxrss * 1024)
    ok = all(c == 0 for c in codes) and count == total
    result = {
        "ok": ok,
        "contender": spec["contender"],
        "workload": spec["workload"],
        "bytes": total,
        "seconds": seconds,
        "throughput": total / seconds,
        "elu": None,
        "cpuSeconds": cpu,
        "cpuPerGiB": cpu / (total / 2**30),
        "rssBaseline": None,
        "rssPeak": peak,
        "syscalls": None,
    }
    if not ok:
        result["error"] = "exit codes %s, sink counted %d of %d bytes" % (codes, count, total)
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
