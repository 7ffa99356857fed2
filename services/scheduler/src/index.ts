/**
 * @virtflow/scheduler — Inventory, placement, claims, host failure handling and migration (issue 7).
 * Nothing is exported yet: the package exists so the workspace layout is in place.
 */
export {};
