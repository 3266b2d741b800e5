/* Listen pages on one bar of signal. The worker never competes with the player: the audio a
   lesson keeps for offline is the very bytes the player fetched (passed through on their way,
   nothing downloaded twice); only gaps the player skipped are fetched, after the lesson has
   finished. A lesson whose audio is kept also keeps its page and its series list, so a series
   card opens offline the next day with the kept lessons playable. One copy per track: the file
   the player ended on (main or light). Byte ranges (Chromium and iOS send them) are cut from
   the kept copy. A storage cap evicts the least recently played; a code found revoked while
   online is forgotten at once. Only listen pages and their audio are touched; every other
   request goes to the network as if there were no worker. */
"use strict";

var PAGES = "xy-pages-v1";
var AUDIO = "xy-audio-v1";
var INDEX = "/__xy/index";  // in AUDIO: {path: {code, rid, lesson, title, page, list, last, size}}
var KEPT_PAGE = "/listen/kept";
var CAP_BYTES = 200 * 1024 * 1024;
var CHECK_EVERY_MS = 60 * 1000;
var PARTIAL_FILES = 3;
var checked = {};  // code → time it was last confirmed live
var partial = {};  // path → {size, parts: [{start, end, blob}], used}: bytes the player fetched
var meta = {};     // path → what the page said about it {lesson, title, page, list}

self.addEventListener("install", function (event) { event.waitUntil(self.skipWaiting()); });
self.addEventListener("activate", function (event) { event.waitUntil(self.clients.claim()); });

function codeOf(path) {
  // "/l/<token>…" or "/s/<token>…" → "l/<token>"
  var match = /^\/([ls])\/([^/]+)/.exec(path);
  return match ? match[1] + "/" + match[2] : null;
}
function isAudio(path) { return /^\/[ls]\/[^/]+\/a\/\d+\/[^/]+$/.test(path); }
function renditionOf(path) { return Number(/\/a\/(\d+)\//.exec(path)[1]); }
function pathOf(url) { return new URL(url, self.location.origin).pathname; }

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
  Object.keys(partial).forEach(function (path) { if (codeOf(path) === code) delete partial[path]; });
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

/* --- keeping the player's bytes ------------------------------------------------------------ */

function covered(entry) {
  // The whole file when the parts the player fetched join up from 0 to the end, else null.
  var parts = entry.parts.slice().sort(function (a, b) { return a.start - b.start; });
  var at = 0, pieces = [];
  for (var i = 0; i < parts.length && at < entry.size; i++) {
    var part = parts[i];
    if (part.start > at) return null;
    if (part.end > at) { pieces.push(part.blob.slice(at - part.start)); at = part.end; }
  }
  return at >= entry.size ? new Blob(pieces, { type: "audio/mpeg" }) : null;
}

function gaps(entry) {
  var parts = entry.parts.slice().sort(function (a, b) { return a.start - b.start; });
  var at = 0, missing = [];
  parts.forEach(function (part) {
    if (part.start > at) missing.push([at, part.start - 1]);
    at = Math.max(at, part.end);
  });
  if (at < entry.size) missing.push([at, entry.size - 1]);
  return missing;
}

function addPart(path, size, start, blob) {
  if (!blob.size) return Promise.resolve();
  var entry = partial[path];
  if (!entry || entry.size !== size) {
    var paths = Object.keys(partial).sort(function (a, b) { return partial[a].used - partial[b].used; });
    while (paths.length >= PARTIAL_FILES) delete partial[paths.shift()];
    entry = partial[path] = { size: size, parts: [], used: Date.now() };
  }
  entry.parts.push({ start: start, end: start + blob.size, blob: blob });
  entry.used = Date.now();
  var whole = covered(entry);
  if (!whole) return Promise.resolve();
  delete partial[path];
  return store(path, whole);
}

function store(path, blob) {
  // One copy per track: another file of the same rendition (main vs light) goes.
  return serially(function () {
    return caches.open(AUDIO).then(function (cache) {
      return readIndex(cache).then(function (index) {
        var said = meta[path] || {};
        var rid = renditionOf(path);
        var evict = Object.keys(index).filter(function (p) { return p !== path && index[p].rid === rid; });
        index[path] = { code: codeOf(path), rid: rid, lesson: said.lesson || null, title: said.title || "",
                        page: said.page || null, list: said.list || null, last: Date.now(), size: blob.size };
        evict.forEach(function (p) { delete index[p]; });
        var paths = Object.keys(index).sort(function (a, b) { return index[a].last - index[b].last; });
        var total = paths.reduce(function (sum, p) { return sum + index[p].size; }, 0);
        while (total > CAP_BYTES && paths.length > 1) {
          var oldest = paths.shift();
          if (oldest === path) continue;
          total -= index[oldest].size; evict.push(oldest); delete index[oldest];
        }
        return Promise.all(evict.map(function (p) { return cache.delete(p); })).then(function () {
          return cache.put(path, new Response(blob, { headers: {
            "Content-Type": "audio/mpeg", "Content-Length": String(blob.size) } }));
        }).then(function () { return writeIndex(cache, index); });
      });
    }).then(function () {
      var said = meta[path] || {};
      return Promise.all([keepMissing(said.page), keepMissing(said.list), keepMissing(KEPT_PAGE)]);
    });
  });
}

function passOn(path, response) {
  // The player's response, read only as fast as the player reads it; what went through is
  // remembered. A player that cancels (a seek) cancels the download too: nothing runs on.
  var range = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(response.headers.get("Content-Range") || "");
  var start = range ? Number(range[1]) : 0;
  var size = range ? Number(range[3]) : Number(response.headers.get("Content-Length"));
  // A part whose place is not said (a bucket that does not expose Content-Range) is played,
  // not kept: it would be taken for the start of the file.
  if (!response.body || !size || (response.status !== 200 && response.status !== 206) ||
      (response.status === 206 && !range)) return response;
  var reader = response.body.getReader(), chunks = [], settled = false;
  function settle() {
    if (settled) return;
    settled = true;
    addPart(path, size, start, new Blob(chunks)).catch(function () { /* offline replay is a bonus */ });
    chunks = [];
  }
  var stream = new ReadableStream({
    pull: function (controller) {
      return reader.read().then(function (read) {
        if (read.done) { settle(); controller.close(); return; }
        chunks.push(read.value);
        controller.enqueue(read.value);
      }, function (error) { settle(); controller.error(error); });
    },
    cancel: function (reason) { settle(); return reader.cancel(reason); }
  });
  return new Response(stream, { status: response.status, statusText: response.statusText, headers: response.headers });
}

function fillAndKeep(path) {
  // After the lesson ended: fetch only what the player skipped (everything, if this worker
  // was not there while it played), then keep it.
  return caches.open(AUDIO).then(function (cache) { return cache.match(path); }).then(function (kept) {
    if (kept) return touch(path);
    var entry = partial[path];
    if (!entry) {
      return fetch(path, { credentials: "same-origin" }).then(function (response) {
        if (response.status !== 200) return null;
        return response.blob().then(function (blob) { return store(path, blob); });
      });
    }
    return gaps(entry).reduce(function (chain, gap) {
      return chain.then(function () {
        return fetch(path, { credentials: "same-origin", headers: { Range: "bytes=" + gap[0] + "-" + gap[1] } })
          .then(function (response) {
            if (response.status !== 206) throw new Error("no range");
            return response.blob().then(function (blob) { return addPart(path, entry.size, gap[0], blob); });
          });
      });
    }, Promise.resolve());
  }).catch(function () { return null; });
}

function touch(path) {
  return serially(function () {
    return caches.open(AUDIO).then(function (cache) {
      return readIndex(cache).then(function (index) {
        var entry = index[path], said = meta[path] || {};
        if (!entry) return null;
        entry.last = Date.now();
        // Kept while this worker did not know the page yet (it had been restarted): now it does.
        ["lesson", "title", "page", "list"].forEach(function (name) { if (!entry[name] && said[name]) entry[name] = said[name]; });
        return writeIndex(cache, index);
      });
    });
  });
}

function keepPage(path) {
  // A page this phone opened before the worker was there (or not since it changed).
  if (!path) return Promise.resolve();
  return caches.open(PAGES).then(function (cache) {
    return fetch(path, { credentials: "same-origin" }).then(function (response) {
      if (response.status !== 200) return null;
      return cache.put(path, response);
    });
  }).catch(function () { return null; });
}

function keepMissing(path) {
  if (!path) return Promise.resolve();
  return caches.open(PAGES).then(function (cache) { return cache.match(path); })
    .then(function (kept) { return kept ? null : keepPage(path); });
}

/* --- answering the player offline ---------------------------------------------------------- */

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

function keptCopy(path) {
  // The kept file at this path, else (for a phone without signal) the other file of the same
  // rendition that was kept: main and light are the same lesson, as long and as loud.
  return caches.open(AUDIO).then(function (cache) {
    return cache.match(path).then(function (exact) {
      if (exact) return { response: exact, exact: true };
      return readIndex(cache).then(function (index) {
        var rid = renditionOf(path);
        var other = Object.keys(index).filter(function (p) { return index[p].rid === rid; })[0];
        return other ? cache.match(other).then(function (r) { return r ? { response: r, exact: false } : null; }) : null;
      });
    });
  });
}

function audio(request, path) {
  var code = codeOf(path);
  var range = request.headers.get("Range");
  function fromKept(kept) {
    var check = navigator.onLine === false ? Promise.resolve(true) : live(code, "/" + code);
    return check.then(function (ok) {
      if (!ok) return new Response("此二维码已停用", { status: 410 });
      return ranged(kept.response, range);
    });
  }
  return keptCopy(path).then(function (kept) {
    if (kept && kept.exact) return fromKept(kept);
    return fetch(request).then(function (response) { return passOn(path, response); }, function (error) {
      if (kept) return fromKept(kept);
      throw error;
    });
  });
}

function offlineCopy(response, wanted) {
  // A kept page shown without signal says so, so its lesson list can mark what needs one.
  return response.text().then(function (html) {
    var marked = html.replace('<body class="listen"', '<body class="listen" data-offline="1" data-wanted="' +
                              wanted.replace(/[^A-Za-z0-9/_-]/g, "") + '"');
    var headers = new Headers(response.headers);  // its Content-Security-Policy included
    headers.delete("Content-Length");
    return new Response(marked, { status: 200, headers: headers });
  });
}

function page(request, path) {
  // Network first, so a revocation is seen as soon as there is a signal; the kept copy when
  // there is none, else the page of the lessons kept on this phone.
  return fetch(request).then(function (response) {
    if (response.status === 404 || response.status === 410) {
      var code = codeOf(path);
      return (code ? forget(code) : Promise.resolve()).then(function () { return response; });
    }
    if (response.status === 200 && path !== KEPT_PAGE) {
      var copy = response.clone();
      caches.open(PAGES).then(function (cache) { return cache.put(request, copy); });
    }
    return response;
  }).catch(function () {
    return caches.open(PAGES).then(function (cache) {
      return cache.match(request).then(function (kept) {
        return kept || cache.match(request, { ignoreSearch: true });
      }).then(function (kept) {
        return kept || cache.match(KEPT_PAGE);
      }).then(function (kept) {
        if (kept) return offlineCopy(kept, path);
        return new Response("<!doctype html><html lang=zh-CN><meta charset=utf-8>" +
          "<meta name=viewport content='width=device-width, initial-scale=1'><title>没有网络</title>" +
          "<main><h1 style='font-size:30px'>现在没有网络</h1><p style='font-size:24px'>有信号时再打开。</p></main></html>",
          { status: 503, headers: { "Content-Type": "text/html; charset=utf-8" } });
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
  if (request.method === "GET" && request.mode === "navigate" && (codeOf(path) || path === KEPT_PAGE)) {
    event.respondWith(page(request, path));
  }
});

self.addEventListener("message", function (event) {
  // {page, list, lesson, title, audio: [paths]}: what this page is (sent at every visit);
  // with {ended: path} the lesson played to its end and is kept; with {next} on Wi-Fi the
  // next lesson's track too.
  var data = event.data || {};
  var work = [];
  (data.audio || []).forEach(function (url) {
    if (url) meta[pathOf(url)] = { lesson: data.lesson || null, title: data.title || "", page: data.page || null,
                                   list: data.list || null };
  });
  if (data.page && !data.audio) {
    // A list page: keep it, and the page for the lessons kept on this phone.
    work.push(keepMissing(data.page), keepMissing(KEPT_PAGE));
  }
  if (data.ended) work.push(fillAndKeep(pathOf(data.ended)).then(function () {
    return data.next ? fillAndKeep(pathOf(data.next)) : null;
  }));
  if (work.length) event.waitUntil(Promise.all(work));
});
