// Live progress for background jobs without reloading the page: each .job element polls its
// JSON endpoint and updates its bar; a finished render gets its player in place.
(function () {
  "use strict";
  function poll(box, url, render) {
    fetch(url, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (data) {
        var finished = render(box, data);
        if (!finished) { setTimeout(function () { poll(box, url, render); }, 1000); }
      })
      .catch(function () { setTimeout(function () { poll(box, url, render); }, 3000); });
  }

  function showJob(box, data) {
    box.querySelector("progress").value = data.progress;
    box.querySelector(".job-message").textContent = data.message || "排队中";
    if (data.status === "done" && data.audio) {
      var player = document.createElement("audio");
      player.controls = true;
      player.preload = "none";
      player.src = data.audio;
      box.parentNode.insertBefore(player, box);
      box.querySelector(".job-message").textContent = "完成（" + data.duration + " 秒）";
    } else if (data.status === "done") {
      box.querySelector(".job-message").textContent = data.message;
    }
    if (data.status === "failed") { box.querySelector(".job-message").textContent = "失败：" + data.message; }
    return data.status === "done" || data.status === "failed";
  }

  function showGroup(box, data) {
    if (!data.total) { return !data.active; }
    box.hidden = false;
    box.querySelector("progress").value = data.progress;
    box.querySelector(".job-message").textContent =
      "已完成 " + data.done + "/" + data.total + " 课" + (data.failed ? "，失败 " + data.failed + " 课" : "");
    return !data.active;
  }

  document.querySelectorAll("[data-job-url]").forEach(function (box) {
    poll(box, box.getAttribute("data-job-url"), showJob);
  });
  document.querySelectorAll("[data-group-url]").forEach(function (box) {
    poll(box, box.getAttribute("data-group-url"), showGroup);
  });
})();
