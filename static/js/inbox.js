// Inbox: ask the change feed every 2 s (304 when nothing changed); move changed conversations
// into place by their last message, with preview and unread count. Text only, never HTML.
(function () {
  "use strict";
  var list = document.getElementById("inbox");
  if (!list) { return; }
  var cursor = list.dataset.cursor;
  var template = document.getElementById("convo-template");

  function url() {
    var params = new URLSearchParams({ since: cursor, number: list.dataset.number, q: list.dataset.q });
    return list.dataset.feedUrl + "?" + params.toString();
  }

  function render(row) {
    var item = list.querySelector('.convo[data-id="' + row.id + '"]');
    if (!item) {
      item = template.content.firstElementChild.cloneNode(true);
      item.dataset.id = row.id;
    }
    item.dataset.last = row.last_message_at;
    item.querySelector("a").setAttribute("href", row.url);
    item.querySelector(".convo-title").textContent = row.title;
    item.querySelector(".convo-preview").textContent = row.preview;
    item.querySelector(".convo-when").textContent = row.when;
    item.querySelector(".convo-number").textContent = row.number;
    var badge = item.querySelector(".unread");
    badge.textContent = row.unread;
    badge.hidden = !row.unread;
    place(item);
  }

  function place(item) {
    // Newest first; conversations without messages stay at the end.
    var last = item.dataset.last;
    var before = Array.prototype.find.call(list.children, function (other) {
      return other !== item && (other.dataset.last || "") < last;
    });
    if (before) { list.insertBefore(item, before); } else { list.appendChild(item); }
    document.getElementById("inbox-empty").hidden = true;
  }

  window.liveFeed(url, 2000, function (data) {
    cursor = data.cursor;
    data.rows.forEach(render);
  });
})();
