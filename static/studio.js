// The recording studio: read one paragraph, and the take is sent at once. Each take waits in
// the phone's outbox (IndexedDB) until the server has it, so a take made on a weak signal is
// sent when the phone is back, and a retried upload is the same take (the server keys takes
// by their bytes).
(function () {
  "use strict";
  var box = document.getElementById("studio");
  if (!box) return;
  var button = document.getElementById("studio-record");
  var player = document.getElementById("studio-take");
  var status = document.getElementById("studio-status");
  var progress = document.getElementById("studio-progress");
  var recorder = null, chunks = [], started = 0, timer = null;

  function outbox(mode, work) {
    return new Promise(function (resolve, reject) {
      if (!window.indexedDB) { reject(new Error("no storage")); return; }
      var opening = indexedDB.open("xy-studio", 1);
      opening.onupgradeneeded = function () { opening.result.createObjectStore("takes", { keyPath: "id" }); };
      opening.onerror = function () { reject(opening.error); };
      opening.onsuccess = function () {
        var t = opening.result.transaction("takes", mode), request = work(t.objectStore("takes"));
        t.oncomplete = function () { resolve(request ? request.result : undefined); };
        t.onerror = function () { reject(t.error); };
      };
    });
  }
  function upload(take) {
    var body = new FormData();
    body.append("paragraph", take.paragraph);
    body.append("audio", take.audio, "take." + take.ext);
    body.append("csrf_token", document.querySelector("meta[name=csrf-token]").content);
    return fetch(take.url, { method: "POST", body: body, credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (response.status >= 500) throw new Error("server");
        return response.json().catch(function () { return {}; }).then(function (answer) {
          return outbox("readwrite", function (store) { return store.delete(take.id); })
            .catch(function () {}).then(function () { return answer; });
        });
      });
  }
  function tick(paragraph) {
    // The paragraph list's badge, for the take just kept (the last paragraph too).
    var item = document.querySelector(".studio-paragraphs li[data-paragraph='" + paragraph + "']");
    if (!item || item.querySelector(".badge")) return;
    var badge = document.createElement("span");
    badge.className = "badge";
    badge.textContent = "已录 ✓";
    item.appendChild(document.createTextNode(" "));
    item.appendChild(badge);
  }
  function shown(answer) {
    if (!answer.ok) { status.textContent = answer.error || "这一段没有存上，请重录"; return; }
    progress.textContent = "已录 " + answer.done + " / " + answer.total + " 段";
    tick(answer.paragraph);
    if (answer.paragraph === Number(box.dataset.paragraph)) {
      player.src = answer.audio + "?t=" + Date.now(); player.hidden = false;
    }
    status.textContent = answer.done === answer.total ? "每一段都录好了，正在拼成整课。"
      : "这一段录好了，已经存上。可以听一听，满意就点“下一段”。";
  }
  function sendWaiting() {
    outbox("readonly", function (store) { return store.getAll(); }).then(function (takes) {
      (takes || []).forEach(function (take) { upload(take).then(shown).catch(function () {}); });
    }).catch(function () {});
  }
  function stop() { if (recorder && recorder.state !== "inactive") recorder.stop(); clearInterval(timer); }

  if (!(window.MediaRecorder && navigator.mediaDevices && navigator.mediaDevices.getUserMedia)) {
    document.getElementById("studio-unsupported").hidden = false;
    return;
  }
  document.getElementById("studio-controls").hidden = false;
  button.addEventListener("click", function () {
    if (recorder && recorder.state === "recording") { stop(); return; }
    navigator.mediaDevices.getUserMedia({ audio: true }).then(function (stream) {
      chunks = [];
      recorder = new MediaRecorder(stream);
      recorder.ondataavailable = function (event) { if (event.data.size) chunks.push(event.data); };
      recorder.onstop = function () {
        stream.getTracks().forEach(function (track) { track.stop(); });
        // Taken: going on is the big step now, reading it again the small one.
        button.textContent = "● 重录这一段"; button.setAttribute("aria-pressed", "false");
        button.classList.remove("big"); button.classList.add("small");
        document.getElementById("studio-onward").hidden = false;
        var type = recorder.mimeType || "audio/webm";
        var take = { id: Date.now().toString(36) + Math.random().toString(36).slice(2), url: box.dataset.upload,
                     paragraph: Number(box.dataset.paragraph), audio: new Blob(chunks, { type: type }),
                     ext: type.indexOf("mp4") >= 0 ? "m4a" : (type.indexOf("ogg") >= 0 ? "ogg" : "webm") };
        player.src = URL.createObjectURL(take.audio); player.hidden = false;
        status.textContent = "正在存这一段……";
        outbox("readwrite", function (store) { return store.put(take); }).catch(function () {})
          .then(function () { return upload(take); })
          .then(shown, function () { status.textContent = "现在没有信号，这一段存在手机里了，有信号时会自动送上去。"; });
      };
      recorder.start(1000);
      started = Date.now();
      button.textContent = "■ 读完了，停止"; button.setAttribute("aria-pressed", "true");
      timer = setInterval(function () {
        status.textContent = "正在录音 " + Math.round((Date.now() - started) / 1000) + " 秒……";
      }, 500);
    }).catch(function () { status.textContent = "不能使用麦克风：请允许这个网页录音。"; });
  });
  window.addEventListener("online", sendWaiting);
  sendWaiting();
})();
