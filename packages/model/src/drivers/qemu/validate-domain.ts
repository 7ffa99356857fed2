/**
 * QEMU whole-domain validation (qemuValidateDomainDef in
 * src/qemu/qemu_validate.c, with qemuDomainDefValidateMemoryHotplug from
 * qemu_domain.c), one validator per libvirt helper, in libvirt's call order.
 * Validators throw the first error libvirt would report and never change
 * the definition.
 */
import type { DomainDef } from '../../domain/types.ts';
import type { Ctx } from '../../postparse/types.ts';
import type { Validator } from '../../postparse/rules.ts';
import type { QemuData } from './data.ts';
import { validateStorageSource } from './validate-storage.ts';
import {
  arch,
  emulatorGuest,
  emulatorPath,
  fail,
  capsOf,
  hasDefaultRAMid,
  isARMVirt,
  isI440FX,
  isPPC64,
  isPSeries,
  isQ35,
  isS390,
  isX86,
  kib,
  machine,
  machineMaxCpus,
  machineName,
  num,
  numaCells,
  unsupported,
} from './validate-util.ts';

type V = Validator<QemuData>;

/** The emulator, OS type, arch, virt type and machine (the head of qemuValidateDomainDef). */
const emulatorSupport: V = {
  name: 'emulator-support',
  check(def, ctx) {
    const emulator = emulatorPath(def, ctx);
    const osType = def.os?.type?.text ?? 'hvm';
    if (osType !== 'hvm') unsupported(`Emulator '${emulator}' does not support os type '${osType}'`, '/domain/os/type');
    const guest = emulatorGuest(ctx);
    if (!guest) return;
    const a = arch(def, ctx);
    // virQEMUCapsIsArchSupported: the emulator's own arch, plus the 32-bit sibling it can run.
    const archOk = a === guest.arch || (guest.arch === 'x86_64' && a === 'i686') || (guest.arch === 'aarch64' && a === 'armv7l') ||
      (guest.arch === 'armv7l' && a === 'armv6l') || (guest.arch === 'ppc64' && a === 'ppc64le');
    if (!archOk) unsupported(`Emulator '${emulator}' does not support arch '${a}'`, '/domain/os/type/@arch');
    const virt = def.type ?? '';
    // TCG is always there; KVM when the caps offer it; hvf and every other type never on this host.
    const virtOk = virt === 'qemu' || (virt === 'kvm' && guest.domains.some((d) => d.type === 'kvm'));
    if (!virtOk) unsupported(`Emulator '${emulator}' does not support virt type '${virt}'`, '/domain/@type');
    const m = def.os?.type?.machine;
    // An alias post-parse could not resolve stays as written and fails here.
    // The probe leaves QEMU's `none` machine out of the list.
    if (m !== undefined && !ctx.data.machines.some((x) => x.name === m)) {
      unsupported(`Emulator '${emulator}' does not support machine type '${m}'`, '/domain/os/type/@machine');
    }
  },
};

const memtune: V = {
  name: 'min-guarantee',
  check(def, ctx) {
    const g = def.memtune?.minGuarantee;
    if (g && (kib(g.text, g.unit) ?? 0) > 0) unsupported("Parameter 'min_guarantee' not supported by QEMU.", '/domain/memtune/min_guarantee');
  },
};

/** UEFI needs ACPI on x86; genid needs vmgenid; BIOS serial console needs x86 and a serial port. */
const firmware: V = {
  name: 'uefi-acpi',
  check(def, ctx) {
    const has = capsOf(ctx);
    const a = arch(def, ctx);
    const efi = def.os?.firmware === 'efi';
    const pflash = def.os?.loader?.type === 'pflash';
    const acpi = def.features?.acpi !== undefined;
    if ((efi || pflash) && isX86(a) && !acpi) unsupported('UEFI requires ACPI on this architecture', efi ? '/domain/os/@firmware' : '/domain/os/loader/@type');
    if (acpi && a === 'aarch64' && !efi && !pflash) unsupported('ACPI requires UEFI on this architecture', '/domain/features/acpi');
    if (def.genid !== undefined && !has('vmgenid')) unsupported("this QEMU does not support the 'genid' capability", '/domain/genid');
    if (def.os?.bios?.useserial === 'yes') {
      if (!isX86(a)) unsupported('BIOS serial console only supported on x86 architectures', '/domain/os/bios/@useserial');
      if (!(def.devices?.serials ?? []).length) fail('XML_ERROR', 'need at least one serial port to use BIOS serial output', '/domain/os/bios/@useserial');
    }
  },
};

/** qemuValidateLifecycleAction. */
const lifecycle: V = {
  name: 'lifecycle-actions',
  check(def, ctx) {
    const off = def.onPoweroff ?? 'destroy';
    const reboot = def.onReboot ?? 'restart';
    const crash = def.onCrash ?? 'destroy';
    const at = off === 'rename-restart' ? '/domain/on_poweroff' : reboot === 'rename-restart' ? '/domain/on_reboot' : '/domain/on_crash';
    if ([off, reboot, crash].includes('rename-restart')) {
      unsupported("qemu driver doesn't support the 'rename-restart' action for 'on_reboot'/'on_poweroff'/'on_crash'", at);
    }
    if (off === 'preserve' || reboot === 'preserve') {
      unsupported("qemu driver doesn't support the 'preserve' action for 'on_reboot'/'on_poweroff'", off === 'preserve' ? '/domain/on_poweroff' : '/domain/on_reboot');
    }
    if (off === 'restart' && reboot === 'destroy') {
      unsupported("qemu driver doesn't support 'onReboot' set to 'destroy and 'onPoweroff' set to 'reboot'", '/domain/on_reboot');
    }
  },
};

/**
 * qemuValidateDomainDefCpu. The host CPU's address-bits limit is not
 * checked: libvirt only applies it once it has probed the host CPU, which
 * our Capabilities do not describe.
 */
const cpu: V = {
  name: 'cpu',
  check(def, ctx) {
    const has = capsOf(ctx);
    const c = def.cpu;
    if (!c) return;
    const a = arch(def, ctx);
    const addr = c.maxphysaddr;
    if (addr) {
      const at = '/domain/cpu/maxphysaddr';
      if (!isX86(a)) unsupported(`CPU maximum physical address bits specification is not supported for '${a}' architecture`, at);
      if (addr.mode === 'passthrough' && addr.bits !== undefined) {
        unsupported("CPU maximum physical address bits number specification cannot be used with mode='passthrough'", `${at}/@bits`);
      }
      if (addr.mode === 'emulate' && addr.bits === undefined) {
        unsupported("if using CPU maximum physical address mode='emulate', bits= must be specified too", at);
      }
    }
    const cache = c.cache;
    if (cache) {
      const at = '/domain/cpu/cache';
      if (!isX86(a)) unsupported(`CPU cache specification is not supported for '${a}' architecture`, at);
      const mode = cache.mode ?? '';
      if (mode === 'emulate' && num(cache.level) !== 3) unsupported("CPU cache mode 'emulate' can only be used with level='3'", at);
      if (mode === 'passthrough') {
        const cpuMode = c.mode ?? 'custom';
        if (cpuMode !== 'host-passthrough' && cpuMode !== 'maximum') {
          unsupported("CPU cache mode 'passthrough' can only be used with 'host-passthrough' / 'maximum' CPUs", at);
        }
      }
      if ((mode === 'passthrough' || mode === 'disable') && cache.level !== undefined) {
        unsupported(`unsupported CPU cache level for mode '${mode}'`, `${at}/@level`);
      }
    }
    const mode = c.mode ?? 'custom';
    if (c.model !== undefined || mode !== 'custom') {
      if (mode === 'host-passthrough' && c.migratable === 'on' && !has('cpu.migratable')) {
        unsupported('Migratable attribute for host-passthrough CPU is not supported by this QEMU binary', '/domain/cpu/@migratable');
      }
      if (mode === 'maximum' && !has('cpu-max')) unsupported('maximum CPU is not supported by QEMU binary', '/domain/cpu/@mode');
    }
  },
};

/** Total guest memory in KiB as post-parse computes it: the NUMA cells plus the memory devices, else <memory>. */
function memoryTotal(def: DomainDef): number {
  const cells = numaCells(def);
  const devs = (def.devices?.memoryDevices ?? []).reduce((s, m) => s + (kib(m.target?.size?.text, m.target?.size?.unit) ?? 0), 0);
  if (cells.length) return cells.reduce((s, c) => s + (kib(c.memory, c.unit) ?? 0), 0) + devs;
  return kib(def.memory?.text, def.memory?.unit) ?? 0;
}

/** qemuDomainDefValidateMemoryHotplug (qemu_domain.c), with no device being hotplugged. */
const memoryHotplug: V = {
  name: 'memory-hotplug',
  check(def, ctx) {
    const mems = def.devices?.memoryDevices ?? [];
    const max = def.maxMemory;
    const maxKiB = max ? (kib(max.text, max.unit) ?? 0) : 0;
    const slots = max ? (num(max.slots) ?? 0) : 0;
    if (maxKiB === 0 && slots === 0) {
      if (mems.length) unsupported("cannot use/hotplug a memory device when domain 'maxMemory' is not defined", '/domain/devices/memory[1]');
      return;
    }
    const cells = numaCells(def);
    if (!isPPC64(arch(def, ctx)) && cells.length === 0) {
      unsupported('At least one numa node has to be configured when enabling memory hotplug', '/domain/maxMemory');
    }
    if (mems.length > slots) unsupported(`memory device count '${mems.length}' exceeds slots count '${slots}'`, '/domain/maxMemory/@slots');
    let hotplugMemory = 0;
    mems.forEach((m, i) => {
      hotplugMemory += kib(m.target?.size?.text, m.target?.size?.unit) ?? 0;
      const at = `/domain/devices/memory[${i + 1}]`;
      const addrType = m.address?.type;
      const needsNode = () => {
        if (cells.length && m.target?.node === undefined) unsupported('target NUMA node needs to be specified for memory device', `${at}/target`);
      };
      switch (m.model) {
        case 'dimm':
        case 'nvdimm': {
          if (addrType !== undefined && addrType !== 'dimm') unsupported("only 'dimm' addresses are supported for the pc-dimm device", `${at}/address/@type`);
          needsNode();
          if (addrType === 'dimm') {
            const slot = num(m.address?.slot) ?? 0;
            const base = num(m.address?.base) ?? 0;
            if (slot >= slots) unsupported(`memory device slot '${slot}' exceeds slots count '${slots}'`, `${at}/address/@slot`);
            mems.forEach((o, j) => {
              if (j === i || o.address?.type !== 'dimm') return;
              if ((num(o.address.slot) ?? 0) === slot) unsupported(`memory device slot '${slot}' is already being used by another memory device`, `${at}/address/@slot`);
              if (base !== 0 && (num(o.address.base) ?? 0) === base) {
                unsupported(`memory device base '0x${base.toString(16)}' is already being used by another memory device`, `${at}/address/@base`);
              }
            });
          }
          needsNode();
          break;
        }
        case 'virtio-pmem':
          if (addrType !== undefined && addrType !== 'pci') unsupported("only 'pci' addresses are supported for the virtio-pmem device", `${at}/address/@type`);
          break;
        case 'virtio-mem':
          if (addrType !== undefined && addrType !== 'pci') unsupported("only 'pci' addresses are supported for the virtio-mem device", `${at}/address/@type`);
          needsNode();
          break;
        default:
          break;
      }
    });
    const initial = memoryTotal(def) - hotplugMemory;
    if (hotplugMemory > maxKiB - initial) unsupported('memory device total size exceeds hotplug space', '/domain/maxMemory');
  },
};

const iothreads: V = {
  name: 'iothread-pool',
  check(def, ctx) {
    const has = capsOf(ctx);
    const pool = (def.iothreadids?.iothreads ?? []).some((t) => t.threadPoolMin !== undefined || t.threadPoolMax !== undefined) ||
      def.defaultiothread?.threadPoolMin !== undefined || def.defaultiothread?.threadPoolMax !== undefined;
    if (pool && !has('iothread.thread-pool-max')) unsupported('thread_pool_min and thread_pool_max is not supported by this QEMU binary', '/domain/iothreadids');
  },
};

/** qemuValidateDomainDefClockTimers. */
const clockTimers: V = {
  name: 'clock-timers',
  check(def, ctx) {
    const has = capsOf(ctx);
    const a = arch(def, ctx);
    (def.clock?.timers ?? []).forEach((t, i) => {
      const at = `/domain/clock/timer[${i + 1}]`;
      const name = t.name ?? '';
      const notSupportedFor = () =>
        unsupported(`Configuring the '${name}' timer is not supported for virtType=${def.type} arch=${a} machine=${machineName(def, ctx)} guests`, at);
      switch (name) {
        case 'platform':
          unsupported(`unsupported timer type (name) '${name}'`, `${at}/@name`);
        case 'tsc':
        case 'kvmclock':
        case 'hypervclock':
          if (!isX86(a) && t.present === 'yes') notSupportedFor();
          break;
        case 'rtc':
          if (t.track === 'boot') unsupported(`unsupported rtc timer track '${t.track}'`, `${at}/@track`);
          if (t.tickpolicy === 'merge' || t.tickpolicy === 'discard') unsupported(`unsupported rtc timer tickpolicy '${t.tickpolicy}'`, `${at}/@tickpolicy`);
          break;
        case 'pit':
          if ((t.tickpolicy === 'catchup' && !has('kvm-pit-lost-tick-policy')) || t.tickpolicy === 'merge') {
            unsupported(`unsupported pit tickpolicy '${t.tickpolicy}'`, `${at}/@tickpolicy`);
          }
          break;
        case 'hpet':
          // QEMU 7.2 has no machine-hpet, so libvirt keeps QEMU_CAPS_NO_HPET and any state is accepted.
          if (!has('no-hpet') && t.present === 'yes') unsupported('hpet timer is not supported', `${at}/@present`);
          break;
        case 'armvtimer':
          if (def.type !== 'kvm' || !isARMVirt(def)) notSupportedFor();
          if (t.present === 'no') unsupported(`The '${name}' timer can't be disabled`, `${at}/@present`);
          unsupported(`Configuring the '${name}' timer is not supported with this QEMU binary`, at);
        default:
          break;
      }
    });
    if (def.clock?.offset === 'absolute' && (num(def.clock.start) ?? 0) > 253402300799) {
      unsupported("The maximum 'start' value for <clock offset='absolute'> is 253402300799", '/domain/clock/@start');
    }
  },
};

/** qemuValidateDomainDefPM: QEMU 7.2 can set both S3 and S4 on PIIX and ICH9. */
const pm: V = {
  name: 'acpi-sleep',
  check(def, ctx) {
    const has = capsOf(ctx);
    const q35 = isQ35(def);
    if (def.pm?.suspendToMem && !(q35 && has('ich9-disable-s3')) && !has('disable-s3')) {
      unsupported('setting ACPI S3 not supported', '/domain/pm/suspend-to-mem');
    }
    if (def.pm?.suspendToDisk && !(q35 && has('ich9-disable-s4')) && !has('disable-s4')) {
      unsupported('setting ACPI S4 not supported', '/domain/pm/suspend-to-disk');
    }
  },
};

/** qemuValidateDomainDefBoot and qemuValidateDomainDefNvram. */
const boot: V = {
  name: 'loader',
  check(def, ctx) {
    const loader = def.os?.loader;
    if (!loader) return;
    if (loader.secure === 'yes') {
      const at = '/domain/os/loader/@secure';
      if (!isQ35(def)) unsupported('Secure boot is supported with q35 machine types only', at);
      if (arch(def, ctx) !== 'x86_64') unsupported('Secure boot is supported for x86_64 architecture only', at);
      if (def.os?.firmware === undefined && def.features?.smm?.state !== 'on') unsupported('Secure boot requires SMM feature enabled', at);
    }
    const nvram = def.os?.nvram;
    if (!nvram) return;
    const at = '/domain/os/nvram';
    const type = nvram.type ?? 'file';
    if (['dir', 'volume', 'nvme', 'vhostuser'].includes(type)) unsupported(`unsupported nvram disk type '${type}'`, `${at}/@type`);
    const src = nvram.source;
    if (src?.slices) unsupported('slices are not supported with NVRAM', `${at}/source/slices`);
    if (src?.reservations) unsupported('persistent reservations are not supported with NVRAM', `${at}/source/reservations`);
    validateStorageSource({ type, format: undefined, source: src, readonly: false }, { source: `${at}/source`, format: at, metadataCache: at, encryption: at }, capsOf(ctx));
  },
};

/** qemuValidateDomainVCpuTopology. */
const vcpuTopology: V = {
  name: 'vcpu-topology',
  check(def, ctx) {
    const has = capsOf(ctx);
    const max = num(def.vcpu?.text) ?? 1;
    const online = num(def.vcpu?.current) ?? max;
    if (online === 0) unsupported('Domain requires at least 1 vCPU', '/domain/vcpu/@current');
    const maxCpus = machineMaxCpus(def, ctx);
    if (maxCpus > 0 && max > maxCpus) unsupported(`Maximum CPUs greater than specified machine type limit ${maxCpus}`, '/domain/vcpu');
    const topo = def.cpu?.topology;
    const sockets = num(topo?.sockets) ?? 0;
    if (has('query-hotpluggable-cpus') && topo && sockets !== 0) {
      const product = sockets * (num(topo.dies) ?? 1) * (num(topo.cores) ?? 0) * (num(topo.threads) ?? 0);
      if (product !== max) unsupported("CPU topology doesn't match maximum vcpu count", '/domain/cpu/topology');
      const granularity = isPSeries(def) ? num(topo.threads) ?? 1 : 1;
      if (online % granularity !== 0) unsupported(`vCPUs count must be a multiple of the vCPU hotplug granularity (${granularity})`, '/domain/vcpu');
    }
    if (isX86(arch(def, ctx)) && max > 255) {
      if (!isQ35(def)) unsupported('more than 255 vCPUs are only supported on q35-based machine types', '/domain/vcpu');
      if (def.devices?.iommu?.driver?.eim !== 'on') unsupported('more than 255 vCPUs require extended interrupt mode enabled on the iommu device', '/domain/vcpu');
    }
  },
};

const resctrl: V = {
  name: 'cachetune-kvm',
  check(def, ctx) {
    const n = (def.cputune?.cachetunes ?? []).length + (def.cputune?.memorytunes ?? []).length;
    if (n && def.type !== 'kvm') {
      unsupported('cachetune is only supported for KVM domains', (def.cputune?.cachetunes ?? []).length ? '/domain/cputune/cachetune[1]' : '/domain/cputune/memorytune[1]');
    }
  },
};

const PSERIES_FEATURES: Record<string, string> = {
  hpt: 'Configuring the page size for HPT guests is not supported by this QEMU binary',
  htm: 'HTM configuration is not supported by this QEMU binary',
  'nested-hv': 'Nested HV configuration is not supported by this QEMU binary',
  'ccf-assist': 'ccf-assist configuration is not supported by this QEMU binary',
  cfpc: 'cfpc configuration is not supported by this QEMU binary',
  sbbc: 'sbbc configuration is not supported by this QEMU binary',
  ibs: 'ibs configuration is not supported by this QEMU binary',
};

/** qemuValidateDomainDefFeatures, in libvirt's feature enum order. */
const features: V = {
  name: 'features',
  check(def, ctx) {
    const has = capsOf(ctx);
    const f = def.features as Record<string, unknown> | undefined;
    if (!f) return;
    const a = arch(def, ctx);
    const m = machineName(def, ctx);
    const notFor = (name: string) => unsupported(`The '${name}' feature is not supported for architecture '${a}' or machine type '${m}'`, `/domain/features/${name}`);
    const order = ['apic', 'hyperv', 'pvspinlock', 'pmu', 'vmport', 'gic', 'ioapic', 'hpt', 'vmcoreinfo', 'htm', 'nested-hv', 'ccf-assist', 'cfpc', 'sbbc', 'ibs', 'tcg'];
    // Decoded keys are camelCase: nested-hv is nestedHv.
    const key = (name: string) => name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    for (const name of order) {
      const v = f[key(name)] as Record<string, unknown> | undefined;
      if (v === undefined) continue;
      switch (name) {
        case 'apic':
          if (v['eoi'] !== undefined && !isX86(a)) {
            unsupported(`The 'eoi' attribute of the 'apic' feature is not supported for architecture '${a}' or machine type '${m}'`, '/domain/features/apic/@eoi');
          }
          break;
        case 'hyperv':
          if (!isX86(a) && !isARMVirt(def)) unsupported(`Hyperv features are not supported for architecture '${a}' or machine type '${m}'`, '/domain/features/hyperv');
          break;
        case 'pvspinlock':
        case 'ioapic':
          if (!isX86(a)) notFor(name);
          break;
        case 'pmu':
          if (v['state'] === 'off' && isPPC64(a)) unsupported(`PMU is always enabled for architecture '${a}'`, '/domain/features/pmu');
          break;
        case 'vmport': {
          const ok = has('machine-vmport-opt') && (isI440FX(def) || isQ35(def) || machine(def) === 'isapc');
          if (!ok) unsupported('vmport is not available with this QEMU binary', '/domain/features/vmport');
          break;
        }
        case 'gic':
          if (!isARMVirt(def)) notFor(name);
          break;
        case 'vmcoreinfo':
          if (v['state'] === 'on' && !has('vmcoreinfo')) unsupported('vmcoreinfo is not available with this QEMU binary', '/domain/features/vmcoreinfo');
          break;
        case 'tcg': {
          if (def.type !== 'qemu') unsupported(`TCG features are incompatible with domain type '${def.type}'`, '/domain/features/tcg');
          const tb = v['tbCache'] as { text?: string; unit?: string } | undefined;
          const size = tb ? kib(tb.text, tb.unit) : undefined;
          if (size !== undefined && size % 1024 !== 0) unsupported('tb-cache size must be an integer multiple of MiB', '/domain/features/tcg/tb-cache');
          break;
        }
        default:
          // The pSeries-only features: any state on any other machine.
          if (!isPSeries(def)) notFor(name);
          // On pSeries they need QEMU_CAPS_MACHINE_PSERIES_CAP_* flags an x86_64 binary lacks.
          unsupported(PSERIES_FEATURES[name]!, `/domain/features/${name}`);
      }
    }
  },
};

/** qemuValidateDomainDefMemory: hugepages. */
const hugepages: V = {
  name: 'hugepages',
  check(def, ctx) {
    const has = capsOf(ctx);
    const mb = def.memoryBacking;
    if (!mb?.hugepages) return;
    if (mb.allocation?.mode === 'ondemand') unsupported('hugepages are not allowed with memory allocation ondemand', '/domain/memoryBacking/allocation/@mode');
    if ((num(mb.allocation?.threads) ?? 0) > 0 && !has('memory-backend-file.prealloc-threads')) {
      unsupported('preallocation threads are unsupported with this QEMU', '/domain/memoryBacking/allocation/@threads');
    }
    if (mb.source?.type === 'anonymous') unsupported('hugepages are not allowed with anonymous memory source', '/domain/memoryBacking/source/@type');
    if (mb.source?.type === 'memfd' && !has('memory-backend-memfd.hugetlb')) {
      unsupported('hugepages is not supported with memfd memory source', '/domain/memoryBacking/source/@type');
    }
    const page = mb.hugepages.pages?.[0];
    const size = page ? kib(page.size, page.unit) : 0;
    const access = mb.access?.mode;
    if (!hasDefaultRAMid(def) && size !== 4 && numaCells(def).length === 0 && access !== undefined && access !== 'private') {
      unsupported(`memory access mode '${access}' not supported without guest numa node`, '/domain/memoryBacking/access/@mode');
    }
  },
};

const numa: V = {
  name: 'numa-hmat',
  check(def, ctx) {
    const has = capsOf(ctx);
    const n = def.cpu?.numa;
    const hmat = n?.interconnects !== undefined || (n?.cells ?? []).some((c) => (c as { caches?: unknown[] }).caches?.length);
    if (hmat && !has('numa.hmat')) unsupported('HMAT is not supported with this QEMU', '/domain/cpu/numa');
  },
};

/** qemuValidateDomainDefConsole. */
const consoles: V = {
  name: 'console-targets',
  check(def, ctx) {
    const has = capsOf(ctx);
    (def.devices?.consoles ?? []).forEach((c, i) => {
      const at = `/domain/devices/console[${i + 1}]/target/@type`;
      const type = c.target?.type ?? 'serial';
      switch (type) {
        case 'serial':
        case 'virtio':
          break;
        case 'sclp':
          if (!has('s390-sclp')) unsupported('sclpconsole is not supported in this QEMU binary', at);
          break;
        case 'sclplm':
          if (!has('sclplmconsole')) unsupported('sclplmconsole is not supported in this QEMU binary', at);
          break;
        default:
          unsupported(`unsupported console target type ${type}`, at);
      }
    });
  },
};

/** qemuValidateDomainDefSysinfo: fw_cfg entry names. */
const sysinfo: V = {
  name: 'sysinfo-fwcfg',
  check(def, ctx) {
    (def.sysinfo ?? []).forEach((s, i) => {
      if (s.type !== 'fwcfg') return;
      (s.entries ?? []).forEach((e, j) => {
        const name = (e as { name?: string }).name ?? '';
        const at = `/domain/sysinfo[${i + 1}]/entry[${j + 1}]/@name`;
        if (!name.startsWith('opt/')) unsupported('Invalid firmware name', at);
        if (name.startsWith('opt/ovmf/') || name.startsWith('opt/org.qemu/')) unsupported('That firmware name is reserved', at);
      });
    });
  },
};

/** qemuValidateDomainDefPanic; post-parse made an absent model `isa` on x86. */
const panics: V = {
  name: 'panic-models',
  check(def, ctx) {
    const has = capsOf(ctx);
    const a = arch(def, ctx);
    (def.devices?.panics ?? []).forEach((p, i) => {
      const at = `/domain/devices/panic[${i + 1}]`;
      const addr = p.address?.type;
      const model = p.model ?? (isPSeries(def) ? 'pseries' : isS390(a) ? 's390' : 'isa');
      const noAddress = (m: string) => {
        if (addr !== undefined) unsupported(`setting the panic device address is not supported for model '${m}'`, `${at}/address`);
      };
      switch (model) {
        case 's390':
          if (!isS390(a)) unsupported("only S390 guests support panic device of model 's390'", `${at}/@model`);
          noAddress(model);
          break;
        case 'hyperv':
          if (!isX86(a)) unsupported("only i686 and x86_64 guests support panic device of model 'hyperv'", `${at}/@model`);
          noAddress(model);
          break;
        case 'pseries':
          if (!isPSeries(def)) unsupported("only pSeries guests support panic device of model 'pseries'", `${at}/@model`);
          noAddress(model);
          break;
        case 'isa':
          if (!has('pvpanic')) unsupported('the QEMU binary does not support the ISA panic device', `${at}/@model`);
          if (addr !== undefined && addr !== 'isa') unsupported('panic is supported only with ISA address type', `${at}/address/@type`);
          break;
        default:
          break;
      }
    });
  },
};

/** qemuValidateDomainDefTPMs. */
const tpmCount: V = {
  name: 'tpm-count',
  check(def, ctx) {
    let proxy = false;
    let regular = false;
    (def.devices?.tpms ?? []).forEach((t, i) => {
      const at = `/domain/devices/tpm[${i + 1}]`;
      if (t.model === 'spapr-tpm-proxy') {
        if (proxy) unsupported('only a single TPM Proxy device is supported', at);
        proxy = true;
      } else {
        if (regular) unsupported('only a single TPM non-proxy device is supported', at);
        regular = true;
      }
    });
  },
};

/**
 * Launch security. `sev-guest` is a host-dependent flag: libvirt sets it only
 * when QEMU reports SEV support on the host, which the hosts we assume lack.
 */
const launchSecurity: V = {
  name: 'launch-security',
  check(def, ctx) {
    const has = capsOf(ctx);
    const sec = def.launchSecurity;
    if (!sec) return;
    const at = '/domain/launchSecurity';
    if (sec.type === 'sev') {
      if (!has('sev-guest')) unsupported('SEV launch security is not supported with this QEMU binary', at);
      if (sec.kernelHashes !== undefined && !has('sev-guest-kernel-hashes')) {
        unsupported('SEV measured direct kernel boot is not supported with this QEMU binary', `${at}/@kernelHashes`);
      }
    } else if (sec.type === 's390-pv') {
      unsupported('S390 PV launch security is not supported with this QEMU binary', at);
    }
  },
};

/** qemuValidateDomainDef, in libvirt's order. */
export const qemuDomainChecks: V[] = [
  emulatorSupport,
  memtune,
  firmware,
  lifecycle,
  cpu,
  memoryHotplug,
  iothreads,
  clockTimers,
  pm,
  boot,
  vcpuTopology,
  resctrl,
  features,
  hugepages,
  numa,
  consoles,
  sysinfo,
  panics,
  tpmCount,
  launchSecurity,
];
