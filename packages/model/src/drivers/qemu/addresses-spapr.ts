/**
 * spapr-vio addresses (qemuDomainAssignSpaprVIOAddresses). They belong to
 * pSeries guests, but the phase runs on every machine: an `ibmvscsi` SCSI
 * controller, a `spapr-vlan` NIC and a `spapr-vio-serial` serial port are
 * forced onto the spapr-vio bus, and every device with a spapr-vio address
 * and no `reg` gets the device kind's default register, stepped by 0x1000
 * past the ones in use.
 */
import { VirtError } from '../../errors.ts';
import { domainRule, type DomainRule } from '../../postparse/rules.ts';
import type { QemuData } from './data.ts';
import { devicePath, devs, hex, num, single, walkDevices, type Dev, type DomainDraft } from './addresses-common.ts';

/** Default registers, as QEMU numbers them (spapr_llan, spapr_vscsi, spapr_vty, spapr_nvram, spapr_tpm_proxy). */
const VIO_ADDR_NET = 0x1000;
const VIO_ADDR_SCSI = 0x2000;
const VIO_ADDR_SERIAL = 0x30000000;
const VIO_ADDR_NVRAM = 0x3000;
const VIO_ADDR_TPM = 0x4000;

function regOf(dev: Dev): number | undefined {
  return dev.address?.type === 'spapr-vio' ? num(dev.address.reg, 16) : undefined;
}

/** reg='0x%08llx' */
function formatReg(reg: number): string {
  return `0x${hex(reg, 8)}`;
}

/** qemuDomainAssignSpaprVIOAddress */
function assignOne(def: DomainDraft, dev: Dev, defaultReg: number, kind: string, index: number, many = true): void {
  if (dev.address?.type !== 'spapr-vio') return;
  const path = devicePath(kind, index, many);
  const userReg = dev.address.reg !== undefined;
  let reg = userReg ? regOf(dev)! : defaultReg;
  const taken = () => walkDevices(def).some((r) => r.dev !== dev && regOf(r.dev) === reg);
  while (taken()) {
    if (userReg) throw new VirtError('XML_ERROR', `spapr-vio address 0x${hex(reg)} already in use`, `${path}/address/@reg`);
    reg += 0x1000;
  }
  const s = formatReg(reg);
  if (dev.address.reg !== s) dev.address.reg = s;
}

export function assignSpaprVioAddresses(def: DomainDraft): void {
  for (let i = 0, list = devs(def, 'interfaces'), n = list.length; i < n; i++) {
    const net = list[i]!;
    if (net.model?.type === 'spapr-vlan') net.address = { ...(net.address?.type === 'spapr-vio' ? net.address : {}), type: 'spapr-vio' };
    assignOne(def, net, VIO_ADDR_NET, 'interface', i);
  }
  for (let i = 0, list = devs(def, 'controllers'), n = list.length; i < n; i++) {
    const c = list[i]!;
    if (c.type === 'scsi' && c.model === 'ibmvscsi') c.address = { ...(c.address?.type === 'spapr-vio' ? c.address : {}), type: 'spapr-vio' };
    assignOne(def, c, VIO_ADDR_SCSI, 'controller', i);
  }
  for (let i = 0, list = devs(def, 'serials'), n = list.length; i < n; i++) {
    const s = list[i]!;
    if (s.target?.type === 'spapr-vio-serial') s.address = { ...(s.address?.type === 'spapr-vio' ? s.address : {}), type: 'spapr-vio' };
    assignOne(def, s, VIO_ADDR_SERIAL, 'serial', i);
  }
  const nvram = single(def, 'nvram');
  if (nvram) assignOne(def, nvram, VIO_ADDR_NVRAM, 'nvram', 0, false);
  for (let i = 0, list = devs(def, 'tpms'), n = list.length; i < n; i++) {
    const t = list[i]!;
    assignOne(def, t, VIO_ADDR_TPM, 'tpm', i);
  }
}

export const spaprVioRules: DomainRule<QemuData>[] = [
  domainRule(
    'spapr-vio-addresses',
    'ibmvscsi controllers, spapr-vlan NICs and spapr-vio serial ports sit on the spapr-vio bus; libvirt gives each the default register of its kind, stepping past registers in use',
    (def) => assignSpaprVioAddresses(def),
  ),
];
