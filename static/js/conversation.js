// Conversation page: refresh the ticks of outbound messages from our database every 3 s.
(function () {
  "use strict";
  var chat = document.getElementById("chat");
  if (!chat) { return; }
  setInterval(function () {
    fetch(chat.dataset.stateUrl, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : { messages: [] }; })
      .then(function (data) {
        data.messages.forEach(function (m) {
          var tick = chat.querySelector('.bubble[data-id="' + m.id + '"] .tick');
          if (tick) { tick.textContent = m.tick; tick.className = "tick tick-" + m.status; tick.title = m.status; }
        });
      })
      .catch(function () {});
  }, 3000);
})();
