/**
 * @virtflow/parser — Job intake and the post-parse pipeline stages as BullMQ workers (issue 5).
 * Nothing is exported yet: the package exists so the workspace layout is in place.
 */
export {};
