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
  // One colour per cost category, as the KPI cards and Costs by provider name them.
  const SERIES_COLORS = {
    llm: COLORS.blue,
    infrastructure: COLORS.sky,
    payments: COLORS.purple,
    communications: COLORS.orange,
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

  const axisCount = new Intl.NumberFormat(undefined, { notation: "compact" });

  const moneyTicks = window.costledgerCharts.moneyTicks;  // static/costledger/report_charts.js

  function moneyAxis(title, currency) {
    return {
      beginAtZero: true,
      title: { display: true, text: title },
      ticks: { callback: moneyTicks(currency) },
    };
  }

  // A chart point that holds part of its week or month (clipped by the period, or still
  // running) is drawn hollow, the line into it dashed, and its tooltip says why.
  function partialStyle(partial, color) {
    return {
      pointBackgroundColor: partial.map((why) => (why ? "#fff" : color)),
      pointBorderColor: color,
      segment: { borderDash: (ctx) => (partial[ctx.p1DataIndex] ? [5, 4] : undefined) },
    };
  }

  function partialFooter(partial) {
    return (items) => {
      const why = items.length ? partial[items[0].dataIndex] : null;
      return why ? `Partial: ${why}` : "";
    };
  }

  // Tooltip lines show the server's own strings, kept beside each dataset.
  function exactLabel(strings, currency) {
    return (ctx) => `${ctx.dataset.label}: ${moneyLabel(strings[ctx.datasetIndex][ctx.dataIndex], currency)}`;
  }

  function revenueVsCosts(data) {
    const canvas = document.getElementById("chart-revenue-vs-costs");
    const chart = data.revenue_vs_costs;
    const buckets = data.buckets;
    if (!canvas || !chart || !buckets.labels.length) return null;
    if (!hasFigures(chart.revenue, chart.costs, chart.margin)) {
      showEmpty("revenue_vs_costs");
      return null;
    }
    const currency = data.currency;
    const lines = [
      ["Revenue (accrued)", chart.revenue, COLORS.blue],
      ["Costs", chart.costs, COLORS.vermillion],
      ["Margin", chart.margin, COLORS.green],
    ].filter(([, values]) => hasFigures(values));
    const datasets = lines.map(([label, values, color]) => Object.assign({
      label: label,
      data: values.map(plotted),
      borderColor: color,
      backgroundColor: color,
      borderWidth: 2,
      pointRadius: buckets.labels.length > 40 ? 1.5 : 3,
    }, partialStyle(buckets.partial, color)));
    reveal(canvas);
    return new Chart(canvas, {
      type: "line",
      data: { labels: buckets.labels, datasets: datasets },
      options: {
        maintainAspectRatio: false,
        interaction: { mode: "index", intersect: false },
        scales: {
          x: { ticks: { maxRotation: 0, autoSkipPadding: 12 } },
          y: moneyAxis(`${currency} ${buckets.description}`, currency),
        },
        plugins: {
          tooltip: {
            callbacks: {
              label: exactLabel(lines.map(([, values]) => values), currency),
              footer: partialFooter(buckets.partial),
            },
          },
        },
      },
    });
  }

  function mrrTrend(data) {
    const canvas = document.getElementById("chart-mrr-trend");
    const chart = data.mrr_trend;
    const buckets = data.buckets;
    if (!canvas || !chart || !buckets.labels.length) return null;
    if (!hasFigures(chart.mrr, chart.new_mrr, chart.churned_mrr)) {
      showEmpty("mrr_trend");
      return null;
    }
    const currency = data.currency;
    const lost = chart.churned_mrr.map((value) => (value !== null && Number(value) > 0 ? `-${value}` : value));
    const strings = [chart.mrr, chart.new_mrr, lost];
    reveal(canvas);
    return new Chart(canvas, {
      data: {
        labels: buckets.labels,
        datasets: [
          Object.assign({
            type: "line", label: "MRR", data: chart.mrr.map(plotted), yAxisID: "mrr",
            borderColor: COLORS.blue, backgroundColor: COLORS.blue, borderWidth: 2,
            pointRadius: buckets.labels.length > 40 ? 1.5 : 3, order: 1,
          }, partialStyle(buckets.partial, COLORS.blue)),
          {
            type: "bar", label: "New MRR", data: chart.new_mrr.map(plotted), yAxisID: "moves",
            backgroundColor: translucent(COLORS.green, 0.4), stack: "moves", order: 2, barPercentage: 0.5,
          },
          {
            type: "bar", label: "Churned MRR", data: lost.map(plotted), yAxisID: "moves",
            backgroundColor: translucent(COLORS.vermillion, 0.4), stack: "moves", order: 2, barPercentage: 0.5,
          },
        ],
      },
      options: {
        maintainAspectRatio: false,
        interaction: { mode: "index", intersect: false },
        scales: {
          x: { stacked: true, ticks: { maxRotation: 0, autoSkipPadding: 12 } },
          mrr: Object.assign(moneyAxis(`MRR (${currency})`, currency), { position: "left" }),
          moves: Object.assign(moneyAxis(`Won / lost per ${buckets.unit} (${currency})`, currency), {
            position: "right", stacked: true, grid: { drawOnChartArea: false },
          }),
        },
        plugins: {
          tooltip: {
            callbacks: { label: exactLabel(strings, currency), footer: partialFooter(buckets.partial) },
          },
        },
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
        scales: { x: moneyAxis(`LLM cost (${currency})`, currency), y: { ticks: { autoSkip: false } } },
        plugins: {
          legend: { display: false },
          tooltip: {
            callbacks: {
              label: (ctx) => {
                const user = users[ctx.dataIndex];
                const unpriced = user.unpriced_requests ? `, ${user.unpriced_requests} unpriced` : "";
                return `${moneyLabel(user.cost, currency)} (${user.requests} requests${unpriced})`;
              },
              footer: () => "Click to open this user's page",
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

  function costBreakdown(data) {
    const canvas = document.getElementById("chart-cost-breakdown");
    const chart = data.cost_breakdown;
    const buckets = data.buckets;
    if (!canvas || !chart || !buckets.labels.length) return null;
    // A category with nothing in the period would only crowd the legend.
    const series = chart.series.filter((item) => hasFigures(item.values));
    if (!series.length) {
      showEmpty("cost_breakdown");
      return null;
    }
    const currency = data.currency;
    reveal(canvas);
    return new Chart(canvas, {
      type: "bar",
      data: {
        labels: buckets.labels,
        datasets: series.map((item) => ({
          label: item.label,
          data: item.values.map(plotted),
          backgroundColor: buckets.partial.map((why) => translucent(SERIES_COLORS[item.key] || COLORS.grey, why ? 0.45 : 1)),
          stack: "costs",
        })),
      },
      options: {
        maintainAspectRatio: false,
        interaction: { mode: "index", intersect: false },
        scales: {
          x: { stacked: true, ticks: { maxRotation: 0, autoSkipPadding: 12 } },
          y: Object.assign(moneyAxis(`${currency} ${buckets.description}`, currency), { stacked: true }),
        },
        plugins: {
          tooltip: {
            callbacks: {
              label: exactLabel(series.map((item) => item.values), currency),
              footer: partialFooter(buckets.partial),
            },
          },
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
    const projected = chart.months.map((month) => (projection && month === projection.month ? projection.value : null));
    const color = (why, alpha) => translucent(COLORS.blue, why ? alpha : 1);
    const datasets = [
      {
        label: "LLM costs",
        data: chart.costs.map(plotted),
        backgroundColor: chart.partial.map((why) => color(why, 0.35)),
        borderColor: COLORS.blue,
        borderWidth: chart.partial.map((why) => (why ? 2 : 0)),
        borderDash: [4, 3],
        skipNull: true,
      },
    ];
    const strings = [chart.costs];
    if (projection) {
      datasets.push({
        label: "Projected month end (last 7 days' run rate)",
        data: projected.map(plotted),
        backgroundColor: translucent(COLORS.orange, 0.15),
        borderColor: COLORS.orange,
        borderWidth: 2,
        skipNull: true,
      });
      strings.push(projected);
    }
    reveal(canvas);
    return new Chart(canvas, {
      type: "bar",
      data: { labels: chart.months, datasets: datasets },
      options: {
        maintainAspectRatio: false,
        interaction: { mode: "index", intersect: false },
        scales: { y: moneyAxis(`LLM costs per month (${currency})`, currency) },
        plugins: {
          tooltip: {
            callbacks: {
              label: exactLabel(strings, currency),
              footer: (items) => {
                const why = items.length ? chart.partial[items[0].dataIndex] : null;
                return why ? `Month to date: ${why}` : "";
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
    window.costledgerCharts.useAdminLook();
    const drawn = [revenueVsCosts, mrrTrend, costBreakdown, monthlyLlm, topUsers, tokenEfficiency]
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
