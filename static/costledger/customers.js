/* A customer's page: revenue and cost per month as bars, the margin as a line, drawn from the
 * json_script copy of the table below it (the table stays: it is the page without script).
 */
(function () {
  "use strict";

  function draw() {
    const source = document.getElementById("margin-trend-data");
    const canvas = document.getElementById("margin-trend-chart");
    if (!source || !canvas || !window.Chart) { return; }
    const data = JSON.parse(source.textContent);
    const charts = window.costledgerCharts;
    charts.useAdminLook();
    const numbers = (values) => values.map(Number);
    canvas.hidden = false;
    new Chart(canvas, {
      data: {
        labels: data.months,
        datasets: [
          { type: "bar", label: "Revenue", data: numbers(data.revenue), backgroundColor: "#4e79a7" },
          { type: "bar", label: "LLM cost", data: numbers(data.llm_cost), backgroundColor: "#f28e2b" },
          { type: "bar", label: "Allocated cost", data: numbers(data.allocated), backgroundColor: "#bab0ac" },
          { type: "line", label: "Margin", data: numbers(data.margin), borderColor: "#59a14f", backgroundColor: "#59a14f" },
        ],
      },
      options: {
        responsive: true,
        scales: { y: { ticks: { callback: charts.moneyTicks(data.currency) } } },
      },
    });
  }

  document.addEventListener("DOMContentLoaded", draw);
})();
