// Live progress for background jobs without reloading the page: each job box polls its JSON
// endpoint and updates its bar. When a job ends, the part of the page that lists its results
// ([data-refresh]) is fetched again, so new audio appears without a reload; a finished pack
// moves on to its page, where the download starts by itself.
(function () {
  "use strict";
  function poll(box, url, render) {
    fetch(url, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (data) {
        var finished = render(box, data);
        if (!finished) { setTimeout(function () { poll(box, url, render); }, 1000); }
      })
      .catch(function () { setTimeout(function () { poll(box, url, render); }, 3000); });
  }

  function say(box, text) { box.querySelector(".job-message").textContent = text; }

  function refresh(box) {
    var area = box.closest("[data-refresh]");
    if (!area || !area.id) { return; }
    fetch(location.href, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById(area.id);
        if (fresh) { area.innerHTML = fresh.innerHTML; start(area); }
      })
      .catch(function () { /* the old list stays; a reload shows the new one */ });
  }

  function showJob(box, data) {
    box.querySelector("progress").value = data.progress;
    say(box, data.message || "排队中");
    if (data.status === "done") {
      say(box, data.length ? "完成：音频长 " + data.length + (data.took ? "（生成用了 " + data.took + "）" : "")
                           : data.message);
    }
    if (data.status === "failed") { say(box, "失败：" + data.message); }
    if (data.status === "cancelled") { say(box, "已取消：" + data.message); }
    var over = data.status === "done" || data.status === "failed" || data.status === "cancelled";
    if (over) { refresh(box); }
    return over;
  }

  function showGroup(box, data) {
    if (!data.total) { return !data.active; }
    box.hidden = false;
    box.querySelector("progress").value = data.progress;
    say(box, "已完成 " + data.done + "/" + data.total + " 课" + (data.failed ? "，失败 " + data.failed + " 课" : ""));
    if (!data.active) { refresh(box); }
    return !data.active;
  }

  function showPack(box, data) {
    box.querySelector("progress").value = data.progress;
    if (data.status === "failed" || data.status === "cancelled") {
      say(box, (data.status === "failed" ? "没有做成：" : "已取消：") + data.message);
      box.classList.add("failed");
      return true;
    }
    say(box, data.message);
    if (data.status === "done" && data.next) {
      if (data.target === "zip") { location.assign(data.next); } else { refresh(box); }
    }
    return data.status === "done";
  }

  function start(root) {
    root.querySelectorAll("[data-job-url]").forEach(function (box) {
      poll(box, box.getAttribute("data-job-url"), showJob);
    });
    root.querySelectorAll("[data-group-url]").forEach(function (box) {
      poll(box, box.getAttribute("data-group-url"), showGroup);
    });
    root.querySelectorAll("[data-pack-url]").forEach(function (box) {
      poll(box, box.getAttribute("data-pack-url"), showPack);
    });
  }

  start(document);
  var download = document.querySelector("a[data-autodownload]");
  if (download) {
    history.replaceState(null, "", location.pathname);
    download.click();
  }
})();
