// Record audio in the browser (MediaRecorder) and hand it to the surrounding form as an
// ordinary file, so recorded and uploaded audio take the same path on the server. Used for
// dialect readings of a lesson, a member's voice note and spoken answers on the visit form: each
// `.recorder` block fills the file input named by its data-input attribute.
(function () {
  "use strict";
  if (!window.MediaRecorder || !navigator.mediaDevices) { return; }
  Array.prototype.forEach.call(document.querySelectorAll(".recorder[data-input]"), function (box) {
    var form = box.closest("form");
    var input = form.querySelector("input[name=" + box.dataset.input + "]");
    var start = box.querySelector(".record-start");
    var stop = box.querySelector(".record-stop");
    var status = box.querySelector(".record-status");
    var done = box.dataset.done || "录好了（{s} 秒）";
    var recorder = null, chunks = [], started = 0, timer = null;
    box.hidden = false;
    // A recorded or picked answer also picks the choice it belongs to (data-choose: a selector).
    function choose() {
      var radio = box.dataset.choose ? form.querySelector(box.dataset.choose) : null;
      if (radio && input.files && input.files.length) { radio.checked = true; }
    }
    input.addEventListener("change", choose);

    start.addEventListener("click", function () {
      navigator.mediaDevices.getUserMedia({ audio: true }).then(function (stream) {
        chunks = [];
        recorder = new MediaRecorder(stream);
        recorder.ondataavailable = function (e) { if (e.data.size) { chunks.push(e.data); } };
        recorder.onstop = function () {
          stream.getTracks().forEach(function (t) { t.stop(); });
          var type = recorder.mimeType || "audio/webm";
          var ext = type.indexOf("mp4") >= 0 ? "m4a" : (type.indexOf("ogg") >= 0 ? "ogg" : "webm");
          var file = new File(chunks, "录音." + ext, { type: type });
          var list = new DataTransfer();
          list.items.add(file);
          input.files = list.files;
          choose();
          status.textContent = done.replace("{s}", Math.round((Date.now() - started) / 1000));
        };
        recorder.start(1000);
        started = Date.now();
        start.disabled = true;
        stop.disabled = false;
        timer = setInterval(function () {
          status.textContent = "正在录音 " + Math.round((Date.now() - started) / 1000) + " 秒……";
        }, 500);
      }).catch(function () { status.textContent = "无法使用麦克风，请检查浏览器权限，或选择录音文件"; });
    });

    stop.addEventListener("click", function () {
      if (recorder && recorder.state !== "inactive") { recorder.stop(); }
      clearInterval(timer);
      start.disabled = false;
      stop.disabled = true;
    });
  });
})();
