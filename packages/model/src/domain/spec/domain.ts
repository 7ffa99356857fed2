/**
 * The <domain> element in libvirt 9.0.0's output order
 * (virDomainDefFormatInternalSetRootName in src/conf/domain_conf.c).
 * Each block's own spec lives in the file of its family.
 */
import { el, flag, leaf, many, one, raw, textEl } from '../../codec/spec.ts';
import { cpuSpec } from './cpu.ts';
import { devicesSpec } from './devices.ts';
import { osSpec } from './os.ts';
import {
  blkiotuneSpec,
  clockSpec,
  cputuneSpec,
  defaultiothreadSpec,
  featuresSpec,
  idmapSpec,
  iothreadidsSpec,
  keywrapSpec,
  launchSecuritySpec,
  memoryBackingSpec,
  memtuneSpec,
  numatuneSpec,
  perfSpec,
  pmSpec,
  resourceSpec,
  seclabelSpec,
  sysinfoSpec,
  vcpusSpec,
} from './tuning.ts';

export const scaledMemorySpec = textEl(['unit']);

export const domainSpec = el(['type', 'id'], {
  name: one(leaf),
  uuid: one(leaf),
  genid: one(leaf),
  title: one(leaf),
  description: one(leaf),
  metadata: one(raw),
  maxMemory: one(textEl(['slots', 'unit'])),
  memory: one(textEl(['dumpCore', 'unit'])),
  currentMemory: one(textEl(['unit'])),
  blkiotune: one(blkiotuneSpec),
  memtune: one(memtuneSpec),
  memoryBacking: one(memoryBackingSpec),
  vcpu: one(textEl(['placement', 'cpuset', 'current'])),
  vcpus: one(vcpusSpec),
  iothreads: one(leaf),
  iothreadids: one(iothreadidsSpec),
  defaultiothread: one(defaultiothreadSpec),
  cputune: one(cputuneSpec),
  numatune: one(numatuneSpec),
  resource: one(resourceSpec),
  sysinfo: many(sysinfoSpec, 'sysinfo'),
  bootloader: one(leaf),
  bootloader_args: one(leaf),
  os: one(osSpec),
  idmap: one(idmapSpec),
  features: one(featuresSpec),
  cpu: one(cpuSpec),
  clock: one(clockSpec),
  on_poweroff: one(leaf),
  on_reboot: one(leaf),
  on_crash: one(leaf),
  on_lockfailure: one(leaf),
  pm: one(pmSpec),
  perf: one(perfSpec),
  devices: one(devicesSpec),
  seclabel: many(seclabelSpec, 'seclabels'),
  keywrap: one(keywrapSpec),
  launchSecurity: one(launchSecuritySpec),
});
export { flag };
