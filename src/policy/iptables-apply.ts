/**
 * The thin kernel side of the iptables policy dataplane: runs what iptables.ts renders, in one
 * `ipset restore` / `iptables-restore` / `ip6tables-restore` each, inside a namespace: the filter,
 * raw and mangle tables; the agent writes `nat` itself (agent/dataplane.ts).
 */
import { inNetns, processRunner, run, type CommandRunner } from '../util/exec.js';
import { BackendError, errorMessage } from '../util/errors.js';
import type { HostPolicyIR, PolicyDataplane } from './ir.js';
import { compileIptables, hooksOf, isOurSet, renderDelta, renderFull, renderRemove, type CompiledPolicy, type RestorePlan } from './iptables.js';

export class IptablesPolicy implements PolicyDataplane {
  readonly kind = 'iptables' as const;
  /** What the kernel holds since our last successful apply; undefined: rewrite all next time. */
  private applied: CompiledPolicy | undefined;

  /** `netns` undefined: the namespace this process runs in (as Dataplane). */
  constructor(
    readonly netns?: string,
    private readonly runner: CommandRunner = processRunner,
  ) {}

  async apply(ir: HostPolicyIR): Promise<{ chains: number; sets: number }> {
    const desired = compileIptables(ir);
    // A delta never adds or removes hooks: when they change, everything is rewritten.
    const plan = this.applied && hooksOf(this.applied) === hooksOf(desired) ? renderDelta(this.applied, desired) : renderFull(desired, await this.kernelSets());
    // A failure half way leaves the kernel unknown: the next apply rewrites everything (as
    // Felix resyncs after an error).
    this.applied = undefined;
    await this.execute(plan);
    this.applied = desired;
    return { chains: plan.chains, sets: plan.sets };
  }

  async remove(): Promise<void> {
    this.applied = undefined;
    for (const family of ['ip', 'ip6'] as const) {
      for (const table of ['filter', 'raw', 'mangle'] as const) {
        const saved = await this.exec(`${family}tables-save`, ['-t', table]);
        const text = renderRemove(saved, table);
        if (text) await this.exec(`${family}tables-restore`, ['-w', '--noflush'], text);
      }
    }
    const sets = (await this.kernelSets()).filter(isOurSet);
    if (sets.length) await this.exec('ipset', ['restore', '-exist'], sets.map((s) => `destroy ${s}\n`).join(''));
  }

  private async execute(p: RestorePlan): Promise<void> {
    const flags = ['-w', ...(p.noflush ? ['--noflush'] : [])];
    if (p.ipset) await this.exec('ipset', ['restore', '-exist'], p.ipset);
    if (p.v4) await this.exec('iptables-restore', flags, p.v4);
    if (p.v6) await this.exec('ip6tables-restore', flags, p.v6);
    if (p.ipsetAfter) await this.exec('ipset', ['restore', '-exist'], p.ipsetAfter);
  }

  private async kernelSets(): Promise<string[]> {
    return (await this.exec('ipset', ['list', '-n']))
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean);
  }

  private async exec(cmd: string, args: string[], input?: string): Promise<string> {
    const [c, ...a] = inNetns(this.netns, [cmd, ...args]);
    try {
      return await run(c!, a, input === undefined ? {} : { input }, this.runner);
    } catch (err) {
      throw new BackendError(`iptables policy${this.netns ? ` in ${this.netns}` : ''}: ${errorMessage(err)}`, { cause: err });
    }
  }
}
