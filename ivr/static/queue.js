// Keeps the callback queue current without a reload: every few seconds it fetches the table's
// rows, the live strip and the urgent count; swaps in what changed; says how many new requests
// arrived (politely) and announces a new urgent one at once (assertively), with a short beep if
// the worker turned sound on (off by default; remembered in this browser). The tab's title shows
// the urgent count, so a worker on another tab sees it too.
(function () {
  "use strict";
  var table = document.getElementById("queue");
  if (!table || !window.fetch) { return; }
  var body = table.tBodies[0];
  var news = document.getElementById("queue-news");
  var alarm = document.getElementById("queue-alert");
  var strip = document.getElementById("strip");
  var sound = document.getElementById("sound");
  var seconds = parseInt(table.getAttribute("data-poll-seconds"), 10) || 15;
  var knownUrgent = (table.getAttribute("data-urgent-refs") || "").split(",").filter(Boolean);
  var audio = null;

  if (sound) {
    sound.checked = window.localStorage && localStorage.getItem("ivr-queue-sound") === "on";
    sound.addEventListener("change", function () {
      if (window.localStorage) { localStorage.setItem("ivr-queue-sound", sound.checked ? "on" : "off"); }
      if (sound.checked) { beep(); }  // a click is the gesture browsers need before sound
    });
  }

  function beep() {
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) { return; }
    audio = audio || new Context();
    [0, 0.35].forEach(function (start) {
      var tone = audio.createOscillator();
      var gain = audio.createGain();
      tone.frequency.value = 880;
      gain.gain.setValueAtTime(0.2, audio.currentTime + start);
      gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + start + 0.25);
      tone.connect(gain).connect(audio.destination);
      tone.start(audio.currentTime + start);
      tone.stop(audio.currentTime + start + 0.3);
    });
  }

  function refs(root) {
    return Array.prototype.map.call(root.querySelectorAll("tr[data-ref]"), function (row) {
      return row.getAttribute("data-ref");
    });
  }

  function showRows(html) {
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
  }

  function showUrgent(urgentRefs) {
    var arrived = urgentRefs.filter(function (ref) { return knownUrgent.indexOf(ref) < 0; });
    knownUrgent = urgentRefs;
    if (!arrived.length) { return; }
    alarm.textContent = arrived.length === 1
      ? "Urgent request " + arrived[0] + " has arrived: the caller reported risk."
      : arrived.length + " urgent requests have arrived: " + arrived.join(", ") + ".";
    if (sound && sound.checked) { beep(); }
  }

  function poll() {
    fetch(table.getAttribute("data-poll-url"), { credentials: "same-origin", headers: { Accept: "application/json", "X-IVR-Background": "1" } })
      .then(function (response) {
        if (response.redirected || !response.ok) { throw new Error("signed out"); }
        return response.json();
      })
      .then(function (data) {
        showRows(data.rows);
        if (strip.innerHTML.trim() !== data.strip.trim()) { strip.innerHTML = data.strip; }
        document.title = data.title;
        showUrgent(data.urgent_refs);
      })
      .catch(function () { news.textContent = "The queue is not updating. Reload the page to sign in again."; })
      .then(function () { window.setTimeout(poll, seconds * 1000); });
  }
  window.setTimeout(poll, seconds * 1000);
})();
