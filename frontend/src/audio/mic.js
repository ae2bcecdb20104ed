/**
 * Microphone capture: getUserMedia with echo cancellation and noise suppression, an AudioWorklet
 * that cuts 20 ms PCM16 frames at the context rate, and a callback per frame.
 */

export class Microphone {
  /**
   * @param {AudioContext} context (worklets loaded)
   * @param {(frame: {pcm: Int16Array, pts: number, sampleRate: number}) => void} onFrame
   */
  constructor(context, onFrame) {
    this.context = context;
    this.onFrame = onFrame;
    this.stream = null;
    this.node = null;
    this.source = null;
    this.muted = false;
  }

  async start() {
    this.stream = await navigator.mediaDevices.getUserMedia({
      audio: {
        echoCancellation: true,
        noiseSuppression: true,
        autoGainControl: true,
        channelCount: 1,
      },
    });
    this.source = this.context.createMediaStreamSource(this.stream);
    this.node = new AudioWorkletNode(this.context, 'avatar-mic', {
      numberOfInputs: 1,
      numberOfOutputs: 0,
      channelCount: 1,
      channelCountMode: 'explicit',
    });
    this.node.port.onmessage = ({ data }) =>
      this.onFrame({ pcm: data.pcm, pts: data.pts, sampleRate: this.context.sampleRate });
    this.source.connect(this.node);
    this.setMuted(this.muted);
  }

  /** Muted: frames keep flowing but carry silence, so the server's turn ends cleanly. */
  setMuted(muted) {
    this.muted = muted;
    this.node?.port.postMessage({ type: 'mute', muted });
  }

  stop() {
    this.source?.disconnect();
    if (this.node) this.node.port.onmessage = null;
    for (const track of this.stream?.getTracks() ?? []) track.stop();
    this.stream = this.node = this.source = null;
  }
}
