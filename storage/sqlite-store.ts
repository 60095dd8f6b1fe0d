import Database from 'better-sqlite3';
import { closeSync, existsSync, fdatasync, fdatasyncSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Epoch, Zxid } from '../core/ids.ts';
import type { LogSync } from '../core/effects.ts';
import type { EpochStore, LogStore, SnapshotMeta, SnapshotStore, SnapshotWriter } from '../core/ports.ts';
import { decodeLoggedTxn, encodeLoggedTxn } from '../core/txn-codec.ts';
import type { LoggedTxn } from '../core/txn.ts';
import { BinaryWriter } from '../core/codec.ts';
import { invariant } from '../core/errors.ts';

const SCHEMA_VERSION = 1;

/**
 * The log, epochs and snapshots of one server in one SQLite file, in WAL mode
 * with synchronous=FULL: every committed SQLite transaction is fsynced, so a
 * batch append is one fsync however many client writes it carries (group
 * commit). better-sqlite3 is synchronous; a returned call is a durable change.
 *
 * With `deferSync` (the server's --log-sync=deferred) the log's fsync
 * leaves the event loop: synchronous=NORMAL, so an append only writes its WAL
 * frames (atomic: a crash keeps a prefix of whole commits, SQLite's checksummed
 * WAL recovery), and `sync()` runs fdatasync on the WAL file on libuv's thread
 * pool; append() is durable once a sync() started after it completes (the
 * LogSync port, driven by core/effects.ts's EffectRunner). Epochs, truncation
 * and snapshots stay durable on return: each syncs the WAL before returning.
 * SQLite itself syncs the WAL before every checkpoint and the database after,
 * and a reused WAL's header; the WAL file is never deleted while open.
 */
export class SqliteStore implements LogStore, EpochStore, SnapshotStore, LogSync {
  private readonly db: Database.Database;
  private readonly stmts;
  private readonly writer = new BinaryWriter(4096);
  private cachedLastZxid: Zxid;

  /**
   * Fault injection for the chaos tests (never set in production): when this
   * file exists, the next append fails as a failing disk would ("eio") or
   * runs into a full disk for real ("full": SQLite's max_page_count is pinned,
   * so the append gets SQLITE_FULL). The server must stop, not corrupt.
   */
  faultFile: string | null = null;

  /** The WAL file, open for fdatasync (deferred sync only). */
  private readonly walFd: number | null = null;

  constructor(readonly file: string, opts: { deferSync?: boolean } = {}) {
    mkdirSync(dirname(file), { recursive: true });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma(opts.deferSync === true ? 'synchronous = NORMAL' : 'synchronous = FULL');
    this.migrate();
    this.stmts = {
      append: this.db.prepare('INSERT INTO txnlog (zxid, body) VALUES (?, ?)'),
      maxZxid: this.db.prepare('SELECT max(zxid) AS z FROM txnlog').pluck(),
      minZxid: this.db.prepare('SELECT min(zxid) AS z FROM txnlog').pluck(),
      readAfter: this.db.prepare('SELECT body FROM txnlog WHERE zxid > ? ORDER BY zxid LIMIT ?').pluck(),
      truncate: this.db.prepare('DELETE FROM txnlog WHERE zxid > ?'),
      has: this.db.prepare('SELECT 1 FROM txnlog WHERE zxid = ?').pluck(),
      atOrBefore: this.db.prepare('SELECT max(zxid) FROM txnlog WHERE zxid <= ?').pluck(),
      purge: this.db.prepare('DELETE FROM txnlog WHERE zxid <= ?'),
      getMeta: this.db.prepare('SELECT value FROM meta WHERE key = ?').pluck(),
      setMeta: this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
      newSnap: this.db.prepare('INSERT INTO snapshots (zxid, created_ms) VALUES (?, ?)'),
      addChunk: this.db.prepare('INSERT INTO snapshot_chunks (snapshot_id, seq, body) VALUES (?, ?, ?)'),
      finishSnap: this.db.prepare('UPDATE snapshots SET complete = 1, node_count = ?, bytes = ? WHERE id = ?'),
      listSnaps: this.db.prepare('SELECT id, zxid, node_count AS nodeCount, bytes, created_ms AS createdMs FROM snapshots WHERE complete = 1 ORDER BY zxid DESC, id DESC'),
      chunks: this.db.prepare('SELECT body FROM snapshot_chunks WHERE snapshot_id = ? ORDER BY seq').pluck(),
      delChunks: this.db.prepare('DELETE FROM snapshot_chunks WHERE snapshot_id = ?'),
      delSnap: this.db.prepare('DELETE FROM snapshots WHERE id = ?'),
    };
    this.appendBatch = this.db.transaction((txns: readonly LoggedTxn[]) => {
      for (const t of txns) this.stmts.append.run(t.zxid, encodeLoggedTxn(t, this.writer));
    });
    // A snapshot that was being written when the process died is garbage.
    for (const id of this.db.prepare('SELECT id FROM snapshots WHERE complete = 0').pluck().all() as number[]) this.deleteSnapshot(id);
    this.cachedLastZxid = this.computeLastZxid();
    if (opts.deferSync === true) {
      // a read in WAL mode has opened (created) the WAL; SQLite keeps this file until close
      invariant(existsSync(`${file}-wal`), `${file}: no WAL file after opening in WAL mode`);
      this.walFd = openSync(`${file}-wal`, 'r+');
    }
  }

  get defersSync(): boolean {
    return this.walFd !== null;
  }

  // ---- LogSync (deferred sync) ----

  private syncsInFlight = 0;
  private closeFdAfterSyncs = false;

  sync(done: (err: Error | null) => void): void {
    const fd = this.walFd;
    if (fd === null) return queueMicrotask(() => done(null));
    this.syncsInFlight++;
    fdatasync(fd, (err) => {
      // closed meanwhile: the descriptor is closed only now, so that it is never reused under a sync
      if (--this.syncsInFlight === 0 && this.closeFdAfterSyncs) closeSync(fd);
      done(err);
    });
  }

  syncNow(): void {
    if (this.walFd !== null) fdatasyncSync(this.walFd);
  }

  private readonly appendBatch: (txns: readonly LoggedTxn[]) => void;

  private migrate(): void {
    const version = this.db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) throw new Error(`${this.file} has schema ${version}, newer than this ZooGate (${SCHEMA_VERSION})`);
    if (version === SCHEMA_VERSION) return;
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS txnlog (zxid INTEGER PRIMARY KEY, body BLOB NOT NULL);
      CREATE TABLE IF NOT EXISTS snapshots (
        id INTEGER PRIMARY KEY AUTOINCREMENT, zxid INTEGER NOT NULL, node_count INTEGER,
        bytes INTEGER, created_ms INTEGER NOT NULL, complete INTEGER NOT NULL DEFAULT 0);
      CREATE TABLE IF NOT EXISTS snapshot_chunks (
        snapshot_id INTEGER NOT NULL, seq INTEGER NOT NULL, body BLOB NOT NULL,
        PRIMARY KEY (snapshot_id, seq)) WITHOUT ROWID;
      PRAGMA user_version = ${SCHEMA_VERSION};
    `);
  }

  // ---- LogStore ----

  append(txns: readonly LoggedTxn[]): void {
    if (txns.length === 0) return;
    let prev = this.cachedLastZxid;
    for (const t of txns) {
      invariant(t.zxid > prev, `log append ${t.zxid} after ${prev}`);
      prev = t.zxid;
    }
    if (this.faultFile !== null) this.injectFault(this.faultFile);
    this.appendBatch(txns);
    this.cachedLastZxid = prev;
  }

  private injectFault(path: string): void {
    let kind: string;
    try {
      kind = readFileSync(path, 'utf8').trim();
    } catch {
      return;
    }
    if (kind === 'full') this.db.pragma(`max_page_count = ${this.db.pragma('page_count', { simple: true }) as number}`);
    else throw Object.assign(new Error(`EIO: injected write failure (${path})`), { code: 'EIO' });
  }

  lastZxid(): Zxid {
    return this.cachedLastZxid;
  }

  private computeLastZxid(): Zxid {
    const max = this.stmts.maxZxid.get() as number | null;
    return max ?? ((this.stmts.getMeta.get('purged_up_to') as number | undefined) ?? 0);
  }

  firstZxid(): Zxid | null {
    return (this.stmts.minZxid.get() as number | null) ?? null;
  }

  readAfter(afterZxid: Zxid, limit: number): LoggedTxn[] {
    return (this.stmts.readAfter.all(afterZxid, limit) as Buffer[]).map((b) => decodeLoggedTxn(b));
  }

  purgedUpTo(): Zxid {
    return (this.stmts.getMeta.get('purged_up_to') as number | undefined) ?? 0;
  }

  has(zxid: Zxid): boolean {
    return this.stmts.has.get(zxid) !== undefined;
  }

  lastZxidAtOrBefore(zxid: Zxid): Zxid | null {
    return (this.stmts.atOrBefore.get(zxid) as number | null) ?? null;
  }

  truncateAfter(zxid: Zxid): void {
    this.stmts.truncate.run(zxid);
    this.syncNow();
    this.cachedLastZxid = this.computeLastZxid();
  }

  purgeUpTo(zxid: Zxid): void {
    this.db.transaction(() => {
      const prev = (this.stmts.getMeta.get('purged_up_to') as number | undefined) ?? 0;
      this.stmts.setMeta.run('purged_up_to', Math.max(prev, zxid));
      this.stmts.purge.run(zxid);
    })();
    this.cachedLastZxid = this.computeLastZxid();
  }

  // ---- EpochStore ----

  getEpochs(): { acceptedEpoch: Epoch; currentEpoch: Epoch } {
    return {
      acceptedEpoch: (this.stmts.getMeta.get('accepted_epoch') as number | undefined) ?? 0,
      currentEpoch: (this.stmts.getMeta.get('current_epoch') as number | undefined) ?? 0,
    };
  }

  setEpochs(e: { acceptedEpoch: Epoch; currentEpoch: Epoch }): void {
    this.db.transaction(() => {
      this.stmts.setMeta.run('accepted_epoch', e.acceptedEpoch);
      this.stmts.setMeta.run('current_epoch', e.currentEpoch);
    })();
    this.syncNow();
  }

  // ---- SnapshotStore ----

  beginSnapshot(zxid: Zxid, createdMs: number): SnapshotWriter {
    const id = Number(this.stmts.newSnap.run(zxid, createdMs).lastInsertRowid);
    let seq = 0;
    let bytes = 0;
    let open = true;
    return {
      writeChunk: (chunk) => {
        invariant(open, 'snapshot writer closed');
        this.stmts.addChunk.run(id, seq++, chunk);
        bytes += chunk.length;
      },
      finish: (nodeCount, opts) => {
        invariant(open, 'snapshot writer closed');
        open = false;
        this.db.transaction(() => {
          this.stmts.finishSnap.run(nodeCount, bytes, id);
          if (opts?.replaceHistory) {
            for (const other of this.db.prepare('SELECT id FROM snapshots WHERE id != ?').pluck().all(id) as number[]) {
              this.stmts.delChunks.run(other);
              this.stmts.delSnap.run(other);
            }
            this.stmts.truncate.run(-1);
            this.stmts.setMeta.run('purged_up_to', zxid);
          }
        })();
        this.syncNow();
        if (opts?.replaceHistory) this.cachedLastZxid = zxid;
        return { id, zxid, nodeCount, bytes, createdMs };
      },
      abort: () => {
        if (!open) return;
        open = false;
        this.deleteSnapshot(id);
      },
    };
  }

  listSnapshots(): SnapshotMeta[] {
    return this.stmts.listSnaps.all() as SnapshotMeta[];
  }

  *readSnapshot(id: number): Iterable<Uint8Array> {
    yield* this.stmts.chunks.iterate(id) as Iterable<Buffer>;
  }

  deleteSnapshot(id: number): void {
    this.db.transaction(() => {
      this.stmts.delChunks.run(id);
      this.stmts.delSnap.run(id);
    })();
  }

  close(): void {
    if (!this.db.open) return;
    try {
      this.db.pragma('wal_checkpoint(TRUNCATE)');
    } catch {
      // closing anyway
    }
    this.db.close();
    if (this.walFd !== null) {
      if (this.syncsInFlight === 0) closeSync(this.walFd);
      else this.closeFdAfterSyncs = true;
    }
  }
}
