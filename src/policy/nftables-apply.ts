import { inNetns, processRunner, run, tryRun, type CommandRunner } from '../util/exec.js';
import type { HostPolicyIR, PolicyDataplane } from './ir.js';
import { NFT_FAMILIES, NFT_TABLE, baseChainsOf, compileNft, deltaCounts, fullCounts, renderDelta, renderFull, type NftDesired } from './nftables.js';

/**
 * The nftables policy dataplane of one namespace (`netns` undefined: the one this process runs
 * in). Thin: compiles, then runs one `nft -f -` per apply (through `runner`: the real one unless
 * a test gives a fake). It keeps what it last applied: the first apply rebuilds both tables
 * (`ip calico`, `ip6 calico`), later ones send only the delta.
 */
export class NftPolicy implements PolicyDataplane {
  readonly kind = 'nftables' as const;
  private applied: NftDesired | undefined;

  constructor(
    readonly netns: string | undefined,
    private readonly runner: CommandRunner = processRunner,
  ) {}

  async apply(ir: HostPolicyIR): Promise<{ chains: number; sets: number }> {
    const desired = compileNft(ir); // throws InputError before anything is touched
    const prev = this.applied;
    // A delta never adds or removes base chains: when they change, both tables are rebuilt.
    if (prev && baseChainsOf(prev) === baseChainsOf(desired)) {
      const script = renderDelta(prev, desired);
      if (!script) return { chains: 0, sets: 0 };
      try {
        await this.nft(script);
        this.applied = desired;
        return deltaCounts(prev, desired);
      } catch {
        // The table is not what we believe (edited by hand, or a half-known state): one full
        // rebuild resyncs it, as Felix does after a failed delta.
      }
    }
    this.applied = undefined;
    await this.nft(renderFull(desired));
    this.applied = desired;
    return fullCounts(desired);
  }

  async remove(): Promise<void> {
    this.applied = undefined;
    const [cmd, ...args] = inNetns(this.netns, ['nft', 'list', 'tables']);
    const r = await tryRun(cmd!, args, {}, this.runner);
    const have = new Set(r.stdout.split('\n').map((l) => l.trim()));
    // Never used nftables here and nothing of ours: stay away.
    const ours = Object.values(NFT_FAMILIES).filter((f) => have.has(`table ${f} ${NFT_TABLE}`));
    if (ours.length) await this.nft(ours.map((f) => `delete table ${f} ${NFT_TABLE}\n`).join(''));
  }

  private async nft(script: string): Promise<void> {
    const [cmd, ...args] = inNetns(this.netns, ['nft', '-f', '-']);
    await run(cmd!, args, { input: script }, this.runner);
  }
}
