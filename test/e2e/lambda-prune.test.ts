// Issue 16, item 6 on the Lambda path: prune runs where a copier expands a listed rule (the
// scheduled planner's expand-repository message, and a delete event's re-check), with the records
// of what this tool pushed in the state table (dynalite). Handlers as functions/ build them, on
// local-aws-sqs with real registries: a tag deleted at the source is deleted at the destination
// after a Harbor DELETE_ARTIFACT webhook, without waiting for the schedule; a tag pushed at the
// destination by someone else survives; overwrite: false keeps a destination tag that differs.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { plannerFromEnv } from '../../lib/lambda/handlers.js';
import { receiverFromEnv } from '../../lib/lambda/receiver.js';
import { createLogger } from '../../lib/log.js';
import { tempDir, writeFile } from '../helpers/files.js';
import { type LambdaStage, startLambdaStage } from '../helpers/lambda-stage.js';
import { deleteManifest, getManifest, listTags, pushImage, randomLayer } from '../helpers/push.js';
import { type RegistryHandle, startRegistry, stopAll } from '../helpers/registry.js';
import { lambdaContext } from '../helpers/sqs-events.js';

const SECRET = 'lambda-prune-hook-secret-0123456789';
const STATE_TABLE = 'prune-state';

describe('Lambda: prune and overwrite: false where a copier expands a rule', () => {
  let src: RegistryHandle;
  let dst: RegistryHandle;
  let stage: LambdaStage;
  let env: Record<string, string>;
  const digests = new Map<string, string>();
  const logger = createLogger('silent');

  before(async () => {
    [src, dst, stage] = await Promise.all([startRegistry(), startRegistry(), startLambdaStage('lambda-prune', { stateTable: STATE_TABLE })]);
    for (const t of ['v1', 'v2', 'v3']) digests.set(t, (await pushImage(src, 'team/app', t, { format: 'docker', layers: [randomLayer(3_000)] })).digest);
    await pushImage(src, 'team/keep', 'k1', { format: 'docker', layers: [randomLayer(3_000)] });
    // Someone else's tags at the destination: one the source does not have, one it has with another digest.
    await pushImage(dst, 'mirror/app', 'theirs', { format: 'docker', layers: [randomLayer(3_000)] });
    digests.set('dst:k1', (await pushImage(dst, 'mirror/keep', 'k1', { format: 'docker', layers: [randomLayer(3_000)] })).digest);
    const config = writeFile(
      tempDir('swrm-lambda-prune-'),
      'config.yaml',
      `version: 1
defaults: { retries: 1 }
events:
  harbor: { secret: "${SECRET}" }
  windowSeconds: 1
registries:
  "${src.host}": { insecure: true }
  "${dst.host}": { insecure: true }
rules:
  - source: ${src.host}/team/app
    destination: ${dst.host}/mirror
    prune: { max: 5 }
  - source: ${src.host}/team/keep
    destination: ${dst.host}/mirror
    overwrite: false
`,
    );
    env = stage.env(config);
  });
  after(async () => {
    await stage?.stop();
    await stopAll();
  });

  // A fresh container per batch: nothing but the state table carries over.
  const drain = () => stage.drain(env, logger, { fresh: true });

  test('day 1: the schedule copies; overwrite: false keeps the destination tag that differs', async () => {
    const planner = plannerFromEnv({ env, handlerDir: '/nonexistent', queues: stage.queues, logger, writeMetrics: () => undefined });
    await planner({}, lambdaContext(900_000));
    await drain();
    assert.deepEqual((await listTags(dst, 'mirror/app')).sort(), ['theirs', 'v1', 'v2', 'v3']);
    assert.equal((await getManifest(dst, 'mirror/keep', 'k1'))?.digest, digests.get('dst:k1'), 'kept, not overwritten');
  });

  test('a tag deleted at the source goes at the destination after the delete webhook; what the tool did not push stays', async () => {
    await deleteManifest(src, 'team/app', digests.get('v3')!);
    const receiver = receiverFromEnv({ env, handlerDir: '/nonexistent', queues: stage.queues, logger });
    const body = JSON.stringify({
      type: 'DELETE_ARTIFACT',
      occur_at: 2,
      operator: 'ci',
      event_data: { resources: [{ tag: 'v3', digest: digests.get('v3'), resource_url: `${src.host}/team/app:v3` }], repository: { name: 'app', namespace: 'team', repo_full_name: 'team/app', repo_type: 'private' } },
    });
    const res = await receiver({ rawPath: '/hooks/harbor', headers: { authorization: SECRET }, body, requestContext: { http: { method: 'POST' } } }, lambdaContext(10_000));
    assert.equal(res.statusCode, 202, res.body);
    await drain();
    assert.deepEqual((await listTags(dst, 'mirror/app')).sort(), ['theirs', 'v1', 'v2']);
    assert.equal(await getManifest(dst, 'mirror/app', 'v3'), undefined);
    assert.equal((await getManifest(dst, 'mirror/keep', 'k1'))?.digest, digests.get('dst:k1'), 'still kept');
    assert.equal((await (await stage.queue.deadLetters()).list()).length, 0);
  });
});
