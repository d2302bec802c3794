"""The demo page at /_sandbox/: instances, their state and QR, and buttons to act as the phone."""

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>WhatsApp provider sandbox</title>
<style>
 body { font-family: system-ui, sans-serif; margin: 2rem; color: #1b1b1b; }
 table { border-collapse: collapse; width: 100%; }
 th, td { border-bottom: 1px solid #ddd; padding: .5rem; text-align: left; vertical-align: top; }
 .state { font-weight: bold; }
 .open, .authorized { color: #137333; }
 .connecting, .notAuthorized, .starting, .sleepMode { color: #b06000; }
 .close, .refused, .blocked, .yellowCard { color: #a50e0e; }
 button { margin: .1rem; }
 code { background: #f3f3f3; padding: 0 .2rem; }
 img.qr { width: 200px; height: 200px; image-rendering: pixelated; }
 #error { color: #a50e0e; }
</style>
</head>
<body>
<h1>WhatsApp provider sandbox</h1>
<p>Evolution API v2 and GreenAPI, simulated. Clock: <span id="clock"></span>
 <span id="advance" hidden>
  <button data-advance="5">+5 s</button><button data-advance="20">+20 s</button>
  <button data-advance="60">+60 s</button></span></p>
<p><button id="new-green">New GreenAPI instance</button> <span id="created"></span></p>
<p id="error"></p>
<table>
 <thead><tr><th>Provider</th><th>Instance</th><th>State</th><th>Account</th>
 <th>QR / pairing code</th><th>Act as the phone</th></tr></thead>
 <tbody id="rows"><tr><td colspan="6">Loading…</td></tr></tbody>
</table>
<script>
"use strict";
const base = "/_sandbox";
async function call(method, path, body) {
  const response = await fetch(base + path, {
    method,
    headers: {"Content-Type": "application/json"},
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await response.json();
  document.getElementById("error").textContent = response.ok ? "" : (data.error || response.status);
  return data;
}
function cell(row, text, cls) {
  const td = row.insertCell();
  td.textContent = text == null ? "" : String(text);
  if (cls) { td.className = cls; }
  return td;
}
function button(td, label, action) {
  const b = document.createElement("button");
  b.textContent = label;
  b.addEventListener("click", async () => { await action(); refresh(); });
  td.appendChild(b);
}
function actions(td, inst) {
  const path = "/" + inst.provider + "/instances/" + encodeURIComponent(inst.key);
  if (inst.qr) { button(td, "Scan", () => call("POST", path + "/scan", {})); }
  const disconnect = (reason) => call("POST", path + "/disconnect", {reason});
  button(td, "Lose connection", () => disconnect("connection_lost"));
  button(td, "Log out from phone", () => disconnect("logged_out"));
  button(td, "Ban", () => call("POST", path + "/ban", {}));
  button(td, "Receive message", () => {
    const from = prompt("From phone number", "5511988887777");
    const text = from && prompt("Text", "Hello from the sandbox");
    return text ? call("POST", path + "/inbound", {from, text}) : null;
  });
}
function render(state) {
  const clock = state.clock;
  document.getElementById("clock").textContent = clock.mode + ", " + clock.iso;
  document.getElementById("advance").hidden = clock.mode !== "manual";
  const rows = document.getElementById("rows");
  rows.replaceChildren();
  if (!state.instances.length) { cell(rows.insertRow(), "No instances yet.").colSpan = 6; }
  for (const inst of state.instances) {
    const row = rows.insertRow();
    cell(row, inst.provider);
    cell(row, inst.key);
    cell(row, inst.state, "state " + inst.state);
    cell(row, [inst.profileName, inst.number || inst.wid].filter(Boolean).join(" · "));
    const qr = cell(row, "");
    if (inst.qr) {
      const img = document.createElement("img");
      img.className = "qr"; img.alt = "QR code"; img.src = inst.qr;
      qr.appendChild(img);
    }
    if (inst.pairingCode) {
      const code = document.createElement("p");
      code.textContent = "Pairing code: " + inst.pairingCode;
      qr.appendChild(code);
    }
    actions(cell(row, ""), inst);
  }
}
async function refresh() {
  try { render(await call("GET", "/state")); }
  catch (err) { document.getElementById("error").textContent = "sandbox unreachable: " + err; }
}
document.getElementById("new-green").addEventListener("click", async () => {
  const made = await call("POST", "/greenapi/instances", {});
  document.getElementById("created").textContent =
    "idInstance " + made.idInstance + ", apiTokenInstance " + made.apiTokenInstance;
  refresh();
});
for (const b of document.querySelectorAll("[data-advance]")) {
  b.addEventListener("click", async () => {
    await call("POST", "/clock/advance", {seconds: Number(b.dataset.advance)});
    refresh();
  });
}
refresh();
setInterval(refresh, 2000);
</script>
</body>
</html>
"""
