// Every page: the header's menu button opens and closes the navigation on small screens.
(function () {
  "use strict";
  var button = document.getElementById("nav-toggle");
  var bar = document.getElementById("topbar");
  if (!button || !bar) { return; }
  button.addEventListener("click", function () {
    var open = bar.classList.toggle("nav-open");
    button.setAttribute("aria-expanded", open ? "true" : "false");
  });
})();

// The live pages' change feed: ask `url()` every `everyMs` while the page is visible, sending the
// last answer's ETag, so an unchanged feed answers 304 with no body; `onData` gets each new answer.
window.liveFeed = function (url, everyMs, onData) {
  "use strict";
  var etag = null, busy = false;
  function refresh() {
    if (busy) { return; }
    busy = true;
    var headers = { "Accept": "application/json" };
    if (etag) { headers["If-None-Match"] = etag; }
    fetch(url(), { headers: headers, credentials: "same-origin", cache: "no-store" })
      .then(function (r) {
        if (r.status === 200) { etag = r.headers.get("ETag"); return r.json(); }
        return null;
      })
      .then(function (data) { if (data) { onData(data); } })
      .catch(function () { /* retried on the next tick */ })
      .then(function () { busy = false; });
  }
  setInterval(function () { if (!document.hidden) { refresh(); } }, everyMs);
  return refresh;
};
