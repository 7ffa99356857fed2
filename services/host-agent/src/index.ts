/**
 * @virtflow/host-agent — One per hypervisor node: commands in over NATS, a hypervisor (qemu | test), events out (issue 6).
 * Nothing is exported yet: the package exists so the workspace layout is in place.
 */
export {};
