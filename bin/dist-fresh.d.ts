/** The compiled entry point under `root`, whether it exists, and whether it is fresh (newer than every file under src/). */
export function distState(root: string): { built: string; exists: boolean; fresh: boolean };
