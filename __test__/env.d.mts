export const NODE: string[]
export function nodeCommand(args: string[]): [string, string[]]
export const TIME_SCALE: number
export function scaled(ms: number): number
export const FD_TABLE_SHARED: string | null
/** Why a test must not give a ProcessWriter an fd from fs.open here (a worker thread), or null. */
export const FS_FDS_TRACKED: string | null
