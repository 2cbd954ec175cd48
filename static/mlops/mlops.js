// Charts and live training progress for the model lifecycle pages.
(function () {
  "use strict";
  const data = (id) => {
    const el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  };
  const chart = (id, config) => {
    const canvas = document.getElementById(id);
    if (!canvas || !window.Chart) return null;
    return new window.Chart(canvas, config);
  };
  const fmtDuration = (s) => {
    if (s === null || s === undefined || !isFinite(s)) return "--:--";
    s = Math.max(0, Math.round(s));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    const mm = String(m).padStart(2, "0"), rr = String(r).padStart(2, "0");
    return h ? `${h}:${mm}:${rr}` : `${mm}:${rr}`;
  };

  // Model page: main metric per version.
  const metric = data("metric-data");
  if (metric && metric.length) {
    chart("metric-chart", {
      type: "line",
      data: {
        labels: metric.map((v) => "v" + v.version),
        datasets: [{
          label: "main metric", data: metric.map((v) => v.value), tension: 0.2,
          pointRadius: metric.map((v) => (v.production ? 7 : 3)),
          pointBackgroundColor: metric.map((v) => (v.production ? "#1e8449" : "#2457d6")),
        }],
      },
      options: { plugins: { legend: { display: false } } },
    });
  }

  // Version page: per-class F1 against production, and training curves.
  const v = data("version-charts");
  if (v) {
    const sets = [{ label: "this version", data: v.f1, backgroundColor: "#2457d6" }];
    if (v.production_version) {
      sets.push({ label: "production v" + v.production_version, data: v.production_f1, backgroundColor: "#9fb5ea" });
    }
    chart("f1-chart", { type: "bar", data: { labels: v.labels, datasets: sets },
      options: { scales: { y: { min: 0, max: 1 } } } });
    historyChart("history-chart", v.history);
  }

  function historyChart(id, history) {
    if (!history || !history.length) return null;
    return chart(id, {
      type: "line",
      data: {
        labels: history.map((h) => "epoch " + h.epoch),
        datasets: [
          { label: "train loss", data: history.map((h) => h.loss ?? h.train_loss), yAxisID: "y" },
          { label: "val macro F1", data: history.map((h) => h.val_macro_f1), yAxisID: "y1" },
          { label: "val accuracy", data: history.map((h) => h.val_accuracy), yAxisID: "y1" },
        ],
      },
      options: { scales: { y: { position: "left" }, y1: { position: "right", min: 0, max: 1 } } },
    });
  }

  // Run page: live progress over the websocket, polling the API when it is unavailable.
  const runEl = document.getElementById("run");
  if (runEl) {
    const initial = data("run-payload") || {};
    const lossPoints = [];
    const lossChart = chart("loss-chart", {
      type: "line",
      data: { labels: [], datasets: [{ label: "step loss", data: [], pointRadius: 0 },
                                       { label: "epoch loss", data: [], showLine: false, pointRadius: 5 }] },
      options: { animation: false, scales: { x: { type: "linear", title: { display: true, text: "step" } } } },
    });
    const valChart = chart("val-chart", {
      type: "line",
      data: { labels: [], datasets: [{ label: "val macro F1", data: [] }, { label: "val accuracy", data: [] }] },
      options: { animation: false, scales: { y: { min: 0, max: 1 } } },
    });
    const ended = (s) => ["succeeded", "failed", "cancelled"].includes(s);
    let status = initial.status;
    // Elapsed time counts on in the page from the run's start; the server's figure resets it.
    let progressText = "";
    let startedAt = initial.started_at ? Date.parse(initial.started_at) : null;
    let finishedAt = initial.finished_at ? Date.parse(initial.finished_at) : null;
    const elapsed = () => {
      if (!startedAt) return null;
      return ((finishedAt || Date.now()) - startedAt) / 1000;
    };
    function progressShow() {
      const parts = [];
      if (progressText) parts.push(progressText);
      parts.push(startedAt ? "elapsed " + fmtDuration(elapsed()) : "waiting for a worker");
      document.getElementById("run-progress").textContent = parts.join(" · ");
    }
    const ticker = setInterval(() => {
      progressShow();
      if (ended(status) && finishedAt) clearInterval(ticker);
    }, 1000);
    function snapshotShow(snap) {
      if (!snap || snap.size === undefined) return;
      const labels = Object.entries(snap.label_distribution || {}).map(([k, n]) => `${k} ${n}`).join(", ");
      document.getElementById("run-data").textContent =
        `${snap.size} rows · hash ${String(snap.hash || "").slice(0, 16)} · labels ${labels}`;
    }

    function render(p) {
      if (p.status) {
        status = p.status;
        const badge = document.getElementById("run-status");
        badge.textContent = p.status;
        badge.className = "badge " + ({ succeeded: "good", failed: "bad", running: "warn" }[p.status] || "");
        if (ended(p.status)) {
          const form = document.getElementById("cancel-form");
          if (form) form.remove();
          if (p.status === "succeeded") document.getElementById("run-bar").style.width = "100%";
        }
      }
      if (p.error) {
        const err = document.getElementById("run-error");
        err.textContent = p.error; err.hidden = false;
      }
      const ev = p.progress;
      if (ev && ev.total_steps) {
        const pct = (100 * ev.step) / ev.total_steps;
        document.getElementById("run-bar").style.width = pct.toFixed(1) + "%";
        progressText = `epoch ${ev.epoch}/${ev.epochs} · step ${ev.step}/${ev.total_steps} (${pct.toFixed(1)}%) · loss ${
            ev.loss !== undefined && ev.loss !== null ? Number(ev.loss).toFixed(4) : "–"} · ETA ${
            ended(status) ? "done" : fmtDuration(ev.eta_s)}`;
        progressShow();
        if (lossChart && ev.phase !== "epoch" && ev.loss !== undefined) {
          if (!lossPoints.length || lossPoints[lossPoints.length - 1].x < ev.step) {
            lossPoints.push({ x: ev.step, y: ev.loss });
            lossChart.data.datasets[0].data = lossPoints.slice();
            lossChart.update();
          }
        }
      }
      if (p.history && valChart) {
        valChart.data.labels = p.history.map((h) => "epoch " + h.epoch);
        valChart.data.datasets[0].data = p.history.map((h) => h.val_macro_f1);
        valChart.data.datasets[1].data = p.history.map((h) => h.val_accuracy);
        valChart.update();
        if (lossChart) {
          lossChart.data.datasets[1].data = p.history.map((h) => ({ x: h.step, y: h.loss }));
          lossChart.update();
        }
      }
      if (p.started_at) startedAt = Date.parse(p.started_at);
      if (p.finished_at) finishedAt = Date.parse(p.finished_at);
      progressShow();
      if (p.data_snapshot) snapshotShow(p.data_snapshot);
      if (p.log !== undefined && p.log !== null) {
        const box = document.getElementById("run-log");
        const atEnd = box.scrollTop + box.clientHeight >= box.scrollHeight - 4;
        box.textContent = p.log;
        if (atEnd) box.scrollTop = box.scrollHeight;
      }
      if (p.version && p.promotion_result !== undefined) {
        document.getElementById("run-result").textContent = `Version v${p.version}: ${p.promotion_result}`;
      }
    }
    render(initial);

    let timer = null;
    const poll = async () => {
      try {
        const resp = await fetch(runEl.dataset.api, { headers: { Accept: "application/json" } });
        if (resp.ok) render(await resp.json());
      } catch (e) { /* the next poll retries */ }
      if (!ended(status)) timer = setTimeout(poll, 2000);
    };
    const live = document.getElementById("run-live");
    if (!ended(status)) {
      try {
        const scheme = location.protocol === "https:" ? "wss://" : "ws://";
        const ws = new WebSocket(scheme + location.host + runEl.dataset.ws);
        let heardAt = Date.now();
        ws.onopen = () => { live.textContent = "live"; };
        ws.onmessage = (msg) => {
          heardAt = Date.now();
          const p = JSON.parse(msg.data);
          render(p);
          // The websocket carries no log; fetch it once when the run ends.
          if (ended(p.status)) poll();
        };
        // A run trained by a process outside this server's channel layer (the demo's
        // background trainer without Redis) sends nothing here: a quiet socket falls back to
        // polling the API until the run ends.
        const quiet = setInterval(() => {
          if (ended(status)) { clearInterval(quiet); return; }
          if (!timer && Date.now() - heardAt > 5000) { clearInterval(quiet); poll(); }
        }, 1000);
        ws.onclose = () => { live.textContent = ""; if (!ended(status) && !timer) poll(); };
      } catch (e) { poll(); }
    }
  }

  // Monitoring page.
  const m = data("monitoring-data");
  if (m) {
    const minutes = m.series.map((s) => s.minute.slice(11, 16));
    chart("requests-chart", { type: "bar", data: { labels: minutes, datasets: [
      { label: "requests", data: m.series.map((s) => s.requests), backgroundColor: "#2457d6" },
      { label: "errors", data: m.series.map((s) => s.errors), backgroundColor: "#c0392b" }] } });
    chart("latency-chart", { type: "line", data: { labels: minutes, datasets: [
      { label: "p50", data: m.series.map((s) => s.p50_ms) },
      { label: "p95", data: m.series.map((s) => s.p95_ms) }] } });
    chart("labels-chart", { type: "bar", data: { labels: m.labels.map((l) => l.label), datasets: [
      { label: "served", data: m.labels.map((l) => l.served), backgroundColor: "#2457d6" },
      { label: "training", data: m.labels.map((l) => l.training), backgroundColor: "#9fb5ea" }] },
      options: { scales: { y: { min: 0, max: 1 } } } });
    chart("confidence-chart", { type: "bar", data: { labels: m.confidence.map((c) => c.range), datasets: [
      { label: "share of predictions", data: m.confidence.map((c) => c.share), backgroundColor: "#1e8449" }] } });
  }

  // Run and schedule forms: while "all" is ticked the single sets do not count; grey them out.
  document.querySelectorAll('fieldset input.check[value="all"]').forEach((all) => {
    const sync = () => all.closest("fieldset")
      .querySelectorAll('input.check:not([value="all"])')
      .forEach((box) => { box.disabled = all.checked; });
    all.addEventListener("change", sync);
    sync();
  });
})();
