/* What the report pages' charts share (business.js, user.js), loaded before them as
 * window.costledgerCharts: the admin's look for Chart.js, and money ticks. No inline script.
 */
(function () {
  "use strict";

  function cssVar(name, fallback) {
    const value = getComputedStyle(document.body).getPropertyValue(name).trim();
    return value || fallback;
  }

  // Chart.js in the admin's colours and font, still when the person asked for less motion.
  function useAdminLook() {
    Chart.defaults.color = cssVar("--body-quiet-color", "#666");
    Chart.defaults.borderColor = cssVar("--hairline-color", "#e0e0e0");
    Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    if (window.matchMedia("(prefers-reduced-motion: reduce)").matches) {
      Chart.defaults.animation = false;
    }
  }

  // Money on an axis: the currency, thousands separators, and cents only where the ticks are
  // closer than one unit apart (a 0-4 axis reads 0.00, 0.50, 1.00... not 0 1 1 2).
  function moneyTicks(currency) {
    const formats = {};
    const format = (digits) => {
      if (!formats[digits]) {
        try {
          formats[digits] = new Intl.NumberFormat(undefined, {
            style: "currency", currency: currency, minimumFractionDigits: digits, maximumFractionDigits: digits,
          });
        } catch (error) {  // a code the browser does not know: the number alone
          formats[digits] = new Intl.NumberFormat(undefined, { minimumFractionDigits: digits, maximumFractionDigits: digits });
        }
      }
      return formats[digits];
    };
    return (value, index, ticks) => {
      const step = ticks.length > 1 ? Math.abs(ticks[1].value - ticks[0].value) : Math.abs(value);
      return format(step && step < 1 ? 2 : 0).format(value);
    };
  }

  window.costledgerCharts = { useAdminLook: useAdminLook, moneyTicks: moneyTicks };
})();
