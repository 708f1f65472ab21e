// voxguard clip view (st.components.v2 module): waveform + spectrogram of one clip, a playhead that follows
// the page's <audio> element (the clip's st.audio), zoom and horizontal scroll, and the model's windows as
// regions that play on click. See dashboard/waveform.py for why it is hand-written.
//
// Safety: `data` holds numbers and booleans only (no clip name, note or any user text); all text is set
// with textContent or setAttribute; nothing is fetched; no HTML is parsed from data.

const LANE = { chips: 22, wave: 84, spec: 120, axis: 20 };
const CANVAS_H = LANE.wave + LANE.spec + LANE.axis;
const MIN_VIEW_S = 0.5; // deepest zoom: half a second across the view
const STEP = 2; // zoom factor per button press
const SUSPICIOUS = "#00e5ff"; // the chart's colour for suspicious windows (visible on the dark spectrogram)
const PLAYHEAD = "#ff4b4b"; // unlike the white window boundaries and the cyan windows
// Magma control points (0 = quiet .. 1 = loud), interpolated into a 256-entry table.
const MAGMA = [[0, 0, 4], [28, 16, 68], [79, 18, 123], [129, 37, 129], [181, 54, 122], [229, 80, 100],
  [251, 135, 97], [254, 194, 135], [252, 253, 191]];
const TICKS = [0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300];

function colourTable() {
  const t = new Uint8ClampedArray(256 * 3);
  for (let i = 0; i < 256; i++) {
    const x = (i / 255) * (MAGMA.length - 1);
    const k = Math.min(Math.floor(x), MAGMA.length - 2);
    const f = x - k;
    for (let c = 0; c < 3; c++) t[i * 3 + c] = MAGMA[k][c] + (MAGMA[k + 1][c] - MAGMA[k][c]) * f;
  }
  return t;
}

function node(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function button(cls, text, label) {
  const b = node("button", cls, text);
  b.type = "button";
  b.setAttribute("aria-label", label);
  b.title = label;
  return b;
}

const fmt = (t) => (Math.abs(t) < 100 ? t.toFixed(2) : t.toFixed(1));
const num = (v, d) => (typeof v === "number" && Number.isFinite(v) ? v : d);

function spectrogramImage(spec) {
  // One byte per cell, rows top (Nyquist) to bottom (0 Hz): coloured once into an offscreen canvas.
  if (!spec || !(spec.rows > 0) || !(spec.cols > 0) || typeof spec.b64 !== "string") return null;
  const bytes = Uint8Array.from(atob(spec.b64), (ch) => ch.charCodeAt(0));
  if (bytes.length !== spec.rows * spec.cols) return null;
  const lut = colourTable();
  const off = document.createElement("canvas");
  off.width = spec.cols;
  off.height = spec.rows;
  const ctx = off.getContext("2d");
  const img = ctx.createImageData(spec.cols, spec.rows);
  for (let i = 0; i < bytes.length; i++) {
    const v = bytes[i] * 3;
    img.data[i * 4] = lut[v];
    img.data[i * 4 + 1] = lut[v + 1];
    img.data[i * 4 + 2] = lut[v + 2];
    img.data[i * 4 + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
  return off;
}

export default function (component) {
  const { data, parentElement } = component;
  const root = parentElement.querySelector(".vg");
  if (!root) return undefined;
  if (root.__vgCleanup) root.__vgCleanup();
  root.replaceChildren();

  const duration = Math.max(num(data.duration_s, 0), 1e-3);
  const peaks = Array.isArray(data.peaks) ? Int16Array.from(data.peaks, (v) => num(v, 0)) : new Int16Array(0);
  const nCols = Math.floor(peaks.length / 2);
  const colsPerS = num(data.peaks_per_s, 0) || nCols / duration;
  const blind = data.blind !== false;
  const regions = (Array.isArray(data.regions) ? data.regions : []).map((r) => ({
    id: Math.trunc(num(r.id, 0)), start: num(r.start_s, 0), end: num(r.end_s, 0),
    bandEnd: num(r.band_end_s, num(r.end_s, 0)),
    p: blind ? null : (typeof r.prob_bonafide === "number" ? r.prob_bonafide : null),
    suspicious: !blind && r.suspicious === true,
  }));
  const spec = spectrogramImage(data.spectrogram);
  const nyquist = data.spectrogram ? num(data.spectrogram.nyquist_hz, 0) : 0;

  // --- DOM: toolbar, region chips, one canvas, a scrollbar -----------------------------------------------
  const bar = node("div", "vg-bar");
  const play = button("vg-play", "▶ Play", "Play or pause the clip (Alt+K)");
  const zoomOut = button("vg-zoom-out", "−", "Zoom out");
  const zoomIn = button("vg-zoom-in", "+", "Zoom in (or Ctrl + mouse wheel over the picture)");
  const fit = button("vg-fit", "Fit", "Show the whole clip");
  const clock = node("span", "vg-clock");
  const span = node("span", "vg-span");
  bar.append(play, zoomOut, zoomIn, fit);
  const worstRegion = regions.filter((r) => r.p !== null).sort((a, b) => a.p - b.p)[0];
  let worst = null;
  if (worstRegion && worstRegion.suspicious) {
    worst = button("vg-worst", "Play worst region", "Play the window the model found least bona fide");
    bar.append(worst);
  }
  bar.append(clock, span);

  const stage = node("div", "vg-stage");
  const chips = node("div", "vg-chips");
  chips.setAttribute("role", "group");
  chips.setAttribute("aria-label", "Model windows: press one to play it");
  const canvas = node("canvas", "vg-canvas");
  canvas.setAttribute("role", "img");
  canvas.setAttribute("aria-label", "Waveform and spectrogram of the clip; click to move the playhead");
  const scroller = node("div", "vg-scroll");
  const spacer = node("div", "vg-spacer");
  scroller.append(spacer);
  stage.append(chips, canvas, scroller);
  root.append(bar, stage);

  const chipEls = regions.map((r) => {
    const what = `Window ${r.id}: ${fmt(r.start)}–${fmt(r.end)} s` +
      (r.p === null ? "" : `, P(bona fide) ${r.p.toFixed(2)}${r.suspicious ? " (suspicious)" : ""}`);
    const b = button("vg-chip" + (r.suspicious ? " vg-suspicious" : ""), String(r.id), `Play ${what}`);
    b.dataset.region = String(r.id);
    b.dataset.start = String(r.start);
    b.dataset.end = String(r.end);
    chips.append(b);
    return b;
  });

  // --- view state ----------------------------------------------------------------------------------------
  let width = 0; // CSS px of the canvas
  let pps = 0; // pixels per second
  let fitPps = 0;
  let stopAt = null; // a region's end while it plays
  let active = null; // the region playing
  let last = "";
  let raf = 0;
  const audio = () => document.querySelector("audio");
  const viewStart = () => (pps > 0 ? scroller.scrollLeft / pps : 0);

  function layout() {
    const w = Math.max(120, Math.floor(stage.clientWidth));
    const first = width === 0;
    if (w === width) return;
    const t0 = viewStart();
    const zoom = first || fitPps === 0 ? 1 : pps / fitPps;
    width = w;
    fitPps = width / duration;
    const dpr = window.devicePixelRatio || 1;
    canvas.width = Math.round(width * dpr);
    canvas.height = Math.round(CANVAS_H * dpr);
    canvas.style.width = `${width}px`;
    canvas.style.height = `${CANVAS_H}px`;
    canvas.getContext("2d").setTransform(dpr, 0, 0, dpr, 0, 0);
    setPps(fitPps * zoom, t0, 0);
  }

  function setPps(next, anchorT, anchorX) {
    const maxPps = Math.max(fitPps, width / MIN_VIEW_S);
    pps = Math.min(Math.max(next, fitPps), maxPps);
    spacer.style.width = `${Math.ceil(duration * pps)}px`;
    scroller.scrollLeft = Math.max(0, anchorT * pps - anchorX);
    last = "";
    draw();
  }

  function zoomBy(factor, anchorX) {
    const a = audio();
    const t0 = viewStart();
    let x = anchorX;
    if (x === undefined) { // keep the playhead in place when it is on screen, else the middle
      const px = a ? (a.currentTime - t0) * pps : -1;
      x = px >= 0 && px <= width ? px : width / 2;
    }
    setPps(pps * factor, t0 + x / pps, x);
  }

  function reveal(t0, t1) { // scroll so [t0, t1] is on screen (left-aligned when it is not)
    const v0 = viewStart();
    const v1 = v0 + width / pps;
    if (t0 < v0 || t1 > v1) scroller.scrollLeft = Math.max(0, t0 * pps - 0.1 * width);
  }

  function playRegion(r) {
    const a = audio();
    if (!a) return;
    stopAt = r.end;
    active = r;
    a.currentTime = r.start;
    reveal(r.start, Math.min(r.end, r.start + width / pps));
    const started = a.play();
    if (started && started.catch) started.catch(() => {});
    last = "";
  }

  // --- drawing ---------------------------------------------------------------------------------------------
  function drawRegions(ctx, t0, t1, top, h) {
    for (const r of regions) {
      if (r.bandEnd <= t0 || r.start >= t1) continue;
      const x0 = (r.start - t0) * pps;
      const x1 = (r.bandEnd - t0) * pps;
      if (r.suspicious) {
        ctx.fillStyle = "rgba(0, 229, 255, 0.16)";
        ctx.fillRect(x0, top, x1 - x0, h);
        ctx.strokeStyle = SUSPICIOUS;
        ctx.lineWidth = 1.5;
        ctx.strokeRect(x0 + 0.75, top + 0.75, x1 - x0 - 1.5, h - 1.5);
      } else {
        ctx.fillStyle = "rgba(255, 255, 255, 0.18)";
        ctx.fillRect(Math.round(x0), top, 1, h); // a faint boundary between windows
      }
      if (active && r.id === active.id) {
        ctx.fillStyle = "rgba(255, 255, 255, 0.10)";
        ctx.fillRect((r.start - t0) * pps, top, (r.end - r.start) * pps, h);
      }
    }
  }

  function drawAxis(ctx, t0, t1, top) {
    const step = TICKS.find((s) => s * pps >= 70) || TICKS[TICKS.length - 1];
    ctx.fillStyle = "#c9d1d9";
    ctx.font = "11px sans-serif";
    ctx.textBaseline = "top";
    for (let t = Math.ceil(t0 / step) * step; t <= t1 + 1e-9; t += step) {
      const x = (t - t0) * pps;
      ctx.fillRect(Math.round(x), top, 1, 4);
      const label = `${Number(t.toFixed(2))} s`;
      ctx.fillText(label, Math.min(Math.max(x - ctx.measureText(label).width / 2, 0), width - 40), top + 5);
    }
  }

  function draw() {
    if (width === 0 || pps === 0) return;
    const a = audio();
    const now = a ? a.currentTime : 0;
    const t0 = viewStart();
    const t1 = t0 + width / pps;
    const key = `${width}|${pps}|${t0}|${now}|${a ? a.paused : 1}|${active ? active.id : ""}`;
    if (key === last) return;
    last = key;
    const ctx = canvas.getContext("2d");
    ctx.clearRect(0, 0, width, CANVAS_H);
    ctx.fillStyle = "#0e1117";
    ctx.fillRect(0, 0, width, CANVAS_H);

    // Waveform: one vertical stroke per pixel column, from the min to the max of the peaks under it.
    const mid = LANE.wave / 2;
    const half = LANE.wave / 2 - 2;
    ctx.fillStyle = "#8fb8ff";
    for (let x = 0; x < width; x++) {
      const ta = t0 + x / pps;
      if (ta >= duration) break;
      let i0 = Math.floor(ta * colsPerS);
      let i1 = Math.max(i0 + 1, Math.ceil((ta + 1 / pps) * colsPerS));
      i0 = Math.min(i0, nCols - 1);
      i1 = Math.min(i1, nCols);
      let lo = 127;
      let hi = -127;
      for (let i = i0; i < i1; i++) {
        lo = Math.min(lo, peaks[2 * i]);
        hi = Math.max(hi, peaks[2 * i + 1]);
      }
      if (i1 <= i0) continue;
      const y0 = mid - (hi / 127) * half;
      const y1 = mid - (lo / 127) * half;
      ctx.fillRect(x, y0, 1, Math.max(1, y1 - y0));
    }
    // Spectrogram: the visible slice of the offscreen image, stretched to the view.
    if (spec) {
      ctx.imageSmoothingEnabled = true;
      const sx = (t0 / duration) * spec.width;
      const sw = Math.max(((t1 - t0) / duration) * spec.width, 1e-3);
      ctx.drawImage(spec, sx, 0, sw, spec.height, 0, LANE.wave, width, LANE.spec);
      ctx.fillStyle = "#c9d1d9";
      ctx.font = "10px sans-serif";
      ctx.textBaseline = "top";
      if (nyquist > 0) ctx.fillText(`${Math.round(nyquist / 1000)} kHz`, 3, LANE.wave + 2);
    }
    drawRegions(ctx, t0, t1, 0, LANE.wave + LANE.spec);
    drawAxis(ctx, t0, t1, LANE.wave + LANE.spec);

    // Playhead.
    const px = (now - t0) * pps;
    if (px >= 0 && px <= width) {
      ctx.fillStyle = "rgba(0, 0, 0, 0.6)";
      ctx.fillRect(px - 1.5, 0, 3, LANE.wave + LANE.spec);
      ctx.fillStyle = PLAYHEAD;
      ctx.fillRect(px - 1, 0, 2, LANE.wave + LANE.spec);
    }

    // Chips follow the view; the one playing is marked.
    regions.forEach((r, i) => {
      const b = chipEls[i];
      const x0 = (r.start - t0) * pps;
      const x1 = (r.bandEnd - t0) * pps;
      b.style.left = `${x0}px`;
      b.style.width = `${Math.max(x1 - x0 - 1, 2)}px`;
      b.style.paddingLeft = `${Math.max(3, Math.min(-x0 + 3, x1 - x0 - 12))}px`; // the number stays in view
      b.classList.toggle("vg-active", Boolean(active && r.id === active.id));
    });

    play.textContent = a && !a.paused ? "❚❚ Pause" : "▶ Play";
    clock.textContent = `${fmt(now)} / ${fmt(duration)} s`;
    span.textContent = `view ${fmt(t0)}–${fmt(Math.min(t1, duration))} s` +
      (pps > fitPps * 1.001 ? ` (×${(pps / fitPps).toFixed(1)})` : "");
    // For tests and assistive tools: what is on screen, in seconds.
    root.dataset.viewStart = t0.toFixed(3);
    root.dataset.viewEnd = t1.toFixed(3);
    root.dataset.playhead = now.toFixed(3);
    root.dataset.playheadX = px.toFixed(1);
  }

  function tick() {
    const a = audio();
    if (a && stopAt !== null && active) {
      if (a.currentTime < active.start - 0.25 || a.currentTime > stopAt + 0.5) {
        stopAt = null; // moved elsewhere (the player's own bar): no longer playing the region
        active = null;
      } else if (a.currentTime >= stopAt) {
        a.pause();
        stopAt = null;
      }
    }
    if (a && !a.paused) { // page-turn: keep the playhead on screen while playing
      const t0 = viewStart();
      const t1 = t0 + width / pps;
      if (a.currentTime > t1 || a.currentTime < t0) scroller.scrollLeft = Math.max(0, a.currentTime * pps - 0.05 * width);
    }
    draw();
    raf = requestAnimationFrame(tick);
  }

  // --- input -------------------------------------------------------------------------------------------------
  play.addEventListener("click", () => {
    const a = audio();
    if (!a) return;
    if (a.paused) {
      const started = a.play();
      if (started && started.catch) started.catch(() => {});
    } else {
      a.pause();
    }
  });
  zoomIn.addEventListener("click", () => zoomBy(STEP));
  zoomOut.addEventListener("click", () => zoomBy(1 / STEP));
  fit.addEventListener("click", () => setPps(fitPps, 0, 0));
  if (worst) worst.addEventListener("click", () => playRegion(worstRegion));
  chipEls.forEach((b, i) => {
    b.addEventListener("click", () => playRegion(regions[i]));
    b.addEventListener("focus", () => { // Tab onto a window off screen: bring it into view
      chips.scrollLeft = 0;
      reveal(regions[i].start, regions[i].bandEnd);
      last = "";
    });
  });
  canvas.addEventListener("click", (e) => {
    const a = audio();
    if (!a) return;
    const rect = canvas.getBoundingClientRect();
    a.currentTime = Math.min(Math.max(viewStart() + (e.clientX - rect.left) / pps, 0), duration);
    stopAt = null;
    active = null;
  });
  const onWheel = (e) => {
    if (e.ctrlKey || e.metaKey) { // zoom about the pointer (also a trackpad pinch)
      e.preventDefault();
      const rect = canvas.getBoundingClientRect();
      zoomBy(Math.exp(-e.deltaY * 0.003), Math.min(Math.max(e.clientX - rect.left, 0), width));
    } else if (Math.abs(e.deltaX) > Math.abs(e.deltaY) || e.shiftKey) {
      e.preventDefault();
      scroller.scrollLeft += e.shiftKey && !e.deltaX ? e.deltaY : e.deltaX;
    } // a plain vertical wheel scrolls the page
  };
  canvas.addEventListener("wheel", onWheel, { passive: false });
  scroller.addEventListener("scroll", () => { last = ""; draw(); });
  const resize = new ResizeObserver(() => layout());
  resize.observe(stage);
  layout();
  raf = requestAnimationFrame(tick);

  const cleanup = () => {
    cancelAnimationFrame(raf);
    resize.disconnect();
    root.__vgCleanup = null;
  };
  root.__vgCleanup = cleanup;
  return cleanup;
}
