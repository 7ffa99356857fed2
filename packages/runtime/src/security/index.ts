/** Who may do what: NATS users and permissions, Redis ACL users, TLS connection options. */
export { natsServerConfig, permissionsFor, inboxPrefix, createNkeyUser, NatsAuthError, type NatsAuthOptions, type NatsUser, type NatsRole, type Permissions } from './nats-auth.ts';
export { redisAclFile, redisRules, redisUrlFor, RedisAclError, type RedisAclOptions, type RedisUser, type RedisRole } from './redis-acl.ts';
export { natsSecurityOptions, redisSecurityOptions } from './connect.ts';
