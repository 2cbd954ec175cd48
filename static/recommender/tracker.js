/* Storefront tracker: impressions of recommendation rows, clicks on them, item views and shares,
 * sent in small batches to the events endpoint. Every event carries its own id, so a batch that
 * is sent twice (a retry, a beacon on page exit) is stored once.
 *
 * A batch that fails (no network, a 5xx, a 408 or 429) goes back to the front of the queue and
 * is retried with exponential backoff; a 4xx refusal is dropped, since resending it would be
 * refused again. The queue holds at most MAX_QUEUE events (the oldest go first). When the page
 * is hidden the rest leaves with navigator.sendBeacon (or a keepalive fetch); if sending was
 * failing, the events are also kept in sessionStorage and resent by the next page.
 *
 * Embed: <script src="/static/recommender/tracker.js" data-endpoint="/api/events/batch"
 *                 data-visitor="VISITOR_ID" defer></script>
 */
(function () {
  "use strict";
  var script = document.currentScript || document.querySelector("script[data-endpoint]");
  var endpoint = script.getAttribute("data-endpoint") || "/api/events/batch";
  var visitor = script.getAttribute("data-visitor") || "";
  var BATCH = 200; // events per request (the server takes up to 500)
  var MAX_QUEUE = 1000;
  var DELAY = 800; // ms to gather events into one request
  var FIRST_RETRY = 1000;
  var MAX_RETRY = 60000;
  var KEEPALIVE_LIMIT = 60000; // bytes: browsers refuse larger keepalive bodies
  var STORE = "textsuite-tracker";
  var queue = []; // waiting to be sent
  var sending = []; // in the request now in flight
  var timer = null;
  var retryDelay = 0; // 0 while sending works

  function uid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var bytes = new Uint8Array(16);
    if (window.crypto && crypto.getRandomValues) crypto.getRandomValues(bytes);
    else for (var i = 0; i < 16; i++) bytes[i] = Math.floor(Math.random() * 256);
    return Array.prototype.map.call(bytes, function (b) {
      return (b + 256).toString(16).slice(1);
    }).join("");
  }

  function bound() {
    if (queue.length > MAX_QUEUE) queue.splice(0, queue.length - MAX_QUEUE);
  }

  function schedule(delay) {
    if (timer) return;
    timer = setTimeout(function () {
      timer = null;
      send();
    }, delay);
  }

  function listOf(el) {
    var row = el.closest("[data-rec-list]");
    if (!row) return {};
    var exp = row.getAttribute("data-experiment");
    return {
      context: row.getAttribute("data-context") || "",
      experiment: exp ? parseInt(exp, 10) : null,
      variant: row.getAttribute("data-variant") || "",
      from_recommendation: true,
    };
  }

  function track(kind, item, extra) {
    var event = Object.assign({event_id: uid(), kind: kind, item: String(item)}, extra || {});
    queue.push(event);
    bound();
    schedule(retryDelay || DELAY);
    return event;
  }

  function failed(batch, retryAfter) {
    queue = batch.concat(queue);
    bound();
    retryDelay = retryDelay ? Math.min(retryDelay * 2, MAX_RETRY) : FIRST_RETRY;
    // Jitter, so many shoppers' tabs do not all come back to a recovering server at once.
    var wait = Math.max(retryDelay * (0.8 + Math.random() * 0.4), retryAfter || 0);
    clearTimeout(timer); // a timer set by track() meanwhile must not cut the backoff short
    timer = null;
    schedule(Math.min(wait, MAX_RETRY));
  }

  function post(body, keepalive) {
    return fetch(endpoint, {method: "POST", body: body, keepalive: keepalive,
                            credentials: "same-origin",
                            headers: {"Content-Type": "application/json"}});
  }

  function send() {
    clearTimeout(timer);
    timer = null;
    if (sending.length || !queue.length) return; // one request at a time; it reschedules
    var batch = queue.splice(0, BATCH);
    var body = JSON.stringify({visitor_id: visitor, events: batch});
    sending = batch;
    post(body, body.length < KEEPALIVE_LIMIT).then(function (response) {
      sending = [];
      var status = response.status;
      if (status >= 500 || status === 408 || status === 429) {
        var after = parseFloat(response.headers.get("Retry-After") || "") * 1000;
        failed(batch, isFinite(after) ? after : 0);
        return;
      }
      // Stored (2xx), or refused as invalid (4xx): either way this batch is done.
      retryDelay = 0;
      if (queue.length) schedule(0);
    }, function () {
      sending = [];
      failed(batch, 0); // offline or the server is restarting: the ids make a resend safe
    });
  }

  function flush(useBeacon) {
    if (useBeacon) return leave();
    if (retryDelay && timer) return; // backing off: the retry timer sends
    send();
  }

  function stored() {
    try {
      var saved = JSON.parse(sessionStorage.getItem(STORE) || "null");
      return saved && saved.visitor === visitor && Array.isArray(saved.events) ? saved.events : [];
    } catch (e) {
      return [];
    }
  }

  function keep(events) {
    var seen = {};
    var all = stored().concat(events).filter(function (e) {
      return seen[e.event_id] ? false : (seen[e.event_id] = true);
    });
    try {
      sessionStorage.setItem(STORE, JSON.stringify(
        {visitor: visitor, events: all.slice(-MAX_QUEUE)}));
    } catch (e) { /* storage full or disabled: the beacon is the only chance */ }
  }

  function beacon(body) {
    try {
      if (navigator.sendBeacon &&
          navigator.sendBeacon(endpoint, new Blob([body], {type: "application/json"}))) return;
    } catch (e) { /* fall back to fetch */ }
    if (body.length < KEEPALIVE_LIMIT) post(body, true).catch(function () {});
  }

  // The page is being left or hidden: hand everything (the request in flight too; a resend is
  // stored once) to the browser, which sends it even after the page is gone.
  function leave() {
    clearTimeout(timer);
    timer = null;
    var pending = sending.concat(queue);
    queue = [];
    if (!pending.length) return;
    // A beacon's answer is never seen: while sending fails, the next page resends these.
    if (retryDelay) keep(pending);
    for (var i = 0; i < pending.length; i += BATCH) {
      beacon(JSON.stringify({visitor_id: visitor, events: pending.slice(i, i + BATCH)}));
    }
  }

  function start() {
    var carried = stored();
    if (carried.length) {
      try { sessionStorage.removeItem(STORE); } catch (e) { /* ignore */ }
      queue = carried.concat(queue);
      bound();
      schedule(DELAY);
    }
    var viewed = document.querySelector("[data-view-item]");
    if (viewed) track("view", viewed.getAttribute("data-view-item"));
    document.querySelectorAll("[data-rec-item]").forEach(function (el) {
      track("impression", el.getAttribute("data-rec-item"), listOf(el));
    });
    document.addEventListener("click", function (e) {
      var rec = e.target.closest("[data-rec-item]");
      if (rec) {
        track("click", rec.getAttribute("data-rec-item"), listOf(rec));
        leave(); // the page is about to change: a beacon survives the navigation
      }
      var share = e.target.closest("[data-share-item]");
      if (share) {
        track("share", share.getAttribute("data-share-item"));
        if (navigator.clipboard) navigator.clipboard.writeText(location.href).catch(function () {});
        share.textContent = "Link copied";
        flush();
      }
    });
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "hidden") leave();
    });
    window.addEventListener("pagehide", leave);
  }

  window.textsuiteTracker = {track: track, flush: flush};
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
