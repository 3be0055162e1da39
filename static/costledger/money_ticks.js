/* Money on a chart's axis, shared by the report pages' charts (business.js, user.js): the
 * currency, thousands separators, and cents only where the ticks are closer than one unit apart
 * (so a 0-4 axis reads 0.00, 0.50, 1.00... not 0 1 1 2). Loaded before them; no inline script.
 */
(function () {
  "use strict";

  window.costledgerMoneyTicks = function moneyTicks(currency) {
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
  };
})();
