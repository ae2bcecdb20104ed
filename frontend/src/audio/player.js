/**
 * Main-thread side of playback: feeds the player worklet, tracks each reply's position on the
 * AudioContext clock, and tells the app when a reply starts, ends, underruns or is stopped.
 *
 * `playheadMs(stream)` is what lip-sync and captions read every animation frame: the position
 * (ms of the stream's audio) being heard now, from the worklet's last report extrapolated with
 * `getOutputTimestamp()`, so output latency is accounted for.
 */

export class Player extends EventTarget {
  /** @param {AudioContext} context (worklets loaded) */
  constructor(context) {
    super();
    this.context = context;
    this.node = new AudioWorkletNode(context, 'avatar-player', {
      numberOfInputs: 0,
      outputChannelCount: [1],
    });
    this.node.connect(context.destination);
    /** @type {{stream: number, played: number, rate: number, time: number} | null} */
    this.last = null;
    this.active = null; // stream being heard
    this.underruns = 0;
    this.node.port.onmessage = ({ data }) => this._onMessage(data);
  }

  /** Queue PCM16 samples of `stream` (a reply's audio stream). */
  push(stream, pcm, rate) {
    this.node.port.postMessage({ type: 'push', stream, pcm, rate }, [pcm.buffer]);
  }

  /** The server sent all of `stream`'s audio. */
  end(stream) {
    this.node.port.postMessage({ type: 'end', stream });
  }

  /**
   * Stop at once and drop what is queued. Resolves with {stream, played, rate} of the stream
   * that was playing (or null), exact to the sample the worklet stopped at.
   */
  flush() {
    return new Promise((resolve) => {
      const onFlushed = (event) => {
        this.removeEventListener('flushed', onFlushed);
        resolve(event.detail);
      };
      this.addEventListener('flushed', onFlushed);
      this.node.port.postMessage({ type: 'flush' });
    });
  }

  get playing() {
    return this.active !== null;
  }

  /** Ms of `stream` being heard now, or null when that stream is not playing. */
  playheadMs(stream) {
    const last = this.last;
    if (!last || last.stream !== stream || this.active !== stream) return null;
    const now = this._heardTime();
    const ahead = Math.min(Math.max(now - last.time, -0.5), 0.05); // clamp stale reports
    return Math.max(0, ((last.played + ahead * last.rate) / last.rate) * 1000);
  }

  _heardTime() {
    const ts = this.context.getOutputTimestamp?.();
    if (ts && ts.contextTime > 0) {
      return ts.contextTime + (performance.now() - ts.performanceTime) / 1000;
    }
    return this.context.currentTime - (this.context.outputLatency || this.context.baseLatency || 0);
  }

  _onMessage(data) {
    if (data.type === 'flushed') {
      const detail = data.stream === undefined ? null : data;
      this.active = null;
      this.last = null;
      this.dispatchEvent(new CustomEvent('flushed', { detail }));
      return;
    }
    this.last = data;
    if (data.type === 'started') this.active = data.stream;
    if (data.type === 'underrun') this.underruns += 1;
    if (data.type === 'ended') this.active = null;
    this.dispatchEvent(new CustomEvent(data.type, { detail: data }));
  }

  close() {
    this.node.port.onmessage = null;
    this.node.disconnect();
  }
}
