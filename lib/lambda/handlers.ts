// The three handlers, built from an environment and a queue factory. functions/*.ts only pass
// process.env, their directory and the SQS factory (queue-factory.ts); tests pass an embedded
// queue. Everything a handler does is here, so a test can call it the way Lambda does.
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import type { Logger } from 'pino';
import { loadConfig } from '../config/load.js';
import type { LoadedConfig } from '../config/types.js';
import { errorMessage, failureCode } from '../errors.js';
import { createLogger } from '../log.js';
import type { DeadLetterStore, Redrivable, WorkQueue } from '../queue/types.js';
import type { LongHaulQueue } from './copier-batch.js';
import { createCopierEnv } from './copier-env.js';
import { metricService } from './metrics.js';
import { copierHandler } from './copier-handler.js';
import { type Env, configPathFrom, logLevelFrom, longQueueUrlFrom, maxReceiveCountFrom, queueUrlFrom } from './env.js';
import { type PlanSummary, runScheduledPlan } from './planner.js';
import { type ReplayResult, startReplay } from './replay.js';
import { RunTracker } from '../state/runs.js';
import type { StateStore } from '../state/store.js';
import { type StateStoreFactory, openStateStore } from './state.js';

/** Builds the queue ports for a queue URL (SQS in functions/, the embedded queue in tests). */
export interface QueueFactory {
  workQueue(queueUrl: string): WorkQueue;
  /** The queue's DLQ (SQS: DLQ_URL/DLQ_ARN from the environment, else its RedrivePolicy; none is an error naming the queue). */
  deadLetters(queueUrl: string): Promise<DeadLetterStore & Redrivable>;
  /** The long-haul queue at LONG_QUEUE_URL (copier-batch.ts); absent: records cut twice come back. */
  longHaul?(queueUrl: string): LongHaulQueue;
}

export interface HandlerSetup {
  env: Env;
  /** Where the handler's bundle lives: a bundled config.yaml is looked for here. */
  handlerDir: string;
  queues: QueueFactory;
  logger?: Logger;
  /** Config loader (default: lib/config, which resolves the credentials it names). */
  load?: (path: string) => Promise<LoadedConfig>;
  /** Where the copier's EMF metric lines go (default: stdout, which Lambda ships to CloudWatch). */
  writeMetrics?: (line: string) => void;
  /** The store for SWRM_STATE_TABLE's table (default: DynamoDB, found through the SDK's endpoint settings). */
  stateStore?: StateStoreFactory;
}

function logger(setup: HandlerSetup): Logger {
  return setup.logger ?? createLogger(logLevelFrom(setup.env));
}

// A refused login names the bundled config as the functions are given it (SWRM_CONFIG), not a flag.
const loadDefault = (path: string) => loadConfig({ config: path, configFlag: 'SWRM_CONFIG' });

/** One line for a failure that stops a handler (bad config, missing QUEUE_URL), then rethrow. */
function fatal(log: Logger, what: string, err: unknown): never {
  log.fatal({ code: failureCode(err) }, `${what}: ${errorMessage(err)}`);
  throw err;
}

export function copierFromEnv(setup: HandlerSetup) {
  const log = logger(setup);
  return copierHandler(
    async () => {
      const queueUrl = queueUrlFrom(setup.env);
      // A missing or refused state table fails the cold start (the batch comes back), rather than
      // each container keeping its own memo and no run being counted.
      const state = await openStateStore(setup.env, setup.stateStore);
      const config = await (setup.load ?? loadDefault)(configPathFrom(setup.env, setup.handlerDir));
      const longQueueUrl = longQueueUrlFrom(setup.env);
      return createCopierEnv({
        config,
        queue: setup.queues.workQueue(queueUrl),
        // A group's conflicting images and rules it cannot list go to the DLQ (pipeline/expand.ts).
        deadLetters: await setup.queues.deadLetters(queueUrl),
        maxReceiveCount: maxReceiveCountFrom(setup.env, config),
        attempts: config.defaults.retries + 1,
        logger: log,
        ...(longQueueUrl && setup.queues.longHaul ? { longHaul: setup.queues.longHaul(longQueueUrl) } : {}),
        ...(state ? { state } : {}),
      });
    },
    { logger: log, metrics: { service: metricService(setup.env), write: setup.writeMetrics ?? ((line) => process.stdout.write(line)) } },
  );
}

/** The scheduled planner: the config is read on every run, so a redeployed config applies at once. */
export function plannerFromEnv(setup: HandlerSetup) {
  const log = logger(setup);
  // Opened (and probed) once per container, as the copier's.
  let opened: Promise<StateStore | undefined> | undefined;
  return middy<unknown, PlanSummary, Error, Context>().handler(async () => {
    let queue: WorkQueue;
    let dlq: DeadLetterStore;
    let config: LoadedConfig;
    let state: StateStore | undefined;
    try {
      const queueUrl = queueUrlFrom(setup.env);
      queue = setup.queues.workQueue(queueUrl);
      // A rule that cannot be listed for a permanent reason goes there, with its reason.
      dlq = await setup.queues.deadLetters(queueUrl);
      opened ??= openStateStore(setup.env, setup.stateStore).catch((err: unknown) => {
        opened = undefined;
        throw err;
      });
      state = await opened;
      config = await (setup.load ?? loadDefault)(configPathFrom(setup.env, setup.handlerDir));
    } catch (err) {
      fatal(log, 'planner cannot start', err);
    }
    const metrics = { service: metricService(setup.env), write: setup.writeMetrics ?? ((line: string) => void process.stdout.write(line)) };
    return runScheduledPlan({ config, queue, dlq, logger: log, metrics, ...(state ? { runs: new RunTracker(state) } : {}) });
  });
}

/** Replay: move the DLQ back onto the queue (StartMessageMoveTask) and report the task. */
export function replayFromEnv(setup: HandlerSetup) {
  const log = logger(setup);
  return middy<unknown, ReplayResult, Error, Context>().handler(async () => {
    let dlq: DeadLetterStore & Redrivable;
    try {
      dlq = await setup.queues.deadLetters(queueUrlFrom(setup.env));
    } catch (err) {
      fatal(log, 'replay cannot start', err);
    }
    return startReplay(dlq, log);
  });
}

