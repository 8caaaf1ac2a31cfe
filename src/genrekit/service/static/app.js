// genrekit web page: pick or drop an audio file, POST it to /v1/classify, draw the answer.
// Plain JavaScript, no build step, no external resources. Text from the server is inserted with
// textContent only (file names and labels are never parsed as HTML).
"use strict";

(function () {
  const TOP_K = 5;
  // The top two genres closer than this (probability, i.e. 5 points) are called a close call.
  const CLOSE_CALL = 0.05;
  // Distinct, colour-blind-friendlier palette (Tableau 10 + 4); a label keeps its colour for a model.
  const PALETTE = [
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1",
    "#ff9da7", "#9c755f", "#bab0ac", "#1f77b4", "#8c564b", "#17becf", "#bcbd22",
  ];

  const $ = (id) => document.getElementById(id);
  const els = {
    form: $("upload-form"), drop: $("drop"), file: $("file"), status: $("status"), error: $("error"),
    modelInfo: $("model-info"), limitHint: $("limit-hint"), result: $("result"), genre: $("genre"),
    confidence: $("confidence"), closeCall: $("close-call"), meta: $("meta"), bars: $("bars"),
    timelineSection: $("timeline-section"),
    timeline: $("timeline"), tEnd: $("t-end"), legend: $("legend"),
    whySection: $("why-section"), whyRunner: $("why-runner"), whyFor: $("why-for"), whyAgainst: $("why-against"),
  };

  let labels = [];
  let maxUploadBytes = null;
  let busy = false;

  function colourOf(genre) {
    let i = labels.indexOf(genre);
    if (i < 0) {
      labels.push(genre);
      i = labels.length - 1;
    }
    return PALETTE[i % PALETTE.length];
  }

  function pct(p) {
    const v = 100 * p;
    return (v >= 10 || v === 0 ? v.toFixed(0) : v.toFixed(1)) + "%";
  }

  function clock(s) {
    const t = Math.max(0, Math.round(s));
    const h = Math.floor(t / 3600);
    const m = Math.floor((t % 3600) / 60);
    const sec = String(t % 60).padStart(2, "0");
    return h ? `${h}:${String(m).padStart(2, "0")}:${sec}` : `${m}:${sec}`;
  }

  function megabytes(n) {
    return (n / (1 << 20)).toFixed(n < (1 << 20) ? 2 : 1) + "\u00a0MB";
  }

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function setStatus(text, working) {
    els.status.textContent = text;
    els.status.classList.toggle("working", Boolean(working));
  }

  function showError(message) {
    els.error.textContent = message;
    els.error.hidden = false;
  }

  function clearError() {
    els.error.textContent = "";
    els.error.hidden = true;
  }

  async function errorMessage(response) {
    try {
      const body = await response.json();
      if (body && body.error && body.error.message) return body.error.message;
    } catch (_) { /* not JSON */ }
    return `The server answered ${response.status} ${response.statusText}.`;
  }

  // ---- the model ------------------------------------------------------------------------------
  async function loadModel() {
    try {
      const r = await fetch("/v1/model", { headers: { Accept: "application/json" } });
      if (!r.ok) {
        els.modelInfo.textContent = await errorMessage(r);
        return;
      }
      const m = await r.json();
      labels = Array.isArray(m.labels) ? m.labels.slice() : [];
      if (m.limits && m.limits.max_upload_mb) {
        maxUploadBytes = m.limits.max_upload_mb * (1 << 20);
        els.limitHint.textContent = ` · up to ${m.limits.max_upload_mb}\u00a0MB`;
      }
      els.modelInfo.textContent =
        `Model ${m.name} · ${labels.length} genres: ${labels.join(", ")}`;
      if (m.input && m.input !== "audio") {
        els.modelInfo.textContent += " · this model takes feature rows (POST /v1/predict/features), not audio";
        els.file.disabled = true;
        els.drop.classList.add("busy");
      }
    } catch (_) {
      els.modelInfo.textContent = "Could not reach the server.";
    }
  }

  // ---- classify -------------------------------------------------------------------------------
  async function classify(file) {
    if (busy || !file) return;
    clearError();
    if (maxUploadBytes !== null && file.size > maxUploadBytes) {
      showError(`${file.name} is ${megabytes(file.size)}, over this server's limit of ` +
                `${megabytes(maxUploadBytes)}.`);
      return;
    }
    busy = true;
    els.result.hidden = true;
    els.drop.classList.add("busy");
    els.drop.setAttribute("aria-busy", "true");
    setStatus(`Classifying ${file.name} (${megabytes(file.size)})…`, true);
    const form = new FormData();
    form.append("audio", file, file.name);
    try {
      const query = new URLSearchParams({ top_k: String(TOP_K), segments: "true", explain: "true" });
      const page = new URLSearchParams(window.location.search);  // e.g. /?crop_s=60&min_confidence=0.4
      for (const key of ["crop_s", "min_confidence"]) {
        if (page.get(key)) query.set(key, page.get(key));
      }
      const r = await fetch(`/v1/classify?${query}`, { method: "POST", body: form });
      if (!r.ok) {
        showError(await errorMessage(r));
        setStatus("");
        return;
      }
      const result = await r.json();
      render(result, file.name);
      const runnerUp = result.top_k && result.top_k[1];
      const closeCall = !result.unsure && !els.closeCall.hidden && runnerUp;
      setStatus(result.unsure
        ? `Done: no confident answer for ${file.name}.`
        : `Done: ${file.name} is most likely ${result.genre}` +
          (closeCall ? `, a close call with ${runnerUp.genre}.` : "."));
    } catch (err) {
      showError(`The upload failed: ${err && err.message ? err.message : err}`);
      setStatus("");
    } finally {
      busy = false;
      els.drop.classList.remove("busy");
      els.drop.removeAttribute("aria-busy");
      els.file.value = "";
    }
  }

  function render(res, filename) {
    if (res.unsure && res.top_k.length) {
      // under the server's confidence threshold: say so, and name the closest genre
      els.genre.textContent = "Unsure";
      els.confidence.textContent = `closest: ${res.top_k[0].genre} ${pct(res.top_k[0].probability)}`;
    } else {
      els.genre.textContent = res.genre;
      els.confidence.textContent = pct(res.confidence);
    }
    // a near tie: say so next to the headline, and name the other genre
    const [first, second] = res.top_k;
    const close = Boolean(!res.unsure && first && second && first.probability - second.probability < CLOSE_CALL);
    els.closeCall.hidden = !close;
    els.closeCall.textContent = close ? `— close call with ${second.genre} ${pct(second.probability)}` : "";
    els.result.classList.toggle("is-close-call", close);
    const ms = res.elapsed_ms;
    const took = ms >= 10000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`;
    els.meta.textContent = `${filename} · ${clock(res.duration_s)} · ${res.model} · ${took}`;

    els.bars.replaceChildren();
    for (const item of res.top_k) {
      const li = el("li", "bar");
      li.dataset.genre = item.genre;
      const label = el("span", "bar-label", item.genre);
      label.title = item.genre;
      const track = el("span", "bar-track");
      const fill = el("span", "bar-fill");
      fill.style.width = `${Math.max(0, Math.min(100, 100 * item.probability))}%`;
      fill.style.background = colourOf(item.genre);
      track.appendChild(fill);
      li.append(label, track, el("span", "bar-value", pct(item.probability)));
      li.setAttribute("aria-label", `${item.genre}: ${pct(item.probability)}`);
      els.bars.appendChild(li);
    }

    renderTimeline(res.segments || [], res.duration_s);
    renderWhy(res.explanation);
    els.result.hidden = false;
  }

  // Which stretches of the track argue most for the answer and which most against it (the margin of a
  // segment: its share for the answer minus its share for the runner-up).
  function renderWhy(ex) {
    if (!ex || !ex.segments || ex.segments.length < 2) {
      els.whySection.hidden = true;
      return;
    }
    const span = (s) => `${clock(s.start_s)}–${clock(s.end_s)}`;
    els.whyRunner.textContent = `Runner-up: ${ex.runner_up}.`;
    const pro = (ex.strongest || []).map(span);
    const con = (ex.weakest || []).map(span);
    els.whyFor.textContent = pro.length ? `Most for ${ex.genre}: ${pro.join(", ")}.` : "";
    els.whyAgainst.textContent = con.length
      ? `Most against (closer to ${ex.runner_up} or another genre): ${con.join(", ")}.`
      : `No part of the track prefers ${ex.runner_up}.`;
    els.whySection.hidden = false;
  }

  function renderTimeline(segments, duration) {
    els.timeline.replaceChildren();
    els.legend.replaceChildren();
    if (segments.length < 2) {
      els.timelineSection.hidden = true;
      return;
    }
    // Merge neighbouring segments of the same genre into runs.
    const runs = [];
    for (const s of segments) {
      const last = runs[runs.length - 1];
      if (last && last.genre === s.genre && Math.abs(last.end - s.start_s) < 1e-6 + 0.5 * (s.end_s - s.start_s)) {
        last.end = Math.max(last.end, s.end_s);
        last.n += 1;
      } else {
        runs.push({ genre: s.genre, start: s.start_s, end: s.end_s, n: 1 });
      }
    }
    const t0 = segments[0].start_s;
    const t1 = Math.max(segments[segments.length - 1].end_s, t0 + 1e-3);
    const span = t1 - t0;
    const shares = new Map();
    for (const run of runs) {
      const block = el("div", "timeline-block");
      block.style.flexGrow = String(Math.max(run.end - run.start, 1e-3) / span);
      block.style.flexBasis = "0";
      block.style.background = colourOf(run.genre);
      block.dataset.genre = run.genre;
      block.title = `${clock(run.start)}–${clock(run.end)}: ${run.genre}`;
      els.timeline.appendChild(block);
      shares.set(run.genre, (shares.get(run.genre) || 0) + (run.end - run.start));
    }
    els.timeline.setAttribute("aria-label", "Genre timeline: " +
      runs.map((r) => `${clock(r.start)} to ${clock(r.end)} ${r.genre}`).join("; "));
    document.getElementById("t-start").textContent = clock(t0);
    els.tEnd.textContent = clock(duration && duration > t1 ? duration : t1);

    const ordered = [...shares.entries()].sort((a, b) => b[1] - a[1]);
    for (const [genre, seconds] of ordered) {
      const li = el("li");
      const sw = el("span", "swatch");
      sw.style.background = colourOf(genre);
      // the share of the track's time its segments give this genre (not a probability)
      const share = el("span", "legend-share", `${pct(seconds / span)} of the time`);
      li.append(sw, el("span", "legend-item-name", genre), share);
      els.legend.appendChild(li);
    }
    els.timelineSection.hidden = false;
  }

  // ---- input ----------------------------------------------------------------------------------
  els.file.addEventListener("change", () => {
    if (els.file.files && els.file.files[0]) classify(els.file.files[0]);
  });
  els.form.addEventListener("submit", (e) => e.preventDefault());

  for (const name of ["dragenter", "dragover"]) {
    els.drop.addEventListener(name, (e) => {
      e.preventDefault();
      els.drop.classList.add("dragover");
    });
  }
  for (const name of ["dragleave", "dragend"]) {
    els.drop.addEventListener(name, () => els.drop.classList.remove("dragover"));
  }
  els.drop.addEventListener("drop", (e) => {
    e.preventDefault();
    els.drop.classList.remove("dragover");
    const files = e.dataTransfer && e.dataTransfer.files;
    if (files && files.length) classify(files[0]);
  });
  // A file dropped next to the zone must not make the browser navigate away from the page.
  window.addEventListener("dragover", (e) => e.preventDefault());
  window.addEventListener("drop", (e) => e.preventDefault());

  loadModel();
})();
