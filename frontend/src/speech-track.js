/**
 * What a reply says and when (pure): the `response.audio.segment` events of each audio stream,
 * looked up by playhead. Word, viseme and expression times in a segment are ms from the
 * segment's first sample; the segment starts `pts` samples into its stream.
 */

export class SpeechTrack {
  constructor() {
    /** @type {Map<number, {responseId: string, segments: object[]}>} */
    this.streams = new Map();
  }

  /** Add a `response.audio.segment` event. */
  add(segment) {
    let entry = this.streams.get(segment.stream);
    if (!entry) {
      entry = { responseId: segment.response_id, segments: [] };
      this.streams.set(segment.stream, entry);
    }
    entry.segments.push({ ...segment, startMs: (segment.pts / segment.sample_rate) * 1000 });
    entry.segments.sort((a, b) => a.startMs - b.startMs);
  }

  responseOf(stream) {
    return this.streams.get(stream)?.responseId ?? null;
  }

  streamOf(responseId) {
    for (const [stream, entry] of this.streams) if (entry.responseId === responseId) return stream;
    return null;
  }

  drop(stream) {
    this.streams.delete(stream);
  }

  /**
   * Where `playheadMs` of `stream` falls: the segment, the time inside it, and the index of the
   * word being spoken (-1 before the first word). Null when nothing of it is known.
   */
  at(stream, playheadMs) {
    const segments = this.streams.get(stream)?.segments;
    if (!segments?.length || playheadMs < segments[0].startMs) return null;
    let segment = segments[0];
    for (const s of segments) {
      if (s.startMs <= playheadMs) segment = s;
      else break;
    }
    const t = playheadMs - segment.startMs;
    let wordIndex = -1;
    segment.words.forEach((w, i) => {
      if (w.start_ms <= t) wordIndex = i;
    });
    return { segment, t, wordIndex };
  }

  /** Expressions of `stream` whose time falls in (fromMs, toMs]. */
  expressionsBetween(stream, fromMs, toMs) {
    const due = [];
    for (const s of this.streams.get(stream)?.segments ?? []) {
      for (const e of s.expressions) {
        const at = s.startMs + e.start_ms;
        if (at > fromMs && at <= toMs) due.push(e);
      }
    }
    return due;
  }
}
