/**
 * Microphone capture, run in an AudioWorklet (imported as text and loaded from a Blob URL).
 *
 * `FrameAssembler` (pure) cuts the input into fixed frames of PCM16 at the context rate;
 * `MicProcessor` posts each frame to the main thread as {pcm: Int16Array, pts} (pts counts
 * samples since capture began, so the server's audio clock follows the microphone's).
 * While muted ({type: 'mute', muted: true}) it sends digital silence instead of dropping
 * frames: the server's voice detector then ends the turn the user was in.
 */

export class FrameAssembler {
  /** @param {number} frameSamples samples per frame (20 ms at the context rate) */
  constructor(frameSamples) {
    this.frame = new Int16Array(frameSamples);
    this.filled = 0;
    this.pts = 0;
  }

  /**
   * Append float samples; returns the completed frames.
   * @param {Float32Array | null} input
   * @param {number} count samples in this quantum
   * @param {boolean} muted
   * @returns {{pcm: Int16Array, pts: number}[]}
   */
  push(input, count, muted) {
    const done = [];
    for (let i = 0; i < count; i++) {
      const x = muted || !input ? 0 : Math.max(-1, Math.min(1, input[i]));
      this.frame[this.filled++] = x < 0 ? x * 32768 : x * 32767;
      if (this.filled === this.frame.length) {
        done.push({ pcm: this.frame, pts: this.pts });
        this.pts += this.frame.length;
        this.frame = new Int16Array(this.frame.length);
        this.filled = 0;
      }
    }
    return done;
  }
}

if (typeof registerProcessor === 'function') {
  class MicProcessor extends AudioWorkletProcessor {
    constructor() {
      super();
      this.assembler = new FrameAssembler(Math.round(sampleRate / 50));
      this.muted = false;
      this.port.onmessage = ({ data }) => {
        if (data.type === 'mute') this.muted = Boolean(data.muted);
      };
    }

    process(inputs) {
      const channel = inputs[0] && inputs[0][0];
      const count = channel ? channel.length : 128;
      for (const frame of this.assembler.push(channel ?? null, count, this.muted)) {
        this.port.postMessage(frame, [frame.pcm.buffer]);
      }
      return true;
    }
  }
  registerProcessor('avatar-mic', MicProcessor);
}
