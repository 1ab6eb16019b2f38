/** What every stack service implements; scripts/stack/cli.ts drives them. */
export type Health = { readonly healthy: true; readonly detail: string } | { readonly healthy: false; readonly detail: string };

export interface Service {
  readonly name: string;
  /** Human-readable endpoint, e.g. "127.0.0.1:9092". */
  readonly endpoint: string;
  /** Log file shown in status and in failure messages. */
  readonly logFile: string;
  /** Install packages / jars this service needs (no-op when present). */
  install(): Promise<void>;
  /** Probe the endpoint. */
  health(): Promise<Health>;
  /** pid of the process the stack started, if it is running. */
  ownedPid(): number | undefined;
  /**
   * Make the service healthy: start it when needed and wait. Resolves to a short note on what was done
   * ("started", "already running", "using existing …"). Throws StackError on failure.
   */
  up(opts: { readonly clean: boolean }): Promise<string>;
  /** Stop what the stack started; resolves to a note ("stopped", "not running", "left running: not ours"). */
  down(): Promise<string>;
}

export class StackError extends Error {
  constructor(
    readonly service: string,
    message: string,
  ) {
    super(`${service}: ${message}`);
    this.name = 'StackError';
  }
}
