"""The page `--output web` serves: the avatar's video at its native size on a transparent page, nothing else
(an OBS browser source points at it directly). `?stats=1` overlays FPS and latency.

The page offers a receive-only video track and a data channel ("clock") to the server. The page syncs its
clock to the server's as NTP does: it sends {ping} (its performance.now()) every second, the server answers
{pong, server_ms} at once, and the answer with the shortest round trip gives the offset (its error is at
most half that round trip). For every frame the server hands to its encoder it sends {pts, capture_ms}
(the frame's RTP media time and its capture time in the server's clock); the page turns the capture time
into its own clock with the offset. (Noting `performance.now()` when the message was handled instead made
every delay in handling it, e.g. a busy page, look like a shorter latency.) Each
displayed frame's `rtpTimestamp` (requestVideoFrameCallback) is the pts plus the sender's random origin, which
the page finds by intersecting the candidate origins of successive frames (and learns again after 30 misses).
The latency is the frame's expected display time minus its capture time. The page sends each latency back
({latency_ms}) for the run's summary and keeps them in `window.liveViewer` for tests. It reconnects on its
own when the run restarts.

With `--background transparent` the offer's answer carries `alpha` ({width, height, alpha_x}): each video frame
is the colour and, alpha_x px to the right, the person's matte as grey (live.io.alpha_pack). The page then hides
the <video> (it still plays: its frame callbacks keep the sync, stats and latency) and draws each frame on a
<canvas>, the colour with the grey's luma as its alpha (values within ALPHA_FLOOR of 0 or 255 snapped to them:
the codec's noise), so what is behind the page (OBS's scene) shows around the person. Without it the page is
as it was: the <video> itself. `?background=CSS` sets the page's background (tests; default transparent).
"""

PAGE_HTML = """<!doctype html>
<html><head><meta charset="utf-8"><title>live avatar</title>
<style>
html, body { margin: 0; padding: 0; background: transparent; overflow: hidden; }
video, canvas { display: block; }
video.packed { position: fixed; left: 0; top: 0; opacity: 0; pointer-events: none; }
canvas { display: none; }
#stats { position: fixed; left: 4px; top: 4px; font: 12px monospace; color: #fff; white-space: pre;
         background: rgba(0, 0, 0, 0.6); padding: 2px 4px; display: none; }
</style></head>
<body><video id="video" autoplay muted playsinline></video><canvas id="canvas"></canvas><div id="stats"></div>
<script>
"use strict";
const params = new URLSearchParams(location.search);
const video = document.getElementById("video");
const statsBox = document.getElementById("stats");
const viewer = window.liveViewer = {
  state: "new", error: null, latencies_ms: [], presented: 0, origin: null, clock_offset_ms: null, clock_rtt_ms: null,
  alpha: null, composited: 0,
};
if (params.has("background")) document.body.style.background = params.get("background");
const canvas = document.getElementById("canvas");
const canvasContext = canvas.getContext("2d", { willReadFrequently: true });
const scratch = document.createElement("canvas");
const scratchContext = scratch.getContext("2d", { willReadFrequently: true });
const ALPHA_FLOOR = 8;
const alphaOfLuma = new Uint8ClampedArray(256).map((_, luma) => (luma - ALPHA_FLOOR) * 255 / (255 - 2 * ALPHA_FLOOR));

function useLayout(alpha) {  // the answer's alpha layout, or null: the plain video
  viewer.alpha = alpha || null;
  video.classList.toggle("packed", viewer.alpha !== null);
  canvas.style.display = viewer.alpha === null ? "none" : "block";
}

function composite() {  // the current video frame: colour | gutter | alpha as grey -> the canvas, with alpha
  const layout = viewer.alpha;
  if (video.videoWidth < layout.alpha_x + layout.width || video.videoHeight < layout.height) return;
  if (scratch.width !== video.videoWidth || scratch.height !== video.videoHeight) {
    scratch.width = video.videoWidth; scratch.height = video.videoHeight;
  }
  if (canvas.width !== layout.width || canvas.height !== layout.height) {
    canvas.width = layout.width; canvas.height = layout.height;
  }
  scratchContext.drawImage(video, 0, 0);
  const colour = scratchContext.getImageData(0, 0, layout.width, layout.height);
  const grey = scratchContext.getImageData(layout.alpha_x, 0, layout.width, layout.height).data;
  const pixels = colour.data;
  for (let i = 0; i < pixels.length; i += 4) {
    pixels[i + 3] = alphaOfLuma[(grey[i] * 77 + grey[i + 1] * 150 + grey[i + 2] * 29) >> 8];
  }
  canvasContext.putImageData(colour, 0, 0);
  viewer.composited += 1;
}
const captured = new Map();  // pts -> capture time in this page's clock (ms)
let candidates = null;
let agreeing = 0;
let misses = 0;
let channel = null;

function onClock(message) {
  const clock = JSON.parse(message.data);
  if ("pong" in clock) {  // server clock - page clock, from the shortest round trip so far
    const roundTrip = performance.now() - clock.pong;
    if (viewer.clock_rtt_ms === null || roundTrip <= viewer.clock_rtt_ms) {
      viewer.clock_rtt_ms = roundTrip;
      viewer.clock_offset_ms = clock.server_ms - (clock.pong + roundTrip / 2);
    }
    return;
  }
  if (viewer.clock_offset_ms === null) return;
  captured.set(clock.pts, clock.capture_ms - viewer.clock_offset_ms);
  if (captured.size > 300) captured.delete(captured.keys().next().value);
}

function ping() {
  if (channel && channel.readyState === "open") channel.send(JSON.stringify({ ping: performance.now() }));
}
setInterval(ping, 1000);

function captureTimeOf(rtpTimestamp) {
  if (viewer.origin === null) {
    if (captured.size === 0) return undefined;
    const here = new Set();
    for (const pts of captured.keys()) here.add((rtpTimestamp - pts) >>> 0);
    candidates = candidates === null ? here : new Set([...candidates].filter((origin) => here.has(origin)));
    agreeing = candidates.size ? agreeing + 1 : 0;
    if (candidates.size === 1 && agreeing >= 3) viewer.origin = [...candidates][0];
    if (candidates.size === 0) candidates = null;
    return undefined;
  }
  const captureTime = captured.get((rtpTimestamp - viewer.origin) >>> 0);
  misses = captureTime === undefined ? misses + 1 : 0;
  if (misses > 30) { viewer.origin = null; candidates = null; agreeing = 0; misses = 0; }  // learn it again
  return captureTime;
}

function onFrame(now, metadata) {
  viewer.presented = metadata.presentedFrames;
  if (viewer.alpha !== null) composite();
  if (metadata.rtpTimestamp !== undefined) {
    const captureTime = captureTimeOf(metadata.rtpTimestamp >>> 0);
    if (captureTime !== undefined) {
      const latency = metadata.expectedDisplayTime - captureTime;
      viewer.latencies_ms.push(latency);
      if (viewer.latencies_ms.length > 20000) viewer.latencies_ms.shift();
      if (channel && channel.readyState === "open") channel.send(JSON.stringify({ latency_ms: latency }));
    }
  }
  video.requestVideoFrameCallback(onFrame);
}
video.requestVideoFrameCallback(onFrame);

function showStats() {
  const recent = viewer.latencies_ms.slice(-60).sort((a, b) => a - b);
  const p50 = recent.length ? recent[Math.floor(recent.length / 2)].toFixed(0) : "-";
  const fps = ((viewer.presented - (showStats.last || 0)) * 2).toFixed(0);
  showStats.last = viewer.presented;
  const size = viewer.alpha === null ? `${video.videoWidth}x${video.videoHeight}`
    : `${viewer.alpha.width}x${viewer.alpha.height} with alpha`;
  statsBox.textContent = `${fps} fps  latency ${p50} ms  ${size}`;
}
if (params.get("stats") === "1") { statsBox.style.display = "block"; setInterval(showStats, 500); }

function retry(reason) {
  viewer.error = reason;
  setTimeout(connect, 2000);
}

async function iceGathered(pc) {
  if (pc.iceGatheringState === "complete") return;
  await new Promise((resolve) => {
    pc.addEventListener("icegatheringstatechange", () => { if (pc.iceGatheringState === "complete") resolve(); });
    setTimeout(resolve, 3000);
  });
}

async function connect() {
  const pc = new RTCPeerConnection({ iceServers: [] });
  let retried = false;
  const again = (reason) => { if (!retried) { retried = true; pc.close(); retry(reason); } };
  pc.addTransceiver("video", { direction: "recvonly" });
  channel = pc.createDataChannel("clock");
  channel.onmessage = onClock;
  viewer.clock_offset_ms = viewer.clock_rtt_ms = null;  // a new connection may be another server process
  channel.onopen = () => { for (let i = 0; i < 5; i++) setTimeout(ping, 50 * i); };
  pc.ontrack = (event) => {
    if ("jitterBufferTarget" in event.receiver) event.receiver.jitterBufferTarget = 0;  // play as soon as decoded
    video.srcObject = event.streams[0] || new MediaStream([event.track]);
  };
  pc.onconnectionstatechange = () => {
    viewer.state = pc.connectionState;
    if (["failed", "closed", "disconnected"].includes(pc.connectionState)) again("connection " + pc.connectionState);
  };
  try {
    await pc.setLocalDescription(await pc.createOffer());
    await iceGathered(pc);
    const response = await fetch("offer" + location.search, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ sdp: pc.localDescription.sdp, type: pc.localDescription.type }),
    });
    if (!response.ok) { again("server answered " + response.status); return; }
    const answer = await response.json();
    useLayout(answer.alpha);
    await pc.setRemoteDescription({ sdp: answer.sdp, type: answer.type });
  } catch (error) {
    again(String(error));
  }
}
connect();
</script></body></html>
"""
