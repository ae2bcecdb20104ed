/**
 * The client controller: joins the session (Connection), the audio (Microphone, Player), what
 * the reply says and when (SpeechTrack), the avatar (Stage) and the DOM (View).
 *
 * Timing contract: lips, captions and expressions all read the Player's playhead, which is the
 * AudioContext clock of the samples being heard; nothing is scheduled on wall-clock timers.
 */

import { Microphone } from '../audio/mic.js';
import { Player } from '../audio/player.js';
import { loadWorklets } from '../audio/worklets.js';
import { createStage } from '../avatar/stage.js';
import { visemeWeightsAt } from '../avatar/lipsync.js';
import { Connection } from '../connection.js';
import { encodeFrame, KIND_INPUT_AUDIO, KIND_OUTPUT_AUDIO } from '../protocol.js';
import { SpeechTrack } from '../speech-track.js';
import { View } from './view.js';

const POSITION_EVERY_MS = 250;
const STATUS_TEXT = {
  idle: 'Not connected',
  connecting: 'Connecting…',
  open: 'Connected',
  reconnecting: 'Reconnecting…',
  closed: 'Disconnected',
};

/** Turn the server's http(s) origin into the socket URL. */
export function socketUrl(server) {
  const url = new URL('/v1/realtime', server);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.toString();
}

/** Exchange a publishable widget key for a short-lived session token. */
export async function fetchToken(server, key) {
  const response = await fetch(new URL('/v1/widget/token', server), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ key }),
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = new Error(body?.error?.message ?? `token request failed (${response.status})`);
    error.code = body?.error?.code ?? 'token_failed';
    error.retryable = response.status >= 500;
    throw error;
  }
  return body;
}

export class App {
  /**
   * @param {HTMLElement | ShadowRoot} root
   * @param {{server: string, persona?: string|null, key?: string|null, mode?: 'handsfree'|'ptt',
   *          title?: string, compact?: boolean}} options
   */
  constructor(root, options) {
    this.options = options;
    this.view = new View(root, { title: options.title, compact: options.compact });
    this.track = new SpeechTrack();
    this.weights = new Float32Array(15);
    this.mode = options.mode === 'ptt' ? 'ptt' : 'handsfree';
    this.muted = false;
    this.talking = false;
    this.context = null;
    this.player = null;
    this.mic = null;
    this.micSeq = 0;
    this.replies = new Map(); // response id → text streamed so far
    this.reported = new Map(); // stream → last playback.position sent (ms of performance.now)
    this.lastHeardMs = 0;
    this.received = []; // recent server events {type, seq} (debugging and tests)
    this.errors = [];
    this.stage = null;
    this.avatarMode = 'idle';
    this.avatarKey = undefined;
    const { server, key } = options;
    this.connection = new Connection({
      url: socketUrl(server),
      persona: options.persona ?? null,
      capabilities: { text: true, audio_in: true, audio_out: true, visemes: true },
      client: { name: 'avatar-web', version: '0.1.0' },
      token: key ? () => fetchToken(server, key) : undefined,
    });
    this._bindConnection();
    this._bindControls();
    this._renderVoice();
  }

  /** Load the avatar and connect. */
  async start() {
    await this._loadAvatar(null);
    this.connection.connect();
  }

  /** Everything tests and debugging need to see, in one object. */
  debug() {
    return {
      state: this.connection.state,
      session: this.connection.session?.id ?? null,
      mode: this.avatarMode,
      playing: Boolean(this.player?.playing),
      underruns: this.player?.underruns ?? 0,
      visemes: this.stage ? Array.from(this.stage.visemeInfluences()) : [],
      mouth: this.stage?.mouthOpenness() ?? 0,
      avatar: this.stage?.avatarInfo ?? null,
      webgl: this.stage?.webgl ?? false,
      received: this.received.slice(),
      errors: this.errors.slice(),
    };
  }

  // ── audio ─────────────────────────────────────────────────────────────

  /** Create the AudioContext (call from a user gesture the first time). */
  async ensureAudio() {
    if (!this.context) {
      this.context = new AudioContext({ sampleRate: 48000, latencyHint: 'interactive' });
      await loadWorklets(this.context);
      this.player = new Player(this.context);
      this._bindPlayer();
    }
    if (this.context.state !== 'running') await this.context.resume();
  }

  /** Start the microphone (the "Start voice" button). */
  async startVoice() {
    if (this.mic) return;
    await this.ensureAudio();
    const mic = new Microphone(this.context, (frame) => this._sendMicFrame(frame));
    mic.muted = this.mode === 'ptt' || this.muted;
    try {
      await mic.start();
    } catch (error) {
      this.view.showNotice(`Microphone unavailable: ${error.message}. You can still type.`);
      return;
    }
    this.mic = mic;
    this._renderVoice();
  }

  setMode(mode) {
    this.mode = mode;
    this.talking = false;
    this.mic?.setMuted(mode === 'ptt' || this.muted);
    this._renderVoice();
  }

  setMuted(muted) {
    this.muted = muted;
    if (this.mode === 'handsfree') this.mic?.setMuted(muted);
    this._renderVoice();
  }

  /** Push-to-talk pressed: stop the avatar at once and open the microphone. */
  async pressTalk() {
    if (this.talking) return;
    this.talking = true;
    await this.startVoice();
    await this.stopPlayback();
    this.mic?.setMuted(false);
    this._setAvatarMode('listening');
    this._renderVoice();
  }

  releaseTalk() {
    if (!this.talking) return;
    this.talking = false;
    this.mic?.setMuted(true);
    this._renderVoice();
  }

  async sendText(text) {
    const clean = text.trim();
    if (!clean) return false;
    await this.ensureAudio();
    await this.stopPlayback();
    return this.connection.send({ type: 'input.text', text: clean });
  }

  /**
   * Stop the avatar's voice now and tell the server exactly how much was heard, so history
   * keeps only those words.
   */
  async stopPlayback() {
    if (!this.player) return;
    const stopped = await this.player.flush();
    this.view.clearCaption();
    if (!stopped) return;
    const responseId = this.track.responseOf(stopped.stream);
    this.reported.delete(stopped.stream);
    this.track.drop(stopped.stream);
    if (!responseId) return;
    const playedMs = Math.round((stopped.played / stopped.rate) * 1000);
    this.connection.send({ type: 'playback.stopped', response_id: responseId, played_ms: playedMs });
    this.view.markInterrupted(responseId);
  }

  _sendMicFrame({ pcm, pts, sampleRate }) {
    const frame = encodeFrame({
      kind: KIND_INPUT_AUDIO,
      stream: 0,
      seq: this.micSeq++,
      pts,
      sampleRate,
      pcm,
    });
    this.connection.sendBinary(frame);
  }

  _bindPlayer() {
    const player = this.player;
    player.addEventListener('started', ({ detail }) => {
      this._setAvatarMode('speaking');
      this.lastHeardMs = 0;
      this._reportPosition(detail, true);
    });
    player.addEventListener('position', ({ detail }) => this._reportPosition(detail, false));
    player.addEventListener('underrun', ({ detail }) => this._reportPosition(detail, true));
    player.addEventListener('ended', ({ detail }) => {
      this._reportPosition(detail, true);
      this.reported.delete(detail.stream);
      this.track.drop(detail.stream);
      this.view.clearCaption();
      this._setAvatarMode('idle');
    });
  }

  _reportPosition({ stream, played, rate, underruns }, force) {
    const responseId = this.track.responseOf(stream);
    if (!responseId) return;
    const now = performance.now();
    if (!force && now - (this.reported.get(stream) ?? 0) < POSITION_EVERY_MS) return;
    this.reported.set(stream, now);
    this.connection.send({
      type: 'playback.position',
      response_id: responseId,
      played_ms: Math.round((played / rate) * 1000),
      underruns,
    });
  }

  /** Called by the stage every animation frame: the mouth's weights for what is heard now. */
  _frame() {
    const stream = this.player?.active ?? null;
    if (stream === null) return null;
    const ms = this.player.playheadMs(stream);
    const at = ms === null ? null : this.track.at(stream, ms);
    if (!at) return null;
    this.view.caption(`${stream}:${at.segment.segment_id}`, at.segment.words, at.wordIndex);
    for (const cue of this.track.expressionsBetween(stream, this.lastHeardMs, ms)) {
      this.stage?.express(cue.name);
    }
    this.lastHeardMs = ms;
    return visemeWeightsAt(at.segment.visemes, at.t, this.weights);
  }

  // ── session events ────────────────────────────────────────────────────

  _bindConnection() {
    const c = this.connection;
    c.addEventListener('state', ({ detail }) => {
      this.view.setStatus(detail.state, STATUS_TEXT[detail.state] ?? detail.state);
      if (detail.state === 'reconnecting') this.stopPlayback();
    });
    c.addEventListener('session', ({ detail }) => this._onSession(detail));
    c.addEventListener('message', ({ detail }) => this._onEvent(detail));
    c.addEventListener('audio', ({ detail }) => {
      if (detail.kind === KIND_OUTPUT_AUDIO && this.player) {
        this.player.push(detail.stream, detail.pcm, detail.sampleRate);
      }
    });
  }

  _onSession({ resumed, event }) {
    this.micSeq = 0;
    const persona = event.config.persona;
    const name = persona.name ?? 'Avatar';
    this.view.setStatus('open', resumed ? `Connected to ${name} (resumed)` : `Connected to ${name}`);
    // Avatar paths are on the avatar server, not on the page embedding the widget.
    const avatar = persona.avatar
      ? { ...persona.avatar, url: new URL(persona.avatar.url, this.options.server).toString() }
      : null;
    if (JSON.stringify(avatar) !== this.avatarKey) this._loadAvatar(avatar);
    for (const item of event.history ?? []) this.view.entry(item.item_id, item.role, item.text);
  }

  _onEvent(event) {
    this.received.push({ type: event.type, seq: event.seq ?? null });
    if (this.received.length > 500) this.received.shift();
    const view = this.view;
    switch (event.type) {
      case 'input_audio.speech_started':
        this._setAvatarMode('listening');
        if (this.player?.playing) this.stopPlayback(); // barge-in: the user talks over the avatar
        break;
      case 'input_audio.transcript.partial':
        view.showPartial(event.stable, event.unstable);
        this._maybeNod(event.stable);
        break;
      case 'input_audio.transcript.completed':
        view.showFinal(event.text);
        break;
      case 'input_audio.transcript.failed':
        view.showFinal('');
        view.showNotice("Sorry, I didn't catch that. Please say it again.", { sticky: false });
        this._setAvatarMode('idle');
        break;
      case 'input.committed':
        view.entry(event.item_id, 'user', event.text);
        if (event.source === 'text') view.showFinal('');
        this._setAvatarMode('thinking');
        break;
      case 'response.created':
        view.entry(event.response_id, 'assistant', '');
        break;
      case 'response.text.delta': {
        const text = (this.replies.get(event.response_id) ?? '') + event.delta;
        this.replies.set(event.response_id, text);
        view.entry(event.response_id, 'assistant', text);
        break;
      }
      case 'response.audio.segment':
        this.track.add(event);
        break;
      case 'response.done':
        this._onDone(event);
        break;
      case 'response.truncated':
        view.entry(event.response_id, 'assistant', event.text);
        view.markInterrupted(event.response_id);
        break;
      case 'session.closing':
        view.setStatus('reconnecting', 'Reconnecting…');
        break;
      case 'error':
        this.errors.push({ code: event.code, message: event.message });
        view.showNotice(`${event.message} (${event.code})`, { sticky: event.retryable === false });
        break;
      default:
        break;
    }
  }

  _onDone(event) {
    this.view.entry(event.response_id, 'assistant', event.text);
    this.replies.delete(event.response_id);
    const stream = this.track.streamOf(event.response_id);
    if (event.status !== 'completed') {
      this.view.markInterrupted(event.response_id);
      if (stream !== null && this.player?.active === stream) this.stopPlayback();
    }
    if (stream !== null) this.player?.end(stream);
    else if (!this.player?.playing) this._setAvatarMode('idle');
  }

  _maybeNod(stable) {
    const words = stable.split(/\s+/).filter(Boolean).length;
    const now = performance.now();
    if (words > (this.noddedAt ?? 0) + 3 && now - (this.lastNod ?? 0) > 2500) {
      this.noddedAt = words;
      this.lastNod = now;
      this.stage?.nod();
    }
  }

  _setAvatarMode(mode) {
    this.avatarMode = mode;
    this.stage?.setMode(mode);
  }

  async _loadAvatar(spec) {
    this.avatarKey = JSON.stringify(spec);
    const previous = this.stage;
    const stage = await createStage(this.view.stage, { avatar: spec });
    if (this.avatarKey !== JSON.stringify(spec)) return stage.dispose(); // superseded
    previous?.dispose();
    stage.onFrame = () => this._frame();
    stage.setMode(this.avatarMode);
    this.stage = stage;
    if (stage.avatarInfo?.error) this.view.showNotice(`Avatar failed to load: ${stage.avatarInfo.error}`);
  }

  // ── controls ──────────────────────────────────────────────────────────

  _bindControls() {
    const v = this.view;
    v.start.addEventListener('click', () => this.startVoice());
    v.mode.addEventListener('click', () =>
      this.setMode(this.mode === 'ptt' ? 'handsfree' : 'ptt'),
    );
    v.mute.addEventListener('click', () => this.setMuted(!this.muted));
    v.talk.addEventListener('pointerdown', (e) => {
      e.preventDefault();
      this.pressTalk();
    });
    for (const type of ['pointerup', 'pointerleave', 'pointercancel']) {
      v.talk.addEventListener(type, () => this.releaseTalk());
    }
    v.form.addEventListener('submit', (e) => {
      e.preventDefault();
      const text = v.input.value;
      v.input.value = '';
      this.sendText(text);
    });
    // Space held = talk, unless the user is typing.
    const typing = (e) => e.composedPath().some((n) => n === v.input);
    v.root.ownerDocument.addEventListener('keydown', (e) => {
      if (e.code === 'Space' && this.mode === 'ptt' && this.mic && !typing(e) && !e.repeat) {
        e.preventDefault();
        this.pressTalk();
      }
    });
    v.root.ownerDocument.addEventListener('keyup', (e) => {
      if (e.code === 'Space' && this.mode === 'ptt' && !typing(e)) this.releaseTalk();
    });
  }

  _renderVoice() {
    this.view.setVoice({
      started: Boolean(this.mic),
      mode: this.mode,
      muted: this.muted,
      talking: this.talking,
    });
  }

  close() {
    this.connection.close();
    this.mic?.stop();
    this.player?.close();
    this.context?.close();
    this.stage?.dispose();
  }
}
