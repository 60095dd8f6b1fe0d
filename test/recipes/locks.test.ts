/**
 * The lock recipes (SimpleLock, Mutex, ReadWriteLock, Semaphore) against a
 * real 3-process ensemble: mutual exclusion with many contenders while
 * holders' nodes and the leader are killed -9 (checked in memory and against
 * the zxids the ensemble gave the lock nodes), a dead holder's lock freed when
 * its session expires, no herd, and Curator's protection against a create
 * whose answer was lost.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ZooGateError, ZooGateSession, type WatchEvent } from '../../client/index.ts';
import { Mutex, ReadWriteLock, Semaphore, SimpleLock, type Lease, type Lock } from '../../client/recipes/lock.ts';
import { AnswerLosingProxy, EventCounter, RecipeCluster, sleep, waitFor } from './coordination-support.ts';

type Kind = 'simple' | 'mutex' | 'read' | 'write' | 'semaphore';
const SEMAPHORE_LEASES = 3;

interface Entry {
  readonly kind: Kind;
  readonly who: number;
  readonly node: string;
  /** The lock node's czxid (Lock.fencingToken), null for leases. */
  readonly token: number | null;
  /** The highest zxid the holder's session had seen when acquire resolved: the state it acquired in is at most this. */
  readonly zxidAtEnter: number;
  readonly enter: number;
  exit: number | null;
}

/** Conflicting kinds: these two may never be inside together. */
function conflict(a: Kind, b: Kind): boolean {
  if (a === 'semaphore' || b === 'semaphore') return false;
  if (a === 'read' && b === 'read') return false;
  if (a === 'read' || a === 'write') return b === 'read' || b === 'write';
  return a === b;
}

describe('lock recipes against a 3-process ensemble', { timeout: 150_000 }, () => {
  let rc: RecipeCluster;
  before(async () => {
    rc = await RecipeCluster.start();
  });
  after(async () => {
    await rc?.destroy();
  });

  test('mutual exclusion of SimpleLock, Mutex, ReadWriteLock and a 3-lease Semaphore with 10 sessions on 3 nodes, while holders\' node and then the leader are killed -9', async (t) => {
    const rest = rc.rest();
    // an observer records every create and delete under /t1 with its zxid (a persistent watch replays what it missed when it moves)
    const observer = await rc.connect(1);
    const changes: WatchEvent[] = [];
    await observer.addWatch('/t1', 'persistent_recursive', (e) => changes.push(e));

    const sessions = await rc.spread(10);
    const entries: Entry[] = [];
    const inside: Entry[] = [];
    const violations: string[] = [];
    const errors: string[] = [];
    const acquired: Record<Kind, number> = { simple: 0, mutex: 0, read: 0, write: 0, semaphore: 0 };
    let stop = false;

    // a gate makes the next holder of a kind whose session is on a given node stay inside until opened
    type Held = { session: ZooGateSession; entry: Entry; lock: Lock | Lease };
    const gates = new Map<Kind, { node: number; claimed: Held | null; claim: (h: Held) => void; open: Promise<void>; release: () => void }>();
    const gate = (kind: Kind, node: number) => {
      let claim!: (h: Held) => void;
      let release!: () => void;
      const claimedP = new Promise<Held>((r) => (claim = r));
      const open = new Promise<void>((r) => (release = r));
      const g = { node, claimed: null as Held | null, claim: (h: Held) => ((g.claimed = h), claim(h)), open, release };
      gates.set(kind, g);
      return { claimed: claimedP, release: () => (gates.delete(kind), release()) };
    };

    const enter = (kind: Kind, who: number, session: ZooGateSession, node: string, token: number | null): Entry => {
      const e: Entry = { kind, who, node, token, zxidAtEnter: session.lastZxid, enter: performance.now(), exit: null };
      const others = inside.filter((x) => x.kind === kind);
      if (kind === 'semaphore' && others.length >= SEMAPHORE_LEASES) violations.push(`${others.length + 1} semaphore leases at once`);
      for (const x of inside) if (conflict(kind, x.kind)) violations.push(`${kind} #${who} entered while ${x.kind} #${x.who} was inside`);
      inside.push(e);
      entries.push(e);
      acquired[kind]++;
      return e;
    };
    const exit = (e: Entry) => {
      e.exit = performance.now();
      inside.splice(inside.indexOf(e), 1);
    };

    const contend = async (kind: Kind, who: number, session: ZooGateSession, make: () => { take(): Promise<Lock | Lease | null>; node(l: Lock | Lease): string; token(l: Lock | Lease): number | null }) => {
      const c = make();
      while (!stop) {
        let held: Lock | Lease | null;
        try {
          held = await c.take();
        } catch (e) {
          errors.push(`${kind} #${who} acquire: ${(e as Error).message}`);
          await sleep(50);
          continue;
        }
        if (held === null) continue; // timed out behind a gated holder: try again
        held.onLost((r) => errors.push(`${kind} #${who} lost its lock: ${r.message}`));
        const e = enter(kind, who, session, c.node(held), c.token(held));
        const g = gates.get(kind);
        if (g !== undefined && g.claimed === null && session.serverId === g.node) {
          g.claim({ session, entry: e, lock: held });
          await g.open;
        } else {
          // leases are held longer, so that all 3 are out at times and contenders wait for one (the full path)
          await sleep(kind === 'semaphore' ? 15 + Math.random() * 20 : 1 + Math.random() * 6);
        }
        exit(e);
        try {
          if ('release' in held) await held.release();
          else await held.close();
        } catch (err) {
          errors.push(`${kind} #${who} release: ${(err as Error).message}`);
        }
      }
    };

    const loops: Promise<void>[] = [];
    sessions.forEach((s, who) => {
      const asLock = (lock: Lock) => ({
        take: async () => ((await lock.acquire({ timeoutMs: 8000 })) ? lock : null),
        node: (l: Lock | Lease) => (l as Lock).node!,
        token: (l: Lock | Lease) => (l as Lock).fencingToken,
      });
      loops.push(contend('simple', who, s, () => asLock(new SimpleLock(s, '/t1/simple'))));
      loops.push(contend('mutex', who, s, () => asLock(new Mutex(s, '/t1/mutex'))));
      const rw = new ReadWriteLock(s, '/t1/rw');
      loops.push(who % 2 === 0 ? contend('write', who, s, () => asLock(rw.writeLock)) : contend('read', who, s, () => asLock(rw.readLock)));
      const sem = new Semaphore(s, '/t1/sem', SEMAPHORE_LEASES);
      loops.push(contend('semaphore', who, s, () => ({
        take: () => sem.acquire({ timeoutMs: 8000 }),
        node: (l) => (l as Lease).node,
        token: () => null,
      })));
    });

    const progress = async (what: string, n = 3) => {
      const base = { ...acquired };
      await waitFor(`${n} more acquisitions of each kind ${what}`, () => (Object.keys(base) as Kind[]).every((k) => acquired[k] >= base[k] + n), 30_000);
    };

    await progress('to start with');

    // 1. every kind's holder on one follower at once; that node is killed -9 while they hold
    const victim = [1, 2, 3].find((i) => i !== rc.leader)!;
    const kinds: Kind[] = ['simple', 'mutex', 'write', 'semaphore'];
    const gated = kinds.map((k) => gate(k, victim));
    const holders = await Promise.all(gated.map((g) => g.claimed));
    await rc.kill(victim);
    await waitFor('the holders\' sessions to move', () => holders.every((h) => h.session.state === 'Connected' && h.session.serverId !== victim), 10_000);
    await rest.sync('/'); // REST reads from its node: catch it up with what the sessions wrote elsewhere
    for (const h of holders) {
      // still held: the node is there, owned by the holder's session, seen from the surviving nodes
      const stat = await rest.exists(h.entry.node);
      assert.equal(stat?.ephemeralOwner, h.session.sessionId, `${h.entry.kind}'s node survived the move`);
      assert.ok('isHeld' in h.lock && h.lock.isHeld);
    }
    for (const g of gated) g.release();
    await progress('after the kill of the holders\' node');
    await rc.restart(victim);

    // 2. the leader is killed -9 while every kind is held by sessions on it
    const leader = rc.leader;
    const onLeader = kinds.map((k) => gate(k, leader));
    const leaderHolders = await Promise.all(onLeader.map((g) => g.claimed));
    await rc.kill(leader);
    await waitFor('the holders\' sessions to move', () => leaderHolders.every((h) => h.session.state === 'Connected' && h.session.serverId !== leader), 10_000);
    await rest.sync('/');
    for (const h of leaderHolders) assert.equal((await rest.exists(h.entry.node))?.ephemeralOwner, h.session.sessionId);
    for (const g of onLeader) g.release();
    await progress('after the kill of the leader');
    await rc.restart(leader);
    await progress('with all three back');

    stop = true;
    await Promise.all(loops);

    assert.deepEqual(violations, [], 'never two holders at once (in memory)');
    assert.deepEqual(errors, [], 'no contender failed or lost its lock');
    for (const k of Object.keys(acquired) as Kind[]) assert.ok(acquired[k] >= 10, `${k}: ${acquired[k]} acquisitions`);

    // against the ensemble's order: a holder's node was deleted before the state the next conflicting holder acquired in
    await waitFor('the observer to have seen every lock node go', async () => {
      await observer.sync('/');
      const deleted = new Set(changes.filter((c) => c.event === 'NodeDeleted').map((c) => c.path));
      return entries.every((e) => e.kind === 'simple' || deleted.has(e.node));
    }, 10_000);
    const deletedAt = (e: Entry): number => {
      // the first deletion of the node after it was created (SimpleLock reuses one path)
      const d = changes.find((c) => c.event === 'NodeDeleted' && c.path === e.node && (e.token === null || c.zxid > e.token));
      assert.ok(d !== undefined, `the deletion of ${e.node}`);
      return d.zxid;
    };
    const byEnter = [...entries].sort((a, b) => a.enter - b.enter);
    let checked = 0;
    for (let i = 0; i < byEnter.length; i++) {
      const a = byEnter[i]!;
      for (let j = i + 1; j < byEnter.length; j++) {
        const b = byEnter[j]!;
        if (!conflict(a.kind, b.kind)) continue;
        assert.ok(deletedAt(a) <= b.zxidAtEnter, `${a.kind} #${a.who}'s node ${a.node} was deleted at ${deletedAt(a)}, after ${b.kind} #${b.who} acquired at ${b.zxidAtEnter}`);
        if (a.token !== null && b.token !== null && (a.kind !== 'read' || b.kind !== 'read')) assert.ok(a.token < b.token, 'fencing tokens grow with every acquisition');
        checked++;
      }
    }
    assert.ok(checked > 100, `${checked} pairs checked`);
    t.diagnostic(`acquisitions ${JSON.stringify(acquired)}; ${checked} conflicting pairs checked against the zxids`);
    // the semaphore, replayed in zxid order. A contender creates its lease node while it holds the
    // semaphore's internal Mutex (<path>/locks) and only then counts the leases, waiting with its node in
    // place while they are full (as Curator's InterProcessSemaphoreV2 does): so 4 lease nodes at one zxid
    // are fine when one is that pending contender's. Its node is pending from its create until the
    // deletion of the lock node that was lowest (the Mutex's holder) when it was created; after that it is
    // a lease held. Never more than 3 held, never more than one pending.
    const seqOf = (p: string) => Number(/(\d{10})$/.exec(p)![1]);
    const lockNodes = new Set<string>();
    const pendingOn = new Map<string, string>(); // pending lease node -> the lock node it was created under
    const held = new Set<string>();
    let most = 0;
    for (const c of [...changes].sort((x, y) => x.zxid - y.zxid)) {
      if (/^\/t1\/sem\/locks\/_c_[0-9a-f-]{36}-lock-\d{10}$/.test(c.path)) {
        if (c.event === 'NodeCreated') lockNodes.add(c.path);
        if (c.event === 'NodeDeleted') {
          lockNodes.delete(c.path);
          for (const [lease, lock] of pendingOn) {
            if (lock !== c.path) continue;
            pendingOn.delete(lease);
            held.add(lease);
          }
        }
      } else if (/^\/t1\/sem\/leases\/_c_[0-9a-f-]{36}-lease-\d{10}$/.test(c.path)) {
        if (c.event === 'NodeCreated') {
          assert.ok(lockNodes.size > 0, `lease ${c.path} created at ${c.zxid} while nobody held the semaphore's mutex`);
          const holder = [...lockNodes].sort((x, y) => seqOf(x) - seqOf(y))[0]!;
          pendingOn.set(c.path, holder);
          assert.ok(pendingOn.size <= 1, `two pending lease nodes at ${c.zxid}`);
        }
        if (c.event === 'NodeDeleted') {
          pendingOn.delete(c.path);
          held.delete(c.path);
        }
      }
      assert.ok(held.size <= SEMAPHORE_LEASES, `${held.size} leases held at zxid ${c.zxid}`);
      most = Math.max(most, held.size);
    }
    assert.equal(most, SEMAPHORE_LEASES, 'the semaphore was full at times');
    t.diagnostic(`at most ${most} of ${SEMAPHORE_LEASES} semaphore leases held at any zxid`);

    // clean: every lock directory is a container, and the server removes them once empty
    await waitFor('/t1 to be removed', async () => (await rest.exists('/t1')) === null, 10_000);
    for (const s of sessions) await s.close();
  });

  test('a dead holder\'s locks are freed when its session expires, and the holder learns that it lost them', async () => {
    const follower = [1, 2, 3].find((i) => i !== rc.leader)!;
    const { session: doomed, proxy } = await rc.frozenLater(follower, 600);
    const mutex = new Mutex(doomed, '/t2/mutex');
    const simple = new SimpleLock(doomed, '/t2/simple');
    const rw = new ReadWriteLock(doomed, '/t2/rw');
    const sem = new Semaphore(doomed, '/t2/sem', 1);
    assert.ok(await mutex.acquire());
    assert.ok(await simple.acquire());
    assert.ok(await rw.writeLock.acquire());
    const lease = await sem.acquire();
    assert.ok(lease !== null);
    const held: Array<Lock | Lease> = [mutex, simple, rw.writeLock, lease];
    const lost: string[] = [];
    for (const h of held) h.onLost((r) => lost.push(r.code));

    const other = await rc.connect(rc.leader);
    const waiting = {
      mutex: new Mutex(other, '/t2/mutex').acquire({ timeoutMs: 15_000 }),
      simple: new SimpleLock(other, '/t2/simple').acquire({ timeoutMs: 15_000 }),
      read: new ReadWriteLock(other, '/t2/rw').readLock.acquire({ timeoutMs: 15_000 }),
      lease: new Semaphore(other, '/t2/sem', 1).acquire({ timeoutMs: 15_000 }),
    };
    let settled = 0;
    for (const p of Object.values(waiting)) void p.then(() => settled++, () => settled++);
    await waitFor('the waiters to queue', async () => (await mutex.participantNodes()).length === 2 && (await rw.writeLock.participantNodes()).length === 2);
    assert.equal(settled, 0, 'nobody gets a lock the live holder holds');

    const frozenAt = Date.now();
    proxy.freeze(); // the holder stops: no pings, nothing heard
    assert.equal(await waiting.mutex, true);
    const took = Date.now() - frozenAt;
    assert.equal(await waiting.simple, true);
    assert.equal(await waiting.read, true);
    const theirLease = await waiting.lease;
    assert.ok(theirLease !== null);
    // not before the session could have expired (its last ping was at most a third of the timeout before the freeze)
    assert.ok(took >= 350 && took < 10_000, `freed ${took} ms after the holder stopped (session timeout ${doomed.timeoutMs} ms)`);

    await waitFor('the holder to learn', () => lost.length === 4, 10_000);
    assert.deepEqual(lost, ['SessionExpired', 'SessionExpired', 'SessionExpired', 'SessionExpired']);
    for (const h of held) {
      assert.equal(h.isHeld, false);
      assert.ok(h.signal.aborted);
      assert.equal((h.signal.reason as ZooGateError).code, 'SessionExpired');
    }
    await mutex.release(); // nothing left to release: resolves
    await theirLease.close();
    await other.close();
    await waitFor('/t2 to be removed', async () => (await rc.rest().exists('/t2')) === null, 10_000);
  });

  test('herd-free: each Mutex release wakes only the next waiter (one watch event in all); SimpleLock wakes every waiter', async () => {
    const sessions = await rc.spread(9);
    const counter = new EventCounter(sessions);
    const locks = sessions.map((s) => new Mutex(s, '/t3/mutex'));
    assert.ok(await locks[0]!.acquire());
    const pending: Array<Promise<boolean>> = [Promise.resolve(true)];
    for (let i = 1; i < locks.length; i++) {
      pending.push(locks[i]!.acquire({ timeoutMs: 20_000 }));
      // queued in this order: each waits for the one before it, and has set its watch
      await waitFor(`waiter ${i} to watch its predecessor`, () => sessions[i]!.heldWatches().some((w) => w.path.startsWith('/t3/mutex/')));
    }
    const everyoneSynced = () => Promise.all(sessions.map((s) => s.sync('/'))); // events travel before responses
    for (let k = 0; k < locks.length - 1; k++) {
      await everyoneSynced();
      const before = counter.snapshot();
      await locks[k]!.release();
      assert.equal(await pending[k + 1], true);
      await everyoneSynced();
      const woken = counter.since(before);
      assert.equal(woken.reduce((a, b) => a + b, 0), 1, `release ${k}: events ${JSON.stringify(woken)}`);
      assert.equal(woken[k + 1], 1, 'the one event went to the next in line');
    }
    await locks.at(-1)!.release();

    // the contrast that shows the count can fail: SimpleLock's waiters all watch the one node
    const simple = sessions.slice(0, 6).map((s) => new SimpleLock(s, '/t3/simple'));
    assert.ok(await simple[0]!.acquire());
    const waits = simple.slice(1).map((l) => l.acquire({ timeoutMs: 20_000 }));
    await waitFor('every SimpleLock waiter to watch the lock node', () => sessions.slice(1, 6).every((s) => s.heldWatches().some((w) => w.path === '/t3/simple')));
    await everyoneSynced();
    const before = counter.snapshot();
    await simple[0]!.release();
    const winner = await Promise.race(waits.map((p, i) => p.then(() => i + 1)));
    await everyoneSynced();
    const woken = counter.since(before);
    assert.deepEqual(woken.slice(1, 6), [1, 1, 1, 1, 1], 'every waiter heard the release');
    await simple[winner]!.release();
    // the rest take it in turn
    await Promise.all(waits.map(async (p, i) => {
      assert.equal(await p, true);
      await simple[i + 1]!.release();
    }));
    for (const s of sessions) await s.close();
  });

  test('a create whose answer is lost (ConnectionLoss) is found by its GUID: one node, no orphan blocking the lock', async () => {
    const follower = [1, 2, 3].find((i) => i !== rc.leader)!;
    const rest = rc.rest();
    const proxy = new AnswerLosingProxy(rc.url(follower));
    rc.proxies.push(proxy);
    await proxy.ready;
    const others = [1, 2, 3].filter((i) => i !== follower).map((i) => rc.url(i));
    const s = await ZooGateSession.connect([proxy.url, ...others], { timeoutMs: 2000, shuffle: false, reconnectDelayMs: 0 });
    rc.sessions.push(s);
    const moves: string[] = [];
    s.onState((c) => moves.push(c.state));

    // Mutex: the create reaches the leader and is applied; its answer never comes back
    proxy.loseAnswerTo((r) => r.op === 'create' && r.mode === 'ephemeral_sequential');
    const mutex = new Mutex(s, '/t4/mutex');
    assert.equal(await mutex.acquire({ timeoutMs: 5000 }), true);
    assert.equal(proxy.lost.length, 1, 'the answer to the create was lost');
    assert.deepEqual(moves, ['Disconnected', 'Reconnected']);
    const lostCreate = proxy.lost[0]!.response as { ok: boolean; result: { path: string } };
    assert.ok(lostCreate.ok, 'the lost create had been applied');
    assert.equal(mutex.node, lostCreate.result.path, 'the node it holds is the one the lost create made');
    await rest.sync('/');
    const kids = (await rest.children('/t4/mutex')).children;
    assert.deepEqual(kids, [lostCreate.result.path.slice('/t4/mutex/'.length)], 'exactly one node: no orphan');
    await mutex.release();
    const s2 = await rc.connect(rc.leader);
    const next = new Mutex(s2, '/t4/mutex');
    assert.equal(await next.acquire({ timeoutMs: 2000 }), true, 'the lock is free after the release');
    await next.release();

    // SimpleLock: the same, recognised by the token in its node
    proxy.loseAnswerTo((r) => r.op === 'create' && r.mode === 'ephemeral');
    const s3 = await ZooGateSession.connect([proxy.url, ...others], { timeoutMs: 2000, shuffle: false, reconnectDelayMs: 0 });
    rc.sessions.push(s3);
    const simple = new SimpleLock(s3, '/t4/simple');
    assert.equal(await simple.acquire({ timeoutMs: 5000 }), true);
    assert.equal(proxy.lost.length, 2);
    await rest.sync('/');
    assert.equal((await rest.exists('/t4/simple'))?.ephemeralOwner, s3.sessionId);
    await simple.release();
    assert.equal(await new SimpleLock(s2, '/t4/simple').acquire({ timeoutMs: 2000 }), true);
    await s2.close();
    await s.close();
    await s3.close();
    await waitFor('/t4 to be removed', async () => (await rest.exists('/t4')) === null, 10_000);
  });

  test('a contender that times out or is aborted withdraws its node; timeoutMs 0 tries once', async () => {
    const [a, b] = await rc.spread(2);
    const holder = new Mutex(a!, '/t5/mutex');
    assert.ok(await holder.acquire());
    const waiter = new Mutex(b!, '/t5/mutex');
    assert.equal(await waiter.acquire({ timeoutMs: 0 }), false);
    assert.equal(await waiter.acquire({ timeoutMs: 300 }), false);
    await a!.sync('/'); // the holder's node has applied the waiter's withdrawal
    assert.equal((await holder.participantNodes()).length, 1, 'the timed-out waiter left no node');
    const ctl = new AbortController();
    const aborted = waiter.acquire({ signal: ctl.signal });
    await waitFor('the waiter to queue', async () => (await holder.participantNodes()).length === 2);
    ctl.abort(new Error('changed my mind'));
    await assert.rejects(aborted, /changed my mind/);
    await a!.sync('/');
    assert.equal((await holder.participantNodes()).length, 1, 'the aborted waiter left no node');
    await assert.rejects(holder.acquire(), (e: unknown) => e instanceof ZooGateError && e.code === 'BadArguments', 'not re-entrant');

    const rw = new ReadWriteLock(a!, '/t5/rw');
    const readers = [new ReadWriteLock(b!, '/t5/rw').readLock, new ReadWriteLock(b!, '/t5/rw').readLock];
    assert.ok(await rw.readLock.acquire());
    assert.ok(await readers[0]!.acquire({ timeoutMs: 1000 }), 'readers share the lock');
    assert.equal(await rw.writeLock.acquire({ timeoutMs: 200 }), false, 'a writer waits for the readers');
    await rw.readLock.release();
    await readers[0]!.release();
    assert.ok(await rw.writeLock.acquire({ timeoutMs: 1000 }));
    assert.equal(await readers[1]!.acquire({ timeoutMs: 200 }), false, 'a reader waits for the writer');
    await rw.writeLock.release();

    const sem = new Semaphore(a!, '/t5/sem', 2);
    const two = await sem.acquire(2);
    assert.equal(two?.length, 2);
    assert.equal(await new Semaphore(b!, '/t5/sem', 2).acquire({ timeoutMs: 200 }), null, 'no third lease');
    await a!.sync('/');
    assert.equal((await sem.participantNodes()).length, 2, 'the timed-out contender left no lease');
    await two![0]!.close();
    const third = await new Semaphore(b!, '/t5/sem', 2).acquire({ timeoutMs: 1000 });
    assert.ok(third !== null);
    await two![1]!.close();
    await third.close();
    await holder.release();
    await waitFor('/t5 to be removed', async () => (await rc.rest().exists('/t5')) === null, 10_000);
    await a!.close();
    await b!.close();
  });
});
