// The undici Agent with its request API, without the rest of undici. Loading undici's index.js
// costs ~190 ms at start-up (fetch, WebSocket, caches, mocks are all evaluated); the Agent plus the
// api mixin costs ~77 ms, and start-up is most of a no-op sync. This is exactly what index.js does
// for these two pieces (`Object.assign(Dispatcher.prototype, api)`), on the pinned undici 7.30.2.
import { createRequire } from 'node:module';
import type { Agent as UndiciAgent, Pool as UndiciPool } from 'undici';

const require = createRequire(import.meta.url);
const Dispatcher = require('undici/lib/dispatcher/dispatcher.js') as { prototype: object };
const api = require('undici/lib/api/index.js') as object;
if (!('request' in Dispatcher.prototype)) Object.assign(Dispatcher.prototype, api);

export const Agent = require('undici/lib/dispatcher/agent.js') as typeof UndiciAgent;
export const Pool = require('undici/lib/dispatcher/pool.js') as typeof UndiciPool;
