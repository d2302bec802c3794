// Connect page: poll our own state endpoint every 2 s (never the provider), swap in new QR codes,
// stop after the connect window with "QR expired", and show success when connected.
(function () {
  "use strict";
  var root = document.getElementById("connect");
  if (!root) { return; }
  var url = root.dataset.stateUrl;
  var windowMs = parseInt(root.dataset.window, 10) * 1000;
  var started = Date.now();
  var el = function (id) { return document.getElementById(id); };
  var timer = null;

  function show(id, visible) { el(id).hidden = !visible; }

  function render(state) {
    var badge = el("status-badge");
    badge.textContent = state.status_label;
    badge.className = "badge status status-" + state.status;
    if (state.connected) {
      el("connected-phone").textContent = state.phone_display || "";
      el("connected-name").textContent = state.profile_name || "";
      show("connected", true); show("pending", false); show("expired", false);
      stop();
      return;
    }
    if (state.qr_code && el("qr").getAttribute("src") !== state.qr_code) {
      el("qr").setAttribute("src", state.qr_code);
    }
    // One step at a time: a pairing code replaces the QR; the phone form stays while it is open.
    var typing = root.dataset.step === "pairing-form" && !state.pairing_code;
    show("qr-box", !!state.qr_code && !state.pairing_code && !typing);
    el("pairing-code").textContent = state.pairing_code || "";
    show("pairing-box", !!state.pairing_code);
    if (state.reason === "qr_expired") { expire(); }
  }

  function expire() { show("expired", true); show("qr-box", false); show("pairing-box", false); stop(); }
  function stop() { if (timer) { clearInterval(timer); timer = null; } }

  function tick() {
    if (Date.now() - started > windowMs) { expire(); return; }
    fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (state) { if (state) { render(state); } })
      .catch(function () { /* a missed poll is retried on the next tick */ });
  }

  if (root.dataset.status !== "connected") { timer = setInterval(tick, 2000); }
})();
