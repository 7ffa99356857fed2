/**
 * QEMU start latency: virtflow's qemu hypervisor against libvirt's QEMU driver
 * (`virsh -c qemu:///system start`), for the same definition, in the same run,
 * under KVM (where usable) and TCG.
 *
 * Measured per start, from the call until the guest CPUs run (ours: start()
 * resolved, i.e. QMP `cont` done and query-status 'running'; libvirt: `virsh
 * start` returned, which libvirt does after its own `cont`). The definition is
 * defined before the clock starts on both sides (ours: parse + post-parse,
 * reported apart as `defineMs`; libvirt: `virsh define`). virsh's own process
 * start (~tens of ms) is inside libvirt's number; `virshOverheadMs` (p50 of
 * `virsh version`) is reported so a reader can subtract it.
 *
 * Not registered in bench/run.ts: call `agentQemuBench()` (returns the result
 * and prints a table), or run `node --import tsx bench/agent-qemu.ts [runs]`.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { defineDomain, defaultRegistry, formatDomainXML } from '@virtflow/model';
import { hostCapabilities, kvmUsable } from '@virtflow/runtime';
import { createQemuHypervisor } from '../services/host-agent/src/hypervisor/qemu/index.ts';
import { libvirtdMissing, stopLibvirtdIfStarted } from '../test/support/libvirtd.ts';

const VIRTLOGD_SOCK = '/run/libvirt/virtlogd-sock';

/**
 * libvirt's QEMU driver logs through virtlogd, which the oracle's setup.sh does
 * not start. Starts it when its socket is missing; returns a stop function for
 * the one started here (by its own pid), else undefined.
 */
async function ensureVirtlogd(): Promise<(() => void) | undefined> {
  if (existsSync(VIRTLOGD_SOCK)) return undefined;
  execFileSync('virtlogd', ['-d'], { stdio: 'ignore', timeout: 20_000 });
  for (let i = 0; i < 100 && !existsSync(VIRTLOGD_SOCK); i++) await sleep(50);
  return () => {
    try {
      const pid = Number(readFileSync('/run/virtlogd.pid', 'utf8').trim());
      if (pid > 0) process.kill(pid, 'SIGTERM');
    } catch {
      // Already gone.
    }
  };
}

export interface LatencyStats {
  readonly runs: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly minMs: number;
}

export interface AccelResult {
  readonly accel: 'kvm' | 'tcg';
  readonly defineMs: LatencyStats;
  readonly virtflow: LatencyStats;
  readonly libvirt?: LatencyStats;
  /** virtflow's start p50 over libvirt's, same run (issue 6's target: ≤ 1.0). */
  readonly startRatio?: number;
  /** Why libvirt was not measured, when it was not. */
  readonly libvirtSkipped?: string;
}

export interface AgentQemuResult {
  readonly virshOverheadMs?: number;
  readonly results: readonly AccelResult[];
}

function stats(ms: readonly number[]): LatencyStats {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.NaN;
  return { runs: s.length, p50Ms: round(at(0.5)), p90Ms: round(at(0.9)), minMs: round(s[0] ?? Number.NaN) };
}

const round = (n: number) => Math.round(n * 10) / 10;
const round2 = (n: number) => Math.round(n * 100) / 100;

function xml(name: string, type: 'kvm' | 'qemu'): string {
  return `<domain type='${type}'><name>${name}</name><uuid>${randomUUID()}</uuid><memory unit='MiB'>128</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type></os><features><acpi/></features>
<devices><interface type='user'><model type='virtio'/></interface><serial type='pty'/><console type='pty'/><memballoon model='none'/></devices></domain>`;
}

function virsh(...args: string[]): string {
  return execFileSync('virsh', ['-c', 'qemu:///system', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
}

export async function agentQemuBench(opts: { runs?: number; libvirt?: boolean } = {}): Promise<AgentQemuResult> {
  const runs = opts.runs ?? 10;
  const caps = await hostCapabilities();
  const registry = defaultRegistry();
  const accels: Array<'kvm' | 'tcg'> = (await kvmUsable()) ? ['kvm', 'tcg'] : ['tcg'];
  const libvirtWhy = opts.libvirt === false ? 'disabled' : libvirtdMissing();
  const runDir = mkdtempSync(join(tmpdir(), 'vfb-'));
  const h = createQemuHypervisor({ runDir });
  const results: AccelResult[] = [];
  let virshOverheadMs: number | undefined;
  let stopVirtlogd: (() => void) | undefined;
  try {
    if (!libvirtWhy) {
      stopVirtlogd = await ensureVirtlogd();
      const t: number[] = [];
      for (let i = 0; i < 5; i++) {
        const t0 = performance.now();
        virsh('version');
        t.push(performance.now() - t0);
      }
      virshOverheadMs = stats(t).p50Ms;
    }
    for (const accel of accels) {
      const type = accel === 'kvm' ? 'kvm' : 'qemu';
      const defineMs: number[] = [];
      const ours: number[] = [];
      // One warm-up start each side: page cache, the host CPU probe.
      for (let i = 0; i <= runs; i++) {
        const d0 = performance.now();
        const def = defineDomain(xml(`vf-bench-${accel}-${i}`, type), { caps, registry }).def;
        const d1 = performance.now();
        await h.start(def);
        const d2 = performance.now();
        await h.destroy(def.uuid!);
        if (i > 0) {
          defineMs.push(d1 - d0);
          ours.push(d2 - d1);
        }
      }
      let libvirt: LatencyStats | undefined;
      if (!libvirtWhy) {
        const theirs: number[] = [];
        const dir = mkdtempSync(join(tmpdir(), 'vfb-lv-'));
        try {
          for (let i = 0; i <= runs; i++) {
            const def = defineDomain(xml(`vf-bench-lv-${accel}-${i}`, type), { caps, registry }).def;
            const file = join(dir, `${def.name}.xml`);
            writeFileSync(file, formatDomainXML(def));
            virsh('define', file);
            try {
              const t0 = performance.now();
              virsh('start', def.name!);
              const t1 = performance.now();
              if (i > 0) theirs.push(t1 - t0);
              virsh('destroy', def.name!);
            } finally {
              virsh('undefine', def.name!);
            }
          }
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
        libvirt = stats(theirs);
      }
      results.push({ accel, defineMs: stats(defineMs), virtflow: stats(ours), ...(libvirt ? { libvirt, startRatio: round2(stats(ours).p50Ms / libvirt.p50Ms) } : { libvirtSkipped: libvirtWhy ?? 'unknown' }) });
    }
  } finally {
    await h.close();
    rmSync(runDir, { recursive: true, force: true });
    stopVirtlogd?.();
    stopLibvirtdIfStarted();
  }
  console.table(results.map((r) => ({ accel: r.accel, 'define p50 ms': r.defineMs.p50Ms, 'virtflow start p50 ms': r.virtflow.p50Ms, 'libvirt start p50 ms': r.libvirt?.p50Ms ?? `(${r.libvirtSkipped})`, 'ratio (target ≤ 1.0)': r.startRatio ?? '-', runs: r.virtflow.runs })));
  if (virshOverheadMs !== undefined) console.log(`virsh process overhead (p50 of 'virsh version'): ${virshOverheadMs} ms`);
  return { ...(virshOverheadMs !== undefined ? { virshOverheadMs } : {}), results };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const runs = Number(process.argv[2] ?? 10);
  console.log(JSON.stringify(await agentQemuBench({ runs }), null, 2));
}
