/** Host safety and who may report what: pure checks the agent and the projector apply. */
export { checkStoragePaths, hostPaths, normalizePath, normalizeRoots, underRoots, storageDenied, trustedBinaries, type HostPath, type Unsafe } from './storage.ts';
export { lifecycleHostError, reportingHosts } from './event-host.ts';
