import type { PushProducer } from './native.js'

/**
 * The push producer each adapter (`feed`, `toWritable`, `toWebWritable`) registers: it records
 * whether the writer has paused it and hands the one waiting party, if any, to `wake` at the next
 * `resumeProducing()`. `stopProducing` is the adapter's own.
 */
export interface PauseGate<W> {
  readonly producer: PushProducer
  /** Paused since the last `resumeProducing()`. */
  readonly paused: boolean
  /** Let `waiter` be woken at the next `resumeProducing()` (replaces an earlier one). */
  wait(waiter: W): void
  /** Remove the waiter without waking it (to fail it instead); null when nobody waits. */
  take(): W | null
}

export function pauseGate<W>(wake: (waiter: W) => void, stopProducing: () => void = () => {}): PauseGate<W> {
  let paused = false
  let waiter: W | null = null
  const take = () => {
    const w = waiter
    waiter = null
    return w
  }
  return {
    producer: {
      pauseProducing() {
        paused = true
      },
      resumeProducing() {
        paused = false
        const w = take()
        if (w !== null) wake(w)
      },
      stopProducing,
    },
    get paused() {
      return paused
    },
    wait(w: W) {
      waiter = w
    },
    take,
  }
}
