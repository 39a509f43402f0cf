// While a worker has a request open that they claimed, renew the claim now and then, so a long
// call does not lose it. Closing the tab stops the renewals and the claim lapses by itself; so
// does an idle session, because these background requests do not count as activity.
(function () {
  "use strict";
  var panel = document.getElementById("my-claim");
  if (!panel || !window.fetch) { return; }
  var seconds = parseInt(panel.getAttribute("data-renew-seconds"), 10) || 300;
  function renew() {
    fetch(panel.getAttribute("data-renew-url"), {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRF-Token": panel.getAttribute("data-csrf"), "X-IVR-Background": "1" }
    }).then(function (response) {
      if (response.status === 204) { window.setTimeout(renew, seconds * 1000); return; }
      var note = document.createElement("p");
      note.className = "flash flash-error";
      note.setAttribute("role", "alert");
      note.textContent = "Your claim on this request has lapsed. You can still press Record this attempt: if it cannot be saved, your note is kept and you can claim the request again.";
      panel.insertBefore(note, panel.firstChild);
    });
  }
  window.setTimeout(renew, seconds * 1000);
})();
