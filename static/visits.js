/* Visit forms survive a lost signal: a form that cannot be sent is kept on the phone and sent
   when the phone is back online (from any page of the site). The scan time is safe: the
   server recorded it when the door card was scanned, and the form carries that scan's id.
   A visit sent later leaves a lasting "✓ 已发送" note until the volunteer dismisses it, so
   they can tell it arrived. */
(function () {
  "use strict";
  var KEY = "xy-visit-queue", SENT = "xy-visit-sent", MAX_OFFLINE_AUDIO = 2500000, DAY = 86400000, sending = false;

  function load() { try { return JSON.parse(localStorage.getItem(KEY) || "[]"); } catch (e) { return []; } }
  function save(queue) { localStorage.setItem(KEY, JSON.stringify(queue)); }
  function statusBox() {
    var box = document.getElementById("queue-status");
    if (!box) {
      box = document.createElement("p");
      box.id = "queue-status"; box.className = "queue-status"; box.setAttribute("role", "status");
      var main = document.querySelector("main");
      if (!main) return null;
      main.insertBefore(box, main.firstChild);
    }
    return box;
  }
  function show(text) { var box = statusBox(); if (box) { box.hidden = !text; box.textContent = text || ""; } }
  function describe(queue) {
    if (!queue.length) return "";
    var failed = queue.filter(function (e) { return e.error; });
    var text = "有 " + queue.length + " 条走访记录保存在这部手机上，等有信号时自动发送。";
    if (failed.length) text += " 其中 " + failed.length + " 条没被接受：" + failed[0].error;
    return text;
  }

  function sentList() {
    var now = Date.now();
    try {
      return JSON.parse(localStorage.getItem(SENT) || "[]").filter(function (e) { return now - e.at < DAY; });
    } catch (e) { return []; }
  }
  function remember(entry) {
    var list = sentList().concat([{ member: entry.member, done: entry.done, saved: entry.saved, at: Date.now() }]);
    localStorage.setItem(SENT, JSON.stringify(list.slice(-5)));
  }
  function clock(iso) {
    var d = new Date(iso);
    return isNaN(d) ? "" : (d.getMonth() + 1) + "月" + d.getDate() + "日 " + d.toTimeString().slice(0, 5);
  }
  function showSent() {
    var list = sentList(), box = document.getElementById("sent-status"), main = document.querySelector("main");
    if (!list.length) { if (box) { box.remove(); } return; }
    if (!main) return;
    if (!box) {
      box = document.createElement("div");
      box.id = "sent-status"; box.className = "flash success sent-status"; box.setAttribute("role", "status");
      main.insertBefore(box, main.firstChild);
    }
    box.textContent = "";
    list.forEach(function (e) {
      var line = document.createElement("p");
      line.appendChild(document.createTextNode("✓ 已发送：对 " + e.member + " 的走访（" + clock(e.saved) + " 填写）"));
      if (e.done) {
        var link = document.createElement("a");
        link.href = e.done; link.textContent = "查看记录"; link.className = "button";
        line.appendChild(document.createTextNode(" ")); line.appendChild(link);
      }
      box.appendChild(line);
    });
    var ok = document.createElement("button");
    ok.type = "button"; ok.textContent = "知道了";
    ok.addEventListener("click", function () { localStorage.removeItem(SENT); showSent(); });
    box.appendChild(ok);
  }

  /* The lists drawn before a queued visit arrived (超期, the home page's reminder) are drawn
     again once it has: the member just visited must not still show as overdue. */
  function refreshLists() {
    var shown = document.querySelectorAll("[data-visits]");
    if (!shown.length) return;
    fetch(location.href, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html");
        Array.prototype.forEach.call(shown, function (old) {
          var now = old.id ? fresh.getElementById(old.id) : null;
          if (now) old.innerHTML = now.innerHTML; else old.remove();
        });
      })
      .catch(function () { /* the old list stays; the next page view is fresh */ });
  }

  function formData(entry) {
    var data = new FormData();
    entry.fields.forEach(function (pair) { data.append(pair[0], pair[1]); });
    (entry.files || (entry.voice ? [Object.assign({ field: "voice_note" }, entry.voice)] : [])).forEach(function (file) {
      var bytes = atob(file.data.split(",")[1]), array = new Uint8Array(bytes.length);
      for (var i = 0; i < bytes.length; i++) array[i] = bytes.charCodeAt(i);
      data.append(file.field, new Blob([array], { type: file.type }), file.name);
    });
    return data;
  }
  function post(entry) {
    return fetch(entry.url, { method: "POST", body: formData(entry), credentials: "same-origin",
                              headers: { "Accept": "application/json" } })
      .then(function (response) {
        var json = (response.headers.get("Content-Type") || "").indexOf("application/json") === 0;
        if (!json) return { status: 401, body: { error: "登录已过期，请重新登录后打开任意页面" } };
        return response.json().then(function (body) { return { status: response.status, body: body }; });
      });
  }

  function flush() {
    var queue = load();
    if (sending || !queue.length) { show(describe(queue)); return Promise.resolve(); }
    sending = true;
    var entry = queue[0];
    return post(entry).then(function (result) {
      var rest = load().filter(function (e) { return e.key !== entry.key; });
      if (result.status < 300 || result.status === 409) {
        save(rest);
        remember(entry);
        showSent();
        refreshLists();
      } else {
        entry.error = result.body.error || "服务器拒绝了这条记录";
        save(rest.concat([entry]));
        if (result.status === 401) throw new Error("login");
      }
      sending = false;
      show(describe(load()));
      if (load().some(function (e) { return !e.error; })) return flush();
    }).catch(function () { sending = false; show(describe(load())); });
  }

  function entryFrom(form) {
    // Every recording on the form (the voice note, spoken answers) is kept with it, up to
    // what the phone's storage holds.
    var fields = [], picked = [];
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || el.disabled) return;
      if (el.type === "file") { if (el.files && el.files[0]) picked.push([el.name, el.files[0]]); return; }
      if ((el.type === "checkbox" || el.type === "radio") && !el.checked) return;
      fields.push([el.name, el.value]);
    });
    var key = (fields.filter(function (p) { return p[0] === "client_key"; })[0] || [])[1];
    var entry = { key: key, url: form.action || location.href, fields: fields, member: form.dataset.member,
                  done: form.dataset.done, saved: new Date().toISOString(), files: [] };
    var total = picked.reduce(function (sum, pair) { return sum + pair[1].size; }, 0);
    if (total > MAX_OFFLINE_AUDIO) { entry.tooBig = true; return Promise.resolve(entry); }
    return Promise.all(picked.map(function (pair) {
      return new Promise(function (resolve) {
        var reader = new FileReader();
        reader.onload = function () {
          entry.files.push({ field: pair[0], name: pair[1].name, type: pair[1].type, data: reader.result });
          resolve();
        };
        reader.onerror = function () { resolve(); };
        reader.readAsDataURL(pair[1]);
      });
    })).then(function () { return entry; });
  }

  var form = document.getElementById("visit-form");
  if (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var button = form.querySelector("button.primary");
      button.disabled = true;
      entryFrom(form).then(function (entry) {
        var withFile = new FormData(form);
        return fetch(entry.url, { method: "POST", body: withFile, credentials: "same-origin",
                                  headers: { "Accept": "application/json" } })
          .then(function (response) {
            if ((response.headers.get("Content-Type") || "").indexOf("application/json") !== 0) {
              entry.error = "登录已过期，请重新登录；这条记录会在登录后发送";
              save(load().filter(function (e) { return e.key !== entry.key; }).concat([entry]));
              show(entry.error);
              return;
            }
            return response.json().then(function (body) {
              if (response.ok) { location.href = form.dataset.done; return; }
              button.disabled = false;
              show(body.error || "没有保存，请检查后再试");
            });
          })
          .catch(function () {
            save(load().filter(function (e) { return e.key !== entry.key; }).concat([entry]));
            var note = "没有信号：对 " + entry.member + " 的走访已保存在这部手机上" +
              (form.querySelector("[name=scan]") ? "（扫码签到的时间已记下）" : "") + "，有信号时会自动发送。";
            if (entry.tooBig) note += " 录音太大，不能离线保存，请有信号时重新上传。";
            show(note);
          });
      });
    });
  }
  showSent();
  window.addEventListener("online", flush);
  setInterval(function () { if (load().length) flush(); }, 15000);
  flush();
})();
