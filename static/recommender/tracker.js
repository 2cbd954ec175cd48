/* Storefront tracker: impressions of recommendation rows, clicks on them, item views and shares,
 * sent in small batches to the events endpoint. Every event carries its own id, so a batch that
 * is sent twice (a retry, a beacon on page exit) is stored once.
 *
 * Embed: <script src="/static/recommender/tracker.js" data-endpoint="/api/events/batch"
 *                 data-visitor="VISITOR_ID" defer></script>
 */
(function () {
  "use strict";
  var script = document.currentScript || document.querySelector("script[data-endpoint]");
  var endpoint = script.getAttribute("data-endpoint") || "/api/events/batch";
  var visitor = script.getAttribute("data-visitor") || "";
  var queue = [];
  var timer = null;

  function uid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return Date.now().toString(36) + Math.random().toString(36).slice(2, 12);
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
    if (!timer) timer = setTimeout(flush, 800);
    return event;
  }

  function flush(useBeacon) {
    clearTimeout(timer);
    timer = null;
    if (!queue.length) return;
    var body = JSON.stringify({visitor_id: visitor, events: queue.splice(0, 200)});
    if (useBeacon && navigator.sendBeacon) {
      navigator.sendBeacon(endpoint, new Blob([body], {type: "application/json"}));
      return;
    }
    fetch(endpoint, {method: "POST", body: body, keepalive: true, credentials: "same-origin",
                     headers: {"Content-Type": "application/json"}})
      .catch(function () {
        // Offline or the server is restarting: put the events back; their ids make it safe.
        queue = JSON.parse(body).events.concat(queue);
      });
  }

  function start() {
    var viewed = document.querySelector("[data-view-item]");
    if (viewed) track("view", viewed.getAttribute("data-view-item"));
    document.querySelectorAll("[data-rec-item]").forEach(function (el) {
      track("impression", el.getAttribute("data-rec-item"), listOf(el));
    });
    document.addEventListener("click", function (e) {
      var rec = e.target.closest("[data-rec-item]");
      if (rec) {
        track("click", rec.getAttribute("data-rec-item"), listOf(rec));
        flush(true);  // the page is about to change: a beacon survives the navigation
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
      if (document.visibilityState === "hidden") flush(true);
    });
  }

  window.textsuiteTracker = {track: track, flush: flush};
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
