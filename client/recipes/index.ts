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

// queues, service discovery, caches and configuration, naming, counters (docs/recipes-data.md)
export { DistributedQueue, PriorityQueue } from './queue.ts';
export type { QueueItem, TakeOptions } from './queue.ts';
export { ServiceDiscovery, ServiceProvider, ServiceRegistry } from './discovery.ts';
export type {
  ChildrenReader, DiscoveryOptions, InstanceChange, InstanceSpec, ProviderOptions, ProviderStrategy, RegistryEvent, RegistryOptions, ServiceInstance, StrategyFn,
} from './discovery.ts';
export { ConfigWatcher, NodeCache, TreeCache } from './cache.ts';
export type { CacheEntry, CacheEvent, CacheState, ConfigWatcherOptions, SessionSource, TreeCacheOptions } from './cache.ts';
export { NamingService } from './naming.ts';
export type { BindingChange, NamingOptions, NamingStats, ResolveOptions } from './naming.ts';
export { atomicUpdate, DistributedCounter } from './counter.ts';
export type { AtomicResult, AtomicUpdateOptions, AtomicUpdateResult, KeyUpdate, RetryOptions } from './counter.ts';
