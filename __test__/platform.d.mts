/**
 * `test` itself on POSIX; on Windows, a `test` whose tests are all skipped with `reason` (or,
 * given `titles`, only those whose title starts with one of them).
 */
export declare function posixOnly<T>(test: T, reason: string, titles?: string[]): T
/**
 * `test` itself in a process's main thread; in a worker thread, one whose tests are skipped with
 * the reason: they give a ProcessWriter an fd from fs.openSync, which Node closes again at the
 * worker's exit (see FS_FDS_TRACKED in env.mjs).
 */
export declare function fsFdOwner<T>(test: T): T
