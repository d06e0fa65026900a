/**
 * `test` itself on POSIX; on Windows, a `test` whose tests are all skipped with `reason` (or,
 * given `titles`, only those whose title starts with one of them).
 */
export declare function posixOnly<T>(test: T, reason: string, titles?: string[]): T
