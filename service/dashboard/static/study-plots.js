// The study page's plots. Each takes a div and the JSON of its /dashboard/api endpoint.
import { NUMBER, STATE_COLORS, draw, empty, fmt, openTrialOnClick } from "./common.js";

// Points beyond which a scatter is drawn with WebGL. The server sends at most ~2,000 history
// points, which SVG draws faster than a WebGL context starts in a browser without a GPU.
const WEBGL_FROM = 5000;

function scatterType(n) {
  return n > WEBGL_FROM ? "scattergl" : "scatter";
}

function better(direction) {
  return direction === "minimize" ? (a, b) => a < b : (a, b) => a > b;
}

// Optimization history: every complete (and pruned) value, and the best so far.
export async function history(div, data, studyName) {
  const { complete, pruned } = data.series;
  if (!complete.number.length && !pruned.number.length) {
    return empty(div, "No finished trial yet: values appear here as trials complete.");
  }
  const isBetter = better(data.direction);
  const bestX = [], bestY = [];
  let best = null;
  complete.number.forEach((number, i) => {
    const value = complete.value[i];
    if (best === null || isBetter(value, best)) best = value;
    bestX.push(number);
    bestY.push(best);
  });
  const traces = [
    {
      name: "complete", type: scatterType(complete.number.length), mode: "markers",
      x: complete.number, y: complete.value,
      marker: { color: STATE_COLORS.running, size: 6, opacity: 0.65 },
      hovertemplate: `trial %{x}<br>%{y:${NUMBER}}<extra></extra>`,
    },
    {
      name: "best so far", type: "scatter", mode: "lines", x: bestX, y: bestY,
      line: { color: STATE_COLORS.complete, width: 2.5, shape: "hv" },
      hovertemplate: `best up to trial %{x}<br>%{y:${NUMBER}}<extra></extra>`,
    },
  ];
  if (pruned.number.length) {
    traces.splice(1, 0, {
      name: "pruned", type: scatterType(pruned.number.length), mode: "markers",
      x: pruned.number, y: pruned.value,
      marker: { color: STATE_COLORS.pruned, size: 5, opacity: 0.5, symbol: "x" },
      hovertemplate: `trial %{x} (pruned)<br>%{y:${NUMBER}}<extra></extra>`,
    });
  }
  await draw(div, traces, {
    xaxis: { title: { text: "trial" }, tickformat: "d" },
    yaxis: { title: { text: data.metric }, tickformat: NUMBER },
  });
  openTrialOnClick(div, studyName, (point) => point.x);
}

export function importance(div, data) {
  if (!data.labels.length) return empty(div, "Needs at least two complete trials.");
  const labels = [...data.labels].reverse();
  const scores = [...data.scores].reverse();
  // A branch parameter says in how many trials it was active (the others did not take it).
  const active = [...(data.active ?? data.labels.map(() => data.trials))].reverse();
  const partly = active.map((n) => (n < data.trials ? ` · ${n.toLocaleString()} of ${data.trials.toLocaleString()} trials` : ""));
  return draw(div, [{
    type: "bar", orientation: "h", x: scores, y: labels, customdata: partly,
    marker: { color: "#1d4ed8" },
    text: scores.map((s) => `${(100 * s).toFixed(1)}%`), textposition: "auto",
    hovertemplate: "%{y}: %{x:.1%}%{customdata}<extra></extra>",
  }], {
    margin: { l: 150, r: 16, t: 6, b: 36 },
    xaxis: { tickformat: ".0%", range: [0, Math.max(...scores) * 1.05] },
    yaxis: { automargin: true },
    showlegend: false,
  });
}

// A readable axis for each parameter: log10 with powers of ten for log-scale ones,
// option names for categorical ones, and a tick below the range for "inactive".
function axis(dim) {
  if (dim.kind === "categorical") {
    const codes = dim.values.map((v) => (v === null ? -1 : dim.options.indexOf(v)));
    const missing = codes.includes(-1);
    const tickvals = dim.options.map((_, i) => i);
    const ticktext = [...dim.options];
    if (missing) { tickvals.unshift(-1); ticktext.unshift("inactive"); }
    return { values: codes, tickvals, ticktext, range: [missing ? -1 : 0, dim.options.length - 1] };
  }
  const present = dim.values.filter((v) => v !== null);
  const transform = dim.log ? Math.log10 : (v) => v;
  let [low, high] = dim.bounds ?? [Math.min(...present), Math.max(...present)];
  low = transform(low); high = transform(high);
  if (high === low) high = low + 1;
  let ticks = dim.log ? logTicks(low, high) : linearTicks(low, high);
  if (dim.kind === "int") ticks = ticks.map(Math.round).filter((t, i, all) => all.indexOf(t) === i);
  const tickvals = ticks.map(transform);
  const ticktext = ticks.map(fmt);
  let values = dim.values.map((v) => (v === null ? null : transform(v)));
  if (values.includes(null)) {
    const below = low - 0.08 * (high - low);
    values = values.map((v) => (v === null ? below : v));
    tickvals.unshift(below); ticktext.unshift("inactive");
    low = below;
  }
  return { values, tickvals, ticktext, range: [low, high] };
}

function logTicks(low, high) {
  const ticks = [];
  for (let e = Math.ceil(low); e <= Math.floor(high); e++) {
    for (const m of high - low < 2 ? [1, 2, 5] : [1]) {
      const t = m * 10 ** e;
      if (Math.log10(t) <= high + 1e-9) ticks.push(Number(t.toPrecision(3)));
    }
  }
  return ticks.length >= 2 ? ticks : [10 ** low, 10 ** high].map((t) => Number(t.toPrecision(3)));
}

function linearTicks(low, high, count = 5) {
  const raw = (high - low) / (count - 1);
  const step = [1, 2, 2.5, 5, 10].map((m) => m * 10 ** Math.floor(Math.log10(raw))).find((s) => s >= raw);
  const ticks = [];
  for (let t = Math.ceil(low / step) * step; t <= high + step * 1e-9; t += step) {
    ticks.push(Number(t.toPrecision(12)));
  }
  return ticks;
}

export function parallel(div, data) {
  if (data.values.length < 2) return empty(div, "Needs at least two complete trials.");
  const dimensions = data.dimensions.map((dim) => ({ label: dim.label, ...axis(dim) }));
  dimensions.push({ label: data.metric, values: data.values });
  return draw(div, [{
    type: "parcoords",
    dimensions,
    line: {
      color: data.values, colorscale: "Viridis", reversescale: data.direction === "minimize",
      showscale: true, colorbar: { title: { text: data.metric, side: "right" }, thickness: 12 },
    },
    labelangle: -12, labelside: "top",
    labelfont: { size: 12 }, tickfont: { size: 11 }, rangefont: { size: 10 },
  }], { margin: { l: 70, r: 70, t: 56, b: 24 } });
}

// One small scatter per parameter, sharing the value axis. Colour: trial number, the newest
// darkest (a light-to-dark scale on white made the newest trials nearly invisible).
export async function slices(div, data, studyName) {
  const dims = data.dimensions;
  if (!data.values.length || !dims.length) return empty(div, "No complete trial yet.");
  const columns = Math.min(4, dims.length);
  const rows = Math.ceil(dims.length / columns);
  div.style.height = `${rows * 220 + 40}px`;
  const traces = [], layout = {
    grid: { rows, columns, pattern: "independent", xgap: 0.12, ygap: 0.35 },
    showlegend: false, margin: { l: 56, r: 70, t: 10, b: 40 },
  };
  dims.forEach((dim, i) => {
    const n = i === 0 ? "" : String(i + 1);
    const picked = dim.values.map((v, j) => [v, j]).filter(([v]) => v !== null);
    traces.push({
      type: "scatter", mode: "markers", xaxis: `x${n}`, yaxis: `y${n}`,
      x: picked.map(([v]) => v), y: picked.map(([, j]) => data.values[j]),
      customdata: picked.map(([, j]) => data.numbers[j]),
      marker: {
        size: 6, opacity: 0.8, color: picked.map(([, j]) => data.numbers[j]),
        colorscale: "Viridis", reversescale: true,
        cmin: Math.min(...data.numbers), cmax: Math.max(...data.numbers),
        showscale: i === 0, colorbar: { title: { text: "trial" }, thickness: 10, len: 0.5 },
      },
      hovertemplate: `trial %{customdata}<br>${dim.label}: %{x}<br>${data.metric}: %{y:${NUMBER}}<extra></extra>`,
    });
    layout[`xaxis${n}`] = {
      title: { text: dim.label, standoff: 4 }, gridcolor: "#eef0f3",
      type: dim.kind === "categorical" ? "category" : dim.log ? "log" : "linear",
      ...(dim.log ? logAxis(dim) : {}),
      ...(dim.kind === "int" && !dim.log ? intAxis(dim) : {}),
      ...(dim.kind === "categorical" ? { categoryorder: "array", categoryarray: dim.options } : {}),
    };
    layout[`yaxis${n}`] = {
      gridcolor: "#eef0f3", tickformat: NUMBER,
      ...(i % columns === 0 ? { title: { text: data.metric } } : {}),
    };
  });
  await draw(div, traces, layout);
  openTrialOnClick(div, studyName, (point) => point.customdata);
}

// Log axes ticked at real values (0.001, 0.01 or 1, 2, 5 steps), written like every number.
function logAxis(dim) {
  const values = dim.values.filter((v) => v !== null && v > 0);
  const [low, high] = dim.bounds ?? [Math.min(...values), Math.max(...values)];
  const ticks = logTicks(Math.log10(low), Math.log10(high));
  return { tickmode: "array", tickvals: ticks, ticktext: ticks.map(fmt) };
}

// Integer parameters get whole ticks only (never 1.5 or 2.5).
function intAxis(dim) {
  const values = dim.values.filter((v) => v !== null);
  const [low, high] = dim.bounds ?? [Math.min(...values), Math.max(...values)];
  const ticks = linearTicks(low, high).map(Math.round).filter((t, i, all) => all.indexOf(t) === i);
  return { tickmode: "array", tickvals: ticks, ticktext: ticks.map(String) };
}

// Learning curves coloured by outcome (complete, pruned at its rung, failed, running), one
// legend entry per outcome; the best complete trial drawn thick.
export async function curves(div, data, direction, studyName) {
  const drawn = data.curves.filter((c) => c.steps.length);
  if (!drawn.length) return empty(div, "No epoch reported yet: curves appear as workers report.");
  const isBetter = better(direction);
  let best = null;
  for (const c of drawn) {
    if (c.state !== "complete") continue;
    const last = c.values.at(-1);
    if (last !== null && (best === null || isBetter(last, best.values.at(-1)))) best = c;
  }
  const traces = drawn.map((c) => {
    const running = c.state === "running";
    const strong = running || c === best;
    return {
      type: "scatter", mode: running || c.steps.length === 1 ? "lines+markers" : "lines",
      name: `trial ${c.number}`, legendgroup: c.state, showlegend: false,
      x: c.steps, y: c.values, customdata: c.steps.map(() => c.number),
      line: { color: STATE_COLORS[c.state] ?? "#9ca3af", width: strong ? 2.5 : 1.2 },
      opacity: strong ? 1 : 0.55, marker: { size: 5 },
      hovertemplate: `trial ${c.number} (${c.state})<br>epoch %{x}: %{y:${NUMBER}}<extra></extra>`,
    };
  });
  // One legend entry per outcome drawn (a click on it hides that outcome's curves).
  const outcomes = [...new Set(drawn.map((c) => c.state))];
  traces.push(...outcomes.map((state) => ({
    type: "scatter", mode: "lines", name: state, legendgroup: state, showlegend: true,
    x: [null], y: [null], hoverinfo: "skip", line: { color: STATE_COLORS[state] ?? "#9ca3af", width: 2.5 },
  })));
  await draw(div, traces, {
    showlegend: true, legend: { orientation: "h", y: 1.12 },
    xaxis: { title: { text: "epoch" }, tickformat: "d", dtick: Math.max(...drawn.map((c) => c.steps.length)) < 12 ? 1 : undefined },
    yaxis: { title: { text: data.metric }, tickformat: NUMBER },
  });
  openTrialOnClick(div, studyName, (point) => point.customdata);
}

// Attempts as bars on a time axis, one row per worker, coloured by outcome.
export async function timeline(div, data, studyName) {
  const spans = data.spans;
  if (!spans.number.length) {
    return empty(div, "No attempt yet (imported trials have none): bars appear as workers lease trials.");
  }
  const now = Date.now();
  const byOutcome = new Map();
  spans.number.forEach((number, i) => {
    const start = Date.parse(spans.start[i]);
    const end = spans.end[i] ? Date.parse(spans.end[i]) : now;
    const outcome = spans.outcome[i];
    if (!byOutcome.has(outcome)) byOutcome.set(outcome, { x: [], base: [], y: [], customdata: [], text: [] });
    const t = byOutcome.get(outcome);
    t.x.push(Math.max(end - start, 500));
    t.base.push(new Date(start).toISOString());
    t.y.push(spans.worker[i]);
    t.customdata.push(number);
    t.text.push(`trial ${number}, attempt ${spans.attempt[i]}: ${outcome}`);
  });
  const traces = [...byOutcome].map(([outcome, t]) => ({
    type: "bar", orientation: "h", name: outcome, ...t,
    marker: { color: STATE_COLORS[outcome] ?? "#6b7785" },
    hovertemplate: "%{text}<extra></extra>", textposition: "none",
  }));
  await draw(div, traces, {
    barmode: "overlay",
    margin: { l: 110, r: 16, t: 30, b: 40 },
    xaxis: { type: "date" },
    yaxis: { type: "category", automargin: true },
  });
  openTrialOnClick(div, studyName, (point) => point.customdata);
}
