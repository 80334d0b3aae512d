// A minimal fragmented-MP4 muxer for one H.264 track (ISO/IEC 14496-12 and -15), for MSE.
// initSegment() -> ftyp+moov; fragment() -> moof+mdat holding one access unit.

export const TIMESCALE = 90000;

function box(type, ...payloads) {
  let size = 8;
  for (const p of payloads) size += p.length;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setUint32(0, size);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  let pos = 8;
  for (const p of payloads) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

function u8(...values) {
  return Uint8Array.from(values);
}

function u32(v) {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, v >>> 0);
  return out;
}

function u16(v) {
  const out = new Uint8Array(2);
  new DataView(out.buffer).setUint16(0, v);
  return out;
}

function u64(v) {
  const out = new Uint8Array(8);
  const view = new DataView(out.buffer);
  view.setUint32(0, Math.floor(v / 2 ** 32));
  view.setUint32(4, v % 2 ** 32);
  return out;
}

function zeros(n) {
  return new Uint8Array(n);
}

function fullBox(type, version, flags, ...payloads) {
  return box(type, u8(version, (flags >> 16) & 0xff, (flags >> 8) & 0xff, flags & 0xff), ...payloads);
}

const MATRIX = Uint8Array.from([
  0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0x40, 0, 0, 0,
]);

function avcC(sps, pps) {
  return box(
    "avcC",
    u8(1, sps[1], sps[2], sps[3], 0xff, 0xe1),
    u16(sps.length),
    sps,
    u8(1),
    u16(pps.length),
    pps,
  );
}

/** ftyp + moov for a video track of the given size with its SPS/PPS. */
export function initSegment({ width, height, sps, pps }) {
  const ftyp = box("ftyp", new TextEncoder().encode("isom"), u32(512),
    new TextEncoder().encode("isomiso2avc1iso6mp41"));
  const mvhd = fullBox("mvhd", 0, 0, u32(0), u32(0), u32(1000), u32(0), u32(0x00010000),
    u16(0x0100), zeros(10), MATRIX, zeros(24), u32(2));
  const tkhd = fullBox("tkhd", 0, 3, u32(0), u32(0), u32(1), u32(0), u32(0), zeros(8), u16(0),
    u16(0), u16(0), u16(0), MATRIX, u32(width << 16), u32(height << 16));
  const mdhd = fullBox("mdhd", 0, 0, u32(0), u32(0), u32(TIMESCALE), u32(0), u16(0x55c4), u16(0));
  const hdlr = fullBox("hdlr", 0, 0, u32(0), new TextEncoder().encode("vide"), zeros(12),
    new TextEncoder().encode("rtcc\0"));
  const vmhd = fullBox("vmhd", 0, 1, zeros(8));
  const dinf = box("dinf", fullBox("dref", 0, 0, u32(1), fullBox("url ", 0, 1)));
  const avc1 = box("avc1", zeros(6), u16(1), zeros(16), u16(width), u16(height),
    u32(0x00480000), u32(0x00480000), u32(0), u16(1), zeros(32), u16(0x0018), u16(0xffff),
    avcC(sps, pps));
  const stbl = box("stbl",
    fullBox("stsd", 0, 0, u32(1), avc1),
    fullBox("stts", 0, 0, u32(0)),
    fullBox("stsc", 0, 0, u32(0)),
    fullBox("stsz", 0, 0, u32(0), u32(0)),
    fullBox("stco", 0, 0, u32(0)));
  const minf = box("minf", vmhd, dinf, stbl);
  const mdia = box("mdia", mdhd, hdlr, minf);
  const trak = box("trak", tkhd, mdia);
  const mvex = box("mvex", fullBox("trex", 0, 0, u32(1), u32(1), u32(0), u32(0), u32(0)));
  const moov = box("moov", mvhd, trak, mvex);
  const out = new Uint8Array(ftyp.length + moov.length);
  out.set(ftyp, 0);
  out.set(moov, ftyp.length);
  return out;
}

/** moof + mdat with one sample (an AVCC access unit) at decode time `dts` (TIMESCALE units). */
export function fragment(sequence, dts, duration, sample, key) {
  const flags = key ? 0x02000000 : 0x01010000;
  const trunFlags = 0x000001 | 0x000100 | 0x000200 | 0x000400;
  const mfhd = fullBox("mfhd", 0, 0, u32(sequence));
  const tfhd = fullBox("tfhd", 0, 0x020000, u32(1));
  const tfdt = fullBox("tfdt", 1, 0, u64(dts));
  // data_offset is patched below once the moof size is known.
  const trun = fullBox("trun", 0, trunFlags, u32(1), u32(0), u32(duration), u32(sample.length),
    u32(flags));
  const traf = box("traf", tfhd, tfdt, trun);
  const moof = box("moof", mfhd, traf);
  const mdat = box("mdat", sample);
  // trun's data_offset: from the moof start to the first sample byte (after the mdat header).
  const trunOffset = moof.length - trun.length;
  new DataView(moof.buffer).setUint32(trunOffset + 16, moof.length + 8);
  const out = new Uint8Array(moof.length + mdat.length);
  out.set(moof, 0);
  out.set(mdat, moof.length);
  return out;
}
