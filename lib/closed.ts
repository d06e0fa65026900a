import type { ConnectionLostReason, ProcessWriter } from './native.js'

type LostCallback = ((reason: ConnectionLostReason) => void) | null

interface Hook {
  promise: Promise<ConnectionLostReason>
}

const hooks = new WeakMap<object, Hook>()

function findAccessor(obj: object, key: string): PropertyDescriptor | undefined {
  let o: object | null = Object.getPrototypeOf(obj)
  while (o && o !== Object.prototype) {
    const d = Object.getOwnPropertyDescriptor(o, key)
    if (d) return d.get && d.set ? d : undefined
    o = Object.getPrototypeOf(o)
  }
  return undefined
}

/**
 * A promise of the reason the writer's connection ended. Any number of parties may call it; they
 * share one promise per writer. The writer's own `onConnectionLost` keeps working: the callback
 * set before (or, on native writers, after) this call is still called exactly once, with the
 * same reason, before the promise's reactions run.
 */
export function closed(writer: ProcessWriter): Promise<ConnectionLostReason> {
  const existing = hooks.get(writer)
  if (existing) return existing.promise
  if (writer.lostReason) {
    // Already over: the user's callback is (or was) delivered by the writer itself.
    const promise = Promise.resolve(writer.lostReason)
    hooks.set(writer, { promise })
    return promise
  }
  let resolve!: (r: ConnectionLostReason) => void
  const promise = new Promise<ConnectionLostReason>((r) => (resolve = r))
  hooks.set(writer, { promise })

  let user: LostCallback = writer.onConnectionLost ?? null
  let done = false
  // Someone awaits the end: keep the process alive until it is delivered (an idle writer
  // does not hold the process by itself).
  writer.ref()
  const internal = (reason: ConnectionLostReason) => {
    if (done) return
    done = true
    resolve(reason)
    if (typeof user === 'function') user.call(writer, reason)
  }
  const accessor = findAccessor(writer, 'onConnectionLost')
  if (accessor) {
    // Keep our hook installed natively; later assignments by the user go to `user` instead of
    // replacing it, and reading the property gives back what the user set.
    accessor.set!.call(writer, internal)
    Object.defineProperty(writer, 'onConnectionLost', {
      configurable: true,
      enumerable: true,
      get: () => user,
      set: (v: LostCallback) => {
        user = v ?? null
      },
    })
  } else {
    // Plain data property (not a native writer): chain onto whatever is there now.
    ;(writer as { onConnectionLost: LostCallback }).onConnectionLost = internal
  }
  return promise
}
