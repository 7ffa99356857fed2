/**
 * <features> in libvirt 9.0.0's output order: virDomainDefFormatFeatures
 * walks virDomainFeature (acpi … tcg) in enum order; <hyperv>, <kvm>, <xen>
 * and <capabilities> walk their own enums. Features later libvirt releases
 * appended to those enums (async-teardown, ras, ps2; hyperv emsr_bitmap and
 * xmm_input; tlbflush's children) follow in the order those releases write.
 */
import { el, flag, many, one, textEl } from '../../codec/spec.ts';

/** An element whose only content is `state='on|off'`. */
const stateSpec = el(['state']);

/** <hyperv mode>: virDomainHyperv in enum order. */
export const hypervSpec = el(['mode'], {
  relaxed: one(stateSpec),
  vapic: one(stateSpec),
  spinlocks: one(el(['state', 'retries'])),
  vpindex: one(stateSpec),
  runtime: one(stateSpec),
  synic: one(stateSpec),
  stimer: one(el(['state'], { direct: one(stateSpec) })),
  reset: one(stateSpec),
  vendor_id: one(el(['state', 'value'])),
  frequencies: one(stateSpec),
  reenlightenment: one(stateSpec),
  tlbflush: one(el(['state'], { direct: one(stateSpec), extended: one(stateSpec) })),
  ipi: one(stateSpec),
  evmcs: one(stateSpec),
  avic: one(stateSpec),
  emsr_bitmap: one(stateSpec),
  xmm_input: one(stateSpec),
});

/** <kvm>: virDomainKVM in enum order. */
export const kvmFeaturesSpec = el([], {
  hidden: one(stateSpec),
  'hint-dedicated': one(stateSpec),
  'poll-control': one(stateSpec),
  'pv-ipi': one(stateSpec),
  'dirty-ring': one(el(['state', 'size'])),
});

/** <xen>: virDomainXen in enum order. */
export const xenFeaturesSpec = el([], {
  e820_host: one(stateSpec),
  passthrough: one(el(['state', 'mode'])),
});

/** <capabilities policy>: virDomainProcessCapsFeature in enum order. */
export const capabilitiesSpec = el(['policy'], {
  audit_control: one(stateSpec),
  audit_write: one(stateSpec),
  block_suspend: one(stateSpec),
  chown: one(stateSpec),
  dac_override: one(stateSpec),
  dac_read_search: one(stateSpec),
  fowner: one(stateSpec),
  fsetid: one(stateSpec),
  ipc_lock: one(stateSpec),
  ipc_owner: one(stateSpec),
  kill: one(stateSpec),
  lease: one(stateSpec),
  linux_immutable: one(stateSpec),
  mac_admin: one(stateSpec),
  mac_override: one(stateSpec),
  mknod: one(stateSpec),
  net_admin: one(stateSpec),
  net_bind_service: one(stateSpec),
  net_broadcast: one(stateSpec),
  net_raw: one(stateSpec),
  setgid: one(stateSpec),
  setfcap: one(stateSpec),
  setpcap: one(stateSpec),
  setuid: one(stateSpec),
  sys_admin: one(stateSpec),
  sys_boot: one(stateSpec),
  sys_chroot: one(stateSpec),
  sys_module: one(stateSpec),
  sys_nice: one(stateSpec),
  sys_pacct: one(stateSpec),
  sys_ptrace: one(stateSpec),
  sys_rawio: one(stateSpec),
  sys_resource: one(stateSpec),
  sys_time: one(stateSpec),
  sys_tty_config: one(stateSpec),
  syslog: one(stateSpec),
  wake_alarm: one(stateSpec),
});

export const featuresSpec = el([], {
  acpi: one(flag),
  apic: one(el(['eoi'])),
  pae: one(flag),
  hap: one(stateSpec),
  viridian: one(flag),
  privnet: one(flag),
  hyperv: one(hypervSpec),
  kvm: one(kvmFeaturesSpec),
  pvspinlock: one(stateSpec),
  capabilities: one(capabilitiesSpec),
  pmu: one(stateSpec),
  vmport: one(stateSpec),
  gic: one(el(['version'])),
  smm: one(el(['state'], { tseg: one(textEl(['unit'])) })),
  ioapic: one(el(['driver'])),
  hpt: one(el(['resizing'], { maxpagesize: one(textEl(['unit'])) })),
  vmcoreinfo: one(stateSpec),
  htm: one(stateSpec),
  'nested-hv': one(stateSpec),
  msrs: one(el(['unknown'])),
  'ccf-assist': one(stateSpec),
  xen: one(xenFeaturesSpec),
  cfpc: one(el(['value'])),
  sbbc: one(el(['value'])),
  ibs: one(el(['value'])),
  tcg: one(el([], { 'tb-cache': one(textEl(['unit'])) })),
  'async-teardown': one(el(['enabled'])),
  ras: one(stateSpec),
  ps2: one(stateSpec),
});
