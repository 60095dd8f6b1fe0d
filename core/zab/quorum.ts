import type { ServerId } from '../ids.ts';

/** A strict majority of the voters (QuorumMaj): ids outside the voter set do not count. */
export function isQuorum(ids: Iterable<ServerId>, voters: ReadonlySet<ServerId>): boolean {
  let n = 0;
  for (const id of new Set(ids)) if (voters.has(id)) n++;
  return n * 2 > voters.size;
}
