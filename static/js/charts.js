/* Statistics charts: Chart.js (static/vendor) draws each <canvas data-chart="key"> from the
 * JSON of #statistics-data. The table beside each chart carries the same numbers, so the page
 * is complete without JavaScript or a screen. */
document.addEventListener("DOMContentLoaded", function () {
  "use strict";
  var source = document.getElementById("statistics-data");
  if (!source || !window.Chart) return;
  var data = JSON.parse(source.textContent);
  var palette = ["#4f46e5", "#0891b2", "#16a34a", "#f59e0b", "#dc2626", "#7c3aed", "#475569", "#db2777"];
  var reduceMotion = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
    var series = data[canvas.dataset.chart];
    if (!series) return;
    var doughnut = series.kind === "doughnut";
    new window.Chart(canvas, {
      type: series.kind,
      data: {
        labels: series.labels,
        datasets: [{
          label: canvas.dataset.label,
          data: series.values,
          backgroundColor: doughnut ? palette : palette[0],
          borderRadius: doughnut ? 0 : 4
        }]
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: reduceMotion ? false : { duration: 300 },
        plugins: { legend: { display: doughnut, position: "bottom" } },
        scales: doughnut ? {} : { y: { beginAtZero: true } }
      }
    });
  });
});
