/**
 * Checks real responses against openapi.yaml, the single source of the REST
 * shapes (DESIGN.md habit 8): the body against the response schema declared
 * for its status (or `default`), and the declared headers (required ones
 * present, values matching their schema; a JSON header such as Zoogate-Stat
 * against its contentSchema). Schemas are compiled with Ajv for JSON Schema
 * 2020-12, the dialect of OpenAPI 3.1. Every mismatch throws with the
 * operation, the JSON pointer of each problem and the body.
 *
 * The WebSocket (`GET /ws`) and the Server-Sent Events stream (`GET /watch/…`)
 * are not HTTP exchanges OpenAPI can describe frame by frame; their messages
 * are the component schemas WsClientMessage, WsServerMessage and
 * SseEventData, checked by validateWsMessage and validateSseEvent.
 */
import { readFileSync } from 'node:fs';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { parse } from 'yaml';
import type { components } from '../../api/generated/openapi.ts';

export const OPENAPI_PATH = new URL('../../openapi.yaml', import.meta.url);

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonObject = { [k: string]: Json };

interface OpenApiDoc {
  openapi: string;
  paths: Record<string, Record<string, unknown>>;
  components: { schemas: Record<string, JsonObject> } & Record<string, Record<string, JsonObject>>;
}

export const HTTP_METHODS = ['get', 'head', 'post', 'put', 'delete', 'patch', 'options', 'trace'] as const;

/** The parsed spec (plain JSON values). */
export const spec: OpenApiDoc = parse(readFileSync(OPENAPI_PATH, 'utf8'), { uniqueKeys: true }) as OpenApiDoc;

/** Component schemas live under this id, so inline schemas anywhere in the spec can $ref them. */
const SCHEMA_BASE = 'urn:zoogate:openapi';
const SCHEMA_REF = '#/components/schemas/';

/** Rewrites `#/components/schemas/X` to `urn:zoogate:openapi#/$defs/X`, copying the value. */
function rewriteRefs(v: Json): Json {
  if (Array.isArray(v)) return v.map(rewriteRefs);
  if (v === null || typeof v !== 'object') return v;
  const out: JsonObject = {};
  for (const [k, x] of Object.entries(v)) {
    if (k === '$ref' && typeof x === 'string') {
      if (!x.startsWith(SCHEMA_REF)) throw new Error(`openapi.yaml: a schema may only $ref ${SCHEMA_REF}*, found ${x}`);
      out[k] = `${SCHEMA_BASE}#/$defs/${x.slice(SCHEMA_REF.length)}`;
    } else {
      out[k] = rewriteRefs(x);
    }
  }
  return out;
}

const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true, allowMatchingProperties: true });
addFormats.default(ajv);
// OpenAPI's own schema keyword: an annotation for code generators; oneOf + const `op` already decides.
ajv.addKeyword({ keyword: 'discriminator', schemaType: 'object' });
ajv.addSchema({ $id: SCHEMA_BASE, $defs: rewriteRefs(spec.components.schemas as Json) as JsonObject });

const compiled = new Map<string, ValidateFunction>();

function compile(key: string, schema: Json): ValidateFunction {
  let fn = compiled.get(key);
  if (fn === undefined) {
    fn = ajv.compile(rewriteRefs(schema) as JsonObject);
    compiled.set(key, fn);
  }
  return fn;
}

/** Follows a local `$ref` (responses, headers, request bodies, parameters) to its target. */
function deref<T>(v: T): T {
  let cur: unknown = v;
  for (let hops = 0; hops < 10; hops++) {
    if (cur === null || typeof cur !== 'object' || !('$ref' in cur)) return cur as T;
    const ref = (cur as { $ref: string }).$ref;
    if (!ref.startsWith('#/')) throw new Error(`openapi.yaml: only local $refs are supported, found ${ref}`);
    cur = ref
      .slice(2)
      .split('/')
      .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
      .reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], spec);
    if (cur === undefined) throw new Error(`openapi.yaml: $ref ${ref} points nowhere`);
  }
  throw new Error('openapi.yaml: $ref chain too long');
}

function describeErrors(errors: readonly ErrorObject[] | null | undefined): string {
  return (errors ?? [])
    .map((e) => `  - ${e.instancePath || '(root)'} ${e.message ?? ''}${e.params && Object.keys(e.params).length ? ' ' + JSON.stringify(e.params) : ''}`)
    .join('\n');
}

function show(body: unknown): string {
  if (body instanceof ArrayBuffer || ArrayBuffer.isView(body)) return `<${(body as ArrayBuffer).byteLength} bytes>`;
  const text = typeof body === 'string' ? JSON.stringify(body) : JSON.stringify(body, null, 2);
  return text === undefined ? String(body) : text.length > 2000 ? text.slice(0, 2000) + '…' : text;
}

interface MediaType { schema?: Json }
interface HeaderObject { required?: boolean; schema?: JsonObject }
interface ResponseObject { description: string; headers?: Record<string, HeaderObject>; content?: Record<string, MediaType> }

/** Every (METHOD, path template) the spec declares, e.g. `GET /znodes/{path}`. */
export function listOperations(): string[] {
  const ops: string[] = [];
  for (const [path, item] of Object.entries(spec.paths)) {
    for (const m of HTTP_METHODS) if (item[m] !== undefined) ops.push(`${m.toUpperCase()} ${path}`);
  }
  return ops;
}

/** The statuses an operation declares (`default` included). */
export function declaredStatuses(method: string, pathTemplate: string): string[] {
  return Object.keys(operation(method, pathTemplate).responses);
}

function operation(method: string, pathTemplate: string): { responses: Record<string, ResponseObject> } {
  const item = spec.paths[pathTemplate];
  if (item === undefined) throw new Error(`openapi.yaml declares no path ${pathTemplate} (paths: ${Object.keys(spec.paths).join(', ')})`);
  const op = item[method.toLowerCase()] as { responses?: Record<string, ResponseObject> } | undefined;
  if (op === undefined || op.responses === undefined) {
    const has = HTTP_METHODS.filter((m) => item[m] !== undefined).map((m) => m.toUpperCase());
    throw new Error(`openapi.yaml declares no ${method.toUpperCase()} on ${pathTemplate} (it has ${has.join(', ')})`);
  }
  return { responses: op.responses };
}

/** The response the spec declares for this status: exact, then `4XX`-style range, then `default`. */
export function responseFor(method: string, pathTemplate: string, status: number): { key: string; response: ResponseObject } {
  const { responses } = operation(method, pathTemplate);
  for (const key of [String(status), `${String(status)[0]}XX`, 'default']) {
    if (responses[key] !== undefined) return { key, response: deref(responses[key]) };
  }
  throw new Error(
    `${method.toUpperCase()} ${pathTemplate} answered ${status}, which openapi.yaml does not declare (declared: ${Object.keys(responses).join(', ')})`,
  );
}

function isJsonMedia(media: string): boolean {
  return media === 'application/json' || media.endsWith('+json');
}

function isEmptyBody(body: unknown): boolean {
  if (body === undefined || body === null || body === '') return true;
  if (body instanceof ArrayBuffer || ArrayBuffer.isView(body)) return (body as ArrayBuffer).byteLength === 0;
  return false;
}

/** Picks the declared media type for a response's Content-Type (JSON when none is given). */
function pickMedia(content: Record<string, MediaType>, contentType: string | null | undefined): string | undefined {
  const declared = Object.keys(content);
  if (contentType === undefined || contentType === null || contentType === '') {
    return declared.find(isJsonMedia) ?? (declared.length === 1 ? declared[0] : undefined);
  }
  const media = contentType.split(';')[0]!.trim().toLowerCase();
  if (declared.includes(media)) return media;
  const [type] = media.split('/');
  return declared.find((d) => d === `${type}/*`) ?? declared.find((d) => d === '*/*');
}

/**
 * Throws unless `body` is what openapi.yaml declares for `method pathTemplate`
 * answering `status` (with the response's Content-Type, when given, choosing
 * among several media types). A response declared without content must have
 * no body. Returns the key of the matched response (`404`, `default`, …).
 */
export function validateResponse(method: string, pathTemplate: string, status: number, body: unknown, contentType?: string | null): string {
  const where = `${method.toUpperCase()} ${pathTemplate} → ${status}`;
  const { key, response } = responseFor(method, pathTemplate, status);
  const content = response.content;
  if (content === undefined) {
    if (!isEmptyBody(body)) throw new Error(`${where}: openapi.yaml declares no body, got ${show(body)}`);
    return key;
  }
  const media = pickMedia(content, contentType);
  if (media === undefined) {
    throw new Error(`${where}: Content-Type ${contentType ?? '(none)'} is not among the declared ${Object.keys(content).join(', ')}`);
  }
  const schema = content[media]!.schema;
  if (schema === undefined) return key;
  if (deref(schema as JsonObject).format === 'binary') {
    if (!(typeof body === 'string' || body instanceof ArrayBuffer || ArrayBuffer.isView(body))) {
      throw new Error(`${where}: expected raw bytes (${media}), got ${show(body)}`);
    }
    return key;
  }
  if (!isJsonMedia(media) && typeof body !== 'string') throw new Error(`${where}: expected text (${media}), got ${show(body)}`);
  if (isJsonMedia(media) && body === undefined) throw new Error(`${where}: expected a JSON body, got none`);
  const validate = compile(`${method.toUpperCase()} ${pathTemplate} ${key} ${media}`, schema);
  if (!validate(body)) {
    throw new Error(`${where}: body does not match openapi.yaml (${media}):\n${describeErrors(validate.errors)}\nbody: ${show(body)}`);
  }
  return key;
}

type HeaderSource = Headers | Record<string, string | string[] | undefined>;

function headerValue(headers: HeaderSource, name: string): string | null {
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name);
  const lower = name.toLowerCase();
  for (const [k, v] of Object.entries(headers as Record<string, string | string[] | undefined>)) {
    if (k.toLowerCase() === lower && v !== undefined) return Array.isArray(v) ? v.join(', ') : v;
  }
  return null;
}

/**
 * Throws unless every header openapi.yaml declares `required` for this
 * response is present, and every declared header that is present matches its
 * schema (integers parsed; JSON headers parsed and checked against their
 * contentSchema).
 */
export function validateHeaders(method: string, pathTemplate: string, status: number, headers: HeaderSource): void {
  const where = `${method.toUpperCase()} ${pathTemplate} → ${status}`;
  const { key, response } = responseFor(method, pathTemplate, status);
  for (const [name, raw] of Object.entries(response.headers ?? {})) {
    const h = deref(raw);
    const value = headerValue(headers, name);
    if (value === null) {
      if (h.required === true) throw new Error(`${where}: required header ${name} is missing`);
      continue;
    }
    const schema = deref(h.schema ?? {});
    let parsed: unknown = value;
    if (schema.contentMediaType === 'application/json') {
      try {
        parsed = JSON.parse(value);
      } catch {
        throw new Error(`${where}: header ${name} is not JSON: ${value}`);
      }
      const validate = compile(`header ${method} ${pathTemplate} ${key} ${name} content`, (schema.contentSchema ?? {}) as Json);
      if (!validate(parsed)) throw new Error(`${where}: header ${name} does not match openapi.yaml:\n${describeErrors(validate.errors)}\nvalue: ${value}`);
      continue;
    }
    const type = schema.type ?? (typeof schema.$ref === 'string' ? (deref(schema) as JsonObject).type : undefined);
    if (type === 'integer' || type === 'number') {
      if (!/^-?\d+(\.\d+)?$/.test(value)) throw new Error(`${where}: header ${name} must be a number, got ${JSON.stringify(value)}`);
      parsed = Number(value);
    }
    const validate = compile(`header ${method} ${pathTemplate} ${key} ${name}`, schema as Json);
    if (!validate(parsed)) throw new Error(`${where}: header ${name} does not match openapi.yaml:\n${describeErrors(validate.errors)}\nvalue: ${value}`);
  }
}

/** Throws unless `value` matches `#/components/schemas/{name}`. */
export function validateSchema(name: string, value: unknown): void {
  if (spec.components.schemas[name] === undefined) throw new Error(`openapi.yaml has no schema ${name}`);
  const validate = compile(`schema ${name}`, { $ref: `${SCHEMA_REF}${name}` });
  if (!validate(value)) throw new Error(`value does not match ${name}:\n${describeErrors(validate.errors)}\nvalue: ${show(value)}`);
}

type Schemas = components['schemas'];

/** Keys whose `const` tells the members of a message union apart. */
const DISCRIMINATORS = ['type', 'op', 'ok'] as const;

/**
 * For a value that fails a `oneOf` union, the members it was meant to be (the
 * ones whose `type`/`op`/`ok` constants it matches, following nested unions),
 * so an error names the one schema that applies rather than every member.
 */
function intendedMembers(name: string, value: unknown): string[] {
  const schema = spec.components.schemas[name] as { oneOf?: Array<{ $ref?: string }>; anyOf?: Array<{ $ref?: string }> } | undefined;
  const members = (schema?.oneOf ?? schema?.anyOf)?.map((m) => m.$ref?.slice(SCHEMA_REF.length)).filter((m): m is string => m !== undefined);
  if (members === undefined || members.length === 0) return [name];
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return [name];
  const v = value as Record<string, unknown>;
  const fits = (member: string): boolean => {
    const m = spec.components.schemas[member] as { properties?: Record<string, { const?: unknown }>; oneOf?: unknown } | undefined;
    if (m?.oneOf !== undefined) return intendedMembers(member, value).some((x) => x !== member);
    return DISCRIMINATORS.every((k) => {
      const c = m?.properties?.[k]?.const;
      return c === undefined || v[k] === c;
    });
  };
  const chosen = members.filter(fits);
  if (chosen.length === 0) return [name];
  return chosen.flatMap((m) => ((spec.components.schemas[m] as { oneOf?: unknown }).oneOf !== undefined ? intendedMembers(m, value) : [m]));
}

/** Validates `value` against a named union, explaining a failure with the member(s) it was meant to be. */
function validateUnion(name: string, value: unknown, what: string): void {
  const validate = compile(`schema ${name}`, { $ref: `${SCHEMA_REF}${name}` });
  if (validate(value)) return;
  const detail = intendedMembers(name, value)
    .map((m) => {
      if (m === name) {
        const v = (value ?? {}) as Record<string, unknown>;
        const keys = DISCRIMINATORS.filter((k) => typeof value === 'object' && value !== null && k in v).map((k) => `${k} ${JSON.stringify(v[k])}`);
        const members = ((spec.components.schemas[name] as { oneOf?: Array<{ $ref: string }> }).oneOf ?? []).map((x) => x.$ref.slice(SCHEMA_REF.length));
        return `  no member of ${name} (${members.join(', ')}) has ${keys.length > 0 ? keys.join(' and ') : 'this shape'}`;
      }
      const member = compile(`schema ${m}`, { $ref: `${SCHEMA_REF}${m}` });
      return member(value) ? `  (matches ${m} but not ${name}: ${describeErrors(validate.errors).trim()})` : `  as ${m}:\n${describeErrors(member.errors)}`;
    })
    .join('\n');
  throw new Error(`${what} does not match ${name} in openapi.yaml:\n${detail}\nvalue: ${show(value)}`);
}

function parseFrame(msg: unknown, what: string): unknown {
  if (typeof msg === 'string' || msg instanceof Uint8Array) {
    const text = typeof msg === 'string' ? msg : Buffer.from(msg).toString('utf8');
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new Error(`${what} is not JSON: ${show(text)}`);
    }
  }
  return msg;
}

/**
 * Throws unless `msg` (a parsed frame, or its JSON text) is a WebSocket message
 * openapi.yaml allows in that direction: WsClientMessage for what a client
 * sends, WsServerMessage for what the server sends. Returns it, typed.
 */
export function validateWsMessage(direction: 'client', msg: unknown): Schemas['WsClientMessage'];
export function validateWsMessage(direction: 'server', msg: unknown): Schemas['WsServerMessage'];
export function validateWsMessage(direction: 'client' | 'server', msg: unknown): Schemas['WsClientMessage'] | Schemas['WsServerMessage'] {
  const what = `a ${direction} WebSocket message`;
  const value = parseFrame(msg, what);
  validateUnion(direction === 'client' ? 'WsClientMessage' : 'WsServerMessage', value, what);
  return value as Schemas['WsClientMessage'] | Schemas['WsServerMessage'];
}

/**
 * Throws unless `data` (the `data:` of one Server-Sent Event, as text or
 * parsed) is an SseEventData, and, when the event's `event:` name is given,
 * unless it agrees with the data (`event: NodeCreated` for a NodeCreated
 * change, `event: error` for an error). Returns the data, typed.
 */
export function validateSseEvent(data: unknown, event?: string): Schemas['SseEventData'] {
  const value = parseFrame(data, 'an SSE event\'s data');
  validateUnion('SseEventData', value, 'an SSE event\'s data');
  const d = value as Schemas['SseEventData'];
  if (event !== undefined) {
    const expected = d.type === 'event' ? d.event : 'error';
    if (event !== expected) throw new Error(`an SSE event named ${JSON.stringify(event)} carries ${show(d)}; its name must be ${JSON.stringify(expected)}`);
  }
  return d;
}

/** One Server-Sent Event as received (fields per the HTML event-stream format). */
export interface SseMessage {
  /** The `id:` field, when the event has one. */
  id?: string;
  /** The `event:` field (`message` when absent). */
  event: string;
  data: string;
}

/**
 * An incremental `text/event-stream` parser (HTML's "event stream
 * interpretation"): push chunks, get complete events; comments and `retry:`
 * are kept aside.
 */
export class SseParser {
  private buffer = '';
  readonly comments: string[] = [];
  retry: number | null = null;

  push(chunk: string): SseMessage[] {
    this.buffer += chunk;
    const out: SseMessage[] = [];
    for (;;) {
      const m = /\r\n\r\n|\n\n|\r\r/.exec(this.buffer);
      if (m === null) return out;
      const block = this.buffer.slice(0, m.index);
      this.buffer = this.buffer.slice(m.index + m[0].length);
      const ev: { id?: string; event?: string; data: string[] } = { data: [] };
      for (const line of block.split(/\r\n|\n|\r/)) {
        if (line.startsWith(':')) {
          this.comments.push(line.slice(1).trim());
          continue;
        }
        const i = line.indexOf(':');
        const field = i < 0 ? line : line.slice(0, i);
        let value = i < 0 ? '' : line.slice(i + 1);
        if (value.startsWith(' ')) value = value.slice(1);
        if (field === 'data') ev.data.push(value);
        else if (field === 'event') ev.event = value;
        else if (field === 'id') ev.id = value;
        else if (field === 'retry' && /^\d+$/.test(value)) this.retry = Number(value);
      }
      if (ev.data.length > 0) out.push({ ...(ev.id !== undefined ? { id: ev.id } : {}), event: ev.event ?? 'message', data: ev.data.join('\n') });
    }
  }
}
