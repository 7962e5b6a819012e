// The handlers' state store (issue 14, item 2): the DynamoDB table SWRM_STATE_TABLE names, probed
// with one read at cold start, so that a missing table or a role that may not read it is one line
// naming the table and the action (SWRM_STATE) before any work, never a silent fall back to a
// memory that a cold container would not share.
import { DynamoStateStore } from '../state/dynamo-store.js';
import type { StateStore } from '../state/store.js';
import { type Env, stateTableFrom } from './env.js';

/** Builds the store for a table name (tests may pass another adapter). */
export type StateStoreFactory = (table: string) => StateStore;

export const dynamoStateStore: StateStoreFactory = (table) => new DynamoStateStore({ table });

/** The configured store, probed; undefined when SWRM_STATE_TABLE is not set. */
export async function openStateStore(env: Env, make: StateStoreFactory = dynamoStateStore): Promise<StateStore | undefined> {
  const table = stateTableFrom(env);
  if (!table) return undefined;
  const store = make(table);
  await store.probe?.();
  return store;
}
