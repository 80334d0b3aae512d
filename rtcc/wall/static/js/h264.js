// H.264 Annex-B helpers for the browser: NAL splitting, SPS fields, codec strings, AVCC samples.

export const NAL_IDR = 5;
export const NAL_SEI = 6;
export const NAL_SPS = 7;
export const NAL_PPS = 8;
export const NAL_AUD = 9;

/** NAL units (Uint8Array views, no start codes) of an Annex-B access unit. */
export function splitAnnexB(data) {
  const nals = [];
  const n = data.length;
  let i = 0;
  let start = -1;
  while (i + 2 < n) {
    if (data[i] === 0 && data[i + 1] === 0 && data[i + 2] === 1) {
      if (start >= 0) {
        let end = i;
        while (end > start && data[end - 1] === 0) end--; // 4-byte code's leading zero
        if (end > start) nals.push(data.subarray(start, end));
      }
      i += 3;
      start = i;
    } else {
      i++;
    }
  }
  if (start >= 0 && start < n) nals.push(data.subarray(start, n));
  return nals;
}

export function nalType(nal) {
  return nal[0] & 0x1f;
}

/** First SPS and PPS of a list of NAL units (or null). */
export function parameterSets(nals) {
  let sps = null;
  let pps = null;
  for (const nal of nals) {
    const t = nalType(nal);
    if (t === NAL_SPS && !sps) sps = nal;
    else if (t === NAL_PPS && !pps) pps = nal;
  }
  return { sps, pps };
}

function hex2(v) {
  return v.toString(16).padStart(2, "0").toUpperCase();
}

/** "avc1.PPCCLL" from the SPS's profile, constraint flags and level. */
export function codecString(sps) {
  return `avc1.${hex2(sps[1])}${hex2(sps[2])}${hex2(sps[3])}`;
}

class BitReader {
  constructor(bytes) {
    // Remove emulation prevention bytes (00 00 03).
    const out = [];
    let zeros = 0;
    for (const b of bytes) {
      if (zeros >= 2 && b === 3) {
        zeros = 0;
        continue;
      }
      out.push(b);
      zeros = b === 0 ? zeros + 1 : 0;
    }
    this.bytes = out;
    this.pos = 0;
  }
  u(n) {
    let v = 0;
    for (let k = 0; k < n; k++) {
      const byte = this.bytes[this.pos >> 3];
      if (byte === undefined) throw new Error("SPS truncated");
      v = v * 2 + ((byte >> (7 - (this.pos & 7))) & 1);
      this.pos++;
    }
    return v;
  }
  ue() {
    let zeros = 0;
    while (this.u(1) === 0) {
      zeros++;
      if (zeros > 31) throw new Error("bad exp-Golomb code");
    }
    return 2 ** zeros - 1 + (zeros ? this.u(zeros) : 0);
  }
  se() {
    const k = this.ue();
    return k & 1 ? (k + 1) / 2 : -(k / 2);
  }
}

const HIGH = new Set([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135]);

/** Coded picture size from an SPS NAL unit (with header byte): {width, height}. */
export function spsSize(sps) {
  const r = new BitReader(sps.subarray(1));
  const profile = r.u(8);
  r.u(16);
  r.ue();
  let chroma = 1;
  if (HIGH.has(profile)) {
    chroma = r.ue();
    if (chroma === 3) r.u(1);
    r.ue();
    r.ue();
    r.u(1);
    if (r.u(1)) {
      for (let i = 0; i < (chroma !== 3 ? 8 : 12); i++) {
        if (r.u(1)) {
          let last = 8;
          let next = 8;
          for (let j = 0; j < (i < 6 ? 16 : 64); j++) {
            if (next !== 0) next = (last + r.se() + 256) % 256;
            last = next === 0 ? last : next;
          }
        }
      }
    }
  }
  r.ue();
  const poc = r.ue();
  if (poc === 0) r.ue();
  else if (poc === 1) {
    r.u(1);
    r.se();
    r.se();
    const n = r.ue();
    for (let i = 0; i < n; i++) r.se();
  }
  r.ue();
  r.u(1);
  const wMbs = r.ue() + 1;
  const hMap = r.ue() + 1;
  const frameMbsOnly = r.u(1);
  if (!frameMbsOnly) r.u(1);
  r.u(1);
  let width = wMbs * 16;
  let height = (2 - frameMbsOnly) * hMap * 16;
  if (r.u(1)) {
    const left = r.ue(), right = r.ue(), top = r.ue(), bottom = r.ue();
    const cx = chroma === 0 || chroma === 3 ? 1 : 2;
    const cy = (chroma === 1 ? 2 : 1) * (2 - frameMbsOnly);
    width -= cx * (left + right);
    height -= cy * (top + bottom);
  }
  return { width, height };
}

/** An access unit as an AVCC sample (4-byte lengths), without SPS/PPS/AUD (they go in avcC). */
export function toAvccSample(nals) {
  const keep = nals.filter((n) => {
    const t = nalType(n);
    return t !== NAL_SPS && t !== NAL_PPS && t !== NAL_AUD;
  });
  let size = 0;
  for (const n of keep) size += 4 + n.length;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  let pos = 0;
  for (const n of keep) {
    view.setUint32(pos, n.length);
    out.set(n, pos + 4);
    pos += 4 + n.length;
  }
  return out;
}
