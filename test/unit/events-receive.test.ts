// Issue 16: webhook requests from each sender, valid and forged (REFERENCE.md section 8). A forged
// or malformed request never yields a recheck, and no refusal quotes a secret or the body.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import type { EventsSettings } from '../../lib/config/service-settings.js';
import { MAX_WEBHOOK_BODY, type WebhookRequest, type WebhookResult, receiveWebhook, webhookLogFields } from '../../lib/events/receive.js';
import { decodeMessage, encodeMessage } from '../../lib/queue/messages.js';

const SECRETS = { harbor: 'harbor-secret-0123456789', dockerhub: 'dockerhub-secret-0123456789', quay: 'quay-secret-0123456789', github: 'github-secret-0123456789' };
const events: EventsSettings = { secrets: SECRETS, windowMs: 2000 };

const req = (path: string, body: unknown, headers: WebhookRequest['headers'] = {}): WebhookRequest => ({
  path,
  headers: { 'content-type': 'application/json', ...headers },
  body: Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)),
});

/** Every recheck a result carries is a valid queue message (what the receiver enqueues). */
function accepted(r: WebhookResult) {
  assert.ok(r.status === 202 || r.status === 200, JSON.stringify(r));
  if (!('rechecks' in r)) throw new Error('no rechecks');
  for (const m of r.rechecks) assert.deepEqual(decodeMessage(encodeMessage(m)), m);
  return r.rechecks;
}

function refused(r: WebhookResult, status: number) {
  assert.equal(r.status, status, JSON.stringify(r));
  assert.ok(!('rechecks' in r));
  const text = JSON.stringify(r) + JSON.stringify(webhookLogFields(r));
  for (const s of Object.values(SECRETS)) assert.ok(!text.includes(s), 'a refusal quotes a secret');
  assert.ok(!text.includes('canary'), 'a refusal quotes the body');
  return 'reason' in r ? r.reason : '';
}

const harbor2 = (type: string, resources: unknown[], repo = 'library/app') => ({ type, occur_at: 1737446601, operator: 'admin', event_data: { resources, repository: { date_created: 1, name: repo.split('/').pop(), namespace: 'library', repo_full_name: repo, repo_type: 'public' } } });
const res = (tag: string, host = 'harbor.example.com', repo = 'library/app') => ({ digest: `sha256:${'b'.repeat(64)}`, tag, resource_url: `${host}/${repo}:${tag}` });

describe('Harbor', () => {
  const auth = (v: string) => ({ authorization: v });
  test('2.x PUSH_ARTIFACT with the bare secret and with Bearer: one recheck; the host from resource_url', () => {
    for (const header of [SECRETS.harbor, `Bearer ${SECRETS.harbor}`]) {
      const r = receiveWebhook(req('/hooks/harbor', harbor2('PUSH_ARTIFACT', [res('v1', 'harbor.example.com:8443')]), auth(header)), events);
      assert.equal(r.status, 202);
      assert.deepEqual(accepted(r), [{ v: 1, kind: 'recheck', source: 'harbor.example.com:8443/library/app', tags: ['v1'], action: 'push', via: 'harbor' }]);
    }
  });
  test('1.10 deleteImage, one resource per tag: one delete recheck with both tags', () => {
    const r = receiveWebhook(req('/hooks/harbor', harbor2('deleteImage', [res('v1'), res('v2')]), auth(SECRETS.harbor)), events);
    assert.deepEqual(accepted(r), [{ v: 1, kind: 'recheck', source: 'harbor.example.com/library/app', tags: ['v1', 'v2'], action: 'delete', via: 'harbor' }]);
  });
  test('1.10 pushImage and a 2.x index child (tag = digest: no tag hint)', () => {
    assert.equal(accepted(receiveWebhook(req('/hooks/harbor', harbor2('pushImage', [res('1.0')]), auth(SECRETS.harbor)), events))[0]!.action, 'push');
    const child = { digest: `sha256:${'c'.repeat(64)}`, tag: `sha256:${'c'.repeat(64)}`, resource_url: `harbor.example.com/library/app@sha256:${'c'.repeat(64)}` };
    const [m] = accepted(receiveWebhook(req('/hooks/harbor', harbor2('PUSH_ARTIFACT', [child]), auth(SECRETS.harbor)), events));
    assert.equal(m!.tags, undefined);
    assert.equal(m!.source, 'harbor.example.com/library/app');
  });
  test('2.8+ CloudEvents (harbor.artifact.pushed / deleted)', () => {
    const ce = (type: string) => ({ specversion: '1.0', id: 'x', source: '/projects/1/webhook/policies/1', type, datacontenttype: 'application/json', time: '2024-01-01T00:00:00Z', data: harbor2('', [res('v3')]).event_data, operator: 'admin' });
    const headers = { ...auth(SECRETS.harbor), 'content-type': 'application/cloudevents+json' };
    assert.equal(accepted(receiveWebhook(req('/hooks/harbor', ce('harbor.artifact.pushed'), headers), events))[0]!.action, 'push');
    assert.equal(accepted(receiveWebhook(req('/hooks/harbor', ce('harbor.artifact.deleted'), headers), events))[0]!.action, 'delete');
  });
  test('an event that needs nothing (a pull, a scan) is 200 with no recheck', () => {
    const r = receiveWebhook(req('/hooks/harbor', harbor2('PULL_ARTIFACT', [res('v1')]), auth(SECRETS.harbor)), events);
    assert.equal(r.status, 200);
    assert.deepEqual(accepted(r), []);
  });
  test('forged: wrong secret, Bearer of a wrong secret, a prefix of the secret, no header, a repeated header', () => {
    const body = harbor2('PUSH_ARTIFACT', [res('canary')]);
    for (const headers of [auth('wrong'), auth(`Bearer ${SECRETS.harbor}x`), auth(SECRETS.harbor.slice(0, -1)), auth(`Basic ${SECRETS.harbor}`), {}, { authorization: [SECRETS.harbor, SECRETS.harbor] }]) {
      refused(receiveWebhook(req('/hooks/harbor', body, headers), events), 401);
    }
  });
  test('malformed: not JSON, the wrong shape, a resource_url without a host', () => {
    const a = auth(SECRETS.harbor);
    assert.equal(refused(receiveWebhook(req('/hooks/harbor', '{"canary": ', a), events), 400), 'body is not JSON');
    refused(receiveWebhook(req('/hooks/harbor', { canary: 1 }, a), events), 400);
    refused(receiveWebhook(req('/hooks/harbor', harbor2('PUSH_ARTIFACT', []), a), events), 400);
    refused(receiveWebhook(req('/hooks/harbor', harbor2('PUSH_ARTIFACT', [{ tag: 'canary', resource_url: 'library/app:canary' }]), a), events), 400);
    refused(receiveWebhook(req('/hooks/harbor', harbor2('PUSH_ARTIFACT', [res('canary', 'harbor.example.com', 'Library/App')], 'Library/App'), a), events), 400);
  });
});

const hub = (repo: string, tag: string) => ({ callback_url: 'https://registry.hub.docker.com/u/x/y/hook/2141b5bi5i5b02bec211i4eeih0242eg11000a/', push_data: { pushed_at: 1417566161, pusher: 'trustedbuilder', tag }, repository: { comment_count: 0, is_official: false, name: repo.split('/').pop(), namespace: repo.split('/')[0], repo_name: repo, status: 'Active' } });

describe('Docker Hub', () => {
  test('the secret in the path: a recheck on docker.io; an official image is library/x', () => {
    assert.deepEqual(accepted(receiveWebhook(req(`/hooks/dockerhub/${SECRETS.dockerhub}`, hub('svendowideit/testhook', 'latest')), events)), [{ v: 1, kind: 'recheck', source: 'docker.io/svendowideit/testhook', tags: ['latest'], action: 'push', via: 'dockerhub' }]);
    assert.equal(accepted(receiveWebhook(req(`/hooks/dockerhub/${SECRETS.dockerhub}?x=1`, hub('nginx', '1.27')), events))[0]!.source, 'docker.io/library/nginx');
  });
  test('forged: a wrong, missing or partial secret segment; the reason never echoes it', () => {
    for (const path of ['/hooks/dockerhub/not-the-secret-canary', '/hooks/dockerhub', '/hooks/dockerhub/', `/hooks/dockerhub/${SECRETS.dockerhub.slice(1)}`]) {
      const reason = refused(receiveWebhook(req(path, hub('a/canary', 'canary')), events), 401);
      assert.ok(!reason.includes(path.split('/')[3] || '\u0000'));
    }
    // Below the secret: no such route.
    refused(receiveWebhook(req(`/hooks/dockerhub/${SECRETS.dockerhub}/more`, hub('a/b', 't')), events), 404);
  });
  test('the wrong shape is 400', () => {
    refused(receiveWebhook(req(`/hooks/dockerhub/${SECRETS.dockerhub}`, { repository: { canary: 1 } }), events), 400);
    refused(receiveWebhook(req(`/hooks/dockerhub/${SECRETS.dockerhub}`, [1, 2]), events), 400);
  });
});

const quayPush = (dockerUrl: string, tags: unknown) => ({ repository: 'mynamespace/repository', namespace: 'mynamespace', name: 'repository', docker_url: dockerUrl, homepage: 'https://quay.io/repository/mynamespace/repository', updated_tags: tags });

describe('Quay', () => {
  test('the secret in the path: docker_url gives host and repository, updated_tags the tags (quay.io or self-hosted)', () => {
    assert.deepEqual(accepted(receiveWebhook(req(`/hooks/quay/${SECRETS.quay}`, quayPush('quay.io/mynamespace/repository', ['latest', 'v2'])), events)), [{ v: 1, kind: 'recheck', source: 'quay.io/mynamespace/repository', tags: ['latest', 'v2'], action: 'push', via: 'quay' }]);
    assert.equal(accepted(receiveWebhook(req(`/hooks/quay/${SECRETS.quay}`, quayPush('quay.corp.example:8443/ns/repo', ['a'])), events))[0]!.source, 'quay.corp.example:8443/ns/repo');
  });
  test('another notification (no updated_tags) is 200 with nothing; forged paths are 401; the wrong shape 400', () => {
    const { updated_tags: _, ...build } = quayPush('quay.io/a/b', []);
    assert.equal(receiveWebhook(req(`/hooks/quay/${SECRETS.quay}`, build), events).status, 200);
    refused(receiveWebhook(req('/hooks/quay/canary-wrong', quayPush('quay.io/a/b', ['x'])), events), 401);
    refused(receiveWebhook(req(`/hooks/quay/${SECRETS.quay}`, { canary: true }), events), 400);
    refused(receiveWebhook(req(`/hooks/quay/${SECRETS.quay}`, quayPush('canary', ['x'])), events), 400);
  });
});

const ghPackage = (over: Record<string, unknown> = {}, tag = 'v1', key = 'package') => ({
  action: 'published',
  [key]: { id: 1, name: 'My-App', package_type: 'container', owner: { login: 'Octo-Org' }, package_version: { id: 2, container_metadata: { tag: { name: tag, digest: `sha256:${'d'.repeat(64)}` } } }, ...over },
});
const sign = (body: Buffer, secret = SECRETS.github) => `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
const gh = (event: string, payload: unknown, signature?: (b: Buffer) => string | undefined) => {
  const body = Buffer.from(JSON.stringify(payload));
  const sig = (signature ?? ((b) => sign(b)))(body);
  return req('/hooks/github', body, { 'x-github-event': event, 'x-github-delivery': '72d3162e-cc78-11e3-81ab-4c9367dc0958', ...(sig !== undefined ? { 'x-hub-signature-256': sig } : {}) });
};

describe('GitHub (ghcr.io)', () => {
  test('a signed package/published container: ghcr.io/<owner>/<name> lowercased, with its tag', () => {
    assert.deepEqual(accepted(receiveWebhook(gh('package', ghPackage()), events)), [{ v: 1, kind: 'recheck', source: 'ghcr.io/octo-org/my-app', tags: ['v1'], action: 'push', via: 'github' }]);
  });
  test('registry_package with CONTAINER in capitals; an untagged version has no tag hint', () => {
    const [m] = accepted(receiveWebhook(gh('registry_package', ghPackage({ package_type: 'CONTAINER' }, '', 'registry_package')), events));
    assert.equal(m!.source, 'ghcr.io/octo-org/my-app');
    assert.equal(m!.tags, undefined);
  });
  test('ping, other actions, other package types and other events: 200, nothing to do', () => {
    for (const [event, payload] of [['ping', { zen: 'Keep it logically awesome.', hook_id: 1 }], ['package', { ...ghPackage(), action: 'updated' }], ['package', ghPackage({ package_type: 'npm' })], ['push', { ref: 'refs/heads/main' }]] as const) {
      const r = receiveWebhook(gh(event, payload), events);
      assert.equal(r.status, 200, event);
      assert.deepEqual(accepted(r), []);
    }
  });
  test('forged: a signature under another secret, over another body, missing, not sha256=; a ping is checked too', () => {
    const other = Buffer.from(JSON.stringify(ghPackage({}, 'canary-other')));
    for (const s of [(b: Buffer) => sign(b, 'wrong-secret'), () => sign(other), () => undefined, (b: Buffer) => sign(b).replace('sha256=', 'sha1='), (b: Buffer) => sign(b).toUpperCase()]) {
      refused(receiveWebhook(gh('package', ghPackage({}, 'canary'), s), events), 401);
    }
    refused(receiveWebhook(gh('ping', { zen: 'canary' }, () => 'sha256=00'), events), 401);
  });
  test('signed but malformed: not JSON, the wrong shape, no X-GitHub-Event', () => {
    const body = Buffer.from('{"canary": ');
    refused(receiveWebhook(req('/hooks/github', body, { 'x-github-event': 'package', 'x-hub-signature-256': sign(body) }), events), 400);
    refused(receiveWebhook(gh('package', { action: 'published', canary: 1 }), events), 400);
    const ok = Buffer.from(JSON.stringify(ghPackage()));
    refused(receiveWebhook(req('/hooks/github', ok, { 'x-hub-signature-256': sign(ok) }), events), 400);
  });
});

describe('routing, limits and what is logged', () => {
  test('unknown paths are 404', () => {
    for (const path of ['/', '/hooks', '/hooks/gitlab', '/hooks/harbor/extra', '/other/harbor']) refused(receiveWebhook(req(path, {}), events), 404);
  });
  test('a sender without a configured secret is refused 401, even with a plausible request', () => {
    const only: EventsSettings = { secrets: { quay: SECRETS.quay }, windowMs: 0 };
    assert.match(refused(receiveWebhook(req('/hooks/harbor', harbor2('PUSH_ARTIFACT', [res('v1')]), { authorization: '' }), only), 401), /harbor are not enabled/);
    refused(receiveWebhook(req(`/hooks/dockerhub/${SECRETS.dockerhub}`, hub('a/b', 't')), only), 401);
    refused(receiveWebhook(gh('package', ghPackage()), undefined), 401);
  });
  test('a body above 1 MiB is 413, before it is read', () => {
    const big = Buffer.alloc(MAX_WEBHOOK_BODY + 1, 'a');
    refused(receiveWebhook(req('/hooks/harbor', big, { authorization: SECRETS.harbor }), events), 413);
    refused(receiveWebhook(req('/hooks/github', big, { 'x-github-event': 'package', 'x-hub-signature-256': sign(big) }), events), 413);
  });
  test('one request naming several repositories: one recheck each, tags merged per repository', () => {
    const r = receiveWebhook(req('/hooks/harbor', { type: 'pushImage', event_data: { resources: [res('a'), res('b'), res('a')], repository: { repo_full_name: 'library/app' } } }, { authorization: SECRETS.harbor }), events);
    assert.deepEqual(accepted(r).map((m) => m.tags), [['a', 'b']]);
  });
  test('the log object: status, sender, repositories; never a header, a path or a body', () => {
    const r = receiveWebhook(req(`/hooks/dockerhub/${SECRETS.dockerhub}`, hub('team/app', 'v9')), events);
    assert.deepEqual(webhookLogFields(r), { status: 202, via: 'dockerhub', rechecks: 1, sources: ['push docker.io/team/app:v9'] });
    assert.deepEqual(webhookLogFields(receiveWebhook(req('/hooks/dockerhub/wrong', hub('team/app', 'v9')), events)), { status: 401, via: 'dockerhub', reason: 'the URL\'s secret does not match the configured secret' });
  });
});
