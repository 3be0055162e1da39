/* The trend chart of the per-user page (templates/admin/reports/user.html).
 *
 * Reads the figures from the json_script element #user-data and draws them with the vendored
 * Chart.js (static/vendor/chartjs/): the cost per bucket as bars on a money axis from 0, the
 * requests as a line on their own labelled axis from 0. The server-rendered table stays the
 * source of truth: this file reveals the canvas and folds the table into its <details>. No
 * inline code: the page runs under a Content-Security-Policy of script-src 'self'.
 *
 * Money arrives as decimal strings: parsed for plotting only; tooltips show the exact string.
 */
(function () {
  "use strict";

  const BLUE = "#0072B2"; // Okabe-Ito, as business.js
  const ORANGE = "#E69F00";

  function translucent(hex, alpha) {
    const n = parseInt(hex.slice(1), 16);
    return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
  }

  const axisCount = new Intl.NumberFormat(undefined, { notation: "compact" });
  const count = new Intl.NumberFormat();

  function trend(data) {
    const canvas = document.getElementById("chart-user-trend");
    if (!canvas || !data.labels.length) return null;
    const currency = data.currency;
    // A partial bucket (cut by the period, or still running) is paler: not a fall in usage.
    const fills = data.partial.map((partial) => (partial ? translucent(BLUE, 0.35) : BLUE));
    canvas.parentElement.hidden = false;
    const details = canvas.closest("section").querySelector("details");
    if (details) details.open = false;
    return new Chart(canvas, {
      type: "bar",
      data: {
        labels: data.labels,
        datasets: [
          {
            type: "bar",
            label: `LLM cost (${currency})`,
            data: data.cost.map((value) => (value === null ? null : Number(value))),
            backgroundColor: fills,
            yAxisID: "cost",
            order: 2,
          },
          {
            type: "line",
            label: "Requests",
            data: data.requests,
            borderColor: ORANGE,
            backgroundColor: ORANGE,
            pointRadius: data.labels.length > 40 ? 0 : 2,
            borderWidth: 2,
            yAxisID: "requests",
            order: 1,
          },
        ],
      },
      options: {
        maintainAspectRatio: false,
        interaction: { mode: "index", intersect: false },
        scales: {
          x: { ticks: { maxRotation: 0, autoSkipPadding: 12 } },
          cost: {
            position: "left",
            beginAtZero: true,
            title: { display: true, text: `LLM cost ${data.description} (${currency})` },
            ticks: { callback: window.costledgerCharts.moneyTicks(currency) },
          },
          requests: {
            position: "right",
            beginAtZero: true,
            grid: { drawOnChartArea: false },
            title: { display: true, text: `Requests ${data.description}` },
            ticks: { callback: (value) => axisCount.format(value) },
          },
        },
        plugins: {
          tooltip: {
            callbacks: {
              label: (ctx) => {
                const i = ctx.dataIndex;
                if (ctx.datasetIndex === 1) return `Requests: ${count.format(data.requests[i])}`;
                const cost = data.cost[i] === null ? "unknown" : `${data.cost[i]} ${currency}`;
                const unpriced = data.unpriced[i] ? ` (${count.format(data.unpriced[i])} unpriced left out)` : "";
                return `LLM cost: ${cost}${unpriced}`;
              },
              footer: (items) => {
                const i = items[0].dataIndex;
                return data.partial[i] ? `Partial ${data.unit}: ${data.days[i]} day${data.days[i] === 1 ? "" : "s"}` : "";
              },
            },
          },
        },
      },
    });
  }

  function draw() {
    const source = document.getElementById("user-data");
    if (!source) return;
    if (typeof window.Chart === "undefined") {
      console.warn("Chart.js did not load: the page shows its tables only.");
      return;
    }
    const data = JSON.parse(source.textContent);
    window.costledgerCharts.useAdminLook();
    const drawn = trend(data) ? 1 : 0;
    document.getElementById("content-main").dataset.chartsDrawn = String(drawn);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
