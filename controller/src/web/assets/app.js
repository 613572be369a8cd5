// Unity dashboard charts: every <div class="chart"> names a metric of a host; this script
// fetches its stored history from the API and draws it with uPlot. Instances are kept in
// window.unityCharts (the browser test reads them).
"use strict";
(function () {
  const charts = [];
  window.unityCharts = charts;
  const COLORS = ["#2f6fdb", "#1f8a4c", "#c0392b", "#b7791f", "#8e44ad", "#16a085", "#d35400", "#2c3e50"];

  function bytes(value) {
    const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let unit = 0;
    while (Math.abs(value) >= 1024 && unit < units.length - 1) { value /= 1024; unit++; }
    return value.toFixed(value >= 100 || unit === 0 ? 0 : 1) + " " + units[unit];
  }
  const FORMATS = {
    percent: (v) => (v * 100).toFixed(0) + " %",
    bytes: bytes,
    bytes_rate: (v) => bytes(v) + "/s",
    celsius: (v) => v.toFixed(0) + " °C",
    plain: (v) => (Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(2)),
  };

  // Per-second rate of a counter; a reset (value going down) starts over.
  function rate(points) {
    const out = [];
    for (let i = 1; i < points.length; i++) {
      const dt = (points[i][0] - points[i - 1][0]) / 1000;
      const dv = points[i][1] - points[i - 1][1];
      if (dt > 0 && dv >= 0) out.push([points[i][0], dv / dt]);
    }
    return out;
  }

  function seriesLabel(series, matched, title) {
    const names = Object.keys(series.labels).filter((name) => !(name in matched) && name !== "device" && name !== "fstype");
    return names.length ? names.map((name) => series.labels[name]).join(" ") : title;
  }

  async function draw(el) {
    const matched = {};
    (el.dataset.labels || "").split(",").filter(Boolean).forEach((pair) => {
      const at = pair.indexOf("=");
      matched[pair.slice(0, at)] = pair.slice(at + 1);
    });
    const query = new URLSearchParams({ metric: el.dataset.metric, range: el.dataset.range, max_points: "600" });
    if (el.dataset.labels) query.set("labels", el.dataset.labels);
    let body;
    try {
      const response = await fetch("/api/v1/hosts/" + encodeURIComponent(el.dataset.agent) + "/query?" + query, { credentials: "same-origin" });
      body = await response.json();
      if (!response.ok) throw new Error(body.error || response.status);
    } catch (error) {
      el.classList.add("failed");
      el.dataset.state = "failed";
      el.textContent = "Cannot load the history: " + error.message;
      return;
    }
    let series = body.series;
    if (el.dataset.rate) series = series.map((s) => ({ labels: s.labels, points: rate(s.points) }));
    series = series.filter((s) => s.points.length > 0);
    if (series.length === 0) {
      el.classList.add("empty");
      el.dataset.state = "empty";
      el.textContent = "No data in this range yet.";
      return;
    }
    const times = Array.from(new Set(series.flatMap((s) => s.points.map((p) => p[0])))).sort((a, b) => a - b);
    const index = new Map(times.map((t, i) => [t, i]));
    const data = [times.map((t) => t / 1000)];
    for (const s of series) {
      const column = new Array(times.length).fill(null);
      for (const [t, v] of s.points) column[index.get(t)] = v;
      data.push(column);
    }
    const format = FORMATS[el.dataset.unit] || FORMATS.plain;
    const options = {
      width: Math.max(el.clientWidth, 200),
      height: 200,
      scales: { x: { time: true, range: [body.from_ms / 1000, body.to_ms / 1000] } },
      series: [{}].concat(series.map((s, i) => ({
        label: seriesLabel(s, matched, el.dataset.title || el.dataset.metric),
        stroke: COLORS[i % COLORS.length],
        width: 1.5,
        value: (u, v) => (v == null ? "-" : format(v)),
      }))),
      axes: [{}, { size: 70, values: (u, values) => values.map(format) }],
    };
    el.textContent = "";
    const plot = new uPlot(options, data, el);
    plot.unityMetric = el.dataset.metric;
    charts.push(plot);
    el.dataset.state = "drawn";
  }

  let resizeTimer = null;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
      for (const plot of charts) plot.setSize({ width: Math.max(plot.root.parentNode.clientWidth, 200), height: 200 });
    }, 150);
  });

  document.querySelectorAll(".chart").forEach(draw);
})();
