/* Tidings web app behaviour. No inline scripts anywhere: pages carry data-* attributes and
   JSON endpoints; this file wires them up (charts, confirmations) after every htmx swap. */
(function () {
  "use strict";
  var palette = ["#4f46e5", "#16a34a", "#f59e0b", "#0ea5e9", "#db2777", "#64748b", "#dc2626", "#7c3aed"];

  function drawChart(canvas) {
    if (canvas.dataset.drawn || typeof Chart === "undefined") return;
    canvas.dataset.drawn = "1";
    fetch(canvas.dataset.chart, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.json(); })
      .then(function (spec) {
        var datasets = (spec.datasets || []).map(function (d, i) {
          var color = d.color || palette[i % palette.length];
          return Object.assign({ borderColor: color, backgroundColor: spec.type === "line" ? color + "22" : color,
                                 borderWidth: 2, tension: 0.25, pointRadius: 2, fill: spec.type === "line" && !!d.fill }, d);
        });
        new Chart(canvas, {
          type: spec.type || "bar",
          data: { labels: spec.labels || [], datasets: datasets },
          options: { responsive: true, maintainAspectRatio: false, animation: false,
                     plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } },
                     scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } }
        });
        canvas.dataset.ready = "1";
      })
      .catch(function () { canvas.replaceWith(document.createTextNode("chart unavailable")); });
  }

  function wire(root) {
    root.querySelectorAll("canvas[data-chart]").forEach(drawChart);
    root.querySelectorAll("form[data-confirm]").forEach(function (form) {
      if (form.dataset.wired) return;
      form.dataset.wired = "1";
      form.addEventListener("submit", function (e) {
        // a button may carry its own question (one form, several decisions)
        var question = (e.submitter && e.submitter.dataset.confirm) || form.dataset.confirm;
        if (!window.confirm(question)) e.preventDefault();
      });
    });
    root.querySelectorAll("select[data-autosubmit]").forEach(function (sel) {
      if (sel.dataset.wired) return;
      sel.dataset.wired = "1";
      sel.addEventListener("change", function () { sel.form.submit(); });
    });
  }

  document.addEventListener("DOMContentLoaded", function () { wire(document); });
  document.addEventListener("htmx:afterSettle", function (e) { wire(e.target); });
})();
