// Trend chart: volume per class (stacked bars) and negative share (line), from /api/sentiment/trends/.
(function () {
  const canvas = document.getElementById("trend-chart");
  if (!canvas || typeof Chart === "undefined") return;
  const picker = document.getElementById("subject-picker");
  let chart = null;

  async function load(subject) {
    const url = `${canvas.dataset.url}?subject=${encodeURIComponent(subject)}&days=14&bucket_hours=6`;
    const response = await fetch(url, { credentials: "same-origin" });
    if (!response.ok) return;
    const data = await response.json();
    const labels = data.buckets.map((b) => new Date(b).toLocaleString([], { month: "short", day: "numeric", hour: "2-digit" }));
    const datasets = [
      { type: "bar", label: "negative", data: data.negative, backgroundColor: "#e6a39b", stack: "v", yAxisID: "y" },
      { type: "bar", label: "neutral", data: data.neutral, backgroundColor: "#d5d9e0", stack: "v", yAxisID: "y" },
      { type: "bar", label: "positive", data: data.positive, backgroundColor: "#9fd4ae", stack: "v", yAxisID: "y" },
      { type: "line", label: "negative share", data: data.negative_share, borderColor: "#c0392b", spanGaps: true, yAxisID: "share", tension: 0.2 },
    ];
    if (chart) chart.destroy();
    chart = new Chart(canvas, {
      data: { labels, datasets },
      options: {
        animation: false,
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
  if (picker) picker.addEventListener("change", () => load(picker.value));
})();
