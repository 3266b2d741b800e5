// Live character count and listening-time estimate for the lesson editor.
// Mirrors core.lessons.char_count / listening_seconds so the number does not jump on save.
(function () {
  "use strict";
  var area = document.getElementById("lesson-text");
  var counter = document.getElementById("lesson-counter");
  if (!area || !counter) { return; }
  var perMinute = parseInt(area.getAttribute("data-chars-per-minute"), 10) || 200;

  function duration(seconds) {
    var minutes = Math.floor(seconds / 60), secs = seconds % 60;
    if (minutes >= 60) { return Math.floor(minutes / 60) + " 小时 " + (minutes % 60) + " 分"; }
    if (minutes) { return minutes + " 分 " + (secs < 10 ? "0" : "") + secs + " 秒"; }
    return secs + " 秒";
  }

  function update() {
    var chars = area.value.replace(/^# /gm, "").replace(/\s+/g, "").length;
    counter.textContent = chars + " 字 · 预计收听约 " + duration(Math.round(chars * 60 / perMinute));
  }

  area.addEventListener("input", update);
  update();
})();
