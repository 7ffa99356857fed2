export type * from './types.ts';
export { GROUP_POLICIES } from './types.ts';
export {
  DEFAULT_POLICY, DEFAULT_MAINTENANCE_LABEL, policyOf, deriveHost, emptyInventory, buildInventory, foldInventory,
  hostInventory, applyClaim, releaseClaim, withClaims, membersByHost, inventoryHosts,
} from './inventory.ts';
export { SCHEDULING_NS, placementRequest, mergeHints, metadataHints, validateSchedulerHints, type RequestOptions } from './request.ts';
export { parseCpuSet, fitNuma, type NumaFit } from './numa.ts';
export { FILTERS, DEFAULT_FILTERS, type HostFilter, type FilterContext } from './filters.ts';
export { WEIGHERS, DEFAULT_WEIGHTS, normalize, type HostWeigher } from './weighers.ts';
export { place, placeMany, claimFor, filterHost, filterContext, activeFilters, formatExplain, type PlaceOptions } from './place.ts';
export { placedData, claimFits, checkClaim, checkClaimInInventory, type ClaimCheck, type CheckOptions } from './claims.ts';
export { formatKiB, formatRatio } from './units.ts';
export {
  HA_POLICIES, startMembership, observeHeartbeats, lastSeenAt, leaseExpiresAt, decideMembership, haPolicy, haPolicyOfXml, metadataOf, haCandidates, fencedAwaitingRestart, stillFenced,
  fencedError, fencedPath, presentedState, staleCopy, type HaPolicy, type MembershipConfig, type MembershipState, type Sighting, type MembershipAction,
  type DomainOnHost, type PresentedState,
} from './membership.ts';
