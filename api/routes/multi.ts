import { ZkError } from '../../core/errors.ts';
import { MultiError } from '../../core/request/prep.ts';
import type { Exchange } from '../exchange.ts';
import { checkQuery, readJson } from '../http-util.ts';
import { parseMulti } from '../parse.ts';
import { presentMultiResult } from '../present.ts';

/** POST /multi: all ops or none, at one zxid. */
export async function postMulti(x: Exchange): Promise<void> {
  checkQuery(x.query, ['session']);
  // base64 inflates data by 4/3; the data limit is checked on the decoded total below.
  const body = await readJson(x.req, Math.ceil(x.cfg.maxDataBytes * 1.5) + 64 * 1024);
  const { ops, dataBytes } = parseMulti(body);
  if (dataBytes > x.cfg.maxDataBytes) throw new ZkError('PayloadTooLarge', `the multi carries ${dataBytes} bytes of data, over the limit of ${x.cfg.maxDataBytes}`);
  try {
    const out = await x.write({ op: 'multi', ops });
    if (out.result.op !== 'multi') throw new Error(`multi answered with ${out.result.op}`);
    x.json(200, { zxid: out.zxid, results: out.result.results.map(presentMultiResult) });
  } catch (e) {
    if (!(e instanceof MultiError)) throw e;
    const results = Array.from({ length: e.opCount }, (_, i) => ({
      error: i < e.failedOp ? 'Ok' : i === e.failedOp ? e.code : 'RuntimeInconsistency',
    }));
    x.error(e, { failedOp: e.failedOp, results });
  }
}
