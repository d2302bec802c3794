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
