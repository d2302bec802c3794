// Conversation page: ask the change feed every second (304 when nothing changed); add new
// messages, redraw changed ones (edits, deletions, reactions, a file that arrived), move ticks up
// (queued, sent, delivered, read, failed with its reason), and tell the server which messages
// were shown, so only those count as read. Text only, never HTML.
(function () {
  "use strict";
  var chat = document.getElementById("chat");
  if (!chat) { return; }
  var cursor = chat.dataset.cursor, unseen = null;
  var csrf = (document.querySelector("input[name=csrfmiddlewaretoken]") || {}).value || "";

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function tick(m) {
    var wrap = document.createDocumentFragment();
    var span = el("span", "tick tick-" + m.status);
    span.dataset.status = m.status;
    span.title = m.label + (m.error ? ": " + m.error : "");
    var svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("viewBox", "0 0 18 14");
    svg.setAttribute("aria-hidden", "true");
    var use = document.createElementNS("http://www.w3.org/2000/svg", "use");
    use.setAttribute("href", "#" + m.tick);
    svg.appendChild(use);
    span.appendChild(svg);
    span.appendChild(el("span", "sr", m.label));
    wrap.appendChild(span);
    if (m.status === "failed") { wrap.appendChild(el("span", "fail-reason", m.error || "Not sent")); }
    return wrap;
  }

  // One message, as messaging/bubble.html draws it: a file by its type, deleted and edited
  // marks, a call's words, reactions as chips.
  function mediaOf(m) {
    var f = m.media, node;
    if (f.kind === "image") {
      node = el("a");
      node.href = f.url; node.target = "_blank"; node.rel = "noopener";
      var img = el("img", "media");
      img.src = f.url; img.alt = m.file_name || "Image"; img.loading = "lazy";
      node.appendChild(img);
    } else if (f.kind === "audio" || f.kind === "video") {
      node = el(f.kind, "media");
      node.controls = true; node.preload = "metadata"; node.src = f.url;
    } else if (f.kind === "file") {
      node = el("a", "file", m.file_name || "Download the file");
      node.href = f.url; node.setAttribute("download", "");
    } else {
      node = el("div", "muted small kind", "[" + m.type + "] " + f.note);
    }
    return node;
  }

  function bubble(m) {
    var node = el("div", "bubble " + m.direction + (m.deleted ? " deleted" : ""));
    node.dataset.id = m.id;
    node.dataset.created = m.created_at;
    node.dataset.version = m.version;
    if (m.deleted) {
      node.appendChild(el("div", "text muted gone", "This message was deleted"));
    } else if (m.call) {
      node.appendChild(el("div", "text call", m.call));
    } else {
      if (m.media) { node.appendChild(mediaOf(m)); }
      else if (m.type !== "text") { node.appendChild(el("div", "muted small kind", "[" + m.type + "]" + (m.file_name ? " " + m.file_name : ""))); }
      if (m.text) { node.appendChild(el("div", "text", m.text)); }
    }
    var meta = el("div", "meta muted small");
    if (m.edited) { meta.appendChild(el("span", "edited", "edited")); }
    meta.appendChild(el("span", "time", m.time));
    node.appendChild(meta);
    if (m.reactions && m.reactions.length) {
      var chips = el("div", "reactions");
      m.reactions.forEach(function (r) {
        var chip = el("span", "reaction", r.emoji + (r.count > 1 ? " " + r.count : ""));
        chip.title = String(r.count);
        chips.appendChild(chip);
      });
      node.appendChild(chips);
    }
    return node;
  }

  function render(m) {
    var node = chat.querySelector('.bubble[data-id="' + m.id + '"]');
    var fresh = !node;
    if (fresh) {
      node = bubble(m);
      var later = Array.prototype.find.call(chat.querySelectorAll(".bubble"), function (b) { return b.dataset.created > m.created_at; });
      chat.insertBefore(node, later || document.getElementById("chat-empty"));
      document.getElementById("chat-empty").hidden = true;
    } else if (node.dataset.version !== m.version) {
      // Edited, deleted, reacted to, or its file arrived: draw it again in place.
      var redrawn = bubble(m);
      node.replaceWith(redrawn);
      node = redrawn;
    }
    if (m.direction === "outbound") {
      var meta = node.querySelector(".meta");
      meta.querySelectorAll(".tick, .fail-reason").forEach(function (old) { old.remove(); });
      meta.appendChild(tick(m));
    }
    return fresh;
  }

  function markRead(id) {
    // Only once the page is actually on screen: a hidden tab has shown nothing yet.
    if (document.hidden) { unseen = id; return; }
    unseen = null;
    var body = new URLSearchParams({ through: id });
    fetch(chat.dataset.readUrl, {
      method: "POST", body: body, credentials: "same-origin", headers: { "X-CSRFToken": csrf }
    }).catch(function () { unseen = id; });
  }

  function url() {
    return chat.dataset.feedUrl + "?" + new URLSearchParams({ since: cursor }).toString();
  }

  var refresh = window.liveFeed(url, 1000, function (data) {
    cursor = data.cursor;
    var stick = chat.scrollHeight - chat.scrollTop - chat.clientHeight < 80;
    var newest = null;
    data.rows.forEach(function (m) {
      if (render(m) && m.direction === "inbound") { newest = m.id; }
    });
    if (stick) { chat.scrollTop = chat.scrollHeight; }
    if (newest) { markRead(newest); }
  });

  var form = document.getElementById("reply");
  if (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var error = document.getElementById("reply-error");
      fetch(form.action, {
        method: "POST", body: new FormData(form), credentials: "same-origin",
        headers: { "Accept": "application/json" }
      }).then(function (r) { return r.json().then(function (data) { return { ok: r.ok, data: data }; }); })
        .then(function (result) {
          error.hidden = result.ok;
          if (result.ok) { form.reset(); refresh(); } else { error.textContent = result.data.error; }
        })
        .catch(function () { error.hidden = false; error.textContent = "Not sent: check your connection and try again."; });
    });
  }

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) { if (unseen) { markRead(unseen); } refresh(); }
  });
  chat.scrollTop = chat.scrollHeight;
})();
