export const NODE: string[]
export function nodeCommand(args: string[]): [string, string[]]
export const TIME_SCALE: number
export function scaled(ms: number): number
export const FD_TABLE_SHARED: string | null
