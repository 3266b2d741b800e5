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

// "预览朗读效果": ask the server how the current text will be read (numbers written out,
// lexicon applied, cut into segments) without saving it.
(function () {
  "use strict";
  var button = document.getElementById("preview-button");
  var list = document.getElementById("preview-list");
  var area = document.getElementById("lesson-text");
  if (!button || !list || !area) { return; }
  var token = document.querySelector("input[name=csrf_token]").value;

  button.addEventListener("click", function () {
    var body = new FormData();
    body.append("text", area.value);
    body.append("csrf_token", token);
    button.disabled = true;
    fetch(button.getAttribute("data-url"), { method: "POST", body: body, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (data) {
        list.textContent = "";
        if (data.changes.length) {
          var changes = document.createElement("li");
          changes.className = "changes";
          changes.textContent = "改读 " + data.changes.length + " 处：" + data.changes.map(function (change) {
            return change.written + " → " + (change.spoken || "（不读）") + (change.count > 1 ? " ×" + change.count : "");
          }).join("；");
          list.appendChild(changes);
        }
        data.segments.forEach(function (segment) {
          var item = document.createElement("li");
          var badge = document.createElement("span");
          badge.className = "badge pause-" + segment.pause;
          badge.textContent = segment.label;
          item.appendChild(badge);
          item.appendChild(document.createTextNode(" " + segment.text));
          list.appendChild(item);
        });
      })
      .catch(function () {
        list.textContent = "";
        var item = document.createElement("li");
        item.textContent = "预览失败，请检查网络后重试。";
        list.appendChild(item);
      })
      .then(function () { button.disabled = false; });
  });
})();
