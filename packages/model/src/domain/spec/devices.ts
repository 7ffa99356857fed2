/**
 * <devices> in libvirt 9.0.0's output order: devices are grouped by kind, in
 * the order virDomainDefFormatInternal writes the arrays.
 */
import { el, leaf, many, one } from '../../codec/spec.ts';
import { channelSpec, consoleSpec, parallelSpec, serialSpec, smartcardSpec } from './chardev.ts';
import { audioSpec, graphicsSpec, inputSpec, soundSpec, videoSpec } from './ui.ts';
import { interfaceSpec } from './net.ts';
import { controllerSpec, diskSpec, filesystemSpec, hostdevSpec, hubSpec, leaseSpec, redirdevSpec, redirfilterSpec } from './storage.ts';
import { iommuSpec, memballoonSpec, memoryDeviceSpec, nvramSpec, panicSpec, rngSpec, shmemSpec, tpmSpec, vsockSpec, watchdogSpec } from './misc.ts';

export const devicesSpec = el([], {
  emulator: one(leaf),
  disk: many(diskSpec, 'disks'),
  controller: many(controllerSpec, 'controllers'),
  lease: many(leaseSpec, 'leases'),
  filesystem: many(filesystemSpec, 'filesystems'),
  interface: many(interfaceSpec, 'interfaces'),
  smartcard: many(smartcardSpec, 'smartcards'),
  serial: many(serialSpec, 'serials'),
  parallel: many(parallelSpec, 'parallels'),
  console: many(consoleSpec, 'consoles'),
  channel: many(channelSpec, 'channels'),
  input: many(inputSpec, 'inputs'),
  tpm: many(tpmSpec, 'tpms'),
  graphics: many(graphicsSpec, 'graphics'),
  sound: many(soundSpec, 'sounds'),
  audio: many(audioSpec, 'audios'),
  video: many(videoSpec, 'videos'),
  hostdev: many(hostdevSpec, 'hostdevs'),
  redirdev: many(redirdevSpec, 'redirdevs'),
  redirfilter: one(redirfilterSpec),
  hub: many(hubSpec, 'hubs'),
  watchdog: one(watchdogSpec),
  memballoon: one(memballoonSpec),
  rng: many(rngSpec, 'rngs'),
  nvram: one(nvramSpec),
  panic: many(panicSpec, 'panics'),
  shmem: many(shmemSpec, 'shmems'),
  memory: many(memoryDeviceSpec, 'memoryDevices'),
  iommu: one(iommuSpec),
  vsock: one(vsockSpec),
});
