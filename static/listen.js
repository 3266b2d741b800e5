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

  /* --- 听后一问: one answer per phone and lesson; without signal it is kept and sent later -- */
  var question = document.getElementById("question");
  var UNSENT = "xy-answers", ANSWERED = "xy-answered";
  function parsed(name, empty) { try { return JSON.parse(store(name) || empty); } catch (e) { return JSON.parse(empty); } }
  function showResult(result) {
    if (!question) return;
    var buttons = question.querySelectorAll(".answer");
    Array.prototype.forEach.call(buttons, function (button, index) {
      button.disabled = true;
      button.setAttribute("aria-pressed", index === result.choice ? "true" : "false");
    });
    var text = document.getElementById("question-result");
    if (result.waiting) { text.textContent = "已记下您的答案，有网络时会自动发送。"; return; }
    var right = buttons[result.right];
    text.textContent = result.correct ? "答对了 ✓" : "正确答案是 " + (right ? right.textContent : "");
  }
  function keepAnswer(lesson, result) {
    var all = parsed(ANSWERED, "{}");
    all[lesson] = result;
    store(ANSWERED, JSON.stringify(all));
    if (question && question.dataset.lesson === String(lesson)) showResult(result);
  }
  function postAnswer(item) {
    return fetch(item.url, { method: "POST", credentials: "same-origin", headers: { "Content-Type": "text/plain" },
                             body: JSON.stringify({ lesson: item.lesson, choice: item.choice, later: item.later }) })
      .then(function (r) {
        if (r.ok) return r.json();
        if (r.status >= 400 && r.status < 500) return null;  // refused for good: not sent again
        throw new Error("retry");
      });
  }
  function sendAnswers() {
    var waiting = parsed(UNSENT, "[]");
    if (!waiting.length || navigator.onLine === false) return;
    waiting.forEach(function (item) {
      postAnswer(item).then(function (result) {
        store(UNSENT, JSON.stringify(parsed(UNSENT, "[]").filter(function (other) { return other.lesson !== item.lesson; })));
        if (result) { keepAnswer(item.lesson, { choice: item.choice, correct: result.correct, right: result.right }); return; }
        var all = parsed(ANSWERED, "{}");  // refused (a code stopped meanwhile): not kept as answered
        delete all[item.lesson];
        store(ANSWERED, JSON.stringify(all));
      }).catch(function () { /* still offline */ });
    });
  }
  if (question) {
    var mine = parsed(ANSWERED, "{}")[question.dataset.lesson];
    if (mine) { question.hidden = false; showResult(mine); }
    Array.prototype.forEach.call(question.querySelectorAll(".answer"), function (button) {
      button.addEventListener("click", function () {
        if (parsed(ANSWERED, "{}")[question.dataset.lesson]) return;
        var item = { url: question.dataset.url, lesson: Number(question.dataset.lesson),
                     choice: Number(button.dataset.choice), later: false };
        postAnswer(item).then(function (result) {
          if (result) keepAnswer(item.lesson, { choice: item.choice, correct: result.correct, right: result.right });
          else document.getElementById("question-result").textContent = "没有记下，请刷新页面后再选。";
        }).catch(function () {
          item.later = true;
          var waiting = parsed(UNSENT, "[]").filter(function (other) { return other.lesson !== item.lesson; });
          waiting.push(item);
          store(UNSENT, JSON.stringify(waiting));
          keepAnswer(item.lesson, { choice: item.choice, waiting: true });
        });
      });
    });
  }
  window.addEventListener("online", sendAnswers);
  sendAnswers();

  /* Each part of the question played aloud from the lesson's own track (kept offline with
     it): the server says where the question and each answer are. */
  var spans = question && question.dataset.spans ? JSON.parse(question.dataset.spans) : null;
  if (spans) {
    var lessonAudio = document.getElementById("audio"), partAudio = null, partSrc = "", stopAt = 0, saying = null;
    var hushPart = function () {
      if (partAudio) partAudio.pause();
      if (saying) saying.setAttribute("aria-pressed", "false");
      saying = null;
    };
    var sayPart = function (button) {
      var span = spans[Number(button.dataset.part)];
      if (!span) return;
      if (saying === button) { hushPart(); return; }
      hushPart();
      if (lessonAudio && !lessonAudio.paused) lessonAudio.pause();
      if (!partAudio) {
        partAudio = new Audio();
        partAudio.preload = "auto";
        partAudio.addEventListener("timeupdate", function () { if (partAudio.currentTime >= stopAt) hushPart(); });
        partAudio.addEventListener("ended", hushPart);
      }
      var src = lessonAudio ? (lessonAudio.currentSrc || lessonAudio.dataset.main || "") : "";
      if (src !== partSrc) { partSrc = src; partAudio.src = src; }
      stopAt = span[1] + 0.25;
      saying = button;
      button.setAttribute("aria-pressed", "true");
      var start = function () {
        partAudio.currentTime = Math.max(0, span[0] - 0.1);
        partAudio.play().catch(hushPart);
      };
      if (partAudio.readyState >= 1) start(); else partAudio.addEventListener("loadedmetadata", start, { once: true });
    };
    Array.prototype.forEach.call(question.querySelectorAll(".say"), function (button) {
      button.setAttribute("aria-pressed", "false");
      button.addEventListener("click", function () { sayPart(button); });
    });
  }

  /* --- the service worker, from the first visit of any listen page ------------------------ */
  var player = document.getElementById("player");
  var workerHere = "serviceWorker" in navigator && window.isSecureContext;
  function aboutThisPage() {
    // What the worker needs to keep this page's lesson: its page, its list, its tracks.
    if (!player) return { page: location.pathname };
    var tracks = [];
    Array.prototype.forEach.call(document.querySelectorAll("#audio, .voice"), function (node) {
      tracks.push(node.dataset.main || node.dataset.src || "", node.dataset.light || "");
    });
    return { page: location.pathname, list: player.dataset.list || null, lesson: Number(player.dataset.lesson),
             title: document.title, audio: tracks.filter(Boolean) };
  }
  function tellWorker(extra) {
    if (!workerHere) return;
    var message = aboutThisPage();
    Object.keys(extra || {}).forEach(function (name) { message[name] = extra[name]; });
    navigator.serviceWorker.ready.then(function (registration) {
      if (registration.active) registration.active.postMessage(message);
    }).catch(function () { /* offline replay is a bonus */ });
  }
  if (workerHere) {
    var register = function () {
      navigator.serviceWorker.register("/sw.js").catch(function () { /* no signal: the kept worker stays */ });
      tellWorker();
    };
    if (document.readyState === "complete") register(); else window.addEventListener("load", register);
  }
  function keptLessons() {
    // The worker's index of kept tracks, read straight from the phone's cache.
    if (!window.caches) return Promise.resolve([]);
    return caches.open("xy-audio-v1").then(function (cache) { return cache.match("/__xy/index"); })
      .then(function (r) { return r ? r.json() : {}; })
      .then(function (index) {
        return Object.keys(index).map(function (path) { return index[path]; })
          .filter(function (entry) { return entry.lesson && entry.page; })
          .sort(function (a, b) { return b.last - a.last; });
      }).catch(function () { return []; });
  }
  if (body.dataset.offline) {
    // A kept list opened without signal: kept lessons play from the phone, the others say so.
    var links = document.querySelectorAll("a[data-lesson]");
    if (links.length) keptLessons().then(function (kept) {
      var byLesson = {};
      kept.forEach(function (entry) { byLesson[entry.lesson] = byLesson[entry.lesson] || entry; });
      Array.prototype.forEach.call(links, function (link) {
        var entry = byLesson[link.dataset.lesson];
        if (entry) { link.href = entry.page; return; }
        link.classList.add("needs-network");
        var mark = document.createElement("span");
        mark.className = "need";
        mark.textContent = "需要网络";
        link.appendChild(mark);
      });
    });
  }
  var keptList = document.getElementById("kept-list");
  if (keptList) {
    var wanted = body.dataset.wanted || "";
    if (body.dataset.offline) {
      var why = document.getElementById("kept-why");
      why.textContent = /^\/s\/[^/]+\/?$/.test(wanted) ? "现在没有网络，这个专题还没有在这部手机上打开过。"
        : "现在没有网络，这一课还没有在这部手机上听过。";
      why.hidden = false;
    }
    keptLessons().then(function (kept) {
      document.getElementById("kept-none").hidden = kept.length > 0;
      kept.forEach(function (entry) {
        var item = document.createElement("li"), link = document.createElement("a");
        var title = document.createElement("span"), tag = document.createElement("span");
        link.className = "lesson-tap"; link.href = entry.page;
        title.className = "title"; title.textContent = entry.title;
        tag.className = "play-tag"; tag.textContent = "播放";
        link.appendChild(title); link.appendChild(tag); item.appendChild(link); keptList.appendChild(item);
      });
    });
  }

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

  /* --- one bar of signal: the light file, chosen by the phone or the listener ------------ */
  var mainUrl = audio.dataset.main || audio.getAttribute("src"), lightUrl = audio.dataset.light || "";
  var mainKbps = Number(audio.dataset.kbps) || 64, LIGHT_KBPS = 32;
  var quality = store("xy-quality");  // "light" | "clear" | null: the phone decides
  var usingLight = false, dry = 0, samples = [], wanted = false, troubled = false;
  var lastProgressAt = Date.now(), lastByteAt = 0;  // the player moved on / a byte arrived
  var qualityBox = document.getElementById("quality");
  function slowLink() {
    // What the phone says of its link, else how fast this page's own bytes came.
    var link = navigator.connection;
    if (link && (link.saveData || link.effectiveType === "slow-2g" || link.effectiveType === "2g")) return true;
    if (link && link.downlink > 0 && link.downlink * 1000 < mainKbps * 1.5) return true;
    var page = window.performance && performance.getEntriesByType ? performance.getEntriesByType("navigation")[0] : null;
    if (!page || !page.transferSize || page.responseEnd - page.responseStart < 300) return false;
    return page.transferSize * 8 / (page.responseEnd - page.responseStart) < mainKbps * 1.5;
  }
  function showQuality() {
    if (!qualityBox) return;
    qualityBox.hidden = !lightUrl;
    Array.prototype.forEach.call(qualityBox.querySelectorAll("button"), function (button) {
      button.setAttribute("aria-pressed", String(button.dataset.quality === (usingLight ? "light" : "clear")));
    });
  }
  function useFile(light) {
    // The other file of the same rendition, at the same position; the listen goes on.
    if (light && !lightUrl) return;
    usingLight = light; dry = 0; samples = [];
    showQuality();
    var url = light ? lightUrl : mainUrl;
    if (audio.getAttribute("src") === url) return;
    var at = resumeAt !== null ? resumeAt : audio.currentTime, going = wanted;
    if (!audio.paused) audio.pause();
    audio.src = url; lastTime = null;
    resumeAt = at > 0 ? at : null;
    if (going) { loading = false; startPlay(); }
  }
  function loadRate() {
    // Seconds of audio that arrived per second over the last three, or null while unknown.
    if (samples.length < 4) return null;
    var now = samples[samples.length - 1], then = samples[samples.length - 4];
    return (now[1] - then[1]) / ((now[0] - then[0]) / 1000);
  }
  function everySecond() {
    if (!wanted) return;
    var now = Date.now(), end = 0, b = audio.buffered;
    for (var i = 0; i < b.length; i++) end = Math.max(end, b.end(i));
    if (end > 0) samples.push([now, end]);  // the rate counts from the first byte
    if (samples.length > 10) samples.shift();
    var whole = end >= (audio.duration || duration) - 0.5, rate = loadRate();
    if (!usingLight && lightUrl && quality === null && !whole && rate !== null && rate < 1.15) useFile(true);
    else if (usingLight && quality === "clear" && rate !== null && rate > 1.3 * mainKbps / LIGHT_KBPS) useFile(false);
    if (now - lastProgressAt >= 5000 && (loading || !audio.paused)) {
      say(troubled || navigator.onLine === false ? "网络不好，正在重试…" : "网络很慢，正在加载，请稍等…");
    }
    if (loading && now - Math.max(lastProgressAt, lastByteAt) >= 20000) fail();
  }
  setInterval(everySecond, 1000);
  if (qualityBox) qualityBox.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-quality]");
    if (!button) return;
    quality = button.dataset.quality;
    store("xy-quality", quality);
    useFile(quality === "light");
  });
  if (lightUrl && quality === "light") { usingLight = true; audio.src = lightUrl; }  // nothing loads before 播放
  showQuality();

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

  function startPlay() {
    // A load that neither plays nor gets a byte for 20 s is treated as failed (everySecond):
    // never a silent state.
    loading = true; failed = false; wanted = true;
    lastProgressAt = Date.now();
    setState("loading");
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
    loading = false; failed = true; troubled = true;
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
        wanted = false;
        say("这个二维码已经停用了，请向志愿者要一张新的。");
        var toList = document.getElementById("to-list");
        if (toList && player.dataset.list) { toList.href = player.dataset.list; toList.hidden = false; }
      })
      .catch(function () { /* no signal after all */ });
  }
  function reload() {
    clearTimeout(retryTimer);
    failed = false;
    audio.load();
    startPlay();
  }

  audio.addEventListener("timeupdate", function () {
    // Real progress is the only thing that clears the weak-network message.
    if (!audio.paused && lastTime !== null && audio.currentTime > lastTime) {
      lastProgressAt = Date.now(); troubled = false; say("");
    }
    tick(); showTime();
  });
  audio.addEventListener("progress", function () { lastByteAt = Date.now(); });
  audio.addEventListener("seeking", function () { lastTime = null; });
  audio.addEventListener("waiting", function () {
    if (audio.paused || audio.seeking) return;
    setState("loading");
    // The buffer ran dry: twice is a link too slow for this file.
    dry += 1;
    if (dry >= 2 && !usingLight && lightUrl && quality !== "light") useFile(true);
  });
  audio.addEventListener("error", function () { if (audio.getAttribute("src")) fail(); });
  audio.addEventListener("loadedmetadata", function () {
    if (isFinite(audio.duration) && audio.duration > 0) seek.max = audio.duration;
    if (resumeAt !== null) { audio.currentTime = resumeAt; resumeAt = null; }
  });
  audio.addEventListener("playing", function () {
    loading = false; retries = 0; clearTimeout(retryTimer);
    setState("playing");
    lastTime = audio.currentTime;
    if (listenBegan === null) listenBegan = Date.now();
    send("play");
    clearInterval(timer);
    timer = setInterval(function () { tick(); send("beat"); remember(); }, every);
    tellWorker();
  });
  audio.addEventListener("pause", function () {
    clearInterval(timer); tick(); lastTime = null;
    if (!failed && !loading) setState("paused");  // a reload's pause is not the listener's
    if (!audio.ended) { send("pause"); remember(); }
  });
  audio.addEventListener("ended", function () {
    clearInterval(timer); tick(); setState("paused"); send("end");
    wanted = false;
    // Kept now, after the lesson: only what the player skipped is fetched (and on Wi-Fi the
    // next lesson's track).
    var wifi = navigator.connection && navigator.connection.type === "wifi";
    tellWorker({ ended: audio.currentSrc || audio.src, next: wifi ? player.dataset.nextAudio || "" : "" });
    store(key(), null);
    if (done) { done.hidden = false; done.focus(); }
    if (question) question.hidden = false;
  });

  play.addEventListener("click", function () {
    if (loading) return;  // the second tap an elderly listener always makes must not pause
    if (revoked) return;
    if (failed) { retries = 0; reload(); return; }
    if (!audio.paused) { wanted = false; audio.pause(); return; }
    if (!started) {
      started = true;
      if (lightUrl && (quality === "light" || (quality === null && slowLink()))) useFile(true);
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
      mainUrl = link.dataset.src; lightUrl = link.dataset.light || "";
      if (!lightUrl) usingLight = false;
      showQuality();
      audio.src = usingLight ? lightUrl : mainUrl; audio.dataset.rendition = rendition;
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
    body.append("name", item.name || "");
    body.append("phone", item.phone || "");
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
        if (answer.ok) { say("留言已发送，谢谢您！回复会出现在这个页面上。"); return true; }
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
  function who(item) {
    // The optional 称呼 and 电话 a general code's message may carry.
    var name = document.getElementById("msg-name"), phone = document.getElementById("msg-phone");
    item.name = name ? name.value.trim() : "";
    item.phone = phone ? phone.value.trim() : "";
    return item;
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
    send(who({ id: newId(), url: url, lesson: lesson, text: "", audio: recorded.blob, ext: recorded.ext }))
      .then(function (done) { if (done) reset(); });
  });
  document.getElementById("msg-discard").addEventListener("click", function () { reset(); say("已删掉，可以重新录。"); });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = form.elements.text.value.trim();
    if (!text) { say("请先写几个字"); return; }
    send(who({ id: newId(), url: url, lesson: lesson, text: text })).then(function (done) { if (done) form.reset(); });
  });
  window.addEventListener("online", sendWaiting);
  sendWaiting();
})();

// 回音: replies to this phone's messages (or this personal card's), shown at the top of the
// page until heard through once; 再听一遍 plays it again. Listen pages are shared by every
// phone (cached), so the replies are asked for with this phone's own cookie.
(function () {
  "use strict";
  var panel = document.getElementById("echo");
  if (!panel || navigator.onLine === false || !window.fetch) return;
  var list = document.getElementById("echo-list"), code = panel.dataset.code;
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text) node.textContent = text;
    return node;
  }
  function heard(reply, seconds) {
    return fetch("/listen/replies/" + reply.id + "/heard", {
      method: "POST", credentials: "same-origin", headers: { "Content-Type": "text/plain" },
      body: JSON.stringify({ code: code, listened: seconds })
    }).then(function (r) { return r.ok ? r.json() : { heard: false }; }).catch(function () { return { heard: false }; });
  }
  function show(reply) {
    var item = el("div", "echo-item");
    var left = new Date(reply.left);
    item.appendChild(el("p", "said", "您 " + (left.getMonth() + 1) + "月" + left.getDate() + "日 的留言：" + reply.said));
    if (reply.text) item.appendChild(el("p", "answer-text", reply.text));
    if (reply.audio) {
      var audio = el("audio"), button = el("button", "echo-play", "▶ 听回复"), note = el("p", "heard");
      audio.preload = "none";
      audio.src = reply.audio;
      button.type = "button";
      var played = 0, last = null, reported = false;
      audio.addEventListener("timeupdate", function () {
        if (last !== null && audio.currentTime > last && audio.currentTime - last < 2) played += audio.currentTime - last;
        last = audio.currentTime;
      });
      audio.addEventListener("ended", function () {
        button.textContent = "↻ 再听一遍";
        if (reported) return;
        heard(reply, played).then(function (answer) {
          reported = answer.heard;
          if (answer.heard) note.textContent = "听过了 ✓ 下次打开时就不再显示这条回复。";
        });
      });
      button.addEventListener("click", function () {
        if (!audio.paused) { audio.pause(); button.textContent = "▶ 接着听"; return; }
        if (audio.ended) { audio.currentTime = 0; last = 0; }
        audio.play().then(function () { button.textContent = "❚❚ 暂停"; }).catch(function () {
          note.textContent = "现在放不出来，请稍后再试。";
        });
      });
      item.appendChild(button);
      item.appendChild(audio);
      item.appendChild(note);
    }
    list.appendChild(item);
  }
  var asked = new FormData();
  asked.append("code", code);
  fetch(panel.dataset.url, { method: "POST", body: asked, credentials: "same-origin" })
    .then(function (r) { return r.ok ? r.json() : { replies: [] }; })
    .then(function (data) {
      if (!data.replies || !data.replies.length) return;
      data.replies.forEach(show);
      panel.hidden = false;
    })
    .catch(function () { /* no signal: the reply waits for the next page */ });
})();
