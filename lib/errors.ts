import type { ConnectionLostReason } from './native.js'

/**
 * Rejection value of `feed()` (and error of the adapters) when an `AbortSignal` fired.
 * Shaped like Node's own abort errors: `name === 'AbortError'`, `code === 'ABORT_ERR'`,
 * the signal's reason as `cause`.
 */
export class AbortError extends Error {
  declare readonly code: 'ABORT_ERR'
  constructor(message = 'The operation was aborted', options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'AbortError'
    ;(this as { code: string }).code = 'ABORT_ERR'
  }
}

/**
 * The error a `Writable` / `WritableStream` adapter fails with when the writer's connection ended
 * any other way than `DONE`. `code` is the reason's code (`READER_CLOSED`, `ABORTED`, ...).
 */
export class ConnectionLostError extends Error {
  declare readonly code: ConnectionLostReason['code']
  declare readonly errno: string | undefined
  declare readonly reason: ConnectionLostReason
  constructor(reason: ConnectionLostReason) {
    const fd = reason.childFd == null ? '' : ` (child fd ${reason.childFd})`
    const errno = reason.errno ? ` [${reason.errno}]` : ''
    super(
      `connection lost${fd}: ${reason.code}${errno}: ${reason.message}; ` +
        `${reason.bytesWritten} bytes written, ${reason.bytesUnwritten} unwritten`,
      reason.cause === undefined ? undefined : { cause: reason.cause },
    )
    this.name = 'ConnectionLostError'
    const self = this as { code: string; errno: string | undefined; reason: ConnectionLostReason }
    self.code = reason.code
    self.errno = reason.errno
    self.reason = reason
  }
}

export function abortErrorFrom(signal: AbortSignal): AbortError {
  return new AbortError(undefined, { cause: signal.reason })
}

/** A Node-style error: `Class` (TypeError, RangeError, ...) with `message` and a `code`. */
export function codedError<E extends Error>(Class: new (message: string) => E, code: string, message: string): E & { code: string } {
  const err = new Class(message) as E & { code: string }
  err.code = code
  return err
}

export function invalidArgType(what: string, value: unknown): TypeError {
  const got = value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value
  return codedError(TypeError, 'ERR_INVALID_ARG_TYPE', `${what}; received ${got}`)
}
