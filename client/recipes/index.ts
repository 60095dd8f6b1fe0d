/**
 * The recipes: coordination patterns from ZooKeeper's recipes page and
 * Apache Curator, built on `ZooGateSession` (and, where it helps, `ZooGateRest`).
 * Each recipe module adds its exports here.
 */

// locks, election, barriers, two-phase commit (docs/recipes-coordination.md)
export { Mutex, ReadWriteLock, Semaphore, SimpleLock } from './lock.ts';
export type { Lease, Lock, LockOptions, SimpleLockOptions, WaitOptions } from './lock.ts';
export { getLeader, getParticipants, LeaderLatch } from './election.ts';
export type { ElectionReader, LatchState, LeaderLatchListener, LeaderLatchOptions, Participant } from './election.ts';
export { Barrier, DoubleBarrier } from './barrier.ts';
export type { DoubleBarrierOptions } from './barrier.ts';
export { readOutcome, TwoPhaseCommitCoordinator, TwoPhaseCommitParticipant } from './two-phase-commit.ts';
export type { CoordinatorOptions, Outcome, ParticipantVoteOptions, Transaction, TwoPhaseResult, Vote } from './two-phase-commit.ts';
