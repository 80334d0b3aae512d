// A minimal WHEP client: receive one camera over WebRTC (no trickle ICE).

function iceComplete(pc, timeoutMs) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      if (pc.iceGatheringState === "complete") {
        pc.removeEventListener("icegatheringstatechange", done);
        resolve();
      }
    };
    pc.addEventListener("icegatheringstatechange", done);
    setTimeout(resolve, timeoutMs);
  });
}

export async function whepPlay(cam, token, video) {
  const pc = new RTCPeerConnection({ iceServers: [] });
  pc.addTransceiver("video", { direction: "recvonly" });
  pc.ontrack = (event) => {
    video.srcObject = event.streams[0] || new MediaStream([event.track]);
    video.play().catch(() => {});
  };
  await pc.setLocalDescription(await pc.createOffer());
  await iceComplete(pc, 2000);
  const res = await fetch(`/wall/whep/${encodeURIComponent(cam)}`, {
    method: "POST",
    headers: { "Content-Type": "application/sdp", Authorization: `Bearer ${token}` },
    body: pc.localDescription.sdp,
  });
  if (res.status !== 201) {
    pc.close();
    let message = `HTTP ${res.status}`;
    try {
      message = (await res.json()).error || message;
    } catch (err) {
      /* keep the status */
    }
    throw new Error(message);
  }
  const location = res.headers.get("Location");
  await pc.setRemoteDescription({ type: "answer", sdp: await res.text() });
  return {
    pc,
    location,
    async close() {
      // End the session first (RFC 9725 DELETE), then the peer connection.
      await fetch(location, { method: "DELETE", headers: { Authorization: `Bearer ${token}` } })
        .catch(() => {});
      pc.close();
      video.srcObject = null;
    },
  };
}
