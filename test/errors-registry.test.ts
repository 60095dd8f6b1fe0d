/**
 * One registry of error codes (DESIGN.md "Errors"): core/errors.ts's
 * ERROR_CODES and openapi.yaml's ErrorCode enum must be equal, in the same
 * order, and every code must have exactly one status in the spec's error
 * responses that agrees with api/http-errors.ts. The WebSocket and SSE
 * stream codes (StaleServer, Compacted, SlowConsumer) live apart, in
 * StreamErrorCode, and never in ErrorCode.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ERROR_CODES } from '../core/errors.ts';
import { httpStatusOf } from '../api/http-errors.ts';
import { spec } from './support/openapi-validator.ts';

test("openapi.yaml's ErrorCode enum equals ERROR_CODES", () => {
  const schema = spec.components.schemas['ErrorCode'] as { type?: string; enum?: string[] };
  assert.equal(schema.type, 'string');
  assert.deepEqual(schema.enum, [...ERROR_CODES]);
});

test("each error response schema in openapi.yaml names the codes api/http-errors.ts maps to its status", () => {
  // The plain (non-multi) error schemas, one per status, as openapi.yaml's responses use them.
  const byStatus: Record<string, string> = {
    400: 'BadRequestError', 401: 'UnauthorizedError', 403: 'ForbiddenError', 404: 'NotFoundError',
    409: 'ConflictError', 410: 'GoneError', 412: 'PreconditionFailedError', 413: 'PayloadTooLargeError',
    429: 'TooManyRequestsError', 500: 'InternalError', 501: 'NotImplementedError', 503: 'ServiceUnavailableError',
  };
  const codesOf = (name: string): string[] => {
    const s = spec.components.schemas[name] as { allOf?: Array<{ properties?: { error?: { properties?: { code?: { enum?: string[] } } } } }> };
    const e = s.allOf?.find((x) => x.properties !== undefined)?.properties?.error?.properties?.code?.enum;
    assert.ok(e, `${name} restricts no codes`);
    return e;
  };
  const covered = new Set<string>();
  for (const [status, name] of Object.entries(byStatus)) {
    for (const code of codesOf(name)) {
      assert.equal(httpStatusOf(code as (typeof ERROR_CODES)[number]), Number(status), `${code} is in ${name} (${status}) but the server answers it with ${httpStatusOf(code as (typeof ERROR_CODES)[number])}`);
      assert.ok(!covered.has(code), `${code} appears under two statuses`);
      covered.add(code);
    }
  }
  // OperationTimeout (504) has no response in the spec because no call answers it today.
  const uncovered = ERROR_CODES.filter((c) => !covered.has(c));
  assert.deepEqual(uncovered, ['OperationTimeout']);
  assert.equal(httpStatusOf('OperationTimeout'), 504);
});

test('the WebSocket and SSE codes are a separate registry (StreamErrorCode), disjoint from ErrorCode and used as the server uses them', () => {
  const schemas = spec.components.schemas as Record<string, any>;
  const stream = schemas['StreamErrorCode'] as { type?: string; enum?: string[] };
  assert.equal(stream.type, 'string');
  assert.deepEqual(stream.enum, ['StaleServer', 'Compacted', 'SlowConsumer']);
  for (const c of stream.enum!) assert.ok(!(ERROR_CODES as readonly string[]).includes(c), `${c} must not be an ErrorCode`);

  // WsError: any ErrorCode, or StaleServer; SseError: Compacted or SlowConsumer.
  const wsCode = schemas['WsError'].properties.code as { anyOf: Array<{ $ref?: string; const?: string }> };
  assert.deepEqual(wsCode.anyOf.map((x) => x.$ref ?? x.const), ['#/components/schemas/ErrorCode', 'StaleServer']);
  const sseCodes = schemas['SseError'].properties.code.enum as string[];
  assert.deepEqual(sseCodes, ['Compacted', 'SlowConsumer']);
  assert.deepEqual([...new Set(['StaleServer', ...sseCodes])].sort(), [...stream.enum!].sort());

  // The codes the server's stream code emits outside ERROR_CODES are exactly these.
  const emitted = (file: string, re: RegExp) => [...readFileSync(new URL(`../${file}`, import.meta.url), 'utf8').matchAll(re)].map((m) => m[1]!).filter((c) => !(ERROR_CODES as readonly string[]).includes(c));
  assert.deepEqual([...new Set(emitted('api/ws/ws-connection.ts', /this\.fail\('([A-Za-z]+)'/g))], ['StaleServer']);
  assert.deepEqual([...new Set(emitted('api/routes/watch-sse.ts', /end\('([A-Za-z]+)'/g))].sort(), ['Compacted', 'SlowConsumer']);
});
