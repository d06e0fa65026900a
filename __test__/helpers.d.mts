// Types for helpers.mjs.
import { type ChildProcess, type StdioOptions } from 'node:child_process';
import type { ConnectionLostReason, ProcessWriter as ProcessWriterT, ProcessWriterOptions, PullProducer, PushProducer } from '../index.js';
export declare const ROOT: string;
export declare const NATIVE_PATH: string;
export declare const native: typeof import("../index.js");
export declare const ProcessWriter: typeof ProcessWriterT, openPipe: typeof import("../index.js").openPipe, closeFd: typeof import("../index.js").closeFd;
export type Reason = ConnectionLostReason;
export type Writer = ProcessWriterT;
export declare const KiB = 1024;
export declare const MiB: number;
export declare const LONG = 20000;
export declare const TWISTED_MARKS: Readonly<{ bufferSize: 65536; lowWaterMark: 0 }>;
export interface Deferred<T> {
    promise: Promise<T>;
    resolve(v: T): void;
    reject(e: unknown): void;
}
export declare function deferred<T>(): Deferred<T>;
export declare function withTimeout<T>(p: Promise<T>, ms?: number, what?: string): Promise<T>;
export declare const sleep: (ms: number) => Promise<void>;
export declare const tick: () => Promise<void>;
/** Busy-wait on the JS thread: the core's I/O thread runs meanwhile, but no JS turn ends. */
export declare function sameTurnDelay(ms: number): void;
/** Poll `cond` every 2 ms until it is true; reject after `ms`. */
export declare function waitFor(cond: () => boolean, what?: string, ms?: number): Promise<void>;
/** Let callbacks that could still be in flight arrive (used to assert "exactly once"/"never"). */
export declare function settle(ms?: number): Promise<void>;
export declare function isFdOpen(fd: number): boolean;
/** fd -> readlink target, for this process. */
/** Linux's /proc is there (fd targets and flags readable); elsewhere /dev/fd only lists fds. */
export declare const HAS_PROC: boolean;
/** The directory listing this process's open fds. */
export declare const FD_DIR: string;
export declare function fdTable(): Map<number, string>;
/** Pipe fds (our module's business) open in this process. */
export declare function pipeFds(): Map<number, string>;
export declare function fdFlags(fd: number): string;
export declare const O_NONBLOCK = 2048;
/** Deterministic pseudo-random bytes (xorshift32), so a misplaced or dropped chunk is visible. */
export declare function bytes(n: number, seed?: number): Buffer;
export declare function sha256(...parts: Array<ArrayBufferView>): string;
export interface LostTracker {
    /** every onConnectionLost call, in order */
    calls: Reason[];
    /** resolves with the first reason */
    lost: Promise<Reason>;
    /** true if onConnectionLost ran while a write/loseConnection/... was on the stack (set by `guard`) */
    syncCalls: number;
    /** run fn with "inside a writer call" marked, so a synchronous onConnectionLost is recorded */
    guard<T>(fn: () => T): T;
    onConnectionLost(reason: Reason): void;
}
export declare function lostTracker(): LostTracker;
export interface PipeWriter extends LostTracker {
    w: Writer;
    readFd: number;
    writeFd: number;
}
/** A writer on a fresh pipe; the read end stays in this process (the caller attaches a reader). */
export declare function pipeWriter(options?: ProcessWriterOptions, pipeSize?: number): PipeWriter;
export interface Child {
    child: ChildProcess;
    stdout: Promise<Buffer>;
    stderr: Promise<Buffer>;
    exit: Promise<{
        code: number | null;
        signal: NodeJS.Signals | null;
    }>;
    exited(): boolean;
}
/** Spawn `cmd` with the given stdio (numbers are our fds; they are closed here right after spawn). */
export declare function spawnChild(cmd: string, args: string[], stdio: StdioOptions, closeAfter?: number[]): Child;
/** Give `readFd` to a new child as its stdin and close it here. */
export declare function attachReader(readFd: number, cmd: string, args?: string[], keepFd?: boolean): Child;
export interface ChildWriter extends Child, LostTracker {
    w: Writer;
}
/**
 * The documented recipe: openPipe(), spawn with the read end as the child's `childFd`, close the
 * read end here, then wrap the write end.
 */
export declare function spawnWithWriter(cmd: string, args?: string[], options?: ProcessWriterOptions, childFd?: number): ChildWriter;
export type Ev = 'pause' | 'resume' | 'stop';
export interface Recorder {
    events: Ev[];
    /** events recorded while `inWrite` was set (i.e. synchronously inside a writer call) */
    syncEvents: Ev[];
    inWrite: boolean;
    /** wraps a writer call so that callbacks made inside it are recorded as synchronous */
    during<T>(fn: () => T): T;
    count(e: Ev): number;
}
export declare function recorder(): Recorder;
export declare function pushProducer(rec: Recorder, hooks?: {
    pause?(): void;
    resume?(): void;
    stop?(): void;
}): PushProducer;
export declare function pullProducer(rec: Recorder, hooks?: {
    resume?(): void;
    stop?(): void;
}): PullProducer & {
    pauseProducing(): void;
};
/** True when `events` is a strictly alternating pause/resume sequence starting with pause. */
export declare function alternates(events: Ev[]): boolean;
export declare function pipeCapacity(w: Writer): number;
/**
 * Wait until the kernel pipe is full: nobody reads it, so bytesWritten stops at the capacity
 * (plus what earlier readers consumed, `alreadyRead`). After this, bufferedAmount only changes
 * through our own writes: flow-control thresholds can be tested deterministically.
 */
export declare function waitPipeFull(w: Writer, alreadyRead?: number): Promise<void>;
export interface NodeRun {
    code: number | null;
    signal: NodeJS.Signals | null;
    stdout: string;
    stderr: string;
}
/** Run a CommonJS script in a fresh node; `NATIVE` in the script is the absolute path of index.js. */
export declare function runNode(script: string, ms?: number, args?: string[]): Promise<NodeRun>;
/**
 * Registers before/after hooks: a baseline of pipe fds after a warm-up (the core may open its own
 * long-lived fds, e.g. an epoll or eventfd, on first use), and at the end every pipe fd the file
 * opened must be closed again.
 */
export declare function fdLeakGuard(test: any): void;
/**
 * A writer whose kernel pipe is already full (nobody reads yet; we hold the read end) and whose own
 * buffer is empty. From here on bufferedAmount moves only by our writes, until a reader is attached.
 */
export declare function fullPipe(options?: ProcessWriterOptions): Promise<PipeWriter & {
    filler: number;
}>;
/** Parse `wc -c` output. */
export declare function wcCount(c: Child): Promise<number>;
/** On Windows, the node stand-in for a POSIX command (`[process.execPath, ['-e', ...]]`); elsewhere, or without one, `[cmd, args]`. */
export declare function standIn(cmd: string, args?: readonly string[]): [string, string[]]
