import assert from 'node:assert/strict';
import test from 'node:test';

import {
  AdminApiError,
  AdminClient,
  describeError,
  errorFromResponse,
  isAuthError,
  networkError,
} from '../src/admin/api.js';

/** A fetch that records its calls and answers from a list of [status, body]. */
function fakeFetch(...answers) {
  const calls = [];
  const fetch = async (url, init) => {
    calls.push({ url, ...init, body: init.body === undefined ? undefined : JSON.parse(init.body) });
    const next = answers.shift();
    if (next instanceof Error) throw next;
    const [status, body] = next;
    return {
      ok: status >= 200 && status < 300,
      status,
      text: async () => (typeof body === 'string' ? body : JSON.stringify(body)),
    };
  };
  fetch.calls = calls;
  return fetch;
}

test('admin API errors keep the code, message and problems the server sent', () => {
  const problems = [{ path: 'default.md', line: 3, field: 'turn_taking.silence_ms', message: 'too small' }];
  const error = errorFromResponse(422, {
    error: { code: 'persona_invalid', message: 'the persona has problems', problems },
  });
  assert.ok(error instanceof AdminApiError);
  assert.equal(error.status, 422);
  assert.equal(error.code, 'persona_invalid');
  assert.equal(error.message, 'the persona has problems');
  assert.deepEqual(error.problems, problems);
  assert.equal(error.retryable, false);
});

test('FastAPI request validation answers become request_invalid with the field named', () => {
  const error = errorFromResponse(422, {
    detail: [{ loc: ['body', 'message'], msg: 'String should have at most 500 characters' }],
  });
  assert.equal(error.code, 'request_invalid');
  assert.equal(error.message, 'message: String should have at most 500 characters');
});

test('answers without a JSON error body fall back to a code by status', () => {
  assert.equal(errorFromResponse(401, null).code, 'admin_token_invalid');
  assert.equal(errorFromResponse(404, { detail: 'Not Found' }).message, 'Not Found');
  const odd = errorFromResponse(418, 'teapot');
  assert.equal(odd.code, 'http_error');
  assert.equal(odd.message, 'request failed (418)');
  assert.equal(errorFromResponse(502, null).retryable, true);
  assert.equal(errorFromResponse(503, { error: { code: 'admin_disabled', message: 'x' } }).retryable, false);
  assert.equal(errorFromResponse(504, { error: { code: 'preview_timeout', message: 'x' } }).retryable, true);
  const weird = errorFromResponse(500, { error: { code: 5, message: null } });
  assert.equal(weird.code, 'http_error');
  assert.equal(weird.message, 'request failed (500)');
});

test('a request that got no answer is a retryable network_error keeping its cause', () => {
  const cause = new TypeError('Failed to fetch');
  const error = networkError(cause);
  assert.equal(error.status, 0);
  assert.equal(error.code, 'network_error');
  assert.equal(error.cause, cause);
  assert.equal(error.retryable, true);
});

test('only 401 answers ask for the token again', () => {
  assert.equal(isAuthError(errorFromResponse(401, { error: { code: 'admin_token_invalid', message: '' } })), true);
  assert.equal(isAuthError(errorFromResponse(403, null)), false);
  assert.equal(isAuthError(new Error('x')), false);
});

test('every documented error code has a sentence that says what to do', () => {
  const say = (status, code, extra = {}) =>
    describeError(new AdminApiError({ status, code, message: 'server words', ...extra }));
  assert.match(say(401, 'admin_token_invalid'), /not valid.*sign in again/);
  assert.match(say(401, 'admin_token_missing'), /Sign in/);
  assert.match(say(503, 'admin_disabled'), /AVATAR_ADMIN__TOKENS/);
  assert.match(say(404, 'persona_not_found'), /does not exist/);
  assert.match(say(404, 'version_not_found'), /version/);
  assert.match(say(409, 'version_conflict'), /Someone else saved/);
  assert.match(say(422, 'persona_invalid', { problems: [{ message: 'a' }] }), /1 problem; fix it/);
  assert.match(say(422, 'persona_invalid', { problems: [{}, {}] }), /2 problems; fix them/);
  assert.match(say(422, 'persona_invalid'), /not valid: server words/);
  assert.match(say(504, 'preview_timeout'), /too long/);
  assert.match(say(0, 'network_error'), /Could not reach/);
  assert.match(say(422, 'request_invalid'), /refused the request: server words/);
  assert.equal(say(500, 'boom'), 'The server failed (500): server words');
  assert.equal(say(400, 'other'), 'server words');
  assert.match(describeError(new Error('bad')), /Unexpected error: bad/);
});

test('the client sends the bearer token and JSON, and unwraps each answer', async () => {
  const fetch = fakeFetch(
    [200, { personas: [{ id: 'default' }] }],
    [200, { id: 'default', source: 'x' }],
    [200, { valid: true, problems: [], version: 'v2' }],
    [200, { change: { version: 'v2' } }],
    [200, { text: 'Hi' }],
    [200, { changes: [{ version: 'v2' }] }],
    [200, { version: 'v1', source: 'old' }],
    [200, { change: { version: 'v1' } }],
    [200, { knowledge_bases: [{ name: 'acme' }] }],
  );
  const client = new AdminClient({ token: 'secret-token-0123456789', base: 'http://h/', fetch });
  assert.deepEqual(await client.listPersonas(), [{ id: 'default' }]);
  assert.equal((await client.getPersona('default')).source, 'x');
  assert.equal((await client.validate('default', 'src')).version, 'v2');
  assert.deepEqual(await client.save('default', { source: 's', expectedVersion: 'v1', message: 'm' }), {
    version: 'v2',
  });
  assert.equal((await client.preview('default', { message: 'Hello', source: 's' })).text, 'Hi');
  assert.deepEqual(await client.history('default'), [{ version: 'v2' }]);
  assert.equal((await client.versionSource('default', 'v1')).source, 'old');
  assert.deepEqual(await client.rollback('default', { version: 'v1', message: 'back' }), { version: 'v1' });
  assert.deepEqual(await client.knowledge(), [{ name: 'acme' }]);

  const calls = fetch.calls.map((c) => [c.method, c.url, c.body]);
  assert.deepEqual(calls, [
    ['GET', 'http://h/v1/admin/personas', undefined],
    ['GET', 'http://h/v1/admin/personas/default', undefined],
    ['POST', 'http://h/v1/admin/personas/default/validate', { source: 'src' }],
    ['PUT', 'http://h/v1/admin/personas/default', { source: 's', expected_version: 'v1', message: 'm' }],
    ['POST', 'http://h/v1/admin/personas/default/preview', { message: 'Hello', history: [], source: 's' }],
    ['GET', 'http://h/v1/admin/personas/default/history', undefined],
    ['GET', 'http://h/v1/admin/personas/default/versions/v1', undefined],
    ['POST', 'http://h/v1/admin/personas/default/rollback', { version: 'v1', message: 'back' }],
    ['GET', 'http://h/v1/admin/knowledge', undefined],
  ]);
  for (const call of fetch.calls) {
    assert.equal(call.headers.authorization, 'Bearer secret-token-0123456789');
    assert.equal(call.headers['content-type'], call.body === undefined ? undefined : 'application/json');
  }
});

test('the client escapes ids, previews the saved file without a source, saves with no expected version', async () => {
  const fetch = fakeFetch([200, {}], [200, { change: {} }], [200, '']);
  const client = new AdminClient({ token: 't', fetch });
  await client.preview('a/b', { message: 'Hi', history: [{ role: 'user', text: 'x' }] });
  await client.save('x', { source: 's', message: '' });
  assert.deepEqual(await client.request('GET', '/empty'), {});
  assert.equal(fetch.calls[0].url, '/v1/admin/personas/a%2Fb/preview');
  assert.deepEqual(fetch.calls[0].body, { message: 'Hi', history: [{ role: 'user', text: 'x' }] });
  assert.equal(fetch.calls[1].body.expected_version, null);
});

test('the client rejects with AdminApiError on error answers and on network failure', async () => {
  const fetch = fakeFetch(
    [409, { error: { code: 'version_conflict', message: 'expected version a' } }],
    [500, '<html>oops</html>'],
    new TypeError('Failed to fetch'),
  );
  const client = new AdminClient({ token: 't', fetch });
  await assert.rejects(client.save('default', { source: 's', expectedVersion: 'a', message: 'm' }), {
    name: 'AdminApiError',
    status: 409,
    code: 'version_conflict',
  });
  await assert.rejects(client.listPersonas(), { status: 500, code: 'http_error' });
  await assert.rejects(client.knowledge(), { status: 0, code: 'network_error' });
});
