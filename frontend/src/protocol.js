/**
 * Wire protocol v1 helpers: the binary audio frame header and small constants.
 *
 * Binary frames carry a 20-byte little-endian header, then PCM16 mono samples
 * (see docs/protocol.md, "Binary audio frames"):
 *
 *   offset 0 u8 version (1) | 1 u8 kind (1 mic, 2 voice) | 2 u16 stream | 4 u32 seq
 *   8 u64 pts (samples since the stream began) | 16 u32 sample_rate | 20… PCM16 samples
 *
 * Pure: no DOM, no sockets, so node tests cover it.
 */

export const PROTOCOL_VERSION = '1';
export const HEADER_BYTES = 20;
export const FRAME_VERSION = 1;
export const KIND_INPUT_AUDIO = 1;
export const KIND_OUTPUT_AUDIO = 2;
export const SAMPLE_RATES = Object.freeze([8000, 16000, 22050, 24000, 44100, 48000]);

/**
 * Build one binary frame.
 * @param {{kind: number, stream: number, seq: number, pts: number, sampleRate: number,
 *          pcm: Int16Array}} frame
 * @returns {ArrayBuffer}
 */
export function encodeFrame({ kind, stream, seq, pts, sampleRate, pcm }) {
  const buffer = new ArrayBuffer(HEADER_BYTES + pcm.byteLength);
  const view = new DataView(buffer);
  view.setUint8(0, FRAME_VERSION);
  view.setUint8(1, kind);
  view.setUint16(2, stream, true);
  view.setUint32(4, seq >>> 0, true);
  view.setBigUint64(8, BigInt(pts), true);
  view.setUint32(16, sampleRate, true);
  new Int16Array(buffer, HEADER_BYTES, pcm.length).set(pcm);
  return buffer;
}

/**
 * Parse one binary frame. Throws an Error naming the problem.
 * @param {ArrayBuffer} buffer
 * @returns {{kind: number, stream: number, seq: number, pts: number, sampleRate: number,
 *            pcm: Int16Array}}
 */
export function decodeFrame(buffer) {
  if (buffer.byteLength < HEADER_BYTES) throw new Error(`frame of ${buffer.byteLength} bytes`);
  const view = new DataView(buffer);
  const version = view.getUint8(0);
  if (version !== FRAME_VERSION) throw new Error(`unsupported frame version ${version}`);
  const payload = buffer.byteLength - HEADER_BYTES;
  if (payload % 2) throw new Error('odd PCM16 payload');
  return {
    kind: view.getUint8(1),
    stream: view.getUint16(2, true),
    seq: view.getUint32(4, true),
    pts: Number(view.getBigUint64(8, true)),
    sampleRate: view.getUint32(16, true),
    // A copy of just the samples, so it can be transferred to the audio thread alone.
    pcm: new Int16Array(buffer.slice(HEADER_BYTES)),
  };
}
