/**
 * A protocol v1 session over one WebSocket at a time, with heartbeat and transparent resume.
 *
 * Events (EventTarget): 'state' {state}, 'message' (a server event, each seq once, in order),
 * 'audio' (a decoded binary frame), 'session' ({resumed, started|resumed event}).
 * States: connecting → open → reconnecting → open … → closed.
 *
 * On a dropped socket it reconnects with exponential backoff and `session.resume`, sending the
 * last seq it saw, so the server replays what was missed; events at or below that seq are
 * dropped. If the session cannot be resumed (expired, unknown) it starts a new one and says so.
 */

import { decodeFrame, PROTOCOL_VERSION } from './protocol.js';

const FATAL_CODES = new Set([
  'unsupported_version',
  'persona_not_found',
  'persona_not_allowed',
  'origin_not_allowed',
]);
const RESUME_FAILED = new Set(['session_not_found', 'resume_expired', 'resume_token_invalid']);

export class Connection extends EventTarget {
  /**
   * @param {{
   *   url: string,                             // ws(s)://host/v1/realtime
   *   persona?: string | null,
   *   capabilities?: object,
   *   client?: {name: string, version?: string},
   *   token?: () => Promise<{token: string, ws_url?: string}>,  // widget token exchange
   * }} options
   */
  constructor(options) {
    super();
    this.options = options;
    this.state = 'idle';
    this.ws = null;
    this.session = null; // {id, resumeToken}
    this.config = null;
    this.lastSeq = 0;
    this.attempt = 0;
    this.closedByUs = false;
    this.heartbeat = null;
    this.lastReceived = 0;
    this.retryTimer = null;
  }

  connect() {
    this.closedByUs = false;
    this._open();
  }

  /** Send a client command; false when no socket is open (the caller may retry later). */
  send(message) {
    if (this.state !== 'open') return false;
    this.ws.send(JSON.stringify(message));
    return true;
  }

  sendBinary(buffer) {
    if (this.state !== 'open' || this.ws.bufferedAmount > 1 << 20) return false;
    this.ws.send(buffer);
    return true;
  }

  close() {
    this.closedByUs = true;
    clearTimeout(this.retryTimer);
    this._stopHeartbeat();
    this.ws?.close(1000);
    this._setState('closed');
  }

  async _open() {
    this._setState(this.session ? 'reconnecting' : 'connecting');
    let url = this.options.url;
    try {
      if (this.options.token) {
        const grant = await this.options.token();
        url = `${grant.ws_url ?? url}?token=${encodeURIComponent(grant.token)}`;
      }
    } catch (error) {
      this._emitError(
        error?.code ?? 'token_failed',
        String(error?.message ?? error),
        error?.retryable ?? true,
      );
      if (error?.retryable === false) return this._setState('closed');
      return this._retry();
    }
    const ws = new WebSocket(url);
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    let handshakeDone = false;
    ws.onopen = () => {
      this.lastReceived = performance.now();
      ws.send(JSON.stringify(this._handshake()));
    };
    ws.onmessage = ({ data }) => {
      if (ws !== this.ws) return;
      this.lastReceived = performance.now();
      if (typeof data !== 'string') {
        try {
          this.dispatchEvent(new CustomEvent('audio', { detail: decodeFrame(data) }));
        } catch (error) {
          console.warn('bad audio frame', error);
        }
        return;
      }
      const event = JSON.parse(data);
      if (!handshakeDone && (event.type === 'session.started' || event.type === 'session.resumed')) {
        handshakeDone = true;
        this._onSession(event);
      } else if (!handshakeDone && event.type === 'error' && RESUME_FAILED.has(event.code)) {
        // The session is gone: start afresh on the next socket.
        this.session = null;
        this.lastSeq = 0;
        this.dispatchEvent(new CustomEvent('message', { detail: event }));
        ws.close(1000);
        return;
      }
      if (event.type === 'error' && FATAL_CODES.has(event.code)) this.closedByUs = true;
      if (typeof event.seq === 'number') {
        if (event.seq <= this.lastSeq) return; // already seen before a resume
        this.lastSeq = event.seq;
      }
      this.dispatchEvent(new CustomEvent('message', { detail: event }));
    };
    ws.onclose = (event) => {
      if (ws !== this.ws) return;
      this._stopHeartbeat();
      this.ws = null;
      // Policy closes (bad handshake, unauthorised, unknown) do not get better by retrying.
      const fatal = [1008, 4400, 4401, 4404].includes(event.code);
      if (this.closedByUs || fatal) {
        this._setState('closed');
        return;
      }
      this._retry();
    };
  }

  _handshake() {
    const common = {
      protocol_version: PROTOCOL_VERSION,
      capabilities: this.options.capabilities ?? { text: true },
      client: this.options.client ?? { name: 'avatar-web' },
    };
    if (this.session) {
      return {
        type: 'session.resume',
        session_id: this.session.id,
        resume_token: this.session.resumeToken,
        last_seq: this.lastSeq,
        ...common,
      };
    }
    return { type: 'session.start', persona: this.options.persona ?? null, ...common };
  }

  _onSession(event) {
    const resumed = event.type === 'session.resumed';
    this.session = { id: event.session_id, resumeToken: event.resume_token };
    this.config = event.config;
    this.attempt = 0;
    this._setState('open');
    this._startHeartbeat(event.config.heartbeat_interval_s);
    this.dispatchEvent(new CustomEvent('session', { detail: { resumed, event } }));
  }

  _retry() {
    this._setState(this.session ? 'reconnecting' : 'connecting');
    const delay = Math.min(5000, 250 * 2 ** this.attempt) * (0.75 + Math.random() * 0.5);
    this.attempt += 1;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this._open(), delay);
  }

  _startHeartbeat(intervalS) {
    this._stopHeartbeat();
    const ms = Math.max(1, intervalS) * 1000;
    this.heartbeat = setInterval(() => {
      if (performance.now() - this.lastReceived > 2.5 * ms) {
        this.ws?.close(4000); // silent for too long: drop it and resume on a new socket
        return;
      }
      this.send({ type: 'ping' });
    }, ms);
  }

  _stopHeartbeat() {
    clearInterval(this.heartbeat);
    this.heartbeat = null;
  }

  _setState(state) {
    if (state === this.state) return;
    this.state = state;
    this.dispatchEvent(new CustomEvent('state', { detail: { state } }));
  }

  _emitError(code, message, retryable) {
    this.dispatchEvent(
      new CustomEvent('message', { detail: { type: 'error', code, message, retryable } }),
    );
  }
}
