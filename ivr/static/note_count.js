// The note box says how many characters are left as the worker types or pastes, so a note over
// the limit is seen before it is sent (the server refuses it and keeps the text either way).
// No maxlength: a browser would cut a pasted note short without a word.
(function () {
  "use strict";
  var boxes = document.querySelectorAll("textarea[data-maxlength]");
  Array.prototype.forEach.call(boxes, function (box) {
    var limit = parseInt(box.getAttribute("data-maxlength"), 10);
    var count = document.createElement("p");
    count.className = "hint";
    count.id = box.id + "-count";
    count.setAttribute("aria-live", "polite");
    box.parentNode.insertBefore(count, box.nextSibling);
    box.setAttribute("aria-describedby", (box.getAttribute("aria-describedby") || "") + " " + count.id);
    function update() {
      var used = Array.from(box.value.trim()).length;  // as the server counts: ends trimmed
      var over = used > limit;
      count.textContent = over
        ? (used - limit).toLocaleString("en-GB") + " characters too many: shorten the note before recording."
        : (limit - used).toLocaleString("en-GB") + " characters left.";
      count.className = over ? "hint note-over" : "hint";
      box.setAttribute("aria-invalid", over ? "true" : "false");
    }
    box.addEventListener("input", update);
    update();
  });
})();
