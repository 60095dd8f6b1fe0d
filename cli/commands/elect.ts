/**
 * `elect PATH [--id NAME] [-- COMMAND...]`: a candidate in a leader election
 * (the LeaderLatch recipe, client/recipes/election.ts). It prints "leader"
 * or "follower: leader is X" whenever that changes; with a COMMAND, it runs
 * it once leading and exits with its code.
 */
import { hostname } from 'node:os';
import { ZooGateError } from '../../client/errors.ts';
import { LeaderLatch } from '../../client/recipes/election.ts';
import { noMoreArgs, sessionLost, signalExitCode, type Invocation } from '../command.ts';
import { znodePath } from '../context.ts';
import { runCommand } from './run-command.ts';

export async function elect(inv: Invocation): Promise<number> {
  const { ctx, opts } = inv;
  const path = znodePath(inv.args[0], 'elect');
  noMoreArgs(inv, 1);
  const command = inv.rest !== null && inv.rest.length > 0 ? inv.rest : null;
  const id = opts.string('id') ?? `${hostname()}-${process.pid}`;
  const sessionTimeout = opts.durationMs('session-timeout');
  const s = await ctx.session(sessionTimeout === undefined ? {} : { timeoutMs: sessionTimeout });
  const lost = sessionLost(ctx, s);
  const stopped = ctx.stopped();
  const latch = new LeaderLatch(s, path, { id });

  // status lines: on stdout, or on stderr when stdout is the command's
  let last = '';
  let reporting: Promise<void> = Promise.resolve();
  const report = () => {
    reporting = reporting.then(async () => {
      if (latch.state !== 'started') return;
      const leader = await latch.getLeader();
      const leads = leader !== null && leader.node === latch.node;
      const line = leads ? 'leader' : `follower: leader is ${leader?.id ?? '(none)'}`;
      if (line === last) return;
      last = line;
      const json = JSON.stringify({ path, id, role: leads ? 'leader' : 'follower', leader: leader?.id ?? null });
      if (command === null) ctx.print(ctx.json ? json : line);
      else process.stderr.write(ctx.json ? json + '\n' : `zoogate: ${line}\n`);
    }).catch(() => {});
    return reporting;
  };
  latch.addListener({ isLeader: () => void report(), notLeader: () => void report() });

  // who leads changes when a candidate ahead goes: follow the election's children
  let following = true;
  const follow = async () => {
    while (following && latch.state === 'started') {
      let fire!: () => void;
      const changed = new Promise<void>((r) => (fire = r));
      await s.children(path, { watch: () => fire() });
      await report();
      await Promise.race([changed, stopped, lost]);
    }
  };

  try {
    await latch.start();
    void follow().catch(() => {}); // ends with the latch (or with the process)
    if (command === null) {
      await Promise.race([stopped, lost]);
      return 0;
    }
    const leading = await Promise.race([latch.await(), stopped.then(() => null), lost]);
    if (leading === null) return signalExitCode(ctx.stopSignal ?? 'SIGINT');
    if (!leading) throw new ZooGateError('SessionClosed', 'the election ended before this candidate led');
    await report();
    // leadership goes with the session, or when someone deletes this candidate's node (it then queues again)
    const whyLost = () => (s.state === 'Expired' || s.state === 'Closed'
      ? new ZooGateError(s.state === 'Expired' ? 'SessionExpired' : 'SessionClosed', 'the session ended')
      : new ZooGateError('NoNode', "this candidate's node was deleted by someone else", { path }));
    const lostLead = new Promise<ZooGateError>((resolve) => {
      latch.addListener({ notLeader: () => resolve(whyLost()) });
      void lost.catch((e: ZooGateError) => resolve(e));
      if (!latch.hasLeadership()) resolve(whyLost());
    });
    const end = await runCommand(ctx, command, { ZOOGATE_LEADER_NODE: latch.node ?? '', ZOOGATE_LEADER_ID: id }, lostLead);
    following = false;
    if (end.kind === 'lost') throw new ZooGateError(end.reason.code, `lost the leadership of ${path} while the command ran (${end.reason.message}); the command was stopped`, { path });
    return end.code;
  } finally {
    following = false;
    await latch.close().catch(() => {});
  }
}
