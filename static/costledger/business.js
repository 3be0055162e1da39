/* Charts of the Business summary page (templates/admin/costledger/business.html).
 *
 * Reads the page's figures from the json_script element #business-data (the very dict the JSON
 * endpoint returns) and draws each chart with the vendored Chart.js (static/vendor/chartjs/).
 * The server-rendered tables stay the source of truth: this file only reveals a canvas beside
 * each one and folds the table into its <details>. No eval, no inline code: the page runs under
 * a Content-Security-Policy of script-src 'self'.
 *
 * Money arrives as decimal strings. Chart geometry needs numbers, so they are parsed for
 * plotting only; every tooltip shows the exact string the server sent.
 */
(function () {
  "use strict";

  // Okabe-Ito: told apart by people with the common colour-vision deficiencies.
  const COLORS = {
    blue: "#0072B2",
    orange: "#E69F00",
    green: "#009E73",
    vermillion: "#D55E00",
    purple: "#CC79A7",
    sky: "#56B4E9",
    yellow: "#F0E442",
    grey: "#999999",
  };
  const SERIES_COLORS = {
    llm: COLORS.blue,
    digitalocean: COLORS.sky,
    weaviate: COLORS.green,
    supabase: COLORS.orange,
    twilio: COLORS.vermillion,
    payment_fees: COLORS.purple,
    other: COLORS.grey,
  };

  function plotted(value) {
    return value === null || value === undefined ? null : Number(value);
  }

  function hasFigures(...lists) {
    return lists.some((list) => (list || []).some((value) => plotted(value)));
  }

  function translucent(hex, alpha) {
    const n = parseInt(hex.slice(1), 16);
    return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
  }

  function cssVar(name, fallback) {
    const value = getComputedStyle(document.body).getPropertyValue(name).trim();
    return value || fallback;
  }

  // Show the canvas and fold the table away; the table stays one click from the chart.
  function reveal(canvas, height) {
    if (height) canvas.parentElement.style.height = `${height}px`;
    canvas.parentElement.hidden = false;
    const details = canvas.closest("section").querySelector("details");
    if (details) details.open = false;
  }

  function showEmpty(key) {
    const note = document.querySelector(`[data-empty-for="${key}"]`);
    if (note) note.hidden = false;
  }

  function moneyLabel(text, currency) {
    return text === null || text === undefined ? "unknown" : `${text} ${currency}`;
  }

  const axisMoney = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
  const axisCount = new Intl.NumberFormat(undefined, { notation: "compact" });

  function moneyAxis(title) {
    return {
      beginAtZero: true,
      title: { display: true, text: title },
      ticks: { callback: (value) => axisMoney.format(value) },
    };
  }

  // Tooltip lines show the server's own strings, kept beside each dataset.
  function exactLabel(strings, currency) {
    return (ctx) => `${ctx.dataset.label}: ${moneyLabel(strings[ctx.datasetIndex][ctx.dataIndex], currency)}`;
  }

  function revenueVsCosts(data) {
    const canvas = document.getElementById("chart-revenue-vs-costs");
    const chart = data.revenue_vs_costs;
    if (!canvas || !chart || !chart.days.length) return null;
    if (!hasFigures(chart.mrr, chart.costs, chart.margin)) {
      showEmpty("revenue_vs_costs");
      return null;
    }
    const currency = data.currency;
    const datasets = [];
    const strings = [];
    if (hasFigures(chart.mrr)) {
      datasets.push({
        type: "line",
        label: "MRR",
        data: chart.mrr.map(plotted),
        yAxisID: "mrr",
        fill: "origin",
        borderColor: COLORS.blue,
        backgroundColor: translucent(COLORS.blue, 0.15),
        pointRadius: 0,
        borderWidth: 1.5,
        order: 3,
      });
      strings.push(chart.mrr);
    }
    datasets.push({
      type: "line",
      label: "Costs",
      data: chart.costs.map(plotted),
      yAxisID: "daily",
      borderColor: COLORS.vermillion,
      backgroundColor: COLORS.vermillion,
      pointRadius: 2,
      borderWidth: 2,
      order: 1,
    });
    strings.push(chart.costs);
    if (hasFigures(chart.margin)) {
      datasets.push({
        type: "line",
        label: "Margin",
        data: chart.margin.map(plotted),
        yAxisID: "daily",
        borderColor: COLORS.green,
        backgroundColor: COLORS.green,
        pointRadius: 2,
        borderWidth: 2,
        order: 2,
      });
      strings.push(chart.margin);
    }
    const scales = { x: { ticks: { maxRotation: 0, autoSkipPadding: 12 } }, daily: moneyAxis(`Per day (${currency})`) };
    scales.daily.position = "left";
    scales.daily.beginAtZero = false;
    if (hasFigures(chart.mrr)) {
      scales.mrr = moneyAxis(`MRR (${currency})`);
      scales.mrr.position = "right";
      scales.mrr.grid = { drawOnChartArea: false };
    }
    reveal(canvas);
    return new Chart(canvas, {
      type: "line",
      data: { labels: chart.days, datasets: datasets },
      options: {
        maintainAspectRatio: false,
        interaction: { mode: "index", intersect: false },
        scales: scales,
        plugins: { tooltip: { callbacks: { label: exactLabel(strings, currency) } } },
      },
    });
  }

  function topUsers(data) {
    const canvas = document.getElementById("chart-top-users");
    const users = data.top_users || [];
    if (!canvas || !users.length) return null;
    const currency = data.currency;
    const open = (index) => {
      const url = users[index] && users[index].url;
      // Only our own admin paths: never follow a scheme a label could smuggle in.
      if (url && url.startsWith("/")) window.location.assign(url);
    };
    reveal(canvas, 70 + users.length * 24);
    return new Chart(canvas, {
      type: "bar",
      data: {
        labels: users.map((user) => user.label),
        datasets: [
          {
            label: `LLM cost (${currency})`,
            data: users.map((user) => plotted(user.cost) || 0),
            backgroundColor: COLORS.blue,
            hoverBackgroundColor: COLORS.sky,
          },
        ],
      },
      options: {
        indexAxis: "y",
        maintainAspectRatio: false,
        scales: { x: moneyAxis(`LLM cost (${currency})`), y: { ticks: { autoSkip: false } } },
        plugins: {
          legend: { display: false },
          tooltip: {
            callbacks: {
              label: (ctx) => {
                const user = users[ctx.dataIndex];
                const unpriced = user.unpriced_requests ? `, ${user.unpriced_requests} unpriced` : "";
                return `${moneyLabel(user.cost, currency)} (${user.requests} requests${unpriced})`;
              },
              footer: () => "Click to see this user's usage",
            },
          },
        },
        onClick: (event, elements) => {
          if (elements.length) open(elements[0].index);
        },
        onHover: (event, elements) => {
          event.native.target.style.cursor = elements.length ? "pointer" : "default";
        },
      },
    });
  }

  function tokenEfficiency(data) {
    const canvas = document.getElementById("chart-token-efficiency");
    const rows = data.token_efficiency || [];
    if (!canvas || !rows.length) return null;
    reveal(canvas, 110 + rows.length * 40);
    return new Chart(canvas, {
      type: "bar",
      data: {
        labels: rows.map((row) => row.model),
        datasets: [
          { label: "Prompt tokens", data: rows.map((row) => row.prompt_tokens), backgroundColor: COLORS.blue },
          { label: "Completion tokens", data: rows.map((row) => row.completion_tokens), backgroundColor: COLORS.orange },
        ],
      },
      options: {
        indexAxis: "y",
        maintainAspectRatio: false,
        scales: {
          x: { beginAtZero: true, title: { display: true, text: "Tokens" }, ticks: { callback: (value) => axisCount.format(value) } },
          y: { ticks: { autoSkip: false } },
        },
        plugins: {
          tooltip: {
            callbacks: {
              title: (items) => `${rows[items[0].dataIndex].provider} · ${items[0].label}`,
              footer: (items) => {
                const row = rows[items[0].dataIndex];
                return `Completion/prompt: ${row.ratio === null ? "unknown" : row.ratio}`;
              },
            },
          },
        },
      },
    });
  }

  function infrastructureBreakdown(data) {
    const canvas = document.getElementById("chart-infrastructure-breakdown");
    const chart = data.infrastructure_breakdown;
    if (!canvas || !chart || !chart.days.length) return null;
    // A provider with nothing on any of the days would only crowd the legend.
    const series = chart.series.filter((item) => hasFigures(item.values));
    if (!series.length) {
      showEmpty("infrastructure_breakdown");
      return null;
    }
    const currency = data.currency;
    reveal(canvas);
    return new Chart(canvas, {
      type: "bar",
      data: {
        labels: chart.days,
        datasets: series.map((item) => ({
          label: item.label,
          data: item.values.map(plotted),
          backgroundColor: SERIES_COLORS[item.key] || COLORS.grey,
          stack: "costs",
        })),
      },
      options: {
        maintainAspectRatio: false,
        interaction: { mode: "index", intersect: false },
        scales: { x: { stacked: true }, y: Object.assign(moneyAxis(currency), { stacked: true }) },
        plugins: {
          tooltip: { callbacks: { label: exactLabel(series.map((item) => item.values), currency) } },
        },
      },
    });
  }

  function monthlyLlm(data) {
    const canvas = document.getElementById("chart-monthly-llm");
    const chart = data.monthly_llm;
    if (!canvas || !chart || !chart.months.length) return null;
    const projection = chart.projection;
    if (!hasFigures(chart.costs) && !(projection && plotted(projection.value))) {
      showEmpty("monthly_llm");
      return null;
    }
    const currency = data.currency;
    const months = chart.months.slice();
    const costs = chart.costs.slice();
    const projected = months.map(() => null);
    const projectedStrings = months.map(() => null);
    if (projection) {
      let at = months.indexOf(projection.month);
      if (at < 0) {
        months.push(projection.month);
        costs.push(null);
        projected.push(null);
        projectedStrings.push(null);
        at = months.length - 1;
      }
      // The dashed segment runs from the last full month to the projected month end.
      if (at > 0 && costs[at - 1] !== null) {
        projected[at - 1] = plotted(costs[at - 1]);
        projectedStrings[at - 1] = costs[at - 1];
      }
      projected[at] = plotted(projection.value);
      projectedStrings[at] = projection.value;
    }
    const datasets = [
      {
        label: "LLM costs",
        data: costs.map(plotted),
        borderColor: COLORS.blue,
        backgroundColor: COLORS.blue,
        borderWidth: 2,
        pointRadius: 3,
      },
    ];
    const strings = [costs];
    if (projection) {
      datasets.push({
        label: "Projection to month end (run rate)",
        data: projected,
        borderColor: COLORS.orange,
        backgroundColor: COLORS.orange,
        borderDash: [6, 4],
        borderWidth: 2,
        pointStyle: "rectRot",
        pointRadius: months.map((month) => (month === projection.month ? 6 : 0)),
      });
      strings.push(projectedStrings);
    }
    reveal(canvas);
    return new Chart(canvas, {
      type: "line",
      data: { labels: months, datasets: datasets },
      options: {
        maintainAspectRatio: false,
        interaction: { mode: "index", intersect: false },
        scales: { y: moneyAxis(currency) },
        plugins: {
          tooltip: {
            filter: (item) => item.datasetIndex === 0 || months[item.dataIndex] === (projection && projection.month),
            callbacks: {
              label: (ctx) => {
                const text = moneyLabel(strings[ctx.datasetIndex][ctx.dataIndex], currency);
                return ctx.datasetIndex === 0 ? `LLM costs: ${text}` : `Projection (month end): ${text}`;
              },
            },
          },
        },
      },
    });
  }

  function draw() {
    const source = document.getElementById("business-data");
    if (!source) return;
    if (typeof window.Chart === "undefined") {
      console.warn("Chart.js did not load: the Business summary shows its tables only.");
      return;
    }
    const data = JSON.parse(source.textContent);
    Chart.defaults.color = cssVar("--body-quiet-color", "#666");
    Chart.defaults.borderColor = cssVar("--hairline-color", "#e0e0e0");
    Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    if (window.matchMedia("(prefers-reduced-motion: reduce)").matches) {
      Chart.defaults.animation = false;
    }
    const drawn = [revenueVsCosts, topUsers, tokenEfficiency, infrastructureBreakdown, monthlyLlm]
      .map((chart) => chart(data))
      .filter(Boolean);
    document.getElementById("content-main").dataset.chartsDrawn = String(drawn.length);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
