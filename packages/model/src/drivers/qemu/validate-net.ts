/**
 * QEMU network interface validation (qemuValidateDomainDeviceDefNetwork in
 * src/qemu/qemu_validate.c).
 */
import type { DomainDef } from '../../domain/types.ts';
import type { Ctx } from '../../postparse/types.ts';
import type { QemuData } from './data.ts';
import {
  arch,
  capsOf,
  fail,
  isARMVirt,
  isPow2,
  isRISCVVirt,
  isS390,
  num,
  pathOf,
  unsupported,
  VIRTIO_MODELS,
  type DV,
} from './validate-util.ts';

// ------------------------------------------------------------ <interface>

const NET_MODELS = [
  'unknown', 'netfront', 'rtl8139', 'virtio', 'e1000', 'e1000e', 'virtio-transitional', 'virtio-non-transitional', 'usb-net',
  'spapr-vlan', 'lan9118', 'scm91c111', 'vlance', 'vmxnet', 'vmxnet2', 'vmxnet3', 'Am79C970A', 'Am79C973', '82540EM', '82545EM', '82543GC',
];

/** The interface model after post-parse: vdpa gets virtio; others (not hostdev) the arch's default, rtl8139 on x86. */
function netModel(type: string, model: string | undefined, def: DomainDef, ctx: Ctx<QemuData>): string | undefined {
  if (model !== undefined) return NET_MODELS.find((m) => m.toLowerCase() === model.toLowerCase()) ?? model;
  if (type === 'vdpa') return 'virtio';
  if (type === 'hostdev') return undefined;
  return isS390(arch(def, ctx)) || isARMVirt(def) || isRISCVVirt(def) ? 'virtio' : 'rtl8139';
}


/** qemuValidateDomainDeviceDefNetwork. */
export const network: DV<'interface'> = {
  name: 'interface',
  kinds: ['interface'],
  check(net, def, ctx) {
    const has = capsOf(ctx);
    const p = pathOf(ctx, 'interface');
    const type = net.type ?? '';
    const ips = net.ips ?? [];
    const routes = net.routes ?? [];
    const model = netModel(type, net.model?.type, def, ctx);
    if (type === 'user') {
      if (routes.length) unsupported('Invalid attempt to set network interface guest-side IP route, not supported by QEMU', `${p}/route[1]`);
      let v4 = false;
      let v6 = false;
      ips.forEach((ip, i) => {
        const at = `${p}/ip[${i + 1}]`;
        if (ip.peer !== undefined) unsupported('Invalid attempt to set peer IP for guest', `${at}/@peer`);
        const family = ip.family ?? ((ip.address ?? '').includes(':') ? 'ipv6' : 'ipv4');
        const prefix = num(ip.prefix) ?? 0;
        if (family === 'ipv4') {
          if (v4) unsupported('Only one IPv4 address per interface is allowed', at);
          v4 = true;
          if (prefix > 0 && (prefix < 4 || prefix > 27)) fail('XML_ERROR', 'invalid prefix, must be in range of 4-27', `${at}/@prefix`);
        } else {
          if (v6) unsupported('Only one IPv6 address per interface is allowed', at);
          v6 = true;
          if (prefix && prefix !== 64) unsupported(`unsupported IPv6 address prefix='${prefix}' - must be 64`, `${at}/@prefix`);
        }
      });
    } else if (type === 'vdpa') {
      if (!has('netdev.vhost-vdpa')) unsupported('vDPA devices are not supported with this QEMU binary', `${p}/@type`);
      if (model !== 'virtio') {
        const known = NET_MODELS.includes(model ?? '') ? model : 'unknown';
        unsupported(`invalid model for interface of type '${type}': '${known}'`, `${p}/model/@type`);
      }
    } else if (ips.length || routes.length) {
      unsupported('Invalid attempt to set network interface guest-side IP route and/or address info, not supported by QEMU', ips.length ? `${p}/ip[1]` : `${p}/route[1]`);
    }
    const virtio = model !== undefined && VIRTIO_MODELS.includes(model);
    if (virtio) {
      const drv = net.driver;
      const rx = num(drv?.rxQueueSize) ?? 0;
      const tx = num(drv?.txQueueSize) ?? 0;
      if (rx && !isPow2(rx)) unsupported('rx_queue_size has to be a power of two', `${p}/driver/@rx_queue_size`);
      if (tx && !isPow2(tx)) unsupported('tx_queue_size has to be a power of two', `${p}/driver/@tx_queue_size`);
      if (drv?.rss !== undefined && !has('virtio-net.rss')) unsupported('virtio rss is not supported with this QEMU binary', `${p}/driver/@rss`);
      if (drv?.rssHashReport !== undefined && !has('virtio-net.rss')) {
        unsupported('virtio rss hash report is not supported with this QEMU binary', `${p}/driver/@rss_hash_report`);
      }
    }
    if ((num(net.mtu?.size) ?? 0) > 0) {
      const ok = ['network', 'bridge', 'ethernet', 'vhostuser'].includes(type) || (type === 'user' && net.backend?.type === 'passt');
      if (!ok) unsupported(`setting MTU on interface type ${type} is not supported yet`, `${p}/mtu`);
    }
    const teaming = net.teaming?.type;
    if (teaming === 'persistent' && !virtio) {
      unsupported(`virtio-net teaming persistent interface must be <model type='virtio'/>, not '${model ?? '(null)'}'`, `${p}/teaming`);
    }
    if (teaming === 'transient' && type !== 'hostdev' && type !== 'network') {
      unsupported(`virtio-net teaming transient interface must be type='hostdev', not '${type}'`, `${p}/teaming`);
    }
    if (net.coalesce !== undefined && type !== 'network' && type !== 'bridge') unsupported(`coalesce settings on interface type ${type} are not supported`, `${p}/coalesce`);
  },
};
