// Keeps the callback queue current without a reload: every few seconds it fetches the table's
// rows and, if they changed, swaps them in and says how many new requests arrived.
(function () {
  "use strict";
  var table = document.getElementById("queue");
  if (!table || !window.fetch) { return; }
  var body = table.tBodies[0];
  var news = document.getElementById("queue-news");
  var seconds = parseInt(table.getAttribute("data-poll-seconds"), 10) || 15;
  function refs(root) {
    return Array.prototype.map.call(root.querySelectorAll("tr[data-ref]"), function (row) {
      return row.getAttribute("data-ref");
    });
  }
  function poll() {
    fetch(table.getAttribute("data-poll-url"), { credentials: "same-origin", headers: { Accept: "text/html", "X-IVR-Background": "1" } })
      .then(function (response) {
        if (response.redirected || !response.ok) { throw new Error("signed out"); }
        return response.text();
      })
      .then(function (html) {
        if (html.trim() === body.innerHTML.trim()) { return; }
        var before = refs(body);
        var holder = document.createElement("tbody");
        holder.innerHTML = html;
        var added = refs(holder).filter(function (ref) { return before.indexOf(ref) < 0; });
        // Swapping the rows would drop keyboard focus to the top of the page: put it back on
        // the same request's link (or the first row, if that request has left the queue).
        var focused = document.activeElement;
        var row = focused && body.contains(focused) ? focused.closest("tr[data-ref]") : null;
        body.innerHTML = html;
        if (row) {
          var again = body.querySelector('tr[data-ref="' + row.getAttribute("data-ref") + '"] a') || body.querySelector("a");
          if (again) { again.focus(); }
        }
        if (added.length) {
          news.textContent = added.length === 1 ? "1 new request arrived." : added.length + " new requests arrived.";
        }
      })
      .catch(function () { news.textContent = "The queue is not updating. Reload the page to sign in again."; })
      .then(function () { window.setTimeout(poll, seconds * 1000); });
  }
  window.setTimeout(poll, seconds * 1000);
})();
