/* The report's own script, inlined after chart.js: it reads the chart specs
 * (reports/model.ts ChartSpec) from the JSON block with JSON.parse and turns
 * each into a chart.js config. Nothing from the results file is ever part of
 * this code. Animation is off so every chart is drawn when the constructor
 * returns: the report prints and screenshots as it loads, and the browser
 * test reads pixels right after. Plain ES2017, no template literals, so it
 * can sit in this TypeScript string as is. */
export const CLIENT_SCRIPT = `
(function () {
  'use strict';
  var specs = JSON.parse(document.getElementById('report-data').textContent).charts;
  Chart.defaults.animation = false;
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.font.family = 'system-ui, sans-serif';

  function dataset(d) {
    var axis = d.axis || 'y';
    if (d.kind === 'range') {
      // Floating bar [min, max], narrow and not grouped: a whisker over the median bar.
      return { type: 'bar', label: d.label, data: d.data, backgroundColor: d.color, grouped: false,
               barPercentage: 0.12, categoryPercentage: 1, order: 0, yAxisID: axis };
    }
    if (d.kind === 'line') {
      return { type: 'line', label: d.label, data: d.data, borderColor: d.color, backgroundColor: d.color,
               borderDash: d.dashed ? [6, 4] : [], borderWidth: 2, pointRadius: 3, tension: 0, order: 1, yAxisID: axis };
    }
    return { type: 'bar', label: d.label, data: d.data, backgroundColor: d.color, order: 1, yAxisID: axis };
  }

  function scale(a, stacked, position) {
    var s = { type: a.log ? 'logarithmic' : 'linear', stacked: stacked, position: position,
              title: { display: true, text: a.title } };
    if (a.ticks && a.ticks.length) {
      // Exactly the given ticks (percentiles, swept values), labelled as given.
      var values = a.ticks.map(function (t) { return t.value; });
      var names = {};
      a.ticks.forEach(function (t) { names[t.value] = t.label; });
      s.min = values[0];
      s.max = values[values.length - 1];
      s.afterBuildTicks = function (axis) { axis.ticks = values.map(function (v) { return { value: v }; }); };
      s.ticks = { autoSkip: false, callback: function (v) { return v in names ? names[v] : ''; } };
    }
    if (a.unit === 'us') {
      // Keep chart.js's choice of which ticks get a label; say them in µs, ms or s.
      var base = a.log ? Chart.Ticks.formatters.logarithmic : Chart.Ticks.formatters.numeric;
      s.ticks = { callback: function (v, i, ticks) { return base.call(this, v, i, ticks) === '' ? '' : micros(v); } };
    }
    return s;
  }

  function micros(v) {
    if (v >= 1e6) return +(v / 1e6).toPrecision(3) + ' s';
    if (v >= 1e3) return +(v / 1e3).toPrecision(3) + ' ms';
    return +v.toPrecision(3) + ' µs';
  }

  function config(spec) {
    var scales = {};
    scales.x = spec.x ? scale(spec.x, !!spec.stacked, 'bottom') : { type: 'category', stacked: !!spec.stacked };
    scales.y = scale(spec.y, !!spec.stacked, 'left');
    if (spec.y2) {
      scales.y2 = scale(spec.y2, false, 'right');
      scales.y2.grid = { drawOnChartArea: false };
    }
    return {
      type: spec.type,
      data: { labels: spec.labels, datasets: spec.datasets.map(dataset) },
      options: {
        responsive: true,
        scales: scales,
        plugins: { title: { display: true, text: spec.title }, legend: { position: 'bottom' } },
      },
    };
  }

  var drawn = 0;
  specs.forEach(function (spec) {
    try {
      new Chart(document.getElementById(spec.id), config(spec));
      drawn++;
    } catch (err) {
      // One bad chart must not take the rest of the report with it.
      console.error('chart ' + spec.id + ': ' + err);
    }
  });
  document.documentElement.setAttribute('data-charts-drawn', String(drawn));
})();
`;
