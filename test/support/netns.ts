/**
 * Network namespaces for multi-host tests: N namespaces, each joined to one
 * bridge on the host by a veth pair, on a private /24 (the bridge is .1, the
 * namespaces .2, .3, ...). A server listening on the bridge address is
 * reachable from every namespace; `cut(i)` takes the host end of namespace
 * i's veth down (the cable pulled: no error reaches either side, packets are
 * just lost) and `restore(i)` brings it back.
 *
 * Names carry a prefix and the creating process's pid (`vfns-<pid36>-<i>`,
 * bridge `vfb<pid36>`, host-side veths `vfh<pid36>x<i>`), so a run can tell
 * its own leftovers from another run's: `cleanStale()` removes those whose
 * process is gone, and every lab removes itself on `destroy()` and, failing
 * that, when the process exits. Processes started in a namespace are killed
 * with it.
 *
 * Needs root (CAP_NET_ADMIN): `netnsUnavailable()` says why not, for a skip.
 */
import { execFile, execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';

const run = promisify(execFile);
const IP = 'ip';
const PREFIX = 'vfns-';

async function ip(...args: string[]): Promise<string> {
  try {
    return (await run(IP, args, { timeout: 15_000 })).stdout;
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`ip ${args.join(' ')}: ${(err.stderr ?? '').trim() || err.message}`);
  }
}

function ipSync(...args: string[]): void {
  try {
    execFileSync(IP, args, { stdio: 'ignore', timeout: 15_000 });
  } catch {
    // best effort: already gone
  }
}

/** Whether the run that made a name still lives (a zombie does not: it made its last change already). */
const alive = (pid: number): boolean => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
};

/** Waits until the host-side link carries traffic (a veth's carrier comes up a moment after `link set up`). */
async function linkUp(name: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let state = '';
    try {
      state = readFileSync(`/sys/class/net/${name}/operstate`, 'utf8').trim();
    } catch {
      // not there yet
    }
    if (state === 'up') return;
    if (Date.now() > deadline) throw new Error(`link ${name} is '${state}', not up, after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Why namespaces cannot be made here, or undefined when they can. */
export async function netnsUnavailable(): Promise<string | undefined> {
  const probe = `${PREFIX}probe-${process.pid.toString(36)}`;
  try {
    await ip('netns', 'add', probe);
    await ip('netns', 'del', probe);
    return undefined;
  } catch (e) {
    ipSync('netns', 'del', probe);
    return `network namespaces unavailable (needs root and iproute2): ${(e as Error).message.split('\n')[0]}`;
  }
}

/** Removes the namespaces and links of runs whose process has exited. */
export async function cleanStale(): Promise<string[]> {
  const removed: string[] = [];
  const list = await ip('netns', 'list').catch(() => '');
  for (const line of list.split('\n')) {
    const name = line.split(' ')[0] ?? '';
    const m = /^vfns-([0-9a-z]+)-(\d+|probe)$/.exec(name);
    if (m && !alive(parseInt(m[1]!, 36))) {
      await killIn(name);
      await ip('netns', 'del', name).catch(() => undefined);
      removed.push(name);
    }
  }
  const links = await ip('-o', 'link', 'show').catch(() => '');
  for (const line of links.split('\n')) {
    const name = /^\d+: ([^:@]+)/.exec(line)?.[1];
    const m = name ? (/^vfb([0-9a-z]+)$/.exec(name) ?? /^vfh([0-9a-z]+)x\d+$/.exec(name)) : null;
    if (name && m && !alive(parseInt(m[1]!, 36))) {
      await ip('link', 'del', name).catch(() => undefined);
      removed.push(name);
    }
  }
  return removed;
}

async function killIn(ns: string): Promise<void> {
  const pids = (await ip('netns', 'pids', ns).catch(() => '')).split('\n').map((s) => Number(s.trim())).filter((n) => n > 0);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

export interface Netns {
  readonly index: number;
  readonly name: string;
  /** The namespace's address on the bridge. */
  readonly address: string;
  readonly hostVeth: string;
}

export interface NetnsLab {
  /** The bridge's address: listen here to be reachable from every namespace. */
  readonly hostAddress: string;
  readonly namespaces: readonly Netns[];
  /** Starts `command` inside namespace i (`ip netns exec`); the process is the command itself. */
  spawn(i: number, command: string, args: readonly string[], opts?: SpawnOptions): ChildProcess;
  /** Pulls namespace i's cable: the host end of its veth goes down. */
  cut(i: number): Promise<void>;
  restore(i: number): Promise<void>;
  /** Kills what runs in the namespaces, removes them and the bridge. Safe to call twice. */
  destroy(): Promise<void>;
}

/** A /24 in 10.201.x.0 that no local address or route uses. */
async function freeSubnet(): Promise<string> {
  const used = await ip('-4', '-o', 'route', 'show', 'table', 'all');
  const addrs = await ip('-4', '-o', 'addr', 'show');
  for (let k = 0; k < 256; k++) {
    const third = (process.pid + k) % 256;
    const net = `10.201.${third}.`;
    if (!used.includes(net) && !addrs.includes(net)) return net;
  }
  throw new Error('no free 10.201.x.0/24 for the namespaces');
}

export async function createNetnsLab(count: number): Promise<NetnsLab> {
  if (count < 1 || count > 50) throw new Error(`between 1 and 50 namespaces, not ${count}`);
  const id = process.pid.toString(36);
  const bridge = `vfb${id}`;
  const net = await freeSubnet();
  const hostAddress = `${net}1`;
  const namespaces: Netns[] = [];
  let destroyed = false;
  const destroySync = () => {
    if (destroyed) return;
    destroyed = true;
    for (const n of namespaces) {
      try {
        const pids = execFileSync(IP, ['netns', 'pids', n.name], { encoding: 'utf8' }).split('\n').map(Number).filter((p) => p > 0);
        for (const p of pids) process.kill(p, 'SIGKILL');
      } catch {
        // gone
      }
      ipSync('netns', 'del', n.name);
      ipSync('link', 'del', n.hostVeth);
    }
    ipSync('link', 'del', bridge);
  };
  // Whatever happens to the test, the namespaces do not outlive the process (SIGKILL aside: cleanStale is for that).
  const onSignal = (signal: NodeJS.Signals) => {
    destroySync();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('exit', destroySync);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const lab: NetnsLab = {
    hostAddress,
    namespaces,
    spawn: (i, command, args, opts = {}) => spawn(IP, ['netns', 'exec', nsOf(i).name, command, ...args], opts),
    cut: async (i) => void (await ip('link', 'set', nsOf(i).hostVeth, 'down')),
    restore: async (i) => {
      const n = nsOf(i);
      await ip('link', 'set', n.hostVeth, 'up');
      await linkUp(n.hostVeth);
      // Neighbours that failed to resolve during the cut would answer EHOSTUNREACH for a while.
      await ip('netns', 'exec', n.name, 'ip', 'neigh', 'flush', 'all');
      await ip('neigh', 'flush', 'dev', bridge);
    },
    destroy: async () => {
      if (destroyed) return;
      for (const n of namespaces) await killIn(n.name);
      destroySync();
      process.removeListener('exit', destroySync);
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
    },
  };
  function nsOf(i: number): Netns {
    const n = namespaces[i];
    if (!n) throw new Error(`no namespace ${i} (there are ${namespaces.length})`);
    return n;
  }
  try {
    await ip('link', 'add', bridge, 'type', 'bridge');
    await ip('addr', 'add', `${hostAddress}/24`, 'dev', bridge);
    await ip('link', 'set', bridge, 'up');
    for (let i = 0; i < count; i++) {
      const n: Netns = { index: i, name: `${PREFIX}${id}-${i}`, address: `${net}${i + 2}`, hostVeth: `vfh${id}x${i}` };
      const inner = `vfn${id}x${i}`;
      namespaces.push(n);
      await ip('netns', 'add', n.name);
      await ip('link', 'add', n.hostVeth, 'type', 'veth', 'peer', 'name', inner);
      await ip('link', 'set', inner, 'netns', n.name);
      await ip('link', 'set', n.hostVeth, 'master', bridge);
      await ip('link', 'set', n.hostVeth, 'up');
      await ip('netns', 'exec', n.name, 'ip', 'link', 'set', 'lo', 'up');
      await ip('netns', 'exec', n.name, 'ip', 'addr', 'add', `${n.address}/24`, 'dev', inner);
      await ip('netns', 'exec', n.name, 'ip', 'link', 'set', inner, 'up');
    }
    await linkUp(bridge);
    for (const n of namespaces) await linkUp(n.hostVeth);
  } catch (e) {
    await lab.destroy();
    throw e;
  }
  return lab;
}
