// The softphone at /try: places a test call through the line (the server plays Twilio's part),
// shows what the caller hears in the transcript, speaks it with the browser's voice (en-GB when
// there is one), counts the line's listening time down after each prompt, and sends silence when
// it runs out, as Twilio would. Keys come from the keypad buttons or the keyboard.
(function () {
  "use strict";
  var root = document.getElementById("softphone");
  if (!root || !window.fetch) { return; }
  var csrf = document.querySelector('meta[name="csrf-token"]').getAttribute("content");
  var log = document.getElementById("transcript");
  var status = document.getElementById("softphone-status");
  var callButton = document.getElementById("call");
  var hangupButton = document.getElementById("hangup");
  var mute = document.getElementById("mute");
  var keys = Array.prototype.slice.call(root.querySelectorAll(".key"));
  var synth = window.speechSynthesis;
  var call = null, waiting = null, buffer = "", busy = false, timer = null, left = 0;
  // Seconds the voice may take before the countdown starts regardless (a browser whose voice
  // never starts must not leave the call waiting for ever).
  var speaking = 0;

  function add(kind, text) {
    var item = document.createElement("li");
    item.className = kind;
    item.textContent = (kind === "you" ? "You: " : kind === "line" ? "Line: " : "") + text;
    log.appendChild(item);
    log.scrollTop = log.scrollHeight;
  }

  function say(text) {
    if (!synth || mute.checked || text.charAt(0) === "[") { return; }
    var utterance = new SpeechSynthesisUtterance(text);
    var voice = synth.getVoices().filter(function (v) { return v.lang.replace("_", "-") === "en-GB"; })[0];
    if (voice) { utterance.voice = voice; }
    utterance.lang = "en-GB";
    synth.speak(utterance);
  }

  function setLive(live) {
    callButton.disabled = live;
    hangupButton.disabled = !live;
    keys.forEach(function (k) { k.disabled = !live; });
  }

  function stopTimer() { if (timer) { clearInterval(timer); timer = null; } }

  function tick() {
    if (synth && !mute.checked && speaking > 0 && (synth.speaking || synth.pending)) {
      speaking -= 1;
      status.textContent = "The line is speaking…";
      return; // Twilio starts listening once the prompt has been said
    }
    left -= 1;
    if (left <= 0) {
      stopTimer();
      if (buffer) { send("keys", { keys: buffer }, "pressed " + buffer); } else { send("silence", {}, "(silence)"); }
      return;
    }
    status.textContent = "Listening for " + (waiting.digits === 1 ? "a key" : "a number, then #") + ": " + left + " s";
  }

  function listen() {
    stopTimer();
    left = waiting.timeout + 1;
    tick();
    timer = setInterval(tick, 1000);
  }

  function show(data) {
    call = data.call;
    data.lines.forEach(function (line) { add("line", line); say(line); });
    speaking = 5 + data.lines.join(" ").split(/\s+/).length / 2; // about 2.5 words a second
    waiting = data.waiting;
    buffer = "";
    if (data.ended || !waiting) {
      end("The call has ended.");
    } else {
      listen();
    }
  }

  function end(message) {
    stopTimer();
    call = null; waiting = null; buffer = "";
    setLive(false);
    status.textContent = message;
  }

  function post(path, body) {
    return fetch(path, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body || {})
    }).then(function (response) {
      return response.json().catch(function () {
        // Not JSON: the CSRF check (400: the page's token has expired) or an error page.
        return { error: response.status === 400 ? "This page has expired: reload it and try again."
          : "The line cannot be reached just now (" + response.status + "). Try again in a minute." };
      }).then(function (data) {
        if (!response.ok) { throw new Error(data.message || data.error || "The line did not answer (" + response.status + ")."); }
        return data;
      });
    });
  }

  function send(action, body, said) {
    if (!call || busy) { return; }
    busy = true;
    stopTimer();
    if (said) { add("you", said); }
    status.textContent = "…";
    var which = call;
    post("/try/calls/" + encodeURIComponent(which) + "/" + action, body)
      .then(function (data) { if (call === which) { show(data); } })
      .catch(function (err) { status.textContent = err.message; if (waiting) { listen(); } })
      .then(function () { busy = false; });
  }

  function press(key) {
    if (!call || !waiting || busy) { return; }
    buffer += key;
    if (waiting.digits === 1 || key === waiting.finish || (waiting.digits && buffer.length >= waiting.digits)) {
      send("keys", { keys: buffer }, "pressed " + buffer);
    } else {
      status.textContent = "Keyed: " + buffer;
      listen(); // Twilio's timeout starts again after each key
    }
  }

  callButton.addEventListener("click", function () {
    if (busy) { return; }
    busy = true;
    log.innerHTML = "";
    add("note", "Calling the line (a test call)…");
    setLive(true);
    post("/try/calls", { caller: document.getElementById("caller").value })
      .then(show)
      .catch(function (err) { end(err.message); })
      .then(function () { busy = false; });
  });

  hangupButton.addEventListener("click", function () {
    if (!call) { return; }
    if (synth) { synth.cancel(); }
    var which = call;
    busy = false;
    stopTimer();
    post("/try/calls/" + encodeURIComponent(which) + "/hangup", {})
      .then(function () { add("note", "You hung up."); end("You hung up."); })
      .catch(function (err) { end(err.message); });
  });

  keys.forEach(function (button) {
    button.addEventListener("click", function () { press(button.getAttribute("data-key")); });
  });

  document.addEventListener("keydown", function (event) {
    var tag = (event.target.tagName || "").toLowerCase();
    if (tag === "input" || tag === "select" || tag === "textarea" || event.ctrlKey || event.metaKey || event.altKey) { return; }
    if ("0123456789*#".indexOf(event.key) >= 0 && event.key.length === 1) {
      event.preventDefault();
      press(event.key);
    }
  });

  mute.addEventListener("change", function () { if (mute.checked && synth) { synth.cancel(); } });

  document.getElementById("speech-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var input = document.getElementById("speech");
    var text = input.value.trim();
    if (!text) { return; }
    if (root.getAttribute("data-speech") !== "yes") {
      status.textContent = root.getAttribute("data-speech-missing");
      return;
    }
    if (!call || !waiting || busy) { status.textContent = "Start a call first."; return; }
    input.value = "";
    send("speech", { text: text }, "said “" + text + "”");
  });
})();
