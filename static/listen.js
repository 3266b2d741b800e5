/* The listen page player. Heartbeats only while playing; the server decides what counts. */
(function () {
  "use strict";
  var body = document.body;
  var sizes = ["", "text-xl", "text-xxl"], sizeNames = ["大", "更大", "特大"];
  var sizeButton = document.getElementById("bigger");
  var size = Math.max(0, sizes.indexOf(localStorage.getItem("xy-text-size") || ""));
  function applySize() {
    sizes.forEach(function (c) { if (c) body.classList.remove(c); });
    if (sizes[size]) body.classList.add(sizes[size]);
    if (sizeButton) sizeButton.textContent = "字号：" + sizeNames[size];
  }
  applySize();
  if (sizeButton) sizeButton.addEventListener("click", function () {
    size = (size + 1) % sizes.length;
    try { localStorage.setItem("xy-text-size", sizes[size]); } catch (e) { /* private mode */ }
    applySize();
  });

  var player = document.getElementById("player");
  if (!player) return;
  var audio = document.getElementById("audio");
  var play = document.getElementById("play"), label = play.querySelector(".label");
  var seek = document.getElementById("seek"), nowLabel = document.getElementById("now");
  var totalLabel = document.getElementById("total"), resume = document.getElementById("resume");
  var token = player.dataset.token, beatUrl = player.dataset.beat;
  var every = Math.max(1, Number(player.dataset.every) || 10) * 1000;
  var rendition = Number(audio.dataset.rendition), duration = Number(audio.dataset.duration);
  var played = 0, lastTime = null, timer = null, dragging = false, started = false;

  function clock(s) {
    s = Math.max(0, Math.floor(s || 0));
    var h = Math.floor(s / 3600), m = Math.floor(s % 3600 / 60), r = s % 60;
    return (h ? h + ":" + (m < 10 ? "0" : "") : "") + m + ":" + (r < 10 ? "0" : "") + r;
  }
  function key() { return "xy-pos-" + rendition; }
  function remember() {
    try { localStorage.setItem(key(), String(Math.floor(audio.currentTime))); } catch (e) { /* private mode */ }
  }

  function payload(event, claimed) {
    return JSON.stringify({ t: token, r: rendition, e: event, d: Math.round(claimed * 1000) / 1000,
                            p: Math.min(duration, Math.round(audio.currentTime * 1000) / 1000) });
  }
  function send(event, useBeacon) {
    // "play" only (re)starts the server's clock; played seconds ride on the next beat.
    // The server credits at most 120 s a beat; what is left rides on the next one.
    var claimed = event === "play" ? 0 : Math.min(played, 120);
    var data = payload(event, claimed);
    if (useBeacon && navigator.sendBeacon) {
      if (navigator.sendBeacon(beatUrl, new Blob([data], { type: "text/plain" }))) played -= claimed;
      return;
    }
    fetch(beatUrl, { method: "POST", body: data, credentials: "same-origin", keepalive: true,
                     headers: { "Content-Type": "text/plain" } })
      .then(function (r) {
        // 422 means the report itself was impossible: sending it again cannot help.
        if (r.ok || r.status === 422) played = Math.max(0, played - claimed);
      })
      .catch(function () { /* offline: keep the seconds and send them with the next beat */ });
  }

  function tick() {
    var t = audio.currentTime;
    if (lastTime !== null && !audio.seeking) {
      var step = t - lastTime;
      if (step > 0 && step < 2) played += step;
    }
    lastTime = t;
  }
  function paint(value) {
    seek.style.setProperty("--p", (duration ? Math.min(100, 100 * value / duration) : 0) + "%");
  }
  function showTime() {
    if (!dragging) { seek.value = audio.currentTime; paint(audio.currentTime); }
    nowLabel.textContent = clock(audio.currentTime);
  }
  function setPlaying(on) {
    play.classList.toggle("playing", on);
    label.textContent = on ? "暂停" : "播放";
    play.setAttribute("aria-label", on ? "暂停" : "播放");
  }

  audio.addEventListener("timeupdate", function () { tick(); showTime(); });
  audio.addEventListener("seeking", function () { lastTime = null; });
  audio.addEventListener("waiting", function () { play.classList.add("waiting"); });
  audio.addEventListener("playing", function () {
    play.classList.remove("waiting");
    setPlaying(true);
    lastTime = audio.currentTime;
    send("play");
    clearInterval(timer);
    timer = setInterval(function () { tick(); send("beat"); remember(); }, every);
  });
  audio.addEventListener("pause", function () {
    clearInterval(timer); tick(); lastTime = null; setPlaying(false);
    if (!audio.ended) { send("pause"); remember(); }
  });
  audio.addEventListener("ended", function () {
    clearInterval(timer); tick(); setPlaying(false); send("end");
    try { localStorage.removeItem(key()); } catch (e) { /* private mode */ }
  });
  audio.addEventListener("loadedmetadata", function () {
    if (isFinite(audio.duration) && audio.duration > 0) seek.max = audio.duration;
  });

  play.addEventListener("click", function () {
    if (!audio.paused) { audio.pause(); return; }
    if (!started) {
      started = true;
      var saved = Number(localStorage.getItem(key()) || 0);
      if (saved > 5 && saved < duration - 10) {
        audio.currentTime = saved;
        resume.hidden = false;
        resume.textContent = "接着上次的位置（" + clock(saved) + "）播放";
      }
    }
    play.classList.add("waiting");
    var p = audio.play();
    if (p && p.catch) p.catch(function () { play.classList.remove("waiting"); setPlaying(false); });
  });
  function jump(by) {
    var t = Math.max(0, Math.min(duration - 0.5, audio.currentTime + by));
    audio.currentTime = t; showTime();
  }
  document.getElementById("back").addEventListener("click", function () { jump(-15); });
  document.getElementById("forward").addEventListener("click", function () { jump(15); });
  seek.addEventListener("input", function () {
    dragging = true; nowLabel.textContent = clock(Number(seek.value)); paint(Number(seek.value));
  });
  seek.addEventListener("change", function () { dragging = false; audio.currentTime = Number(seek.value); showTime(); });

  Array.prototype.forEach.call(document.querySelectorAll(".voice"), function (link) {
    link.addEventListener("click", function (event) {
      event.preventDefault();
      if (Number(link.dataset.rendition) === rendition) return;
      var wasPlaying = !audio.paused, fraction = duration ? audio.currentTime / duration : 0;
      if (wasPlaying) audio.pause();
      document.querySelectorAll(".voice").forEach(function (other) {
        other.classList.toggle("current", other === link);
        if (other === link) other.setAttribute("aria-current", "true"); else other.removeAttribute("aria-current");
      });
      rendition = Number(link.dataset.rendition); duration = Number(link.dataset.duration);
      audio.src = link.dataset.src; audio.dataset.rendition = rendition;
      seek.max = duration; totalLabel.textContent = clock(duration);
      played = 0; lastTime = null;
      history.replaceState(null, "", "?v=" + rendition);
      if (wasPlaying) {
        audio.addEventListener("loadedmetadata", function once() {
          audio.removeEventListener("loadedmetadata", once);
          audio.currentTime = fraction * duration;
        });
        audio.play();
      }
    });
  });

  function flush() { if (!audio.paused && played > 0) { tick(); send("pause", true); } }
  document.addEventListener("visibilitychange", function () { if (document.visibilityState === "hidden") flush(); });
  window.addEventListener("pagehide", flush);
})();
