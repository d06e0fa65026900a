import type { ConnectionLostReason, ProcessWriter } from '../index.js'

type LostCallback = ((reason: ConnectionLostReason) => void) | null

interface Hook {
  promise: Promise<ConnectionLostReason>
}

const hooks = new WeakMap<object, Hook>()

/*
 * Workaround for a native-core issue (reported): when a connection ends by abortConnection() or by
 * the reader going away while the writer is idle, the core marks the writer disconnected at once
 * but delivers onConnectionLost through a handle that does not keep the event loop alive. A
 * process that only awaits the reason could then exit with the promise unsettled. So, when the
 * loop is about to empty while closed() waits for a writer, keep it alive a little longer for
 * the delivery to arrive: up to 1 s when the writer is already disconnected, 50 ms otherwise
 * (the core's thread may not have seen the reader go yet). Open writers never keep the
 * process alive beyond that.
 */
const awaiting = new Set<WeakRef<ProcessWriter>>()
let beforeExitInstalled = false
let graceTurns = 0
const GRACE_TURNS = 200 // x 5 ms

const SHORT_GRACE_TURNS = 10 // x 5 ms: for a loss the core's thread may not have seen yet

function onBeforeExit() {
  let disconnected = false
  let any = false
  for (const ref of awaiting) {
    const w = ref.deref()
    if (!w) {
      awaiting.delete(ref)
      continue
    }
    any = true
    if (!w.connected) disconnected = true
  }
  const limit = disconnected ? GRACE_TURNS : any ? SHORT_GRACE_TURNS : 0
  if (graceTurns < limit) {
    graceTurns++
    setTimeout(() => {}, 5)
  } else {
    graceTurns = 0
  }
}

function trackDelivery(writer: ProcessWriter): () => void {
  if (!beforeExitInstalled) {
    beforeExitInstalled = true
    process.on('beforeExit', onBeforeExit)
  }
  const ref = new WeakRef(writer)
  awaiting.add(ref)
  return () => {
    awaiting.delete(ref)
    graceTurns = 0
  }
}

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
  const untrack = trackDelivery(writer)
  const internal = (reason: ConnectionLostReason) => {
    if (done) return
    done = true
    untrack()
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
