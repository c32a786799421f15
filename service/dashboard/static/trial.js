// The trial page: metrics per epoch, and while the trial runs, its body follows it live.
import { $, NUMBER, draw, empty, every, fmt, getJSON, pageData, showTimes, swapPartial } from "./common.js";

const LIVE_STATES = new Set(["queued", "running"]);
let page = pageData();

const isRate = (m) => /(^|_)(lr|learning_rate)$/.test(m);

// The epoch at which the study's metric was best (the checkpoint a finalization uses).
function bestEpoch(values) {
  let at = -1;
  values.forEach((v, i) => {
    if (v === null) return;
    if (at < 0 || (page.direction === "maximize" ? v > values[at] : v < values[at])) at = i;
  });
  return at;
}

// Losses on the left axis, other metrics on the right, the learning rate on an axis of
// its own (log, far right); the best epoch marked; a pruned trial against the median.
function drawEpochs() {
  const div = $("#epochs-plot");
  const metrics = Object.keys(page.series);
  if (!page.steps.length) return empty(div, "No epoch reported yet.");
  const rates = metrics.filter(isRate);
  const scored = metrics.filter((m) => !isRate(m));
  const losses = scored.filter((m) => m.includes("loss"));
  const twoAxes = losses.length > 0 && losses.length < scored.length;
  const axisOf = (m) => (isRate(m) ? "y3" : twoAxes && !m.includes("loss") ? "y2" : "y");
  const traces = metrics.map((metric) => ({
    type: "scatter", mode: "lines+markers", name: metric, x: page.steps, y: page.series[metric],
    yaxis: axisOf(metric),
    line: { width: metric === page.metric ? 3 : 1.5, dash: isRate(metric) ? "dot" : "solid" },
    hovertemplate: `${metric}<br>epoch %{x}: %{y:${NUMBER}}<extra></extra>`,
  }));
  if (page.median?.steps.length) {
    traces.push({
      type: "scatter", mode: "lines", name: `median of the others (${page.metric})`,
      x: page.median.steps, y: page.median.values, yaxis: axisOf(page.metric),
      line: { color: "#6b7785", width: 2, dash: "dash" },
      hovertemplate: `median of the others<br>epoch %{x}: %{y:${NUMBER}}<extra></extra>`,
    });
  }
  const shapes = [], annotations = [];
  const values = page.series[page.metric] ?? [];
  const best = bestEpoch(values);
  if (best >= 0) {
    const x = page.steps[best];
    shapes.push({ type: "line", xref: "x", yref: "paper", x0: x, x1: x, y0: 0, y1: 1,
      line: { color: "#15803d", width: 1.5, dash: "dot" } });
    annotations.push({ x, y: 1, xref: "x", yref: "paper", yanchor: "bottom", showarrow: false,
      text: `best epoch ${x}: ${fmt(values[best])}`, font: { color: "#15803d", size: 11 } });
  }
  const leftTitle = twoAxes || losses.length ? (losses.length === 1 ? losses[0] : "loss") : scored.join(", ");
  const rightMetrics = scored.filter((m) => axisOf(m) === "y2");
  return draw(div, traces, {
    xaxis: { title: { text: "epoch" }, tickformat: "d", dtick: page.steps.length < 12 ? 1 : undefined,
      domain: [0, rates.length ? 0.86 : 1] },
    yaxis: { title: { text: leftTitle }, tickformat: NUMBER },
    ...(twoAxes ? { yaxis2: { title: { text: rightMetrics.join(", ") }, overlaying: "y", side: "right",
      showgrid: false, tickformat: NUMBER } } : {}),
    ...(rates.length ? { yaxis3: { title: { text: "learning rate" }, overlaying: "y", side: "right",
      anchor: "free", position: 1, type: "log", dtick: 1, showgrid: false, tickformat: "~g" } } : {}),
    shapes, annotations,
    legend: { orientation: "h", y: -0.22, x: 0 },
    margin: { l: 60, r: twoAxes || rates.length ? 70 : 20, t: 30, b: 80 },
  });
}

async function follow() {
  if (!LIVE_STATES.has(page.state)) return;
  const url = `/dashboard/api/studies/${encodeURIComponent(page.name)}/trials/${page.number}/state`;
  const now = await getJSON(url);
  if (now.state === page.state && now.epochs === page.epochs && now.attempt === page.attempt) return;
  await swapPartial(`${location.pathname}?partial=1`, "#trial-body");
  page = pageData();
  await drawEpochs();
}

showTimes();
drawEpochs();
every(1, follow);
