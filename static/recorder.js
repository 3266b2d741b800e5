// Record a dialect reading in the browser (MediaRecorder) and hand it to the upload form as
// an ordinary file, so recorded and uploaded audio take the same path on the server.
(function () {
  "use strict";
  var form = document.getElementById("recording-form");
  if (!form || !window.MediaRecorder || !navigator.mediaDevices) { return; }
  var start = document.getElementById("record-start");
  var stop = document.getElementById("record-stop");
  var status = document.getElementById("record-status");
  var input = form.querySelector("input[name=recording]");
  var recorder = null, chunks = [], started = 0, timer = null;
  form.querySelector(".recorder").hidden = false;

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
        status.textContent = "录好了（" + Math.round((Date.now() - started) / 1000) + " 秒），点“上传录音”保存";
      };
      recorder.start(1000);
      started = Date.now();
      start.disabled = true;
      stop.disabled = false;
      timer = setInterval(function () {
        status.textContent = "正在录音 " + Math.round((Date.now() - started) / 1000) + " 秒……";
      }, 500);
    }).catch(function () { status.textContent = "无法使用麦克风，请检查浏览器权限，或直接上传录音文件"; });
  });

  stop.addEventListener("click", function () {
    if (recorder && recorder.state !== "inactive") { recorder.stop(); }
    clearInterval(timer);
    start.disabled = false;
    stop.disabled = true;
  });
})();
