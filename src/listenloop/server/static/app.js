// listenloop page: microphone -> AudioWorklet (16 kHz PCM16) -> WebSocket; events -> strip, transcript, responses.
// Protocol: docs/protocol.md. No build step, no external resources.
"use strict";

const TARGET_RATE = 16000;      // Hz, the server's rate
const FRAME_SAMPLES = 1600;     // 0.1 s per frame sent
const STRIP_MARKS = 150;        // marks kept on the strip (60 s)
const CLOSE_TEXT = {
  1000: "stopped", 1006: "connection lost", 1009: "frame too large for the transport", 1012: "server shutting down",
  1011: "server error", 4400: "bad message", 4401: "token missing or wrong (open the page with ?token=...)",
  4403: "this page's origin is not allowed", 4408: "timed out", 4413: "frame too large", 4415: "bad audio frame",
  4429: "audio arriving too fast", 4503: "server busy: too many sessions", 4504: "server could not keep up",
};

const $ = (id) => document.getElementById(id);
const ui = {
  state: $("state"), error: $("error"), toggle: $("toggle"), strip: $("strip"), count: $("decision-count"),
  time: $("stream-time"), modeNow: $("mode-now"), transcript: $("transcript"), responses: $("responses"),
  sounds: $("sounds-list"), instruction: $("instruction"), send: $("send-instruction"),
};

let live = null;  // the current connection: {ws, ctx, stream, node, ready, speaking, ...}

function setState(name, detail) {
  ui.state.className = `state ${name}`;
  ui.state.dataset.state = name;
  ui.state.textContent = detail ? `${name}: ${detail}` : name;
  const on = name === "listening" || name === "answering";
  ui.instruction.disabled = !on;
  ui.send.disabled = !on;
  ui.toggle.textContent = (on || name === "connecting") ? "Stop" : "Start listening";
}

function showError(text) {
  ui.error.hidden = !text;
  ui.error.textContent = text || "";
}

function wsUrl() {
  const token = new URLSearchParams(location.search).get("token");
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${location.host}/ws${token ? `?token=${encodeURIComponent(token)}` : ""}`;
}

async function start() {
  showError("");
  setState("connecting");
  const conn = { ready: false, responding: new Set(), playUntil: 0, decisions: 0, segments: new Map() };
  live = conn;
  try {
    conn.stream = await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: true, noiseSuppression: false, autoGainControl: false },
    });
    conn.ctx = new AudioContext();
    await conn.ctx.audioWorklet.addModule("/static/capture-worklet.js");
    conn.node = new AudioWorkletNode(conn.ctx, "pcm16-capture", {
      numberOfOutputs: 1, processorOptions: { targetRate: TARGET_RATE, frameSamples: FRAME_SAMPLES },
    });
    const mute = conn.ctx.createGain();
    mute.gain.value = 0;
    conn.ctx.createMediaStreamSource(conn.stream).connect(conn.node).connect(mute).connect(conn.ctx.destination);
  } catch (e) {
    fail(conn, `microphone unavailable: ${e.message || e}`);
    return;
  }
  if (live !== conn) return;
  conn.ws = new WebSocket(wsUrl());
  conn.ws.binaryType = "arraybuffer";
  conn.ws.onopen = () => conn.ws.send(JSON.stringify({ type: "start", options: {
    mode: $("mode").value, sounds: $("sounds").checked, speech: $("speech").checked } }));
  conn.ws.onmessage = (m) => onMessage(conn, m.data);
  conn.ws.onclose = (e) => onClose(conn, e);
  conn.node.port.onmessage = (e) => {
    if (conn.ready && conn.ws.readyState === WebSocket.OPEN) conn.ws.send(e.data);
  };
}

function release(conn) {
  if (conn.node) { conn.node.port.postMessage("stop"); conn.node.disconnect(); }
  if (conn.stream) conn.stream.getTracks().forEach((t) => t.stop());
  const ctx = conn.ctx;
  if (ctx) setTimeout(() => ctx.close(), Math.max(0, (conn.playUntil - ctx.currentTime) * 1000));
}

function fail(conn, text) {
  release(conn);
  if (live === conn) live = null;
  setState("error");
  showError(text);
}

function stop() {
  const conn = live;
  if (!conn) return;
  conn.ready = false;
  if (conn.node) conn.node.port.postMessage("stop");
  if (conn.stream) conn.stream.getTracks().forEach((t) => t.stop());
  if (conn.ws && conn.ws.readyState === WebSocket.OPEN) {
    conn.ws.send(JSON.stringify({ type: "stop" }));
    setState("connecting", "finishing");
  } else {
    release(conn);
    live = null;
    setState("idle");
  }
}

function onClose(conn, e) {
  release(conn);
  if (live === conn) live = null;
  if (e.code === 1000) {
    setState("idle", "stopped");
  } else {
    setState("error");
    showError(`session closed (${e.code}): ${e.reason || CLOSE_TEXT[e.code] || "unknown reason"}`);
  }
}

function onMessage(conn, data) {
  if (data instanceof ArrayBuffer) { play(conn, data); return; }
  const m = JSON.parse(data);
  const handler = HANDLERS[m.type];
  if (handler) handler(conn, m);
}

// What each mode does, in a line the page shows beside the mode it is in.
const MODE_HELP = {
  assistant: "it answers questions addressed to it and stays silent otherwise.",
  transcribe: "every sentence heard comes back as a caption; questions are not answered.",
  translate: "what is said comes back translated; questions are not answered.",
  quiet: "it listens and speaks up only for alarms; nothing else is answered.",
};

function showMode(mode) {
  ui.modeNow.textContent = mode;
  $("mode-help").textContent = MODE_HELP[mode] || "";
}

const HANDLERS = {
  ready(conn, m) {
    conn.ready = true;
    setState("listening");
    showMode($("mode").value);
    if (!m.capabilities.sounds) $("sounds").checked = false;
  },
  decision(conn, m) {
    conn.decisions += 1;
    const mark = document.createElement("span");
    mark.className = `mark ${m.action}${conn.voice ? " speech" : ""}`;
    mark.title = `chunk ${m.chunk} at ${m.t.toFixed(1)} s: ${m.action}${m.task ? ` (${m.task})` : ""} ${m.reason}`;
    ui.strip.appendChild(mark);
    while (ui.strip.childElementCount > STRIP_MARKS) ui.strip.firstElementChild.remove();
    ui.strip.dataset.count = String(conn.decisions);
    ui.count.textContent = String(conn.decisions);
    ui.time.textContent = m.t.toFixed(1);
  },
  speech(conn, m) { conn.voice = m.active; },
  transcript(conn, m) {
    let row = conn.segments.get(m.segment);
    if (!row) {
      row = document.createElement("p");
      row.innerHTML = '<span class="t"></span><span class="text"></span>';
      ui.transcript.appendChild(row);
      conn.segments.set(m.segment, row);
    }
    row.className = `segment ${m.final ? "final" : "partial"}`;
    row.querySelector(".t").textContent = `${m.t0.toFixed(1)} s${m.lang ? ` [${m.lang}]` : ""}`;
    row.querySelector(".text").textContent = m.text;
    ui.transcript.scrollTop = ui.transcript.scrollHeight;
  },
  response_start(conn, m) {
    responseItem(m.id, m.task, m.emotion).classList.add("pending");
    conn.responding.add(m.id);
    setState("answering");
  },
  response_delta(conn, m) {
    responseItem(m.id).querySelector(".text").textContent += m.text;
  },
  response(conn, m) {
    const item = responseItem(m.id, m.task, m.emotion);
    item.classList.remove("pending");
    if (m.interrupted) item.classList.add("interrupted");
    item.querySelector(".text").textContent = m.text;
    item.querySelector(".latency").textContent = ` ${Math.round(m.latency_ms)} ms${m.label ? ` · ${m.label}` : ""}`;
    conn.responding.delete(m.id);
    settle(conn);
  },
  sound(conn, m) {
    if (m.state !== "start") return;
    const li = document.createElement("li");
    li.textContent = `${m.t0.toFixed(1)} s ${m.label} (${m.score.toFixed(2)})`;
    ui.sounds.prepend(li);
  },
  task(conn, m) { showMode(m.mode); },
  error(conn, m) { showError(m.message); },
  closing(conn, m) { showError(`${m.name}: ${m.reason}`); },
  summary(conn, m) {
    ui.time.textContent = m.audio_s.toFixed(1);
  },
};

function responseItem(id, task, emotion) {
  let item = document.getElementById(`response-${id}`);
  if (!item) {
    item = document.createElement("li");
    item.id = `response-${id}`;
    item.innerHTML = '<span class="badge task"></span><span class="badge emotion"></span>' +
      '<span class="text"></span><span class="latency"></span>';
    ui.responses.prepend(item);
  }
  if (task) {
    item.className = `response ${emotion || "normal"}` + (item.classList.contains("pending") ? " pending" : "");
    item.querySelector(".task").textContent = task;
    item.querySelector(".emotion").textContent = emotion || "normal";
  }
  return item;
}

function play(conn, buffer) {
  const pcm = new Int16Array(buffer);
  if (!conn.ctx || !pcm.length) return;
  const audio = conn.ctx.createBuffer(1, pcm.length, TARGET_RATE);
  const ch = audio.getChannelData(0);
  for (let i = 0; i < pcm.length; i++) ch[i] = pcm[i] / 32768;
  const src = conn.ctx.createBufferSource();
  src.buffer = audio;
  src.connect(conn.ctx.destination);
  const at = Math.max(conn.ctx.currentTime, conn.playUntil);
  src.start(at);
  conn.playUntil = at + audio.duration;
  setState("answering");
  src.onended = () => settle(conn);
}

function settle(conn) {
  if (live !== conn || !conn.ready) return;
  const playing = conn.ctx && conn.playUntil > conn.ctx.currentTime + 0.05;
  if (!conn.responding.size && !playing) setState("listening");
}

$("session-form").addEventListener("submit", (e) => {
  e.preventDefault();
  if (live) stop(); else start();
});

$("instruction-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const text = ui.instruction.value.trim();
  if (!text || !live || !live.ready) return;
  live.ws.send(JSON.stringify({ type: "instruction", text }));
  ui.instruction.value = "";
});

$("mode").addEventListener("change", () => { if (!live) showMode($("mode").value); });
