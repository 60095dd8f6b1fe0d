import type { components } from './generated/openapi.ts';

/**
 * The JSON shapes of the contract, generated from openapi.yaml (npm run
 * gen:api): the server builds its answers as these types, so a change to the
 * spec that the code does not follow fails to compile.
 */
type S = components['schemas'];
export type StatJson = S['Stat'];
export type ZnodeDataJson = S['ZnodeData'];
export type ZnodeChildrenJson = S['ZnodeChildren'];
export type ZnodeAclJson = S['ZnodeAcl'];
export type ZnodeCreatedJson = S['ZnodeCreated'];
export type ZnodeSetJson = S['ZnodeSet'];
export type MultiResponseJson = S['MultiResponse'];
export type MultiResultJson = S['MultiResponse']['results'][number];
export type SessionJson = S['Session'];
export type SessionInfoJson = S['SessionInfo'];
export type ClusterJson = S['Cluster'];
export type ErrorJson = S['Error'];
export type WsServerMessage = S['WsServerMessage'];
export type WsClientMessage = S['WsClientMessage'];
export type WsEventJson = S['WsEvent'];
