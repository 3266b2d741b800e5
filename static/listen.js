/* The listen page player, for elderly listeners on a weak signal: the button always answers
   (正在加载… at once, repeat taps ignored while loading, a plain message and retries when the
   network fails), heard lessons play again offline through the service worker, and seconds
   that could not be reported are kept on the phone and sent later as offline listening. */
(function () {
  "use strict";
  var body = document.body;
  var sizes = ["", "text-xl", "text-xxl"], sizeNames = ["大", "更大", "特大"];
  var sizeButton = document.getElementById("bigger");
  var size = Math.max(0, sizes.indexOf(store("xy-text-size") || ""));
  function store(key, value) {
    try {
      if (value === undefined) return localStorage.getItem(key);
      if (value === null) localStorage.removeItem(key); else localStorage.setItem(key, value);
    } catch (e) { /* private mode: nothing is kept */ }
    return null;
  }
  function applySize() {
    sizes.forEach(function (c) { if (c) body.classList.remove(c); });
    if (sizes[size]) body.classList.add(sizes[size]);
    if (sizeButton) sizeButton.textContent = "字号：" + sizeNames[size];
  }
  applySize();
  if (sizeButton) sizeButton.addEventListener("click", function () {
    size = (size + 1) % sizes.length;
    store("xy-text-size", sizes[size]);
    applySize();
  });


  /* --- offline listening: kept on the phone, sent when there is a network ---------------- */
  var QUEUE = "xy-offline";
  function queued() { try { return JSON.parse(store(QUEUE) || "[]"); } catch (e) { return []; } }
  function sendQueued() {
    var items = queued();
    if (!items.length || navigator.onLine === false) return;
    fetch("/listen/offline", { method: "POST", body: JSON.stringify({ items: items.slice(0, 50) }),
                               credentials: "same-origin", headers: { "Content-Type": "text/plain" } })
      .then(function (r) {
        if (!r.ok && r.status !== 422) return;
        var sent = {};
        items.slice(0, 50).forEach(function (item) { sent[item.id] = item.s; });
        store(QUEUE, JSON.stringify(queued().filter(function (item) { return sent[item.id] !== item.s; })));
      })
      .catch(function () { /* still offline */ });
  }
  window.addEventListener("online", sendQueued);
  sendQueued();

  var player = document.getElementById("player");
  if (!player) return;
  var audio = document.getElementById("audio");
  var play = document.getElementById("play"), label = play.querySelector(".label");
  var status = document.getElementById("status"), done = document.getElementById("done");
  var seek = document.getElementById("seek"), nowLabel = document.getElementById("now");
  var totalLabel = document.getElementById("total"), resume = document.getElementById("resume");
  var token = player.dataset.token, beatUrl = player.dataset.beat;
  var every = Math.max(1, Number(player.dataset.every) || 10) * 1000;
  var rendition = Number(audio.dataset.rendition), duration = Number(audio.dataset.duration);
  var played = 0, lastTime = null, timer = null, dragging = false, started = false;
  var loading = false, failed = false, revoked = false, retries = 0, retryTimer = null, resumeAt = null;
  var offline = null;  // this listen's unsent seconds: {id, t, r, b (began), l (last), s, p}
  var listenBegan = null;

  function clock(s) {
    s = Math.max(0, Math.floor(s || 0));
    var h = Math.floor(s / 3600), m = Math.floor(s % 3600 / 60), r = s % 60;
    return (h ? h + ":" + (m < 10 ? "0" : "") : "") + m + ":" + (r < 10 ? "0" : "") + r;
  }
  function key() { return "xy-pos-" + rendition; }
  function remember() { store(key(), String(Math.floor(audio.currentTime))); }

  function keepOffline(seconds) {
    // Seconds the server never heard of: kept with the phone's own clock, sent when online.
    if (seconds <= 0) return;
    var now = Date.now();
    if (!offline || offline.r !== rendition) {
      offline = { id: Math.random().toString(36).slice(2) + now.toString(36), t: token, r: rendition,
                  b: listenBegan || now, l: now, s: 0, p: 0 };
    }
    offline.s = Math.round((offline.s + seconds) * 1000) / 1000;
    offline.l = now;
    offline.p = Math.min(duration, Math.round(audio.currentTime * 1000) / 1000);
    var items = queued().filter(function (item) { return item.id !== offline.id; });
    items.push(offline);
    store(QUEUE, JSON.stringify(items.slice(-200)));
  }

  function payload(event, claimed) {
    return JSON.stringify({ t: token, r: rendition, e: event, d: Math.round(claimed * 1000) / 1000,
                            p: Math.min(duration, Math.round(audio.currentTime * 1000) / 1000) });
  }
  function send(event, useBeacon) {
    // "play" only (re)starts the server's clock; played seconds ride on the next beat.
    // The server credits at most 120 s a beat; what is left rides on the next one.
    var claimed = event === "play" ? 0 : Math.min(played, 120);
    if (navigator.onLine === false) {
      played -= claimed; keepOffline(claimed);
      return;
    }
    var data = payload(event, claimed);
    if (useBeacon && navigator.sendBeacon) {
      if (navigator.sendBeacon(beatUrl, new Blob([data], { type: "text/plain" }))) played -= claimed;
      return;
    }
    played -= claimed;
    fetch(beatUrl, { method: "POST", body: data, credentials: "same-origin", keepalive: true,
                     headers: { "Content-Type": "text/plain" } })
      .then(function (r) {
        // 422: the report itself was impossible, sending it again cannot help; other refusals
        // (a busy server) keep the seconds for the next beat.
        if (!r.ok && r.status !== 422) played += claimed;
        else sendQueued();
      })
      .catch(function () { keepOffline(claimed); });
  }

  function keepForOffline() {
    // The worker is only wanted once a lesson plays, so a page on a slow signal loads
    // without it; it then keeps this page and its audio (and on Wi-Fi the next lesson's).
    if (!("serviceWorker" in navigator) || !window.isSecureContext) return;
    var wifi = navigator.connection && navigator.connection.type === "wifi";
    var message = { keep: audio.currentSrc || audio.src, page: location.pathname,
                    next: wifi ? player.dataset.nextAudio || "" : "" };
    navigator.serviceWorker.register("/sw.js")
      .then(function () { return navigator.serviceWorker.ready; })
      .then(function (registration) { if (registration.active) registration.active.postMessage(message); })
      .catch(function () { /* offline replay is a bonus */ });
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
  function say(message) {
    status.textContent = message || "";
    status.hidden = !message;
  }
  function setState(name) {
    // loading | playing | paused | error: the button's words, shape and busy flag change together
    var words = { loading: "正在加载…", playing: "暂停", paused: "播放", error: "重新加载" }[name];
    play.classList.toggle("loading", name === "loading");
    play.classList.toggle("playing", name === "playing");
    play.classList.toggle("error", name === "error");
    label.textContent = words;
    play.setAttribute("aria-label", words);
    play.setAttribute("aria-busy", name === "loading" ? "true" : "false");
  }

  var watchdog = null;
  function startPlay() {
    loading = true; failed = false;
    setState("loading");
    // A load that neither plays nor fails within 20 s is treated as failed: never a silent state.
    clearTimeout(watchdog);
    watchdog = setTimeout(function () { if (loading) fail(); }, 20000);
    if (done) done.hidden = true;
    var p = audio.play();
    if (p && p.catch) p.catch(function (error) {
      if (error && error.name === "AbortError") return;  // a reload replaced this attempt
      if (error && error.name === "NotAllowedError") { loading = false; setState("paused"); return; }
      fail();
    });
  }
  function fail() {
    if (failed) return;
    loading = false; failed = true;
    clearInterval(timer);
    if (resumeAt === null && audio.currentTime > 0) resumeAt = audio.currentTime;
    setState("error");
    say("网络不好，正在重试…");
    clearTimeout(retryTimer);
    retryTimer = setTimeout(reload, Math.min(30, Math.pow(2, retries)) * 1000);
    retries += 1;
    // With a signal, a failure may be a code that was stopped: then say so, and stop trying.
    if (navigator.onLine !== false) checkCode();
  }
  function checkCode() {
    fetch(location.pathname, { method: "HEAD", credentials: "same-origin", cache: "no-store" })
      .then(function (r) {
        if (r.status !== 404 && r.status !== 410) return;
        clearTimeout(retryTimer);
        revoked = true;
        audio.pause();
        setState("paused");
        say("这个二维码已经停用了，请向志愿者要一张新的。");
      })
      .catch(function () { /* no signal after all */ });
  }
  function reload() {
    clearTimeout(retryTimer);
    failed = false;
    audio.load();
    startPlay();
  }

  audio.addEventListener("timeupdate", function () { tick(); showTime(); });
  audio.addEventListener("seeking", function () { lastTime = null; });
  audio.addEventListener("waiting", function () { if (!audio.paused) { setState("loading"); } });
  audio.addEventListener("error", fail);
  audio.addEventListener("stalled", function () { if (loading) say("网络很慢，正在加载，请稍等…"); });
  audio.addEventListener("loadedmetadata", function () {
    if (isFinite(audio.duration) && audio.duration > 0) seek.max = audio.duration;
    if (resumeAt !== null) { audio.currentTime = resumeAt; resumeAt = null; }
  });
  audio.addEventListener("playing", function () {
    loading = false; retries = 0; clearTimeout(retryTimer); clearTimeout(watchdog);
    say("");
    setState("playing");
    lastTime = audio.currentTime;
    if (listenBegan === null) listenBegan = Date.now();
    send("play");
    clearInterval(timer);
    timer = setInterval(function () { tick(); send("beat"); remember(); }, every);
    keepForOffline();
  });
  audio.addEventListener("pause", function () {
    clearInterval(timer); tick(); lastTime = null;
    if (!failed && !loading) setState("paused");  // a reload's pause is not the listener's
    if (!audio.ended) { send("pause"); remember(); }
  });
  audio.addEventListener("ended", function () {
    clearInterval(timer); tick(); setState("paused"); send("end");
    keepForOffline();  // again: a worker that was still starting at the first play keeps it now
    store(key(), null);
    if (done) { done.hidden = false; done.focus(); }
  });

  play.addEventListener("click", function () {
    if (loading) return;  // the second tap an elderly listener always makes must not pause
    if (revoked) return;
    if (failed) { retries = 0; reload(); return; }
    if (!audio.paused) { audio.pause(); return; }
    if (!started) {
      started = true;
      var saved = Number(store(key()) || 0);
      if (saved > 5 && saved < duration - 10) {
        audio.currentTime = saved;
        resume.hidden = false;
        resume.textContent = "接着上次的位置（" + clock(saved) + "）播放";
      }
    }
    startPlay();
  });
  // Back online: a code stopped meanwhile stops this page too (its audio may be buffered).
  window.addEventListener("online", function () {
    checkCode();
    if (failed && !revoked) { retries = 0; reload(); }
  });
  var again = document.getElementById("again");
  if (again) again.addEventListener("click", function () { audio.currentTime = 0; startPlay(); });

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
      played = 0; lastTime = null; offline = null;
      history.replaceState(null, "", "?v=" + rendition);
      if (wasPlaying) { resumeAt = fraction * duration; startPlay(); }
    });
  });

  function flush() { if (!audio.paused && played > 0) { tick(); send("pause", true); } }
  document.addEventListener("visibilitychange", function () { if (document.visibilityState === "hidden") flush(); });
  window.addEventListener("pagehide", flush);
})();

// 我要留言: say something back (a recording of up to a minute, or typed words). Every message
// is put in the phone's outbox (IndexedDB) before it is sent and leaves it once the server
// answered, so a message made on one bar of signal is sent later, once, when the phone is back.
(function () {
  "use strict";
  var panel = document.getElementById("message");
  if (!panel) return;
  var url = panel.dataset.url, lesson = panel.dataset.lesson;
  var status = document.getElementById("msg-status");
  var box = document.getElementById("msg-recorder");
  var button = document.getElementById("msg-record");
  var playback = document.getElementById("msg-playback");
  var actions = document.getElementById("msg-actions");
  var form = document.getElementById("msg-form");
  var LIMIT_MS = 60000;
  var recorder = null, chunks = [], started = 0, timer = null, recorded = null;

  function say(text) { status.textContent = text; status.hidden = false; }
  function newId() {
    var raw = window.crypto && crypto.randomUUID ? crypto.randomUUID()
      : Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 12);
    return raw.replace(/[^A-Za-z0-9-]/g, "").slice(0, 40);
  }
  function outbox(mode, work) {
    return new Promise(function (resolve, reject) {
      if (!window.indexedDB) { reject(new Error("no storage")); return; }
      var opening = indexedDB.open("xy-messages", 1);
      opening.onupgradeneeded = function () { opening.result.createObjectStore("outbox", { keyPath: "id" }); };
      opening.onerror = function () { reject(opening.error); };
      opening.onsuccess = function () {
        var t = opening.result.transaction("outbox", mode), request = work(t.objectStore("outbox"));
        t.oncomplete = function () { resolve(request ? request.result : undefined); };
        t.onerror = function () { reject(t.error); };
      };
    });
  }
  function deliver(item) {
    var body = new FormData();
    body.append("client_id", item.id);
    body.append("lesson", item.lesson);
    body.append("text", item.text || "");
    if (item.audio) body.append("audio", item.audio, "留言." + item.ext);
    return fetch(item.url, { method: "POST", body: body, credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (response.status >= 500) throw new Error("server");
        return response.json().catch(function () { return {}; }).then(function (answer) {
          // Kept, or refused for good with a reason: either way it leaves the outbox.
          return outbox("readwrite", function (store) { return store.delete(item.id); })
            .catch(function () {}).then(function () { return answer; });
        });
      });
  }
  function send(item) {
    say("正在发送……");
    return outbox("readwrite", function (store) { return store.put(item); }).catch(function () {})
      .then(function () { return deliver(item); })
      .then(function (answer) {
        if (answer.ok) { say("留言已发送，谢谢您！我们会尽快回复。"); return true; }
        say(answer.error || "留言没有发出去，请稍后再试"); return false;
      }, function () {
        say("现在没有信号，留言已经存在手机里，有信号时会自动发出。"); return true;
      });
  }
  function sendWaiting() {
    outbox("readonly", function (store) { return store.getAll(); }).then(function (items) {
      (items || []).forEach(function (item) {
        deliver(item).then(function (answer) {
          if (answer.ok) say("之前没发出去的留言已经发送了，谢谢您！");
        }).catch(function () {});
      });
    }).catch(function () {});
  }
  function reset() {
    recorded = null; playback.hidden = true; playback.removeAttribute("src"); actions.hidden = true;
    button.textContent = "● 按一下开始说话"; button.setAttribute("aria-pressed", "false");
  }
  function stop() { if (recorder && recorder.state !== "inactive") recorder.stop(); clearInterval(timer); }

  form.hidden = false;
  if (window.MediaRecorder && navigator.mediaDevices && navigator.mediaDevices.getUserMedia) {
    box.hidden = false;
  } else {
    document.getElementById("msg-unsupported").hidden = false;
  }
  button.addEventListener("click", function () {
    if (recorder && recorder.state === "recording") { stop(); return; }
    navigator.mediaDevices.getUserMedia({ audio: true }).then(function (stream) {
      chunks = []; reset();
      recorder = new MediaRecorder(stream);
      recorder.ondataavailable = function (event) { if (event.data.size) chunks.push(event.data); };
      recorder.onstop = function () {
        stream.getTracks().forEach(function (track) { track.stop(); });
        var type = recorder.mimeType || "audio/webm";
        recorded = { blob: new Blob(chunks, { type: type }),
                     ext: type.indexOf("mp4") >= 0 ? "m4a" : (type.indexOf("ogg") >= 0 ? "ogg" : "webm") };
        playback.src = URL.createObjectURL(recorded.blob);
        playback.hidden = false; actions.hidden = false;
        button.textContent = "● 重新录一段"; button.setAttribute("aria-pressed", "false");
        say("录好了（" + Math.round((Date.now() - started) / 1000) + " 秒）。可以先听一遍，再点“发送”。");
      };
      recorder.start(1000);
      started = Date.now();
      button.textContent = "■ 说完了，停止"; button.setAttribute("aria-pressed", "true");
      timer = setInterval(function () {
        var spent = Date.now() - started;
        say("正在录音 " + Math.round(spent / 1000) + " 秒……（最多 60 秒）");
        if (spent >= LIMIT_MS) stop();
      }, 500);
    }).catch(function () {
      box.hidden = true;
      document.getElementById("msg-unsupported").hidden = false;
      say("不能使用麦克风（没有允许录音？），可以写几个字给我们。");
    });
  });
  document.getElementById("msg-send").addEventListener("click", function () {
    if (!recorded) return;
    send({ id: newId(), url: url, lesson: lesson, text: "", audio: recorded.blob, ext: recorded.ext })
      .then(function (done) { if (done) reset(); });
  });
  document.getElementById("msg-discard").addEventListener("click", function () { reset(); say("已删掉，可以重新录。"); });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = form.elements.text.value.trim();
    if (!text) { say("请先写几个字"); return; }
    send({ id: newId(), url: url, lesson: lesson, text: text }).then(function (done) { if (done) form.reset(); });
  });
  window.addEventListener("online", sendWaiting);
  sendWaiting();
})();
