import { type Acl, OPEN_ACL_UNSAFE, Perms } from '../acl.ts';
import { checkAcl, fixupAcl } from '../auth.ts';
import { assertNever, ZkError } from '../errors.ts';
import type { Zxid } from '../ids.ts';
import { joinPath, parentOf, SPECIAL_PATHS, segmentsOf, sequenceSuffix, validatePath } from '../paths.ts';
import type { DataTree } from '../tree/data-tree.ts';
import { NodeKind, type Txn } from '../txn.ts';
import type { ChangeView, NodeRecord } from './change-view.ts';
import {
  type CheckOp, type CreateOp, type DeleteOp, type MultiOp, type RequestContext, type SetOp, type WriteRequest,
  isEphemeralMode, isSequentialMode, isTtlMode, MAX_TTL_MS,
} from './requests.ts';

export interface PrepContext {
  readonly view: ChangeView;
  /** The committed tree; only requests that wait for an empty pipeline (needsQuiescence) read it. */
  readonly tree: DataTree;
  readonly zxid: Zxid;
  /** The leader's clock for this proposal (TTL checks). */
  readonly nowMs: number;
  readonly ctx: RequestContext;
}

/**
 * Requests that need the committed tree to equal the view (nothing
 * outstanding): they enumerate subtrees or a session's ephemerals. The leader
 * holds them, and everything behind them, until its pipeline drains.
 */
export function needsQuiescence(req: WriteRequest): boolean {
  return (req.op === 'delete' && req.recursive === true) || req.op === 'closeSession' || req.op === 'expireSession';
}

/**
 * Turns a request into the transaction that carries it out, checking it
 * against the view with ZooKeeper's checks in ZooKeeper's order
 * (PrepRequestProcessor.pRequest2Txn), and records its changes in the view.
 * Throws ZkError and leaves the view unchanged when the request fails.
 */
export function prepare(req: WriteRequest, p: PrepContext): Txn {
  switch (req.op) {
    case 'create': {
      checkSession(p);
      if (!req.parents) return prepCreate(req, p);
      return inGroup(p, () => {
        const parents = prepMissingParents(req, p);
        const create = prepCreate(req, p);
        return parents.length === 0 ? create : { type: 'multi', txns: [...parents, create] };
      });
    }
    case 'set':
      checkSession(p);
      return prepSet(req, p);
    case 'delete':
      checkSession(p);
      return req.recursive ? prepDeleteRecursive(req, p) : prepDelete(req, p);
    case 'setACL': {
      checkSession(p);
      validatePath(req.path);
      const acl = fixupAcl(req.acl, p.ctx.auth, req.path);
      const rec = getNode(p, req.path);
      checkAcl(rec.acl, Perms.ADMIN, p.ctx.auth, req.path);
      const aversion = checkAndIncVersion(rec.aversion, req.aversion, req.path);
      p.view.setNode(req.path, { ...rec, acl, aversion }, p.zxid);
      return { type: 'setACL', path: req.path, acl, aversion };
    }
    case 'multi':
      checkSession(p);
      return prepMulti(req.ops, p);
    case 'createSession':
      if (p.view.sessionOpen(req.sessionId)) throw new ZkError('SystemError', 'session id collision; try again');
      p.view.setSession(req.sessionId, true, p.zxid);
      return { type: 'createSession', sessionId: req.sessionId, timeoutMs: req.timeoutMs };
    case 'closeSession':
    case 'expireSession': {
      if (!p.view.sessionOpen(req.sessionId)) throw new ZkError('SessionExpired');
      const session = p.tree.sessions.get(req.sessionId);
      const paths = session === undefined ? [] : [...session.ephemerals].sort();
      for (const path of paths) markDeleted(p, path);
      p.view.setSession(req.sessionId, false, p.zxid);
      return { type: 'closeSession', sessionId: req.sessionId, paths, expired: req.op === 'expireSession' };
    }
    case 'deleteExpired':
      return prepDeleteExpired(req.path, p);
    default:
      return assertNever(req);
  }
}

function checkSession(p: PrepContext): void {
  const id = p.ctx.sessionId;
  if (id !== null && !p.view.sessionOpen(id)) throw new ZkError('SessionExpired');
}

function getNode(p: PrepContext, path: string): NodeRecord {
  const rec = p.view.node(path);
  if (rec === null) throw new ZkError('NoNode', undefined, path);
  return rec;
}

function checkAndIncVersion(current: number, expected: number, path: string): number {
  if (expected !== -1 && expected !== current) throw new ZkError('BadVersion', `expected version ${expected}, node is at ${current}`, path);
  return (current + 1) | 0;
}

function inGroup<T>(p: PrepContext, fn: () => T): T {
  p.view.begin();
  try {
    const out = fn();
    p.view.commitGroup();
    return out;
  } catch (e) {
    p.view.rollback();
    throw e;
  }
}

function prepCreate(req: CreateOp, p: PrepContext): Txn {
  const sequential = isSequentialMode(req.mode);
  validatePath(req.path, sequential);
  // validateCreateRequest: TTL rules, then the session.
  const ttl = isTtlMode(req.mode);
  if (ttl && (req.ttlMs === null || !Number.isInteger(req.ttlMs) || req.ttlMs < 1 || req.ttlMs > MAX_TTL_MS)) {
    throw new ZkError('BadArguments', `mode ${req.mode} needs ttl in ms, 1 to 2^40-1`, req.path);
  }
  if (!ttl && req.ttlMs !== null) throw new ZkError('BadArguments', `ttl is only for the *_with_ttl modes (mode ${req.mode})`, req.path);
  const ephemeral = isEphemeralMode(req.mode);
  if (ephemeral && p.ctx.sessionId === null) throw new ZkError('BadArguments', `mode ${req.mode} needs a session (Zoogate-Session)`, req.path);
  const parentPath = parentOf(req.path);
  const acl = fixupAcl(req.acl ?? OPEN_ACL_UNSAFE, p.ctx.auth, req.path);
  const parent = getNode(p, parentPath);
  checkAcl(parent.acl, Perms.CREATE, p.ctx.auth, req.path);
  const path = sequential ? req.path + sequenceSuffix(parent.cversion) : req.path;
  validatePath(path);
  if (p.view.node(path) !== null) throw new ZkError('NodeExists', undefined, path);
  if (parent.ephemeralOwner !== null) throw new ZkError('NoChildrenForEphemerals', undefined, path);
  const kind = ephemeral ? NodeKind.EPHEMERAL : req.mode === 'container' ? NodeKind.CONTAINER : ttl ? NodeKind.TTL : NodeKind.PERSISTENT;
  const parentCVersion = parent.cversion + 1;
  p.view.setNode(parentPath, { ...parent, cversion: parentCVersion, childCount: parent.childCount + 1 }, p.zxid);
  const ephemeralOwner = ephemeral ? p.ctx.sessionId : null;
  const ttlMs = ttl ? req.ttlMs! : 0;
  p.view.setNode(path, {
    version: 0, aversion: 0, cversion: 0, childCount: 0, ephemeralOwner, kind, ttlMs, acl, mtime: p.nowMs,
  }, p.zxid);
  return { type: 'create', path, data: req.data, acl, ephemeralOwner, kind, ttlMs, parentCVersion };
}

/** The ancestors of req.path that do not exist yet, as persistent creates with the default ACL, top first. */
function prepMissingParents(req: CreateOp, p: PrepContext): Txn[] {
  validatePath(req.path, isSequentialMode(req.mode));
  const txns: Txn[] = [];
  const segs = segmentsOf(parentOf(req.path));
  let path = '/';
  for (const seg of segs) {
    path = joinPath(path, seg);
    if (p.view.node(path) !== null) continue;
    txns.push(prepCreate({ op: 'create', path, data: new Uint8Array(0), acl: null, mode: 'persistent', ttlMs: null }, p));
  }
  return txns;
}

function prepSet(req: SetOp, p: PrepContext): Txn {
  validatePath(req.path);
  const rec = getNode(p, req.path);
  checkAcl(rec.acl, Perms.WRITE, p.ctx.auth, req.path);
  const version = checkAndIncVersion(rec.version, req.version, req.path);
  p.view.setNode(req.path, { ...rec, version, mtime: p.nowMs }, p.zxid);
  return { type: 'setData', path: req.path, data: req.data, version };
}

function prepCheck(req: CheckOp, p: PrepContext): Txn {
  validatePath(req.path);
  const rec = getNode(p, req.path);
  checkAcl(rec.acl, Perms.READ, p.ctx.auth, req.path);
  checkAndIncVersion(rec.version, req.version, req.path);
  return { type: 'check', path: req.path, version: req.version };
}

/** getParentPathAndValidate: the root and /zookeeper's nodes cannot be deleted. */
function deletableParent(path: string): string {
  validatePath(path);
  if (SPECIAL_PATHS.has(path)) throw new ZkError('BadArguments', `${path} cannot be deleted`, path);
  return parentOf(path);
}

function prepDelete(req: DeleteOp, p: PrepContext): Txn {
  const parentPath = deletableParent(req.path);
  const parent = getNode(p, parentPath);
  checkAcl(parent.acl, Perms.DELETE, p.ctx.auth, req.path);
  const rec = getNode(p, req.path);
  checkAndIncVersion(rec.version, req.version, req.path);
  if (rec.childCount > 0) throw new ZkError('NotEmpty', undefined, req.path);
  markDeleted(p, req.path);
  return { type: 'delete', path: req.path };
}

/** Records a delete in the view: the node goes, its parent has one child less. */
function markDeleted(p: PrepContext, path: string): void {
  const parentPath = parentOf(path);
  const parent = p.view.node(parentPath)!;
  p.view.setNode(parentPath, { ...parent, childCount: parent.childCount - 1 }, p.zxid);
  p.view.setNode(path, null, p.zxid);
}

/**
 * The whole subtree in one transaction, children before parents. Runs with
 * nothing outstanding (needsQuiescence), so the committed tree is the view.
 * The version applies to the top node; DELETE is needed on every parent.
 */
function prepDeleteRecursive(req: DeleteOp, p: PrepContext): Txn {
  const parentPath = deletableParent(req.path);
  const parent = getNode(p, parentPath);
  checkAcl(parent.acl, Perms.DELETE, p.ctx.auth, req.path);
  const top = getNode(p, req.path);
  checkAndIncVersion(top.version, req.version, req.path);
  const root = p.tree.get(req.path)!;
  const order: string[] = [];
  const visit = (path: string, node: typeof root) => {
    if (node.children !== null) {
      for (const child of node.children.values()) {
        checkAcl(node.acl, Perms.DELETE, p.ctx.auth, joinPath(path, child.name));
        visit(joinPath(path, child.name), child);
      }
    }
    order.push(path);
  };
  visit(req.path, root);
  return inGroup(p, () => {
    for (const path of order) markDeleted(p, path);
    if (order.length === 1) return { type: 'delete', path: req.path } as Txn;
    return { type: 'multi', txns: order.map((path) => ({ type: 'delete', path }) as Txn) };
  });
}

/**
 * ContainerManager's deleteContainer, re-checked at preparation: a container
 * that has had children and has none, or a TTL node without children whose
 * last change is older than its TTL.
 */
function prepDeleteExpired(path: string, p: PrepContext): Txn {
  const parentPath = deletableParent(path);
  const rec = getNode(p, path);
  if (rec.childCount > 0) throw new ZkError('NotEmpty', undefined, path);
  const expired =
    (rec.kind === NodeKind.CONTAINER && rec.cversion > 0) ||
    (rec.kind === NodeKind.TTL && p.nowMs - rec.mtime > rec.ttlMs);
  if (!expired) throw new ZkError('BadVersion', 'node is not an expired container or TTL node', path);
  getNode(p, parentPath);
  markDeleted(p, path);
  return { type: 'delete', path };
}

/** A multi that failed: the failing op's error, and which op it was. */
export class MultiError extends ZkError {
  constructor(failure: ZkError, readonly failedOp: number, readonly opCount: number) {
    super(failure.code, failure.message, failure.path);
  }
}

/**
 * All or nothing: each op is prepared against the view including the ops before
 * it; the first failure rolls the view back and fails the whole multi with
 * that op's error (API.md: results Ok / code / RuntimeInconsistency).
 */
function prepMulti(ops: readonly MultiOp[], p: PrepContext): Txn {
  p.view.begin();
  const txns: Txn[] = [];
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i]!;
    try {
      txns.push(prepMultiOp(op, p));
    } catch (e) {
      p.view.rollback();
      if (e instanceof ZkError) throw new MultiError(e, i, ops.length);
      throw e;
    }
  }
  p.view.commitGroup();
  return { type: 'multi', txns };
}

function prepMultiOp(op: MultiOp, p: PrepContext): Txn {
  switch (op.op) {
    case 'create': return prepCreate(op, p);
    case 'set': return prepSet(op, p);
    case 'delete':
      if (op.recursive) throw new ZkError('BadArguments', 'recursive delete is not a multi op', op.path);
      return prepDelete(op, p);
    case 'check': return prepCheck(op, p);
    default: return assertNever(op);
  }
}

export type { Acl };
