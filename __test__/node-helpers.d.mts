import type { ChildProcess } from 'node:child_process'
import type { Readable } from 'node:stream'
export interface Exit {
  code: number | null
  signal: NodeJS.Signals | null
}
export { nodeCommand, NODE, scaled, FD_TABLE_SHARED } from './env.mjs'
export function sha256(data: Uint8Array | string): string
export function testData(size: number, seed?: number): Buffer
export function collect(stream: Readable | null): Promise<Buffer>
export function exitOf(child: ChildProcess): Promise<Exit>
export function openFds(): number[]
export function settleFds(before: number[], ms?: number): Promise<number[]>
