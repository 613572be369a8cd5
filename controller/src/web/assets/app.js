// Unity dashboard charts: every <div class="chart"> names a metric of a host; this script
// fetches its stored history from the API and draws it with uPlot. Instances are kept in
// window.unityCharts (the browser test reads them). The charts of a page share one cursor
// (uPlot's cursor sync) and one zoom: dragging across one zooms all to that span, a
// double-click goes back to the page's range. The range chosen in the selector (#ranges) is
// remembered in localStorage and applied to the next page without `?range=` (any host).
"use strict";
(function () {
  const charts = [];
  window.unityCharts = charts;
  const SYNC_KEY = "unity-charts";
  const RANGE_KEY = "unity.chartRange";
  const COLORS = ["#2f6fdb", "#1f8a4c", "#c0392b", "#b7791f", "#8e44ad", "#16a085", "#d35400", "#2c3e50"];

  // Units (web/metric_names.rs `Unit::chart_unit`): each scales a tick value by a unit chosen
  // for the whole axis, and the axis takes as many decimals as its labels need to differ.
  const BYTE_UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  function byteScale(max) {
    let unit = 0;
    while (Math.abs(max) >= 1024 && unit < BYTE_UNITS.length - 1) { max /= 1024; unit++; }
    return [Math.pow(1024, unit), " " + BYTE_UNITS[unit]];
  }
  function secondScale(max) {
    const steps = [[1e-6, " µs"], [1e-3, " ms"], [1, " s"], [60, " min"], [3600, " h"], [86400, " d"]];
    let chosen = steps[0];
    for (const step of steps) if (Math.abs(max) >= step[0]) chosen = step;
    return chosen;
  }
  // A unit with `bounds` is a share of something (CPU, a sync's progress): its y axis spans the
  // bounds (0 to 100 %), widened only by values outside them. uPlot's own auto-range pads a flat
  // series by its own value, so a CPU steady at 75 % drew an axis to 150 % (100 % to 200 %).
  const UNITS = {
    percent: { scale: () => [0.01, " %"], bounds: [0, 1] },
    percent100: { scale: () => [1, " %"], bounds: [0, 100] },
    bytes: { scale: byteScale },
    bytes_rate: { scale: (max) => { const s = byteScale(max); return [s[0], s[1] + "/s"]; } },
    celsius: { scale: () => [1, " °C"] },
    seconds: { scale: secondScale },
    count: { scale: () => [1, ""], integer: true },
    per_second: { scale: () => [1, "/s"] },
    plain: { scale: () => [1, ""] },
  };
  function unitOf(name) { return UNITS[name] || UNITS.plain; }

  // The y range of a bounded unit's axis over data from `min` to `max` (null without data).
  function boundedRange(bounds, min, max) {
    const [low, high] = bounds;
    return [Math.min(low, min ?? low), Math.max(high, max ?? high)];
  }

  // Tick labels: one scale for the axis, the fewest decimals (0 to 4) that keep them distinct.
  function tickLabels(unit, splits) {
    const finite = splits.filter((v) => v != null && isFinite(v));
    const max = finite.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    const [divisor, suffix] = unit.scale(max);
    let labels = [];
    for (let decimals = 0; decimals <= (unit.integer ? 0 : 4); decimals++) {
      labels = splits.map((v) => (v == null ? "" : (v / divisor).toFixed(decimals) + suffix));
      if (new Set(labels).size === labels.length) break;
    }
    return labels;
  }

  // One value (legend, cursor): three significant digits in the value's own scale.
  function valueLabel(unit, v) {
    if (v == null) return "-";
    const [divisor, suffix] = unit.scale(Math.abs(v));
    const scaled = v / divisor;
    if (unit.integer) return Math.round(scaled).toString() + suffix;
    const decimals = Math.abs(scaled) >= 100 || scaled === 0 ? 0 : Math.abs(scaled) >= 10 ? 1 : 2;
    return scaled.toFixed(decimals) + suffix;
  }

  // The y axis is as wide as its widest label (uPlot calls this once per layout pass).
  function axisSize(self, values, axisIdx, cycleNum) {
    const axis = self.axes[axisIdx];
    if (cycleNum > 1 && axis._size) return axis._size;
    let size = axis.ticks.size + axis.gap;
    const widest = (values || []).reduce((acc, v) => (String(v).length > acc.length ? String(v) : acc), "");
    if (widest !== "") {
      self.ctx.font = axis.font[0];
      size += self.ctx.measureText(widest).width / (window.devicePixelRatio || 1);
    }
    return Math.ceil(size) + 4;
  }

  const INTEGER_INCRS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5,
    1e6, 2e6, 5e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12];

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

  // Legends: a short human label per series — the device name first (no /dev/, no by-id
  // path), then the place (mount, interface, pool, array...) — never a serial or WWN; more
  // labels (then the model) only when two series would otherwise read the same.
  const NEVER = new Set(["serial", "wwn", "fstype", "source"]);
  const ORDER = ["device", "mount", "interface", "sensor", "array", "pool", "dataset", "vdev", "name",
    "container", "cpu", "action", "state", "kind", "id", "model"];
  function rank(name) { const at = ORDER.indexOf(name); return at < 0 ? ORDER.length - 1 : at; }
  // A long path (a container runtime's mount) keeps its last parts, "…/containers/overlay", so a
  // legend stays short.
  const LONGEST_PATH = 24;
  function shortPath(value) {
    if (value.length <= LONGEST_PATH) return value;
    const parts = value.split("/").filter(Boolean);
    let tail = parts.pop() || value;
    while (parts.length && parts[parts.length - 1].length + tail.length + 3 <= LONGEST_PATH) tail = parts.pop() + "/" + tail;
    return tail.length > LONGEST_PATH ? "…" + tail.slice(-LONGEST_PATH) : "…/" + tail;
  }
  function shortValue(name, value) {
    if (name === "mount") value = shortPath(value);
    if (name === "device") value = value.replace(/^\/dev\/(disk\/by-[a-z]+\/)?/, "");
    if (name === "model") value = value.split(/\s+/).slice(-1)[0];
    return value;
  }
  function seriesLabels(series, matched, title) {
    const keys = series.map((s) => Object.keys(s.labels)
      .filter((name) => !(name in matched) && !NEVER.has(name) && s.labels[name] !== "")
      .sort((a, b) => rank(a) - rank(b) || a.localeCompare(b)));
    const most = keys.reduce((m, k) => Math.max(m, k.length), 0);
    let labels = series.map(() => title);
    for (let n = 1; n <= most; n++) {
      labels = series.map((s, i) => {
        const names = keys[i].slice(0, n);
        return names.length ? names.map((name) => shortValue(name, s.labels[name])).join(" · ") : title;
      });
      if (new Set(labels).size === labels.length) break;
    }
    return labels;
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
    // The range's ends are times too (without values), so resetting the zoom (uPlot's
    // double-click fits the data) goes back to the whole range, not to the first point.
    const ends = [body.from_ms, body.to_ms];
    const times = Array.from(new Set(series.flatMap((s) => s.points.map((p) => p[0])).concat(ends)))
      .sort((a, b) => a - b);
    const index = new Map(times.map((t, i) => [t, i]));
    const data = [times.map((t) => t / 1000)];
    for (const s of series) {
      const column = new Array(times.length).fill(null);
      for (const [t, v] of s.points) column[index.get(t)] = v;
      data.push(column);
    }
    const unit = unitOf(el.dataset.unit);
    const labels = seriesLabels(series, matched, el.dataset.title || el.dataset.metric);
    const yAxis = { size: axisSize, values: (u, splits) => tickLabels(unit, splits) };
    if (unit.integer) yAxis.incrs = INTEGER_INCRS;
    const options = {
      width: Math.max(el.clientWidth, 200),
      height: 200,
      scales: {
        x: { time: true, range: (u, min, max) => [min, max] },
        y: unit.bounds ? { range: (u, min, max) => boundedRange(unit.bounds, min, max) } : {},
      },
      cursor: { sync: { key: SYNC_KEY }, drag: { x: true, y: false, setScale: true } },
      hooks: { setScale: [(u, key) => { if (key === "x" && u.status === 1) zoomAll(u); }] },
      series: [{}].concat(series.map((s, i) => ({
        label: labels[i],
        stroke: COLORS[i % COLORS.length],
        width: 1.5,
        value: (u, v) => valueLabel(unit, v),
      }))),
      axes: [{}, yAxis],
    };
    el.textContent = "";
    const plot = new uPlot(options, data, el);
    plot.unityMetric = el.dataset.metric;
    plot.unityUnit = el.dataset.unit;
    plot.unityRange = [body.from_ms / 1000, body.to_ms / 1000];
    charts.push(plot);
    if (zoom) follow(plot, zoom);
    el.dataset.state = "drawn";
  }

  // The page's zoom: [min, max] in seconds, or null for each chart's whole range.
  let zoom = null;
  let zooming = false;
  function follow(plot, span) {
    const [min, max] = span || plot.unityRange;
    if (plot.scales.x.min === min && plot.scales.x.max === max) return;
    zooming = true;
    try { plot.setScale("x", { min, max }); } finally { zooming = false; }
  }
  function zoomAll(source) {
    if (zooming) return;
    const { min, max } = source.scales.x;
    const whole = source.unityRange;
    zoom = whole && min <= whole[0] && max >= whole[1] ? null : [min, max];
    for (const plot of charts) if (plot !== source) follow(plot, zoom);
  }

  // The range selector: a `?range=` in the address is a choice, remembered; without one, the
  // remembered choice replaces the page's default (the range that holds the host's data).
  function remembered() {
    try { return window.localStorage.getItem(RANGE_KEY); } catch (_) { return null; }
  }
  function remember(range) {
    try {
      if (range) window.localStorage.setItem(RANGE_KEY, range);
      else window.localStorage.removeItem(RANGE_KEY);
    } catch (_) { /* storage refused (private mode): the choice lasts for this page only */ }
  }
  function applyRemembered(nav) {
    const links = Array.from(nav.querySelectorAll("a[data-range]"));
    const offered = links.map((a) => a.dataset.range).filter(Boolean);
    const asked = new URLSearchParams(window.location.search).get("range");
    if (asked && offered.includes(asked)) {
      remember(asked);
      return;
    }
    const stored = remembered();
    const chosen = stored && offered.includes(stored) ? stored : "";
    if (!chosen) {
      if (stored) remember("");
      return;
    }
    document.querySelectorAll(".chart[data-range]").forEach((el) => { el.dataset.range = chosen; });
    for (const a of links) {
      a.classList.toggle("active", a.dataset.range === chosen);
      if (a.dataset.range === chosen) a.setAttribute("aria-current", "true"); else a.removeAttribute("aria-current");
    }
  }
  const rangeNav = document.getElementById("ranges");
  if (rangeNav) {
    applyRemembered(rangeNav);
    rangeNav.addEventListener("click", (event) => {
      const link = event.target.closest("a[data-range]");
      if (link) remember(link.dataset.range);
    });
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
