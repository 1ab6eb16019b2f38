/**
 * Exit codes shared by program.ts and the commands. A leaf: commands import it, never program.ts
 * (program.ts loads the commands, so that would be an import cycle; eslint layers/one-way).
 */

/** Exit code of a command-line usage error (unknown option, missing or invalid argument). */
export const USAGE_ERROR = 2;
