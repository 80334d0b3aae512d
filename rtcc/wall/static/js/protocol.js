// The wall WebSocket's binary frame header (see rtcc/wall/protocol.py for the layout).

export const HEADER_SIZE = 20;
export const KIND_ACCESS_UNIT = 1;
export const FLAG_KEYFRAME = 0x01;

/** Parse one binary message: {camera, seq, t (µs, Number), key, exposed, people, payload}. */
export function parseFrame(buffer) {
  const view = new DataView(buffer);
  if (buffer.byteLength < HEADER_SIZE || view.getUint8(0) !== KIND_ACCESS_UNIT) return null;
  const flags = view.getUint8(1);
  return {
    camera: view.getUint16(2),
    seq: view.getUint32(4),
    t: Number(view.getBigUint64(8)),
    key: (flags & FLAG_KEYFRAME) !== 0,
    exposed: view.getUint16(16),
    people: view.getUint16(18),
    payload: new Uint8Array(buffer, HEADER_SIZE),
  };
}
