/* The flamegraph page's own script, inlined after d3 and d3-flame-graph. It
 * reads the views from the JSON block and draws each with d3-flame-graph.
 * Everything from the profile (frame names, tooltips) reaches the page
 * through textContent-style setters only (d3's .text(), the tooltip's
 * text mode), never as markup; search is plain substring matching, so a
 * typed pattern is never compiled as a regular expression. */
export const CLIENT_SCRIPT = String.raw`
(function () {
  'use strict';
  var config = JSON.parse(document.getElementById('flame-data').textContent);
  var details = document.getElementById('details');
  var search = document.getElementById('search');
  var holder = document.getElementById('views');
  var width = Math.max(800, Math.floor(holder.getBoundingClientRect().width));
  var charts = {};
  var current = config.views[0].id;

  function matches(d, term) {
    return term !== '' && d.data.name.toLowerCase().indexOf(term.toLowerCase()) >= 0;
  }

  config.views.forEach(function (view) {
    var tip = flamegraph.tooltip.defaultFlamegraphTooltip().text(function (d) {
      return d.data.tip;
    });
    var chart = flamegraph
      .default()
      .width(width)
      .cellHeight(18)
      .minFrameSize(1)
      .transitionDuration(250)
      .sort(false)
      .tooltip(tip)
      .label(function (d) {
        return d.data.tip.split('\n').join(' · ');
      })
      .setColorMapper(function (d) {
        return d.highlight ? '#e600e6' : d.data.color;
      })
      .setSearchMatch(matches)
      .setSearchHandler(function (results, sum, total) {
        // Every view is searched; the line speaks for the one on screen.
        if (view.id !== current) return;
        details.textContent = results.length
          ? 'search: ' + results.length + ' frames, ' + (total > 0 ? ((100 * sum) / total).toFixed(2) : '0') + '% of ' + view.label
          : '';
      })
      .setDetailsElement(details);
    d3.select(document.getElementById('view-' + view.id)).datum(view.tree).call(chart);
    charts[view.id] = chart;
  });

  function applySearch() {
    var term = search.value.trim();
    Object.keys(charts).forEach(function (id) {
      if (term) charts[id].search(term);
      else charts[id].clear();
    });
    if (!term) details.textContent = '';
  }
  search.addEventListener('input', applySearch);

  document.getElementById('reset').addEventListener('click', function () {
    charts[current].resetZoom();
  });

  document.querySelectorAll('button[data-view]').forEach(function (button) {
    button.addEventListener('click', function () {
      current = button.getAttribute('data-view');
      document.querySelectorAll('.view').forEach(function (el) {
        el.hidden = el.id !== 'view-' + current;
      });
      document.querySelectorAll('button[data-view]').forEach(function (b) {
        b.setAttribute('aria-pressed', String(b === button));
      });
      applySearch();
    });
  });

  // For the browser tests: every view was drawn without throwing.
  document.documentElement.setAttribute('data-charts-drawn', String(config.views.length));
})();
`;
