// Live character count and listening-time estimate for the lesson editor. The count follows
// core.lessons.char_count exactly (cleaned as on save, code points, no whitespace or heading
// markers) so the editor and the lesson page show one number; the listening time comes from
// the server, which reads numbers the way the voice will and knows the library's own pace.
(function () {
  "use strict";
  var area = document.getElementById("lesson-text");
  var counter = document.getElementById("lesson-counter");
  if (!area || !counter) { return; }
  var url = counter.getAttribute("data-url");
  var token = document.querySelector("input[name=csrf_token]").value;
  var INVISIBLE = /[\u200b\u200c\u200d\u2060\ufeff\u00ad\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/g;
  // Python's str.isspace() set, which \s in core.lessons matches.
  var SPACE = /[\t\n\v\f\r\u001c-\u001f \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/g;
  var length = counter.querySelector(".length"), chars = counter.querySelector(".chars"), timer = null, asked = 0;

  function count(text) {
    var clean = text.normalize("NFC").replace(INVISIBLE, "").replace(/^[ \t\u3000\u00a0\f\v]*# /gm, "");
    return Array.from(clean.replace(SPACE, "")).length;
  }

  function estimate() {
    var body = new FormData(), ticket = ++asked;
    body.append("text", area.value);
    body.append("csrf_token", token);
    fetch(url, { method: "POST", body: body, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (data) {
        if (ticket !== asked) { return; }
        chars.textContent = data.chars;
        length.textContent = data.length;
      })
      .catch(function () { /* the last estimate stays */ });
  }

  area.addEventListener("input", function () {
    chars.textContent = count(area.value);
    clearTimeout(timer);
    timer = setTimeout(estimate, 500);
  });
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
