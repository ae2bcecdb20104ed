/**
 * Playback jitter buffer, run in an AudioWorklet (imported as text and loaded from a Blob URL).
 *
 * `PlaybackQueue` is pure (node tests drive it); `PlayerProcessor` is the thin worklet shell.
 *
 * Audio arrives per stream (one stream per reply) as PCM16 at the voice's rate and is resampled
 * to the context rate by linear interpolation. A stream starts once `prebufferMs` are queued
 * (or the stream has ended); if the queue runs dry before the stream's end it counts an
 * underrun, outputs silence and waits for `prebufferMs` again. Positions are counted in source
 * samples of the stream, the clock the server's viseme and word times use.
 *
 * Main → worklet: {type:'push', stream, pcm: Int16Array, rate} · {type:'end', stream} ·
 *                 {type:'flush'}
 * Worklet → main: {type:'started'|'position'|'underrun'|'ended'|'flushed', stream, played,
 *                  underruns, time}; `time` is the context time at which sample `played`
 *                 leaves the worklet.
 */

const RING_SECONDS = 60;

export class PlaybackQueue {
  /**
   * @param {number} outRate context sample rate
   * @param {{prebufferMs?: number, positionEvery?: number}} [options]
   */
  constructor(outRate, { prebufferMs = 60, positionEvery = 4 } = {}) {
    this.outRate = outRate;
    this.prebufferMs = prebufferMs;
    this.positionEvery = positionEvery;
    this.ring = new Float32Array(48000 * RING_SECONDS);
    this.written = 0; // absolute source samples written
    this.read = 0; // absolute (fractional) read position
    /** @type {{stream: number, start: number, end: number | null, rate: number}[]} */
    this.streams = [];
    this.playing = false; // false while (re)buffering
    this.started = false; // the head stream has produced sound
    this.underruns = 0;
    this.quanta = 0;
  }

  /** Queue PCM16 samples of `stream`. */
  push(stream, pcm, rate) {
    let current = this.streams[this.streams.length - 1];
    if (!current || current.stream !== stream || current.end !== null) {
      current = { stream, start: this.written, end: null, rate };
      this.streams.push(current);
    }
    const cap = this.ring.length;
    for (let i = 0; i < pcm.length; i++) {
      this.ring[(this.written + i) % cap] = pcm[i] / 32768;
    }
    this.written += pcm.length;
  }

  /** No more audio will come for `stream`. */
  end(stream) {
    const s = this.streams.find((x) => x.stream === stream && x.end === null);
    if (s) s.end = this.written;
  }

  /** Drop everything queued; returns the head stream and how much of it was played. */
  flush() {
    const head = this.streams[0];
    const result = head
      ? { stream: head.stream, played: this.playedOf(head), rate: head.rate }
      : null;
    this.streams = [];
    this.read = this.written;
    this.playing = false;
    this.started = false;
    this.underruns = 0;
    return result;
  }

  playedOf(stream) {
    return Math.max(0, Math.floor(this.read) - stream.start);
  }

  /**
   * Fill `out` (one render quantum) and return the messages to post.
   * @param {Float32Array} out
   * @param {number} time context time of the quantum's first frame
   */
  render(out, time) {
    const messages = [];
    out.fill(0);
    let head = this.streams[0];
    if (!head) return messages;
    const cap = this.ring.length;
    const step = head.rate / this.outRate;
    const quantumEnd = time + out.length / this.outRate;
    if (!this.playing) {
      const queued = (head.end ?? this.written) - this.read;
      const needed = (this.prebufferMs / 1000) * head.rate;
      if (queued < needed && head.end === null) return messages;
      this.playing = true;
    }
    let i = 0;
    for (; i < out.length; i++) {
      const limit = head.end ?? this.written;
      if (this.read >= limit - (head.end === null ? 1 : 0)) break;
      const base = Math.floor(this.read);
      const frac = this.read - base;
      const a = this.ring[base % cap];
      const b = base + 1 < limit ? this.ring[(base + 1) % cap] : a;
      out[i] = a + (b - a) * frac;
      this.read += step;
    }
    if (i > 0 && !this.started) {
      this.started = true;
      messages.push(this._message('started', head, time + i / this.outRate));
    }
    if (i < out.length) {
      if (head.end !== null && this.read >= head.end - 1e-9) {
        this.read = head.end;
        messages.push(this._message('ended', head, time + i / this.outRate));
        this.streams.shift();
        this.started = false;
        this.playing = false;
        this.underruns = 0;
      } else if (this.started) {
        this.underruns += 1;
        this.playing = false;
        messages.push(this._message('underrun', head, time + i / this.outRate));
      }
      return messages;
    }
    this.quanta += 1;
    if (this.quanta % this.positionEvery === 0) {
      messages.push(this._message('position', head, quantumEnd));
    }
    return messages;
  }

  _message(type, stream, time) {
    return {
      type,
      stream: stream.stream,
      played: this.playedOf(stream),
      rate: stream.rate,
      underruns: this.underruns,
      time,
    };
  }
}

if (typeof registerProcessor === 'function') {
  class PlayerProcessor extends AudioWorkletProcessor {
    constructor() {
      super();
      // `sampleRate` and `currentTime` are globals of the AudioWorkletGlobalScope.
      this.queue = new PlaybackQueue(sampleRate);
      this.port.onmessage = ({ data }) => {
        if (data.type === 'push') this.queue.push(data.stream, data.pcm, data.rate);
        else if (data.type === 'end') this.queue.end(data.stream);
        else if (data.type === 'flush') {
          const flushed = this.queue.flush();
          this.port.postMessage({ type: 'flushed', time: currentTime, ...(flushed ?? {}) });
        }
      };
    }

    process(_inputs, outputs) {
      const channels = outputs[0];
      const messages = this.queue.render(channels[0], currentTime);
      for (let c = 1; c < channels.length; c++) channels[c].set(channels[0]);
      for (const message of messages) this.port.postMessage(message);
      return true;
    }
  }
  registerProcessor('avatar-player', PlayerProcessor);
}
