// 试听: play a short sample of the voice chosen in the series settings, or say why not.
(function () {
  var button = document.getElementById("voice-sample");
  if (!button) return;
  var select = document.getElementById("series-voice");
  var player = document.getElementById("voice-sample-player");
  var note = document.getElementById("voice-sample-note");
  button.addEventListener("click", function () {
    var voice = select.value || button.dataset.default;
    var url = button.dataset.url.replace("VOICE", encodeURIComponent(voice));
    note.textContent = "正在准备试听……";
    fetch(url, {headers: {Accept: "application/json, audio/mpeg;q=0.9"}, credentials: "same-origin"})
      .then(function (response) {
        if (response.ok) return response.blob();
        return response.json().then(function (body) { throw new Error(body.error); },
                                    function () { throw new Error("现在无法试听，请稍后再试"); });
      })
      .then(function (blob) {
        if (player.src) URL.revokeObjectURL(player.src);
        player.src = URL.createObjectURL(blob);
        player.hidden = false;
        note.textContent = "";
        return player.play();
      })
      .catch(function (error) { note.textContent = error.message || "现在无法试听，请稍后再试"; });
  });
})();
