/* Listen pages on a village signal: the pages (their CSS and script are inside them) and
   every lesson this phone has played are kept, so a lesson heard once plays again without signal. Audio is kept whole
   and byte ranges (which Chromium and iOS send) are cut from the kept copy. A storage cap
   evicts the least recently played; a code found revoked while online is forgotten at once.
   Only listen pages and their audio are touched; every other request
   goes to the network as if there were no worker. */
"use strict";

var PAGES = "xy-pages-v1";
var AUDIO = "xy-audio-v1";
var INDEX = "/__xy/index";  // in AUDIO: {url: {token, last, size}}
var CAP_BYTES = 200 * 1024 * 1024;
var CHECK_EVERY_MS = 60 * 1000;
var checked = {};  // token → time its code was last confirmed live

self.addEventListener("install", function (event) { event.waitUntil(self.skipWaiting()); });
self.addEventListener("activate", function (event) { event.waitUntil(self.clients.claim()); });

function codeOf(path) {
  // "/l/<token>…" or "/s/<token>…" → "l/<token>"
  var match = /^\/([ls])\/([^/]+)/.exec(path);
  return match ? match[1] + "/" + match[2] : null;
}
function isAudio(path) { return /^\/[ls]\/[^/]+\/a\/\d+\/[^/]+$/.test(path); }

var queue = Promise.resolve();
function serially(work) { queue = queue.then(work, work); return queue; }
function readIndex(cache) {
  return cache.match(INDEX).then(function (r) { return r ? r.json() : {}; }).catch(function () { return {}; });
}
function writeIndex(cache, index) {
  return cache.put(INDEX, new Response(JSON.stringify(index), { headers: { "Content-Type": "application/json" } }));
}

function forget(code) {
  // A revoked code: its pages and its audio go, so it cannot play from here again.
  return serially(function () {
    return Promise.all([caches.open(PAGES), caches.open(AUDIO)]).then(function (both) {
      return Promise.all([both[0].keys(), both[1].keys(), readIndex(both[1])]).then(function (found) {
        var index = found[2];
        var gone = found[0].concat(found[1]).filter(function (request) {
          return codeOf(new URL(request.url).pathname) === code;
        });
        gone.forEach(function (request) { delete index[new URL(request.url).pathname]; });
        return Promise.all(gone.map(function (request) {
          return both[0].delete(request).then(function () { return both[1].delete(request); });
        })).then(function () { return writeIndex(both[1], index); });
      });
    });
  });
}

function keepAudio(url) {
  // The whole file, fetched once in the background; the least recently played go first
  // when the kept audio passes the cap.
  var path = new URL(url, self.location.origin).pathname;
  if (!isAudio(path)) return Promise.resolve();
  return serially(function () {
    return caches.open(AUDIO).then(function (cache) {
      return Promise.all([cache.match(path), readIndex(cache)]).then(function (found) {
        var index = found[1];
        if (found[0]) {
          index[path].last = Date.now();
          return writeIndex(cache, index);
        }
        return fetch(path, { credentials: "same-origin" }).then(function (response) {
          if (response.status !== 200) return null;
          return response.blob().then(function (blob) {
            index[path] = { code: codeOf(path), last: Date.now(), size: blob.size };
            var paths = Object.keys(index).sort(function (a, b) { return index[a].last - index[b].last; });
            var total = paths.reduce(function (sum, p) { return sum + index[p].size; }, 0);
            var evict = [];
            while (total > CAP_BYTES && paths.length > 1) {
              var oldest = paths.shift();
              total -= index[oldest].size; evict.push(oldest); delete index[oldest];
            }
            return Promise.all(evict.map(function (p) { return cache.delete(p); })).then(function () {
              return cache.put(path, new Response(blob, { headers: {
                "Content-Type": "audio/mpeg", "Content-Length": String(blob.size) } }));
            }).then(function () { return writeIndex(cache, index); });
          });
        }).catch(function () { return null; });
      });
    });
  });
}

function live(code, pagePath) {
  // Online: ask whether the code still works (at most once a minute); offline: trust the cache.
  var now = Date.now();
  if (checked[code] && now - checked[code] < CHECK_EVERY_MS) return Promise.resolve(true);
  var timeout = new Promise(function (resolve) { setTimeout(function () { resolve(null); }, 3000); });
  var ask = fetch(pagePath, { method: "HEAD", credentials: "same-origin", cache: "no-store" })
    .then(function (r) { return r.status; }).catch(function () { return null; });
  return Promise.race([ask, timeout]).then(function (status) {
    if (status === 404 || status === 410) { return forget(code).then(function () { return false; }); }
    if (status !== null) checked[code] = now;
    return true;
  });
}

function ranged(response, header) {
  // "bytes=a-b", "bytes=a-" or "bytes=-n" cut from the kept whole file.
  return response.blob().then(function (blob) {
    var match = /^bytes=(\d*)-(\d*)$/.exec(header || "");
    if (!match) return new Response(blob, { status: 200, headers: { "Content-Type": "audio/mpeg",
                                                                    "Accept-Ranges": "bytes" } });
    var size = blob.size, start, end;
    if (match[1] === "") { start = Math.max(0, size - Number(match[2])); end = size - 1; }
    else { start = Number(match[1]); end = match[2] === "" ? size - 1 : Math.min(Number(match[2]), size - 1); }
    if (start >= size || start > end) {
      return new Response(null, { status: 416, headers: { "Content-Range": "bytes */" + size } });
    }
    return new Response(blob.slice(start, end + 1), { status: 206, headers: {
      "Content-Type": "audio/mpeg", "Accept-Ranges": "bytes", "Content-Length": String(end - start + 1),
      "Content-Range": "bytes " + start + "-" + end + "/" + size } });
  });
}

function audio(request, path) {
  var code = codeOf(path);
  var pagePath = "/" + code;
  return caches.open(AUDIO).then(function (cache) {
    return cache.match(path).then(function (kept) {
      if (!kept) return fetch(request);
      var check = navigator.onLine === false ? Promise.resolve(true) : live(code, pagePath);
      return check.then(function (ok) {
        if (!ok) return new Response("此二维码已停用", { status: 410 });
        return ranged(kept, request.headers.get("Range"));
      });
    });
  });
}

function page(request, path) {
  // Network first, so a revocation is seen as soon as there is a signal; the kept copy when
  // there is none.
  return fetch(request).then(function (response) {
    if (response.status === 404 || response.status === 410) {
      var code = codeOf(path);
      return (code ? forget(code) : Promise.resolve()).then(function () { return response; });
    }
    if (response.status === 200) {
      var copy = response.clone();
      caches.open(PAGES).then(function (cache) { return cache.put(request, copy); });
    }
    return response;
  }).catch(function () {
    return caches.open(PAGES).then(function (cache) {
      return cache.match(request).then(function (kept) {
        return kept || cache.match(request, { ignoreSearch: true }).then(function (loose) {
          return loose || new Response("<!doctype html><meta charset=utf-8><title>没有网络</title>" +
            "<p style='font-size:24px'>现在没有网络，这一课还没有在这部手机上听过。有信号时再打开。</p>",
            { status: 503, headers: { "Content-Type": "text/html; charset=utf-8" } });
        });
      });
    });
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  var path = url.pathname;
  if (request.method === "GET" && isAudio(path)) { event.respondWith(audio(request, path)); return; }
  if (request.method === "GET" && request.mode === "navigate" && codeOf(path)) {
    event.respondWith(page(request, path));
  }
});

function keepPage(path) {
  // The page being listened to, which the first visit loaded before this worker was there.
  if (!codeOf(path)) return Promise.resolve();
  return fetch(path, { credentials: "same-origin" }).then(function (response) {
    if (response.status !== 200) return null;
    return caches.open(PAGES).then(function (cache) { return cache.put(path, response); });
  }).catch(function () { return null; });
}

self.addEventListener("message", function (event) {
  var data = event.data || {};
  if (data.keep) event.waitUntil(Promise.all([keepAudio(data.keep), data.page ? keepPage(data.page) : null])
    .then(function () { return data.next ? keepAudio(data.next) : null; }));
});
