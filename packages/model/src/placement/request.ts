/**
 * The placement request: what a domain needs from a host, read off its
 * enriched definition (after the driver's post-parse, so the machine is
 * canonical and the emulator filled), and the user's scheduling hints.
 *
 * Hints come two ways. A user of Nova or KubeVirt passes them with the start
 * (`schedulerHints` on the job); a libvirt user keeps them with the domain,
 * in `<metadata>`, under virtflow's namespace:
 *
 * ```xml
 * <metadata>
 *   <vf:scheduling xmlns:vf="https://virtflow.dev/xmlns/scheduling/1.0">
 *     <vf:group name="web" policy="anti-affinity" maxPerHost="1"/>
 *     <vf:label key="zone" value="eu-1a"/>
 *     <vf:preferredHost>node-3</vf:preferredHost>
 *   </vf:scheduling>
 * </metadata>
 * ```
 *
 * The job's fields win over the metadata's, field by field. `excludeHosts`
 * and `requestedHost` belong to one attempt, so only a job sets them. Note
 * that the test driver drops every namespaced element at define, so test
 * domains take their hints from jobs.
 */
import type { DomainDef } from '../domain/types.ts';
import { VirtError } from '../errors.ts';
import type { XmlElement } from '../xml/tree.ts';
import { parseCpuSet } from './numa.ts';
import { GROUP_POLICIES, type GroupHint, type GroupPolicy, type GuestNumaCell, type PlacementRequest, type SchedulerHints } from './types.ts';

export const SCHEDULING_NS = 'https://virtflow.dev/xmlns/scheduling/1.0';

export interface RequestOptions {
  /** The job's hints; they win over the definition's metadata. */
  readonly hints?: SchedulerHints;
  /** Read `<vf:scheduling>` in `<metadata>` (default true). */
  readonly metadata?: boolean;
}

const int = (s: string | undefined): number | undefined => {
  if (s === undefined) return undefined;
  const n = Number(s.trim());
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
};

function guestCells(def: DomainDef): GuestNumaCell[] | undefined {
  const cells = def.cpu?.numa?.cells;
  if (!cells || cells.length === 0) return undefined;
  return cells.map((c, i) => {
    const path = `/domain/cpu/numa/cell[${i + 1}]`;
    const cpus = c.cpus !== undefined ? parseCpuSet(c.cpus) : [];
    if (cpus === undefined) throw new VirtError('INVALID_ARG', `NUMA cell ${c.id ?? i} has cpus '${c.cpus}', not a CPU list`, `${path}/@cpus`);
    // The parser scales every cell's memory to KiB.
    const memoryKiB = int(c.memory);
    if (memoryKiB === undefined) throw new VirtError('INVALID_ARG', `NUMA cell ${c.id ?? i} has no memory size`, `${path}/@memory`);
    return { id: int(c.id) ?? i, memoryKiB, vcpus: cpus.length };
  });
}

/**
 * What a domain asks of a host. Memory is `<memory>` (the boot size, which
 * a balloon can give back but the host must be able to hold) and vCPUs the
 * `<vcpu>` maximum, since vCPUs up to it can be brought online without
 * asking the scheduler; `<maxMemory>` hotplug slots are not claimed.
 */
export function placementRequest(def: DomainDef, opts: RequestOptions = {}): PlacementRequest {
  if (def.uuid === undefined) throw new VirtError('INVALID_ARG', 'a domain needs a uuid to be placed', '/domain/uuid');
  const memoryKiB = int(def.memory?.text);
  if (memoryKiB === undefined) throw new VirtError('INVALID_ARG', `domain '${def.name ?? def.uuid}' has no memory size`, '/domain/memory');
  const vcpus = int(def.vcpu?.text) ?? 1;
  const type = def.os?.type;
  const cpuMode = def.cpu?.mode;
  const cpuModel = (cpuMode === undefined || cpuMode === 'custom') && def.cpu?.model?.text ? def.cpu.model.text : undefined;
  const numaCells = guestCells(def);
  const fromMeta = opts.metadata === false ? {} : metadataHints(def.metadata as XmlElement | undefined);
  return Object.freeze({
    uuid: def.uuid,
    ...(def.name !== undefined ? { name: def.name } : {}),
    memoryKiB,
    vcpus,
    domainType: def.type ?? 'qemu',
    osType: type?.text ?? 'hvm',
    ...(type?.arch !== undefined ? { arch: type.arch } : {}),
    ...(type?.machine !== undefined ? { machine: type.machine } : {}),
    ...(def.devices?.emulator !== undefined ? { emulator: def.devices.emulator } : {}),
    ...(cpuMode !== undefined ? { cpuMode } : {}),
    ...(cpuModel !== undefined ? { cpuModel } : {}),
    ...(numaCells ? { numaCells: Object.freeze(numaCells) } : {}),
    hints: mergeHints(fromMeta, opts.hints ?? {}),
  });
}

/** Job hints over metadata hints, field by field. */
export function mergeHints(base: SchedulerHints, over: SchedulerHints): SchedulerHints {
  const out: { -readonly [K in keyof SchedulerHints]: SchedulerHints[K] } = { ...base };
  for (const [k, v] of Object.entries(over) as [keyof SchedulerHints, never][]) if (v !== undefined) out[k] = v;
  return Object.freeze(out);
}

// ---------------------------------------------------------------- metadata

/** The namespace an element's prefix is bound to, by its own or its parent's declarations. */
function namespaceOf(el: XmlElement, parent?: XmlElement): string | undefined {
  const i = el.name.indexOf(':');
  const attr = i < 0 ? 'xmlns' : `xmlns:${el.name.slice(0, i)}`;
  return el.attrs[attr] ?? parent?.attrs[attr];
}

const local = (name: string) => name.slice(name.indexOf(':') + 1);
const children = (el: XmlElement) => el.children.filter((c): c is XmlElement => typeof c !== 'string');
const text = (el: XmlElement) => el.children.filter((c): c is string => typeof c === 'string').join('').trim();

/** The hints of `<vf:scheduling>` in a definition's `<metadata>`; malformed entries throw INVALID_ARG with their path. */
export function metadataHints(metadata: XmlElement | undefined): SchedulerHints {
  if (!metadata) return {};
  const el = children(metadata).find((c) => local(c.name) === 'scheduling' && namespaceOf(c, metadata) === SCHEDULING_NS);
  if (!el) return {};
  const base = '/domain/metadata/scheduling';
  const out: { group?: GroupHint; requiredLabels?: Record<string, string | string[]>; preferredHost?: string } = {};
  for (const c of children(el)) {
    switch (local(c.name)) {
      case 'group': {
        const { name, policy, maxPerHost } = c.attrs;
        const hint = checkGroup({ name, policy, ...(maxPerHost !== undefined ? { maxPerHost: int(maxPerHost) ?? maxPerHost } : {}) }, `${base}/group`);
        if (hint instanceof VirtError) throw hint;
        out.group = hint;
        break;
      }
      case 'label': {
        const { key, value } = c.attrs;
        if (!key || value === undefined) throw new VirtError('INVALID_ARG', "a scheduling label needs 'key' and 'value'", `${base}/label`);
        const labels = (out.requiredLabels ??= {});
        const prior = labels[key];
        // The same key twice: any of the values will do.
        labels[key] = prior === undefined ? value : [...(Array.isArray(prior) ? prior : [prior as string]), value];
        break;
      }
      case 'preferredHost':
        if (text(c)) out.preferredHost = text(c);
        break;
      // Elements of a newer virtflow ride along unread.
    }
  }
  return out;
}

// --------------------------------------------------------------- job hints

const invalid = (detail: string, path: string) => new VirtError('INVALID_ARG', detail, path);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isName = (v: unknown): v is string => typeof v === 'string' && v.trim() !== '' && v.length <= 255;

function checkGroup(v: unknown, path: string): GroupHint | VirtError {
  if (!isObject(v)) return invalid('a scheduling group must be an object', path);
  if (!isName(v.name)) return invalid("a scheduling group needs a 'name'", `${path}/name`);
  if (typeof v.policy !== 'string' || !(GROUP_POLICIES as readonly string[]).includes(v.policy)) {
    return invalid(`scheduling group policy must be one of ${GROUP_POLICIES.join(', ')}, not '${String(v.policy)}'`, `${path}/policy`);
  }
  const g: { name: string; policy: GroupPolicy; maxPerHost?: number; members?: readonly string[] } = { name: v.name, policy: v.policy as GroupPolicy };
  if (v.maxPerHost !== undefined) {
    if (typeof v.maxPerHost !== 'number' || !Number.isSafeInteger(v.maxPerHost) || v.maxPerHost < 1) return invalid('maxPerHost must be a whole number ≥ 1', `${path}/maxPerHost`);
    if (v.policy !== 'anti-affinity') return invalid('maxPerHost applies to the anti-affinity policy only', `${path}/maxPerHost`);
    g.maxPerHost = v.maxPerHost;
  }
  if (v.members !== undefined) {
    if (!Array.isArray(v.members) || !v.members.every((m) => typeof m === 'string')) return invalid('group members must be a list of uuids', `${path}/members`);
    g.members = Object.freeze([...v.members]);
  }
  return Object.freeze(g);
}

function hostList(v: unknown, path: string): readonly string[] | VirtError {
  if (!Array.isArray(v)) return invalid('must be a list of host ids', path);
  for (let i = 0; i < v.length; i++) if (!isName(v[i])) return invalid('a host id must be a non-empty string', `${path}/${i}`);
  return Object.freeze([...(v as string[])]);
}

/**
 * Checks a job's `schedulerHints` (untrusted JSON). Returns the typed hints or
 * the VirtError with the path of the field at fault (never throws); unknown
 * fields are refused so a typo does not silently schedule anywhere.
 */
export function validateSchedulerHints(value: unknown, path = '/schedulerHints'): SchedulerHints | VirtError {
  if (!isObject(value)) return invalid('scheduler hints must be an object', path);
  const out: { -readonly [K in keyof SchedulerHints]: SchedulerHints[K] } = {};
  for (const [k, v] of Object.entries(value)) {
    if (v === undefined) continue;
    const p = `${path}/${k}`;
    switch (k) {
      case 'group': {
        const g = checkGroup(v, p);
        if (g instanceof VirtError) return g;
        out.group = g;
        break;
      }
      case 'requiredLabels': {
        if (!isObject(v)) return invalid('required labels must be an object of label → value (or list of values)', p);
        for (const [lk, lv] of Object.entries(v)) {
          const ok = typeof lv === 'string' || (Array.isArray(lv) && lv.length > 0 && lv.every((x) => typeof x === 'string'));
          if (!ok) return invalid(`label '${lk}' must require a string or a non-empty list of strings`, `${p}/${lk}`);
        }
        out.requiredLabels = Object.freeze({ ...(v as Record<string, string | string[]>) });
        break;
      }
      case 'preferredHost':
      case 'requestedHost':
        if (!isName(v)) return invalid(`${k} must be a host id`, p);
        out[k] = v;
        break;
      case 'excludeHosts': {
        const list = hostList(v, p);
        if (list instanceof VirtError) return list;
        out.excludeHosts = list;
        break;
      }
      default:
        return invalid(`unknown scheduler hint '${k}' (known: group, requiredLabels, preferredHost, requestedHost, excludeHosts)`, p);
    }
  }
  return Object.freeze(out);
}
