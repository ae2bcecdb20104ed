/**
 * The admin API client (server/admin.py, docs/admin.md): one method per route, every request
 * with `Authorization: Bearer <token>`. Failures reject with an `AdminApiError` carrying the
 * server's error code, so callers branch on `code` (and `status`), never on message text.
 * `describeError` turns one into a sentence for the page. `fetch` is injected for tests.
 */

export const API_PREFIX = '/v1/admin';

/** An answer that is not a success, or no answer at all (`status` 0, code `network_error`). */
export class AdminApiError extends Error {
  /**
   * @param {{status: number, code: string, message: string,
   *          problems?: Array<{path?: string, line?: number|null, field?: string|null,
   *                            message: string}>}} details
   */
  constructor({ status, code, message, problems = [] }) {
    super(message);
    this.name = 'AdminApiError';
    this.status = status;
    this.code = code;
    this.problems = problems;
  }

  /** Worth trying again unchanged: the network, a timeout or the server failed. */
  get retryable() {
    return this.status === 0 || this.status === 504 || (this.status >= 500 && this.status !== 503);
  }
}

const FALLBACK_CODES = {
  400: 'bad_request',
  401: 'admin_token_invalid',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  409: 'version_conflict',
  413: 'too_large',
  422: 'request_invalid',
  429: 'rate_limited',
  503: 'unavailable',
  504: 'timeout',
};

/**
 * The error for an HTTP answer `status` whose JSON body (or `null` when it was not JSON) is
 * `body`. Understands the admin API's `{error: {code, message, problems?}}` and FastAPI's own
 * request validation answer `{detail: [{loc, msg}]}`.
 */
export function errorFromResponse(status, body) {
  const error = body && typeof body === 'object' ? body.error : null;
  if (error && typeof error === 'object') {
    return new AdminApiError({
      status,
      code: typeof error.code === 'string' ? error.code : (FALLBACK_CODES[status] ?? 'http_error'),
      message: typeof error.message === 'string' ? error.message : `request failed (${status})`,
      problems: Array.isArray(error.problems) ? error.problems : [],
    });
  }
  if (body && Array.isArray(body.detail)) {
    const message = body.detail
      .map((d) => {
        const where = Array.isArray(d.loc) ? d.loc.filter((p) => p !== 'body').join('.') : '';
        return where ? `${where}: ${d.msg}` : String(d.msg);
      })
      .join('; ');
    return new AdminApiError({ status, code: 'request_invalid', message });
  }
  const detail = body && typeof body.detail === 'string' ? body.detail : null;
  return new AdminApiError({
    status,
    code: FALLBACK_CODES[status] ?? 'http_error',
    message: detail ?? `request failed (${status})`,
  });
}

/** The error for a request that got no HTTP answer (offline, refused, CORS, aborted). */
export function networkError(cause) {
  const error = new AdminApiError({
    status: 0,
    code: 'network_error',
    message: cause?.message ?? String(cause),
  });
  error.cause = cause;
  return error;
}

/** Codes after which the token must be asked for again. */
export function isAuthError(error) {
  return error instanceof AdminApiError && error.status === 401;
}

/** One sentence for the page saying what went wrong and what to do about it. */
export function describeError(error) {
  if (!(error instanceof AdminApiError)) return `Unexpected error: ${error?.message ?? error}`;
  switch (error.code) {
    case 'admin_token_invalid':
      return 'That admin token is not valid. Check it and sign in again.';
    case 'admin_token_missing':
      return 'Sign in with an admin token first.';
    case 'admin_disabled':
      return (
        'The admin API is off on this server: no admin tokens are configured ' +
        '(AVATAR_ADMIN__TOKENS).'
      );
    case 'persona_not_found':
      return 'This persona does not exist (any more). Pick another one from the list.';
    case 'version_not_found':
      return 'That version is not in the history any more.';
    case 'version_conflict':
      return 'Someone else saved this persona after you opened it, so your save was not applied.';
    case 'persona_invalid': {
      const n = error.problems.length;
      if (!n) return `The persona is not valid: ${error.message}`;
      const [count, them] = n === 1 ? ['1 problem', 'it'] : [`${n} problems`, 'them'];
      return `The persona has ${count}; fix ${them} and try again.`;
    }
    case 'preview_timeout':
      return 'The preview took too long and was stopped. Try a shorter message, or try again.';
    case 'network_error':
      return 'Could not reach the server. Check your connection and try again.';
    case 'request_invalid':
      return `The server refused the request: ${error.message}`;
    default:
      return error.status >= 500
        ? `The server failed (${error.status}): ${error.message}`
        : error.message;
  }
}

export class AdminClient {
  /** @param {{token: string, base?: string, fetch?: typeof fetch}} options */
  constructor({ token, base = '', fetch: fetchImpl = globalThis.fetch.bind(globalThis) }) {
    this.token = token;
    this.base = base.replace(/\/$/, '');
    this.fetch = fetchImpl;
  }

  /** JSON in, JSON out; rejects with `AdminApiError`. */
  async request(method, path, body) {
    const headers = { authorization: `Bearer ${this.token}`, accept: 'application/json' };
    const init = { method, headers, cache: 'no-store' };
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await this.fetch(`${this.base}${API_PREFIX}${path}`, init);
    } catch (cause) {
      throw networkError(cause);
    }
    const text = await response.text().catch(() => '');
    let parsed = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = null;
    }
    if (!response.ok) throw errorFromResponse(response.status, parsed);
    return parsed ?? {};
  }

  listPersonas() {
    return this.request('GET', '/personas').then((r) => r.personas ?? []);
  }

  getPersona(id) {
    return this.request('GET', `/personas/${enc(id)}`);
  }

  validate(id, source) {
    return this.request('POST', `/personas/${enc(id)}/validate`, { source });
  }

  /** Save `source`; `expectedVersion` is the version the edit started from (409 if stale). */
  save(id, { source, expectedVersion, message }) {
    return this.request('PUT', `/personas/${enc(id)}`, {
      source,
      expected_version: expectedVersion ?? null,
      message,
    }).then((r) => r.change);
  }

  /** One reply as the persona would give it; `source` previews an unsaved draft. */
  preview(id, { message, source, history = [] }) {
    const body = { message, history };
    if (source !== undefined && source !== null) body.source = source;
    return this.request('POST', `/personas/${enc(id)}/preview`, body);
  }

  history(id) {
    return this.request('GET', `/personas/${enc(id)}/history`).then((r) => r.changes ?? []);
  }

  versionSource(id, version) {
    return this.request('GET', `/personas/${enc(id)}/versions/${enc(version)}`);
  }

  rollback(id, { version, message }) {
    return this.request('POST', `/personas/${enc(id)}/rollback`, { version, message }).then(
      (r) => r.change,
    );
  }

  knowledge() {
    return this.request('GET', '/knowledge').then((r) => r.knowledge_bases ?? []);
  }
}

function enc(part) {
  return encodeURIComponent(String(part));
}
