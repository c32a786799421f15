// The trial page: metrics per epoch, and while the trial runs, its body follows it live.
import { $, draw, empty, every, getJSON, pageData, showTimes, swapPartial } from "./common.js";

const LIVE_STATES = new Set(["queued", "running"]);
let page = pageData();

function drawEpochs() {
  const div = $("#epochs-plot");
  const metrics = Object.keys(page.series);
  if (!page.steps.length) return empty(div, "No epoch reported yet.");
  const losses = metrics.filter((m) => m.includes("loss"));
  const twoAxes = losses.length > 0 && losses.length < metrics.length;
  const traces = metrics.map((metric) => ({
    type: "scatter", mode: "lines+markers", name: metric, x: page.steps, y: page.series[metric],
    yaxis: twoAxes && !metric.includes("loss") ? "y2" : "y",
    line: { width: metric === page.metric ? 3 : 1.5 },
    hovertemplate: `${metric}<br>epoch %{x}: %{y:.6g}<extra></extra>`,
  }));
  return draw(div, traces, {
    xaxis: { title: { text: "epoch" }, dtick: page.steps.length < 12 ? 1 : undefined },
    yaxis: { title: { text: twoAxes ? "loss" : "" } },
    ...(twoAxes ? { yaxis2: { overlaying: "y", side: "right", showgrid: false } } : {}),
    margin: { l: 60, r: twoAxes ? 60 : 20, t: 30, b: 46 },
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
