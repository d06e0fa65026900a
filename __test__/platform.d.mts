/** `test` itself on POSIX; on Windows, a `test` whose tests are all skipped with `reason`. */
export declare function posixOnly<T>(test: T, reason: string): T
