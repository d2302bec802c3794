// Numbers list: refresh each row's status and phone from our database every 5 s.
(function () {
  "use strict";
  var table = document.getElementById("numbers");
  if (!table) { return; }
  setInterval(function () {
    fetch(table.dataset.stateUrl, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : { numbers: [] }; })
      .then(function (data) {
        data.numbers.forEach(function (n) {
          var row = table.querySelector('tr[data-id="' + n.id + '"]');
          if (!row) { return; }
          var badge = row.querySelector(".status");
          badge.textContent = n.status_label;
          badge.className = "badge status status-" + n.status;
          row.querySelector(".phone").textContent = n.phone_display || "—";
        });
      })
      .catch(function () {});
  }, 5000);
})();
