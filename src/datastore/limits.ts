/**
 * How much one etcd transaction may hold in a lab: the flags the lab's etcd is started with
 * (sim/daemons.ts etcdSpec). etcd 3.4's defaults (--max-txn-ops 128, --max-request-bytes
 * 1.5 MiB) would cap a resource file at 128 resources; Calico users apply bigger ones, all or
 * nothing, so the lab's etcd takes more.
 */

/** etcd --max-txn-ops: the most operations (puts, deletes) one transaction may hold. */
export const ETCD_MAX_TXN_OPS = 10_000;

/** etcd --max-request-bytes: the largest request it accepts (10 MiB, etcd's recommended ceiling). */
export const ETCD_MAX_REQUEST_BYTES = 10 * 1024 * 1024;

/** The etcd command-line flags that set these limits. */
export const ETCD_LIMIT_FLAGS: readonly string[] = ['--max-txn-ops', String(ETCD_MAX_TXN_OPS), '--max-request-bytes', String(ETCD_MAX_REQUEST_BYTES)];
