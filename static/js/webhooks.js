// Webhook endpoints page: while a delivery is queued or retrying, refresh the endpoints list
// every 2 s (the form below keeps what is typed), so a test's answer shows without a reload.
(function () {
  "use strict";
  var list = document.getElementById("endpoints");
  if (!list) return;
  function pending() { return list.querySelector("[data-pending]") !== null; }
  function refresh() {
    if (!pending()) return;
    fetch(window.location.pathname, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html) {
          var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("endpoints");
          if (fresh) list.innerHTML = fresh.innerHTML;
        }
      })
      .catch(function () {})
      .then(function () { window.setTimeout(refresh, 2000); });
  }
  window.setTimeout(refresh, 2000);
})();
