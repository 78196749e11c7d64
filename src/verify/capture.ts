import { mkdirSync } from 'node:fs';
import type { Backend } from '../sim/backend.js';
import type { LabState } from '../sim/state.js';
import type { Helper } from '../util/node-runner.js';

export interface CaptureFile {
  /** The node whose fabric link this is (a host or a router). */
  node: string;
  /** Interface captured on: the fabric side of that node's uplink. */
  link: string;
  file: string;
}

/**
 * tcpdump on every fabric link of a lab (the fabric side of each host's and router's uplink, as
 * the lab's backend places it), one pcap file per link. Headers are enough: 256 bytes.
 */
export class FabricCapture {
  private constructor(
    private readonly procs: Helper[],
    readonly files: CaptureFile[],
  ) {}

  static async start(backend: Backend, state: LabState, dir: string): Promise<FabricCapture> {
    mkdirSync(dir, { recursive: true });
    const nodes = [...state.hosts.map((h) => h.name), ...state.routers.map((r) => r.name)];
    const links = nodes.map((node) => ({ node, uplink: backend.uplink(state.lab, node) }));
    const files = links.map(({ node, uplink }): CaptureFile => ({ node, link: uplink.ifname, file: `${dir}/${node}.pcap` }));
    const procs: Helper[] = [];
    const capture = new FabricCapture(procs, files);
    try {
      await Promise.all(
        links.map(async ({ uplink }, i) => {
          // -Z root: Debian's tcpdump otherwise drops to a user that cannot write the report dir.
          // --immediate-mode: without it, packets of a short matrix wait in the kernel ring
          // buffer and are lost when tcpdump is stopped.
          procs.push(
            await backend.spawn(uplink.netns, ['tcpdump', '-i', uplink.ifname, '-w', files[i]!.file, '-U', '--immediate-mode', '-n', '-s', '256', '-Z', 'root'], {
              what: `tcpdump on ${uplink.ifname}`,
              ready: /listening on/,
              readyOn: 'stderr',
            }),
          );
        }),
      );
    } catch (err) {
      await capture.stop();
      throw err;
    }
    return capture;
  }

  /** Stops every tcpdump (SIGINT: it flushes and closes its file) and waits for them. */
  async stop(): Promise<CaptureFile[]> {
    await Promise.all(this.procs.map((p) => p.stop('SIGINT')));
    return this.files;
  }
}
