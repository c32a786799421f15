// The compare page: each study's best-so-far line, by trial and by epochs trained.
import { $, NUMBER, draw, empty, getJSON, pageData } from "./common.js";

const page = pageData();
const query = page.studies.map((s) => `study=${encodeURIComponent(s)}`).join("&");

function lines(div, studies, x, title) {
  const drawn = studies.filter((s) => s.number.length);
  if (!drawn.length) return empty(div, "No complete trial in these studies yet.");
  const metrics = [...new Set(studies.map((s) => s.metric))];
  return draw(div, drawn.map((s) => ({
    type: "scatter", mode: "lines", name: s.name, x: s[x], y: s.best,
    line: { width: 2.5, shape: "hv" },
    hovertemplate: `${s.name}<br>${title} %{x}: %{y:${NUMBER}}<extra></extra>`,
  })), {
    xaxis: { title: { text: title }, tickformat: "d" },
    yaxis: { title: { text: metrics.join(" / ") }, tickformat: NUMBER },
  });
}

const data = await getJSON(`/dashboard/api/compare?${query}`);
await lines($("#by-trial"), data.studies, "number", "trial");
await lines($("#by-epochs"), data.studies, "epochs", "epochs trained");
document.body.dataset.loaded = "true";
