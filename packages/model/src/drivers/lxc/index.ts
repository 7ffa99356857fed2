/**
 * libvirt's LXC driver (src/lxc: lxc_domain.c, lxc_conf.c, lxc_driver.c):
 * containers run an `exe` OS under the libvirt_lxc helper. At define the
 * driver checks the domain against its capabilities, fills the emulator,
 * gives consoles the `lxc` target, reads the `lxc:namespace` block and,
 * in its define API, refuses interfaces on a host without network
 * namespaces. Everything else (the `init` requirement of `exe`, clock,
 * lifecycle, vcpu…) is the generic layer: feature flags are none.
 *
 * Not at define, so not here: the root filesystem (`virLXCProcessEnsureRootFS`
 * adds a `/` mount to the live definition only) and the console rules
 * ("At least one PTY console is required") belong to start.
 */
import { produce } from 'immer';
import { lookupDomainData, lxcCaps } from '../../caps/other.ts';
import type { Capabilities } from '../../caps/types.ts';
import type { DomainDef } from '../../domain/types.ts';
import { VirtError } from '../../errors.ts';
import { deviceRule, deviceRules, domainRule, domainRules } from '../../postparse/rules.ts';
import type { DriverConf } from '../../postparse/types.ts';
import type { XmlElement } from '../../xml/tree.ts';
import { capsFor, checkDomainSupported } from '../shared/caps.ts';
import { localName, namespaceChildren, namespaceElements, setNamespaceBlock } from '../shared/namespace.ts';

export const LXC_NAMESPACE_URI = 'http://libvirt.org/schemas/domain/lxc/1.0';

export interface LxcData {
  /** The capabilities define checks against (see `capsFor`). */
  readonly caps: Capabilities;
}

export interface LxcDriverOptions {
  /** The host's capabilities builder when the given ones have no lxc guest; default `lxcCaps` (Debian's helper path). */
  readonly buildCaps?: (hostArch: string) => Capabilities;
  /** Whether the host supports network namespaces (libvirt probes `ip link set lo netns -1` at start); default true. */
  readonly netns?: boolean;
}

// ------------------------------------------------------------ namespace

/** virLXCDomainNamespace, in the fixed order the formatter writes them. */
const NS_FEATURES = ['sharenet', 'shareipc', 'shareuts'] as const;
/** virLXCDomainNamespaceSource; `none` entries are not written back. */
const NS_SOURCES = ['none', 'name', 'pid', 'netns'];

/**
 * lxcDomainDefNamespaceParse and lxcDomainDefNamespaceFormatXML: every
 * child of `<lxc:namespace>` must be sharenet, shareipc or shareuts with a
 * known `type` and a `value`; the block is written back canonically.
 */
const namespaceBlock = domainRule<LxcData>('lxc-namespace', "the lxc:namespace block as the LXC driver reads and writes it: sharenet, shareipc, shareuts in that order, 'none' sources omitted", (d) => {
  const blocks = namespaceElements(d, LXC_NAMESPACE_URI, 'namespace');
  const found = new Map<string, { type: string; value: string }>();
  for (const block of blocks) {
    namespaceChildren(block, LXC_NAMESPACE_URI, '*').forEach(({ el }) => {
      const at = `/domain/${block.el.name}/${el.name}`;
      const name = localName(el.name);
      if (!(NS_FEATURES as readonly string[]).includes(name)) throw new VirtError('CONFIG_UNSUPPORTED', `unsupported Namespace feature: ${name}`, at);
      const type = el.attrs['type'];
      if (type === undefined) throw new VirtError('INTERNAL_ERROR', 'No lxc environment type specified', `${at}/@type`);
      if (!NS_SOURCES.includes(type)) throw new VirtError('INTERNAL_ERROR', `Unknown LXC namespace source '${type}'`, `${at}/@type`);
      const value = el.attrs['value'];
      if (value === undefined) throw new VirtError('INTERNAL_ERROR', 'No lxc environment type specified', `${at}/@value`);
      found.set(name, { type, value });
    });
  }
  let block: XmlElement | undefined;
  if (found.size) {
    const children: XmlElement[] = [];
    for (const f of NS_FEATURES) {
      const e = found.get(f);
      if (e && e.type !== 'none') children.push({ name: `lxc:${f}`, attrs: { type: e.type, value: e.value }, children: [] });
    }
    block = { name: 'lxc:namespace', attrs: {}, children };
  }
  setNamespaceBlock(d, 'lxc', LXC_NAMESPACE_URI, block);
});

// ------------------------------------------------------------ domain

/** virLXCDomainDefPostParse, step 1. */
const capsCheck = domainRule<LxcData>('caps-check', 'the LXC driver accepts only what its capabilities offer: type lxc, OS exe, the host arch or its 32-bit personality', (d, ctx) => {
  checkDomainSupported(ctx.data.caps, d);
});

/** virLXCDomainDefPostParse, step 2: virDomainDefGetDefaultEmulator. */
const emulatorDefault = domainRule<LxcData>('emulator-default', "a container without <emulator> runs under the capabilities' libvirt_lxc helper", (d, ctx) => {
  if (d.devices?.emulator !== undefined) return;
  const data = lookupDomainData(ctx.data.caps, d.os?.type?.text ?? 'exe', d.os?.type?.arch, d.type ?? 'lxc');
  if (data?.emulator === undefined) return;
  (d.devices ??= {}).emulator = data.emulator;
});

// ------------------------------------------------------------ devices

/** virLXCDomainDeviceDefPostParse: before the generic code would make it `serial`. */
const consoleTarget = deviceRule<LxcData, 'console'>(['console'], 'console-target-lxc', 'a container console without a target type is an lxc console', (con) => {
  const t = con.target;
  if (t?.type !== undefined && t.type !== 'none') return;
  (con.target ??= {}).type = 'lxc';
});

// ------------------------------------------------------------ define

function netnsCheck(netns: boolean) {
  return domainRule<LxcData>('netns-check', 'interfaces need network namespaces on the host', (d) => {
    if (!netns && (d.devices?.interfaces?.length ?? 0) > 0) throw new VirtError('OPERATION_INVALID', 'System lacks NETNS support', '/domain/devices/interface[1]');
  });
}

const nameNewline = domainRule<LxcData>('name-chars', "lxcDomainDefineXMLFlags: virXMLCheckIllegalChars on the name", (d) => {
  if (d.name?.includes('\n')) throw new VirtError('XML_DETAIL', 'invalid char in name: \n', '/domain/name');
});

/** An LXC driver; `lxcDriver` is the one with libvirt's defaults. */
export function makeLxcDriver(opts: LxcDriverOptions = {}): DriverConf<LxcData> {
  const build = opts.buildCaps ?? ((arch: string) => lxcCaps(arch));
  return {
    name: 'lxc',
    domainTypes: ['lxc'],
    features: [],
    // Its define API parses with VIR_DOMAIN_DEF_PARSE_INACTIVE only (no ABI_UPDATE).
    parseFlags: { abiUpdate: false },
    createData: (caps) => ({ caps: capsFor(caps, 'lxc', build) }),
    domainPostParseBasic: domainRules([namespaceBlock]),
    domainPostParse: domainRules([capsCheck, emulatorDefault]),
    devicePostParse: deviceRules([consoleTarget]),
    define: domainRules([nameNewline, netnsCheck(opts.netns ?? true)]),
  };
}

export const lxcDriver: DriverConf<LxcData> = makeLxcDriver();

/**
 * virLXCProcessEnsureRootFS, for whoever starts a container: a domain with no
 * filesystem mounted at `/` runs on the host's root, so the *live*
 * definition gets `<filesystem type='mount'><source dir='/'/><target dir='/'/>`
 * first. Define never does this: the persistent definition keeps no root
 * filesystem requirement.
 */
export function lxcLiveRootFilesystem(def: DomainDef): DomainDef {
  if (def.devices?.filesystems?.some((fs) => fs.target?.dir === '/')) return def;
  return produce(def, (d) => {
    const devices = (d.devices ??= {});
    (devices.filesystems ??= []).unshift({ type: 'mount', accessmode: 'passthrough', source: { dir: '/' }, target: { dir: '/' } });
  });
}
