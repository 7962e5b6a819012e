// SWR organization / repository name rules, `$` encoding, and source -> organization mapping.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { assertSwrPath, encodeRepositoryForApi, mapToSwr, organizationProblem, repositoryProblem, SwrNameError } from '../../lib/vendors/swr/names.js';
import { ErrorCode } from '../../lib/errors.js';

describe('organization names', () => {
  for (const ok of ['a', 'team', 'team-1', 'my.org_x', 'a'.repeat(64), 'a1']) test(`accepts ${ok.slice(0, 20)}`, () => assert.equal(organizationProblem(ok), undefined));
  const bad: [string, RegExp][] = [
    ['', /1-64 characters/],
    ['a'.repeat(65), /1-64 characters, this has 65/],
    ['1team', /starts with a lowercase letter/],
    ['-team', /starts with a lowercase letter/],
    ['Team', /starts with a lowercase letter/],
    ['teAm', /only lowercase letters/],
    ['te/am', /only lowercase letters/],
    ['team-', /ends with a letter or digit/],
    ['team.', /ends with a letter or digit/],
    ['te--am', /no two separators/],
    ['te._am', /no two separators/],
  ];
  for (const [name, rule] of bad) test(`refuses ${JSON.stringify(name.slice(0, 20))}`, () => assert.match(organizationProblem(name) ?? '', rule));
});

describe('repository names', () => {
  for (const ok of ['nginx', 'bitnami/redis', 'a/b/c', 'x'.repeat(128), 'my_app.v2']) test(`accepts ${ok.slice(0, 20)}`, () => assert.equal(repositoryProblem(ok), undefined));
  const bad: [string, RegExp][] = [
    ['', /1-128 characters/],
    ['x'.repeat(129), /this has 129/],
    ['/a', /empty path component/],
    ['a//b', /empty path component/],
    ['a/', /empty path component/],
    ['A/b', /only lowercase/],
    ['a b', /only lowercase/],
    ['a/-b', /starts and ends/],
    ['a_/b', /starts and ends/],
    ['a__b', /no two separators/],
  ];
  for (const [name, rule] of bad) test(`refuses ${JSON.stringify(name.slice(0, 20))}`, () => assert.match(repositoryProblem(name) ?? '', rule));
});

describe('assertSwrPath', () => {
  test('splits org and repo', () => assert.deepEqual(assertSwrPath('team/bitnami/redis'), { organization: 'team', repository: 'bitnami/redis' }));
  test('one-line error naming the name and rule, stable code', () => {
    assert.throws(() => assertSwrPath('Team/app'), (e: unknown) => {
      assert.ok(e instanceof SwrNameError);
      assert.equal(e.code, ErrorCode.SWR_NAME);
      assert.equal(e.message, 'SWR name "Team": an organization name starts with a lowercase letter');
      return true;
    });
    assert.throws(() => assertSwrPath('app'), /<organization>\/<repository>/);
    assert.throws(() => assertSwrPath('team/a..b'), /SWR name "a..b": .*two separators/);
  });
});

describe('mapping into organizations', () => {
  test('nest under one org', () => {
    assert.equal(mapToSwr('bitnami/redis', { kind: 'nest', organization: 'mirror' }), 'mirror/bitnami/redis');
    assert.equal(mapToSwr('library/nginx', { kind: 'nest', organization: 'mirror' }), 'mirror/library/nginx');
  });
  test('flatten with a template', () => {
    const m = { kind: 'template', organization: 'mirror', template: '{namespace}-{name}' } as const;
    assert.equal(mapToSwr('bitnami/redis', m), 'mirror/bitnami-redis');
    assert.equal(mapToSwr('nginx', m), 'mirror/nginx');
    assert.equal(mapToSwr('a/b/c', { kind: 'template', organization: 'o', template: '{name}' }), 'o/c');
    assert.equal(mapToSwr('Org/App', { kind: 'template', organization: 'o', template: '{path}' }), 'o/org/app');
  });
  test('a mapping that yields an invalid name is refused', () => {
    assert.throws(() => mapToSwr('a/b', { kind: 'nest', organization: 'Bad' }), SwrNameError);
    assert.throws(() => mapToSwr('x-/b', { kind: 'template', organization: 'o', template: '{namespace}-{name}' }), /two separators/);
  });
});

describe('encodeRepositoryForApi', () => {
  test('slashes become $', () => assert.equal(encodeRepositoryForApi('bitnami/redis'), 'bitnami$redis'));
  test('plain names unchanged', () => assert.equal(encodeRepositoryForApi('nginx'), 'nginx'));
});
