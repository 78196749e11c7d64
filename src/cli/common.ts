/** What every command file shares: how it prints, and the engine it loads when it runs. */

export const print = (s: string): void => console.log(s);

/** The engine (etcd client, gRPC, execa...) loads only when a command runs: --help stays instant. */
export const engine = async () => ({
  ...(await import('../sim/lab.js')),
  ...(await import('../sim/status.js')),
  ...(await import('../sim/heal.js')),
  ...(await import('../sim/workloads.js')),
});
