// The `cdc-fanout` command lines shown to users — in README.md's shell blocks and in every help
// screen's "Examples:" — must work as written. Non-daemon ones (validate, --help) run for real
// through bin/cdc-fanout.js; the others (run, status, snapshot, reset-offsets need a daemon or a
// database) are parsed by the real command tree with their actions replaced, and the config files
// they name must exist.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/program.js';

const root = join(import.meta.dirname, '..', '..');
const bin = join(root, 'bin', 'cdc-fanout.js');

/** Splits a shell line into words (plain words and '…' / "…" quoting; no expansions are used). */
function words(line: string): string[] {
  const out: string[] = [];
  for (const m of line.matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)) out.push(m[1] ?? m[2] ?? m[3] ?? '');
  return out;
}

/** `cdc-fanout …` arguments of a line such as `npx cdc-fanout validate -c x   # comment`. */
function example(line: string): string[] | undefined {
  const m = /^\s*(?:\$\s+)?(?:npx\s+)?cdc-fanout(\s.*)?$/.exec(line);
  if (!m) return undefined;
  return words((m[1] ?? '').replace(/\s#.*$/, ''));
}

function readmeExamples(): string[][] {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const out: string[][] = [];
  // Every fenced block is consumed (so a yaml block's closing fence never opens one); shell ones are read.
  for (const block of readme.matchAll(/```([a-z]*)\n([\s\S]*?)```/g)) {
    if (!['', 'bash', 'sh', 'shell', 'console'].includes(block[1] ?? '')) continue;
    for (const line of (block[2] ?? '').split('\n')) {
      const args = example(line);
      if (args) out.push(args);
    }
  }
  return out;
}

function helpText(cmd: Command): string {
  let text = '';
  cmd.configureOutput({ writeOut: (s) => void (text += s), writeErr: (s) => void (text += s) });
  cmd.outputHelp();
  return text;
}

/** Every command with its path below the program ("status", "dlq replay"), subcommands included. */
function commandsOf(program: Command): { cmd: Command; path: string }[] {
  const out: { cmd: Command; path: string }[] = [];
  const walk = (c: Command, prefix: string): void => {
    for (const sub of c.commands) {
      const path = `${prefix}${sub.name()}`;
      out.push({ cmd: sub, path });
      walk(sub, `${path} `);
    }
  };
  walk(program, '');
  return out;
}

function helpExamples(): { command: string; args: string[] }[] {
  const program = buildProgram({});
  const out: { command: string; args: string[] }[] = [];
  for (const { cmd, path } of [{ cmd: program, path: 'cdc-fanout' }, ...commandsOf(program)]) {
    const text = helpText(cmd);
    expect(text, `help of ${path} has examples`).toContain('Examples:');
    expect(text, `help of ${path} lists exit codes`).toContain('Exit codes:');
    for (const line of text.split('\n')) {
      const args = example(line);
      if (args && !args.includes('<command>')) out.push({ command: path, args });
    }
  }
  return out;
}

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { cwd: root, timeout: 90_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

/** Parses `args` with the real command tree, actions replaced: the command that would run and its options. */
async function parseOnly(args: string[]): Promise<{ command: string; opts: Record<string, unknown> }> {
  const program = buildProgram({});
  let got: { command: string; opts: Record<string, unknown> } | undefined;
  const quiet = { writeOut: () => undefined, writeErr: () => undefined };
  program.exitOverride().configureOutput(quiet);
  for (const { cmd, path } of commandsOf(program)) {
    cmd.exitOverride().configureOutput(quiet);
    cmd.action(function (this: Command) {
      got = { command: path, opts: this.opts() };
    });
  }
  await program.parseAsync(args, { from: 'user' });
  if (!got) throw new Error(`no command ran for: ${args.join(' ')}`);
  return got;
}

// `validate --online` and `check` need the services and the demo's database: parsed only, like the daemon commands.
const isLive = (args: readonly string[]): boolean => (args[0] === 'validate' && !args.includes('--online')) || args.includes('--help') || args.includes('-h') || args.includes('--version');

describe('README and help-screen examples', () => {
  const fromReadme = readmeExamples();
  const fromHelp = helpExamples();

  it('the README shows cdc-fanout examples for every command, and every help screen has examples and exit codes', () => {
    const commands = new Set(fromReadme.map((a) => a[0]));
    for (const c of ['validate', 'run', 'status', 'snapshot', 'reset-offsets', 'dlq']) expect(commands, `README example of ${c}`).toContain(c);
    expect(fromHelp.length).toBeGreaterThanOrEqual(10);
  });

  it('every example parses with the real command tree and names config files that exist', async () => {
    for (const args of [...fromReadme, ...fromHelp.map((h) => h.args)]) {
      if (args.includes('--help') || args.includes('-h') || args.length === 0) continue;
      const parsed = await parseOnly(args).catch((err: unknown) => {
        throw new Error(`example "cdc-fanout ${args.join(' ')}" does not parse: ${(err as Error).message}`);
      });
      expect(args.join(' ').startsWith(parsed.command)).toBe(true);
      const config = parsed.opts.config;
      if (typeof config === 'string') expect(existsSync(join(root, config)), `config of "cdc-fanout ${args.join(' ')}"`).toBe(true);
    }
  });

  it('help examples are for their own command', () => {
    for (const h of fromHelp) if (h.command !== 'cdc-fanout') expect(h.args.slice(0, h.command.split(' ').length).join(' '), h.args.join(' ')).toBe(h.command);
  });

  it('runs the non-daemon examples (validate, --help) for real: exit 0', { timeout: 300_000 }, async () => {
    const live = [...fromReadme, ...fromHelp.map((h) => h.args)].filter(isLive);
    const unique = [...new Map(live.map((a) => [a.join(' '), a])).values()];
    expect(unique.length).toBeGreaterThanOrEqual(3);
    for (const args of unique) {
      const r = await run(args);
      expect({ example: `cdc-fanout ${args.join(' ')}`, code: r.code, stderr: r.stderr }).toEqual({ example: `cdc-fanout ${args.join(' ')}`, code: 0, stderr: '' });
    }
  });
});
