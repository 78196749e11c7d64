/**
 * The fabric's layer 2 (pure): one Linux bridge takes at most 1,024 ports (the kernel's
 * BR_MAX_PORTS), so a large lab spreads its nodes' ports over several bridges in the fabric
 * namespace — `br0` (it holds the fabric gateway address) and leaf bridges `br1`, `br2`, … each
 * joined to `br0` by a veth pair. It stays one broadcast domain and one subnet: hosts peer
 * and resolve each other exactly as on one bridge; a frame between leaves crosses br0.
 */

/** The bridge with the gateway address; the first nodes' ports and every leaf's uplink are on it. */
export const SPINE_BRIDGE = 'br0';
/** Node ports per bridge (under BR_MAX_PORTS, leaving br0 room for the leaves' uplinks). */
export const NODE_PORTS_PER_BRIDGE = 1000;
/** br0 takes the uplinks of this many leaves besides its own node ports. */
export const MAX_LEAVES = 1024 - NODE_PORTS_PER_BRIDGE - 1;
/** The most node ports (hosts and routers) a fabric holds. */
export const MAX_FABRIC_NODES = NODE_PORTS_PER_BRIDGE * (MAX_LEAVES + 1);

const bridgeName = (i: number) => `br${i}`;
const uplink = (i: number) => ({ leaf: `br${i}-up`, spine: `br${i}-sp` });
/** A fabric interface that joins bridges, not a node's port. */
export const isBridgeLink = (name: string) => /^br\d+(-up|-sp)?$/.test(name);

/**
 * The `ip -batch` lines (run in the fabric namespace) that put each new port on a bridge with
 * room, making leaf bridges as needed. `nodePorts` is how many node ports each existing bridge
 * has (from the kernel: every port but the bridges' own links).
 */
export function attachPortLines(nodePorts: ReadonlyMap<string, number>, ports: readonly string[]): string[] {
  const count = new Map(nodePorts);
  if (!count.has(SPINE_BRIDGE)) count.set(SPINE_BRIDGE, 0);
  const lines: string[] = [];
  let i = 0;
  for (const port of ports) {
    while ((count.get(bridgeName(i)) ?? 0) >= NODE_PORTS_PER_BRIDGE) i++;
    const br = bridgeName(i);
    if (!count.has(br)) {
      if (i > MAX_LEAVES) throw new RangeError(`the fabric holds at most ${MAX_FABRIC_NODES} hosts and routers`);
      const u = uplink(i);
      lines.push(
        `link add ${br} type bridge`,
        `link add ${u.leaf} type veth peer name ${u.spine}`,
        `link set ${u.leaf} master ${br}`,
        `link set ${u.spine} master ${SPINE_BRIDGE}`,
        `link set ${u.leaf} up`,
        `link set ${u.spine} up`,
        `link set ${br} up`,
      );
      count.set(br, 0);
    }
    lines.push(`link set ${port} master ${br}`, `link set ${port} up`);
    count.set(br, count.get(br)! + 1);
  }
  return lines;
}

/** Node ports per bridge, from `ip -j link show` in the fabric namespace. */
export function nodePortsPerBridge(links: readonly { ifname: string; master?: string }[]): Map<string, number> {
  const count = new Map<string, number>();
  for (const l of links) {
    if (isBridgeLink(l.ifname)) {
      if (/^br\d+$/.test(l.ifname) && !count.has(l.ifname)) count.set(l.ifname, 0);
      continue;
    }
    if (l.master && /^br\d+$/.test(l.master)) count.set(l.master, (count.get(l.master) ?? 0) + 1);
  }
  return count;
}
