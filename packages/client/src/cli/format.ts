/** Text the way virsh prints it: its tables, state names and key/value blocks. */
import type { Capabilities, LifecycleState } from '@virtflow/model';
import type { DomainInfo, HostInfo, DeadJob, JobSummary } from '../sdk/index.ts';

/** virsh's table (vshTable): a leading space, columns 3 apart, a line of dashes under the header. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => ` ${cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('   ')}`.trimEnd();
  const width = widths.reduce((a, b) => a + b, 0) + 3 * (widths.length - 1) + 2;
  return [line(header), '-'.repeat(width), ...rows.map(line), ''].join('\n') + '\n';
}

/** virsh's state words (virshDomainStateToString). */
export const STATE_NAME: Readonly<Record<LifecycleState, string>> = {
  running: 'running', paused: 'paused', shutdown: 'in shutdown', shutoff: 'shut off', crashed: 'crashed', pmsuspended: 'pmsuspended',
};

const ACTIVE = new Set<LifecycleState>(['running', 'paused', 'shutdown', 'pmsuspended']);

/** ` Id   Name   State   Host`: active domains numbered in order (ids are per listing, as virsh's are per boot), inactive ones `-`. */
export function domainTable(domains: readonly DomainInfo[]): string {
  let id = 0;
  return table(['Id', 'Name', 'State', 'Host'], domains.map((d) => [ACTIVE.has(d.state) ? String(++id) : '-', d.name, STATE_NAME[d.state], d.hostId ?? '-']));
}

function block(rows: ReadonlyArray<readonly [string, string | number | undefined]>): string {
  return rows.filter(([, v]) => v !== undefined).map(([k, v]) => `${`${k}:`.padEnd(16)}${v}`).join('\n') + '\n';
}

export function dominfo(d: DomainInfo): string {
  return block([
    ['Name', d.name], ['UUID', d.uuid], ['OS Type', d.domainType === 'lxc' ? 'exe' : 'hvm'], ['Domain type', d.domainType], ['State', STATE_NAME[d.state]],
    ['Reason', d.reason], ['Host', d.hostId ?? '-'], ['CPU(s)', d.vcpus], ['Max memory', d.memoryKiB !== undefined ? `${d.memoryKiB} KiB` : undefined],
    ['Persistent', d.defined ? 'yes' : 'no'], ['Migrating', d.migrating ? 'yes' : 'no'], ['Version', d.version], ['Last error', d.lastError?.message],
  ]);
}

export function hostTable(hosts: readonly HostInfo[]): string {
  return table(['Host', 'State', 'Hypervisor', 'CPUs', 'Memory', 'Domains'], hosts.map((h) => [
    h.hostId, h.up ? (h.drained ? 'drained' : 'up') : 'down', h.hypervisor ?? '-', String(h.cpus), `${h.memoryKiB} KiB`, String(h.domains.length),
  ]));
}

/** virsh nodeinfo. */
export function nodeinfo(h: HostInfo, caps: Capabilities): string {
  const cells = caps.host.numaCells?.length ?? 1;
  return block([
    ['CPU model', caps.host.arch], ['CPU(s)', caps.host.cpus ?? h.cpus], ['NUMA cell(s)', cells], ['Memory size', `${caps.host.memoryKiB ?? h.memoryKiB} KiB`],
    ['Hypervisor', h.hypervisor], ['State', h.up ? 'up' : 'down'], ['Capabilities', caps.source],
  ]).replace(/^(\S[^:]*:)\s+/gm, (_, k: string) => k.padEnd(21));
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/'/g, '&apos;');

/** The capabilities as libvirt's `virsh capabilities` XML (the parts virtflow keeps). */
export function capabilitiesXml(caps: Capabilities): string {
  const out = ['<capabilities>', '', '  <host>', '    <cpu>', `      <arch>${esc(caps.host.arch)}</arch>`, '    </cpu>'];
  if (caps.host.numaCells?.length) {
    out.push('    <topology>', `      <cells num='${caps.host.numaCells.length}'>`);
    for (const c of caps.host.numaCells) {
      out.push(`        <cell id='${c.id}'>`, `          <memory unit='KiB'>${c.memoryKiB}</memory>`, `          <cpus num='${c.cpus.length}'>`);
      for (const id of c.cpus) out.push(`            <cpu id='${id}'/>`);
      out.push('          </cpus>', '        </cell>');
    }
    out.push('      </cells>', '    </topology>');
  }
  out.push('  </host>', '');
  for (const g of caps.guests) {
    out.push('  <guest>', `    <os_type>${esc(g.osType)}</os_type>`, `    <arch name='${esc(g.arch)}'>`, `      <wordsize>${g.wordsize}</wordsize>`);
    if (g.emulator) out.push(`      <emulator>${esc(g.emulator)}</emulator>`);
    for (const m of g.machines) out.push(`      <machine maxCpus='${m.maxCpus}'${m.canonical ? ` canonical='${esc(m.canonical)}'` : ''}${m.deprecated ? " deprecated='yes'" : ''}>${esc(m.name)}</machine>`);
    for (const d of g.domains) {
      if (!d.emulator) out.push(`      <domain type='${esc(d.type)}'/>`);
      else out.push(`      <domain type='${esc(d.type)}'>`, `        <emulator>${esc(d.emulator)}</emulator>`, '      </domain>');
    }
    out.push('    </arch>', '  </guest>', '');
  }
  out.push('</capabilities>', '');
  return out.join('\n');
}

export function jobTable(jobs: readonly JobSummary[]): string {
  return table(['Id', 'Op', 'State', 'Queue', 'Target', 'Submitted', 'Error'], jobs.map((j) => [
    j.id, j.op, j.state, j.queue, j.target ?? '-', j.at, j.error ?? '',
  ]));
}

export function deadTable(jobs: readonly DeadJob[]): string {
  return table(['Id', 'Stage queue', 'Stage job', 'Parked', 'Reason'], jobs.map((j) => [j.id, j.queue, j.jobId, j.at, j.reason]));
}
