// The experiment's click-through chart: one bar per variant (CTR in %) with its 95% interval
// drawn as an error bar, so the interval reads as uncertainty around the bar, not as a bar.
(function () {
  "use strict";
  var errorBars = {
    id: "errorBars",
    afterDatasetsDraw: function (chart) {
      var meta = chart.getDatasetMeta(0);
      var data = chart.$ci;
      if (!data || !meta || meta.hidden) return;
      var y = chart.scales.y, ctx = chart.ctx;
      ctx.save();
      ctx.strokeStyle = "#1d2330";
      ctx.lineWidth = 1.5;
      meta.data.forEach(function (bar, i) {
        var lo = y.getPixelForValue(data.low[i]), hi = y.getPixelForValue(data.high[i]);
        var x = bar.x, w = Math.min(12, bar.width / 4);
        ctx.beginPath();
        ctx.moveTo(x, lo); ctx.lineTo(x, hi);
        ctx.moveTo(x - w, lo); ctx.lineTo(x + w, lo);
        ctx.moveTo(x - w, hi); ctx.lineTo(x + w, hi);
        ctx.stroke();
      });
      ctx.restore();
    },
  };
  document.addEventListener("DOMContentLoaded", function () {
    var canvas = document.getElementById("ctr-chart");
    if (!window.Chart || !canvas) return;
    var d = JSON.parse(document.getElementById("chart-data").textContent);
    var top = Math.max.apply(null, d.ctr_high.concat([1]));
    var chart = new Chart(canvas, {
      type: "bar",
      data: { labels: d.labels, datasets: [{ label: "CTR (%)", data: d.ctr, backgroundColor: "#2457d6" }] },
      options: {
        maintainAspectRatio: false,
        plugins: {
          legend: { display: false },
          tooltip: { callbacks: { label: function (c) {
            return "CTR " + c.parsed.y.toFixed(1) + "% (95% CI " + d.ctr_low[c.dataIndex].toFixed(1) +
              "% to " + d.ctr_high[c.dataIndex].toFixed(1) + "%)";
          } } },
        },
        scales: {
          y: { beginAtZero: true, suggestedMax: top * 1.1, title: { display: true, text: "Click-through rate (%)" } },
          x: { title: { display: true, text: "Variant" } },
        },
      },
      plugins: [errorBars],
    });
    chart.$ci = { low: d.ctr_low, high: d.ctr_high };
    chart.draw();
  });
})();
