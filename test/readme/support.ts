/**
 * What test/readme needs to follow the README as a new user would: the Quick
 * start's commands read from the README itself, a shell environment without
 * what `npm test` and the developer's shell add, commands run in a terminal
 * of their own (a process group, so Ctrl-C is a SIGINT to the group), and
 * /proc to see which processes exist and which one listens on a port.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { createServer } from 'node:net';

export interface QuickStart {
  /** The commands before `virtflow up`, run to completion in order. */
  readonly install: readonly string[];
  /** The command that runs the cluster until Ctrl-C (`npx virtflow up`). */
  readonly up: string;
  /** The commands the README says to run "in another terminal". */
  readonly another: readonly string[];
}

/** The "## Quick start" section: the commands of its first ```sh block, and the `npx virtflow ...` of its "In another terminal" sentence. */
export function quickStart(readme: string): QuickStart {
  const at = readme.search(/^## Quick start[ \t]*$/m);
  assert.ok(at >= 0, 'the README has a "## Quick start" section');
  const rest = readme.slice(at + 1);
  const next = rest.search(/^## /m);
  const section = next < 0 ? rest : rest.slice(0, next);
  const block = /^```sh\n([\s\S]*?)^```/m.exec(section);
  assert.ok(block, 'the Quick start has a ```sh block');
  const lines = block[1]!.split('\n').map((l) => l.replace(/(^|\s+)#.*$/, '').trim()).filter(Boolean);
  const ups = lines.filter((l) => /\bvirtflow up\b/.test(l));
  assert.equal(ups.length, 1, `one command of the Quick start's sh block runs \`virtflow up\`: ${JSON.stringify(lines)}`);
  const upAt = lines.indexOf(ups[0]!);
  assert.equal(upAt, lines.length - 1, 'the Quick start ends with `virtflow up`, which runs until Ctrl-C');
  const sentence = /In another terminal([\s\S]*?)(?:\n\n|$)/.exec(section);
  assert.ok(sentence, 'the Quick start says what to run "In another terminal"');
  const another = [...sentence[1]!.matchAll(/`(npx virtflow [^`]+)`/g)].map((m) => m[1]!.replace(/\s+/g, ' '));
  return { install: lines.slice(0, upAt), up: ups[0]!, another };
}

/**
 * The environment of a new user's shell: this process's, without what `npm
 * test` adds for its scripts (npm_package_*, npm_lifecycle_*, the repository's
 * node_modules/.bin on PATH, ...), without node's test runner's marker and
 * without VIRTFLOW_* (a fresh shell has none). npm's configuration stays (a
 * CI's npm_config_cache, say), plus the flags that keep an install on the
 * local cache and quiet.
 */
export function newUserEnv(): NodeJS.ProcessEnv {
  const dropped = /^(npm_package_|npm_lifecycle_|npm_command$|npm_execpath$|npm_node_execpath$|npm_config_local_prefix$|npm_config_user_agent$|npm_config_npm_version$|INIT_CWD$|NODE$|NODE_TEST_CONTEXT$|VIRTFLOW_)/;
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!dropped.test(k)) env[k] = v;
  env.PATH = (process.env.PATH ?? '').split(':').filter((d) => d && !d.includes('node_modules')).join(':');
  return {
    ...env,
    npm_config_prefer_offline: 'true', npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false',
  };
}

/** A command line as a user types it, in a terminal of its own: bash, its own process group, no stdin. */
export interface Terminal {
  readonly proc: ChildProcess;
  /** stdout and stderr, interleaved as they came. */
  output(): string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves once the output matches, fails when the command ends first or the time runs out. */
  until(what: string, test: (out: string) => boolean, ms: number): Promise<void>;
  /** Ctrl-C: SIGINT to the terminal's foreground process group. */
  interrupt(): void;
  /** SIGKILL to the group (cleanup). */
  kill(): void;
}

export function terminal(script: string, opts: { cwd: string; env: NodeJS.ProcessEnv }): Terminal {
  const proc = spawn('bash', ['-c', script], { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString('utf8')));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString('utf8')));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    // 'close': the output is complete too.
    proc.once('close', (code, signal) => resolve({ code, signal }));
  });
  const group = (sig: NodeJS.Signals) => {
    try {
      process.kill(-proc.pid!, sig);
    } catch {
      // the group is gone
    }
  };
  return {
    proc, exited, output: () => out,
    async until(what, test, ms) {
      const deadline = Date.now() + ms;
      while (!test(out)) {
        if (proc.exitCode !== null || proc.signalCode !== null) assert.fail(`\`${script}\` ended (${proc.exitCode ?? proc.signalCode}) before ${what}:\n${out}`);
        if (Date.now() > deadline) assert.fail(`no ${what} within ${ms / 1000} s from \`${script}\`:\n${out}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    interrupt: () => group('SIGINT'),
    kill: () => group('SIGKILL'),
  };
}

/** Runs a script to its end (or kills it after `ms`): exit code, output, seconds. */
export async function runToEnd(script: string, opts: { cwd: string; env: NodeJS.ProcessEnv; ms: number }): Promise<{ code: number | null; out: string; seconds: number }> {
  const t0 = Date.now();
  const t = terminal(script, opts);
  const timer = setTimeout(() => t.kill(), opts.ms);
  const { code } = await t.exited;
  clearTimeout(timer);
  return { code, out: t.output(), seconds: (Date.now() - t0) / 1000 };
}

/** Whether 127.0.0.1:port can be listened on right now. */
export function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

interface Proc {
  readonly pid: number;
  readonly ppid: number;
  readonly state: string;
}

function processes(): Proc[] {
  const list: Proc[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // The command name (in parentheses) may hold spaces: fields are counted after its last ')'.
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      list.push({ pid: Number(name), state: f[0]!, ppid: Number(f[1]) });
    } catch {
      // exited meanwhile
    }
  }
  return list;
}

/** Running (not a zombie waiting for its parent). */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Every process below `root`, at this moment. */
export function descendants(root: number): number[] {
  const all = processes();
  const found: number[] = [];
  const queue = [root];
  while (queue.length) {
    const p = queue.shift()!;
    for (const c of all) if (c.ppid === p && !found.includes(c.pid)) (found.push(c.pid), queue.push(c.pid));
  }
  return found;
}

/** Processes that run in `dir` or name it on their command line (the clone's services, servers and whatever they started). */
export function processesUnder(dir: string): number[] {
  return processes().filter(({ pid }) => {
    if (pid === process.pid) return false;
    try {
      if (readlinkSync(`/proc/${pid}/cwd`).startsWith(dir)) return true;
    } catch {
      // another user's process, or gone
    }
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir);
    } catch {
      return false;
    }
  }).map((p) => p.pid);
}

/** Whether `pid` holds the socket listening on TCP `port` (from /proc/net/tcp{,6} and the process's file descriptors). */
export function listensOn(pid: number, port: number): boolean {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // local_address is ADDR:PORT in hex; state 0A is LISTEN; the inode is the tenth field.
      if (f.length > 9 && f[1]!.endsWith(`:${hex}`) && f[3] === '0A') inodes.add(f[9]!);
    }
  }
  try {
    return readdirSync(`/proc/${pid}/fd`).some((fd) => {
      try {
        return inodes.has(/^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1] ?? '');
      } catch {
        return false;
      }
    });
  } catch {
    return false;
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The promise's value, or undefined when it takes longer than `ms` (the timer does not outlive it). */
export async function within<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** An example domain: its name, and whether this cluster's hosts run its guest type (hvm: the test hypervisor and QEMU; not an LXC container's exe). */
export function exampleInfo(xml: string): { name: string; hvm: boolean } {
  const plain = xml.replace(/<!--[\s\S]*?-->/g, '');
  const name = /<name>\s*([^<]*?)\s*<\/name>/.exec(plain)?.[1];
  assert.ok(name, 'an example has a <name>');
  const osType = /<os\b[^>]*>[\s\S]*?<type\b[^>]*>\s*([^<]*?)\s*<\/type>/.exec(plain)?.[1];
  return { name, hvm: osType === 'hvm' };
}
