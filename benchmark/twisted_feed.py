"""One measurement of Twisted's ProcessWriter, the design process-writer rebuilds for Node.

    python twisted_feed.py '<RunSpec as JSON>'

Spawns the sink with spawnProcess (so stdin is a pipe written by twisted.internet.process.ProcessWriter
under the default reactor), feeds it with a streaming (push) producer registered on the process
transport, honouring Twisted's flow control (pauseProducing when the writer's buffer passes its
bufferSize, resumeProducing when it is empty), or (workload kind `file`) with Twisted's
FileSender reading spec["file"], and prints one JSON line shaped like run-one.ts's.
"""

import gc
import json
import os
import resource
import sys
import time

from twisted.internet import protocol, reactor
from twisted.protocols import basic


def make_chunk(size):
    # Same bytes as workloads.ts makeChunk(): byte i = (i * 31 + 7) & 255.
    return bytes(((i * 31 + 7) & 255) for i in range(size))


def vm(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return None


class Sink(protocol.ProcessProtocol):
    """Feeds one child: a push producer that writes until paused."""

    def __init__(self, spec, nbytes, chunk, done):
        self.spec = spec
        self.nbytes = nbytes
        self.unit = [chunk] * spec["seqLen"] if spec["kind"] == "sequence" else None
        self.unit_len = len(chunk) * (spec["seqLen"] if self.unit else 1)
        self.chunk = chunk
        self.sent = 0
        self.paused = False
        self.producing = False
        self.finished = False
        self.out = b""
        self.done = done

    # -- producer interface (IPushProducer) --
    def pauseProducing(self):
        self.paused = True

    def resumeProducing(self):
        self.paused = False
        self.produce()

    def stopProducing(self):
        self.finished = True

    def produce(self):
        if self.producing:
            return
        self.producing = True
        t = self.transport
        while not self.paused and not self.finished:
            if self.sent >= self.nbytes:
                self.finished = True
                t.unregisterProducer()
                t.closeStdin()
                break
            self.sent += self.unit_len
            if self.unit is not None:
                t.writeSequence(self.unit)
            else:
                t.write(self.chunk)
        self.producing = False

    def start(self):
        if self.spec["kind"] == "file":
            # Twisted's own file feeding: FileSender (a pull producer, 16 KiB reads) into the
            # process transport, then close its stdin.
            f = open(self.spec["file"], "rb")

            def sent(_):
                f.close()
                self.transport.closeStdin()

            basic.FileSender().beginFileTransfer(f, self.transport).addCallback(sent)
            return
        self.transport.registerProducer(self, True)
        self.produce()

    # -- process protocol --
    def outReceived(self, data):
        self.out += data

    def processEnded(self, reason):
        code = getattr(reason.value, "exitCode", None)
        count = int(self.out.strip() or b"-1")
        err = None if code == 0 and count == self.nbytes else (
            "sink exited %s after counting %d of %d bytes" % (code, count, self.nbytes))
        self.done(err)


def main():
    spec = json.loads(sys.argv[1])
    children = spec["children"]
    per_child = spec["total"] // children
    chunk = make_chunk(spec["chunk"])
    args = [spec["sink"], str(per_child)]
    if spec["slowRate"] > 0:
        args += ["--slow", str(int(spec["slowRate"]))]

    errors = []
    remaining = [children]
    state = {}

    def child_done(err):
        if err:
            errors.append(err)
        remaining[0] -= 1
        if remaining[0] == 0:
            state["t1"] = time.perf_counter()
            state["ru1"] = resource.getrusage(resource.RUSAGE_SELF)
            reactor.stop()

    sinks = [Sink(spec, per_child, chunk, child_done) for _ in range(children)]
    for s in sinks:
        reactor.spawnProcess(s, spec["sink"], args, env=os.environ, childFDs={0: "w", 1: "r", 2: 2})

    def go():
        gc.collect()
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
            state["hwm_reset"] = True
        except OSError:
            state["hwm_reset"] = False
        state["rss0"] = vm("VmRSS")
        state["ru0"] = resource.getrusage(resource.RUSAGE_SELF)
        state["t0"] = time.perf_counter()
        for s in sinks:
            s.start()

    # Let every spawn settle before the clock starts, as the JS worker waits for 'spawn'.
    reactor.callLater(0.05, go)
    reactor.run()

    seconds = state["t1"] - state["t0"]
    ru0, ru1 = state["ru0"], state["ru1"]
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    peak = vm("VmHWM") if state["hwm_reset"] else ru1.ru_maxrss * 1024
    total = spec["total"]
    result = {
        "ok": not errors,
        "contender": spec["contender"],
        "workload": spec["workload"],
        "bytes": total,
        "seconds": seconds,
        "throughput": total / seconds,
        "elu": None,
        "cpuSeconds": cpu,
        "cpuPerGiB": cpu / (total / 2**30),
        "rssBaseline": state["rss0"],
        "rssPeak": peak,
        "syscalls": None,
    }
    if errors:
        result["error"] = "; ".join(errors[:3])
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
