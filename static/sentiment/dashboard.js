// Trend chart: volume per class (stacked bars) and negative share (line), from /api/sentiment/trends/.
// Bucket times are shown in the site's time zone (data-tz), as every other time on the page.
(function () {
  const canvas = document.getElementById("trend-chart");
  if (!canvas || typeof Chart === "undefined") return;
  const picker = document.getElementById("subject-picker");
  const problem = document.getElementById("trend-error");
  const when = new Intl.DateTimeFormat([], {
    month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", hourCycle: "h23",
    timeZone: canvas.dataset.tz || undefined,
  });
  let chart = null;
  let latest = 0; // only the answer to the latest pick is drawn; a slower, older one is dropped

  function complain(text) {
    if (!problem) return;
    problem.textContent = text;
    problem.hidden = !text;
  }

  const gaps = document.getElementById("trend-gaps");
  // The alert's window (alert page, or a dashboard opened from an alert email): its buckets are
  // shaded, as the email's chart shades the window that fired.
  const windowStart = Date.parse(canvas.dataset.windowStart || "");
  const windowEnd = Date.parse(canvas.dataset.windowEnd || "");
  const shade = {
    id: "alertWindow",
    beforeDatasetsDraw(c, _args, opts) {
      const marks = opts.marks;
      if (!marks || !marks.length) return;
      const x = c.scales.x;
      const { top, bottom } = c.chartArea;
      const half = x.width / Math.max(c.data.labels.length, 1) / 2;
      c.ctx.save();
      c.ctx.fillStyle = "rgba(255, 196, 170, 0.45)";
      marks.forEach((i) => {
        const middle = x.getPixelForValue(i);
        c.ctx.fillRect(middle - half, top, 2 * half, bottom - top);
      });
      c.ctx.restore();
    },
  };

  function query(subject) {
    const d = canvas.dataset;
    const params = new URLSearchParams({ subject, days: d.days || "14", bucket_hours: d.bucketHours || "6" });
    if (d.end) params.set("end", d.end);
    if (d.minCount) params.set("min_count", d.minCount);
    return `${d.url}?${params}`;
  }

  async function load(subject) {
    const asked = ++latest;
    const url = query(subject);
    let data;
    try {
      const response = await fetch(url, { credentials: "same-origin" });
      if (asked !== latest) return;
      if (!response.ok) {
        const body = await response.json().catch(() => ({}));
        if (asked !== latest) return;
        if (chart) chart.destroy();
        chart = null;
        const why = body.detail || [].concat(body.subject || []).join(" ") || response.status;
        complain(`No trend for this subject: ${why}`);
        return;
      }
      data = await response.json();
    } catch {
      if (asked === latest) complain("The trend could not be loaded; pick the subject again to retry.");
      return;
    }
    if (asked !== latest) return;
    complain("");
    canvas.dataset.shown = subject;
    const labels = data.buckets.map((b) => when.format(new Date(b)));
    const datasets = [
      { type: "bar", label: "negative", data: data.negative, backgroundColor: "#e6a39b", stack: "v", yAxisID: "y" },
      { type: "bar", label: "neutral", data: data.neutral, backgroundColor: "#d5d9e0", stack: "v", yAxisID: "y" },
      { type: "bar", label: "positive", data: data.positive, backgroundColor: "#9fd4ae", stack: "v", yAxisID: "y" },
      // No line across a window with too few texts: a gap, never a bridge and never 0%.
      { type: "line", label: "negative share", data: data.negative_share, borderColor: "#c0392b", spanGaps: false, yAxisID: "share", tension: 0.2 },
    ];
    const hours = data.bucket_hours * 3600 * 1000;
    const marks = Number.isNaN(windowStart) || Number.isNaN(windowEnd)
      ? []
      : data.buckets
        .map((b, i) => [Date.parse(b), i])
        .filter(([t]) => t < windowEnd && t + hours > windowStart)
        .map(([, i]) => i);
    canvas.dataset.shaded = marks.join(",");
    if (gaps) {
      const few = data.volume.filter((n) => n > 0 && n < data.min_count).length;
      gaps.textContent = `The line skips windows with fewer than ${data.min_count} texts` +
        (few ? ` (${few} here have some, too few for a share).` : ".");
    }
    if (chart) chart.destroy();
    chart = new Chart(canvas, {
      plugins: [shade],
      data: { labels, datasets },
      options: {
        animation: false,
        plugins: { title: { display: true, text: data.label }, alertWindow: { marks } },
        scales: {
          y: { stacked: true, title: { display: true, text: "texts" } },
          share: { position: "right", min: 0, max: 1, grid: { drawOnChartArea: false }, ticks: { callback: (v) => `${Math.round(v * 100)}%` } },
          x: { stacked: true, ticks: { maxTicksLimit: 10 } },
        },
      },
    });
  }

  const initial = canvas.dataset.subject || (picker ? picker.value : "all");
  load(initial);
  if (picker) {
    picker.addEventListener("change", () => {
      // The address keeps the pick, so a reload or a shared link shows the same chart.
      const address = new URL(location.href);
      address.searchParams.set("subject", picker.value);
      history.replaceState(history.state, "", address);
      load(picker.value);
    });
  }
})();

// Live feed and alerts pushed over ws/sentiment/feed/. While the socket is down, the htmx polling
// of #feed and a poll of the alert list (#alerts' data-url) every 5 s are the fallback.
// Everything from the server is inserted as text (textContent), never as HTML: titles are
// whatever the sources sent.
(function () {
  "use strict";
  const feed = document.getElementById("feed");
  if (!feed) return;
  const filters = document.getElementById("feed-filters");
  const mode = document.getElementById("feed-mode");
  const FEED_ROWS = 30; // as many as the feed view renders
  const POLL_MS = 5000; // as #feed's hx-trigger "every 5s"
  const SHOWN_ALERTS_MAX = 100; // as many ids as the alert view reads
  const LABELS = ["positive", "neutral", "negative"];
  let live = false;
  let retry = 0;
  let syncing = false;
  let syncAgain = false;
  const held = []; // alert events that arrive while the alert list is fetched

  // While the socket delivers, skip the timed polls (they come without a triggering event);
  // filter changes and feed-refresh still reach the server.
  document.body.addEventListener("htmx:configRequest", (evt) => {
    if (live && evt.detail.elt === feed && !evt.detail.triggeringEvent) evt.preventDefault();
  });

  function refresh() {
    if (window.htmx) window.htmx.trigger(feed, "feed-refresh");
  }

  // The address keeps the filters (the dashboard reads them), so a reload or a shared link
  // shows the same feed.
  function filtersRemember() {
    const address = new URL(location.href);
    new FormData(filters).forEach((value, name) => {
      if (value) address.searchParams.set(name, value);
      else address.searchParams.delete(name);
    });
    history.replaceState(history.state, "", address);
  }
  if (filters) {
    filters.addEventListener("change", filtersRemember);
    filters.addEventListener("input", filtersRemember);
  }

  function setLive(on) {
    live = on;
    if (!mode) return;
    mode.dataset.mode = on ? "live" : "polling";
    mode.textContent = on ? "live" : "refreshes every 5 s";
  }

  function make(tag, props, ...children) {
    const node = document.createElement(tag);
    Object.entries(props || {}).forEach(([k, v]) => {
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else node.setAttribute(k, v);
    });
    node.append(...children);
    return node;
  }

  const badges = (items) => items.flatMap((text) => [make("span", { class: "badge", text }), " "]);

  // The same cells as templates/sentiment/_feed.html.
  function documentRow(doc) {
    const label = LABELS.includes(doc.label) ? doc.label : "";
    const row = make(
      "tr",
      { class: "fresh", "data-id": String(doc.id), "data-published": doc.published_at },
      make("td", { class: "muted" }, doc.published, make("br"), make("small", { text: doc.source.name })),
      make("td", {}, make("a", { href: doc.url, text: doc.text })),
      make("td", {}, ...badges(doc.entities.map((e) => e.label))),
      make("td", {}, ...badges(doc.topics)),
      make("td", {}, make("span", { class: `badge ${label}`, text: `${doc.label} ${doc.confidence}` })),
    );
    return row;
  }

  function wanted(doc, f) {
    const company = doc.entities.find((e) => String(e.id) === f.get("entity"));
    if (f.get("entity") && !company) return false;
    if (f.get("topic") && !doc.topics.includes(f.get("topic"))) return false;
    // With a company chosen, its own label counts (a text naming several companies has one each).
    const label = company && company.sentiment ? company.sentiment : doc.label;
    if (f.get("label") && label !== f.get("label")) return false;
    if (f.get("window")) {
      const [start, end] = f.get("window").split("/").map((t) => Date.parse(t));
      const when = Date.parse(doc.published_at);
      if (!(when >= start && when < end)) return false;
    }
    if (f.get("source") && String(doc.source.id) !== f.get("source")) return false;
    return true;
  }

  // Newest published first, as the server orders it; a backfilled old text goes where it belongs.
  function insert(doc) {
    const body = feed.querySelector("table.feed tbody");
    if (!body || body.querySelector(`tr[data-id="${Number(doc.id)}"]`)) return;
    const when = Date.parse(doc.published_at);
    const rows = Array.from(body.querySelectorAll("tr[data-id]"));
    const next = rows.find((r) => {
      const t = Date.parse(r.dataset.published);
      return t < when || (t === when && Number(r.dataset.id) < doc.id);
    });
    if (!next && rows.length >= FEED_ROWS) return;
    body.querySelectorAll("tr.feed-empty").forEach((r) => r.remove());
    body.insertBefore(documentRow(doc), next || null);
    const all = body.querySelectorAll("tr[data-id]");
    for (let i = FEED_ROWS; i < all.length; i++) all[i].remove();
  }

  function showDocuments(docs) {
    const f = new FormData(filters || undefined);
    const matching = docs.filter((doc) => wanted(doc, f));
    // Words are searched in the whole text, which the event does not carry: ask the server.
    if (f.get("q")) {
      if (matching.length) refresh();
      return;
    }
    matching.forEach(insert);
  }

  // The same cells as templates/sentiment/_alert_row.html; its buttons go through htmx.
  function showAlert(a) {
    const table = document.getElementById("alerts");
    if (!table) return;
    let row = document.getElementById(`alert-${Number(a.id)}`);
    if (!row) {
      // The dashboard lists unresolved alerts; a resolved row stays until the page is reloaded.
      if (a.status === "resolved") return;
      row = make("tr", { id: `alert-${Number(a.id)}`, class: "fresh" });
      // Newest first, as the server orders them: an older alert caught up on goes below newer ones.
      const body = table.tBodies[0];
      const next = Array.from(body.rows).find((r) => alertId(r) < Number(a.id));
      body.insertBefore(row, next || null);
      table.hidden = false;
      const empty = document.getElementById("alerts-empty");
      if (empty) empty.hidden = true;
    }
    const tone = { open: "bad", resolved: "good" }[a.status] || "warn";
    const button = (url, text) =>
      make("button", { class: "secondary", "hx-post": url, "hx-target": `#${row.id}`, "hx-swap": "outerHTML", text });
    const actions = make("td");
    if (a.status === "open") actions.append(button(a.acknowledge_url, "Acknowledge"), " ");
    if (a.status !== "resolved") actions.append(button(a.resolve_url, "Resolve"));
    row.replaceChildren(
      make("td", { class: "muted", text: a.created }),
      make("td", {}, make("a", { href: a.url, text: a.subject })),
      make("td", { text: a.reason }),
      make("td", {}, make("span", { class: `badge ${tone}`, text: a.status_label })),
      actions,
    );
    if (window.htmx) window.htmx.process(row);
  }

  function alertId(row) {
    const match = /^alert-(\d+)$/.exec(row.id);
    return match ? Number(match[1]) : 0;
  }

  // Catch up on the alert list: alerts opened meanwhile are added, and the rows shown get their
  // current state (acknowledged or resolved elsewhere); a row the view no longer knows is removed.
  async function alertsSync(again = false) {
    const table = document.getElementById("alerts");
    if (!table || !table.dataset.url) return;
    if (syncing) {
      // A reconnect during a poll: that poll may predate what the socket missed, so ask again.
      syncAgain = syncAgain || again;
      return;
    }
    const rows = Array.from(table.tBodies[0].rows);
    const shown = rows.map(alertId).filter(Boolean).slice(0, SHOWN_ALERTS_MAX);
    const query = new URLSearchParams(shown.map((id) => ["shown", String(id)]));
    syncing = true;
    try {
      const response = await fetch(`${table.dataset.url}?${query}`, { credentials: "same-origin" });
      // Signed out, the view redirects to the sign-in page: nothing to show.
      if (!response.ok || !(response.headers.get("Content-Type") || "").includes("json")) return;
      const alerts = (await response.json()).alerts;
      const known = new Set(alerts.map((a) => Number(a.id)));
      shown.filter((id) => !known.has(id)).forEach((id) => {
        const row = document.getElementById(`alert-${id}`);
        if (row) row.remove();
      });
      alerts.forEach(showAlert);
      if (!table.tBodies[0].rows.length) {
        table.hidden = true;
        const empty = document.getElementById("alerts-empty");
        if (empty) empty.hidden = false;
      }
    } catch {
      // Offline or a server error: the next reconnect or poll tries again.
    } finally {
      syncing = false;
      // Events that came in meanwhile are at least as new as the list just shown.
      held.splice(0).forEach(showAlert);
      if (syncAgain) {
        syncAgain = false;
        alertsSync();
      }
    }
  }

  setInterval(() => {
    if (!live) alertsSync();
  }, POLL_MS);

  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const ws = new WebSocket(scheme + location.host + feed.dataset.ws);
    ws.onopen = () => {
      retry = 0;
      setLive(true);
      refresh(); // whatever was scored while the page loaded or the socket was down
      alertsSync(true); // and the alerts opened or handled meanwhile
    };
    ws.onmessage = (msg) => {
      const event = JSON.parse(msg.data);
      if (event.type === "documents") showDocuments(event.documents);
      else if (event.type === "alert") {
        if (syncing) held.push(event.alert);
        else showAlert(event.alert);
      }
    };
    ws.onclose = (evt) => {
      setLive(false);
      if (evt.code === 4403) return; // signed out or not an analyst: polling says what to do
      retry = Math.min(retry + 1, 5);
      setTimeout(connect, 1000 * 2 ** retry);
    };
  }
  if (feed.dataset.ws && window.WebSocket) connect();
})();
