// StudyLens dashboard: fetches the daemon's API, renders seven pages, follows live events.
"use strict";

const COLOURS = ["#2456c9", "#1a7f4b", "#b54708", "#7a3cc2", "#0e7c86", "#c2185b", "#5d6b00", "#8d6e63"];
const colourOf = (() => {
  const given = new Map();
  return (topic) => {
    if (!given.has(topic)) given.set(topic, COLOURS[given.size % COLOURS.length]);
    return given.get(topic);
  };
})();

// --- access ---------------------------------------------------------------------------------

function token() { return localStorage.getItem("studylens-token"); }

(function takeTokenFromUrl() {
  const url = new URL(location.href);
  const given = url.searchParams.get("token");
  if (given) {
    localStorage.setItem("studylens-token", given);
    url.searchParams.delete("token");
    history.replaceState(null, "", url.pathname + url.search + url.hash);
  }
})();

class NeedsPairing extends Error {}
// A phone's token on a route only the owner may use (this computer's own browser).
class OwnerOnly extends Error {}
// Any other refusal, with the envelope's code: a page may tell "gone" from "try again".
class ApiError extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}

async function api(path, options = {}) {
  const headers = Object.assign({}, options.headers || {});
  if (token()) headers.Authorization = `Bearer ${token()}`;
  if (options.json !== undefined) {
    headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(options.json);
  }
  const response = await fetch(path, Object.assign({}, options, { headers }));
  if (response.status === 401) throw new NeedsPairing();
  const body = await response.json();
  if (response.status === 403 && body.error.code === "forbidden") throw new OwnerOnly(body.error.message);
  if (!body.success) throw new ApiError(response.status, body.error.code, body.error.message);
  return body.data;
}

async function imageUrl(path) {
  if (!token()) return path; // this computer: no token needed
  const response = await fetch(path, { headers: { Authorization: `Bearer ${token()}` } });
  return URL.createObjectURL(await response.blob());
}

function showPairing(needed) { document.getElementById("pair-browser").hidden = !needed; }

document.getElementById("pair-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const status = document.getElementById("pair-status");
  const code = document.getElementById("pair-code").value.replace(/\D/g, "");
  try {
    const paired = await api("/api/pair", { method: "POST", json: { code, deviceName: "Browser" } });
    localStorage.setItem("studylens-token", paired.token);
    status.textContent = "Paired.";
    showPairing(false);
    connectEvents();
    refresh();
  } catch (error) {
    status.textContent = error.message;
  }
});

// --- formatting -----------------------------------------------------------------------------

function duration(seconds) {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  if (h) return `${h} h ${m} min`;
  if (m) return `${m} min`;
  return `${Math.round(seconds)} s`;
}
const clock = (iso) => new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
const day = (iso) => new Date(iso).toLocaleDateString([], { weekday: "short", day: "numeric", month: "short" });

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === "text") node.textContent = value;
    else node.setAttribute(name, value);
  }
  node.append(...children);
  return node;
}

// --- charts ---------------------------------------------------------------------------------

const charts = {};
let chartLibrary = null;

// Loaded by the first page that draws a chart, not with the page: the Review page, opened
// first, is to show its card within 200 ms, and 200 kB of script to run would come first.
function chartsLoaded() {
  if (!chartLibrary) {
    chartLibrary = new Promise((resolve, reject) => {
      const script = element("script", { src: "/static/vendor/chart.umd.min.js" });
      script.addEventListener("load", resolve);
      script.addEventListener("error", () => {
        chartLibrary = null; // the next refresh tries again
        reject(new Error("the chart library could not be loaded"));
      });
      document.head.append(script);
    });
  }
  return chartLibrary;
}

function drawChart(id, config) {
  if (charts[id]) charts[id].destroy();
  charts[id] = new Chart(document.getElementById(id), config);
}

// --- Today ----------------------------------------------------------------------------------

let running = null; // {startedAt, segments}
let skew = 0; // daemon clock minus this browser's, in ms
const now = () => Date.now() + skew;

async function loadToday() {
  const [board] = await Promise.all([api("/api/dashboard/today"), chartsLoaded()]);
  skew = Date.parse(board.now) - Date.now();
  document.getElementById("today-date").textContent = day(board.date + "T12:00:00");
  const stats = board.stats.topicStats;
  drawChart("topic-chart", {
    type: "bar",
    data: {
      labels: stats.map((s) => s.topic),
      datasets: [{
        label: "minutes",
        data: stats.map((s) => +(s.durationSeconds / 60).toFixed(1)),
        backgroundColor: stats.map((s) => colourOf(s.topic)),
      }],
    },
    options: { indexAxis: "y", maintainAspectRatio: false, animation: false, plugins: { legend: { display: false } } },
  });
  document.getElementById("today-total").textContent =
    `${duration(board.stats.totalSeconds)} in total, ${board.stats.totalAnalyses} frames analysed`;
  document.getElementById("split-active").textContent = board.split.active;
  document.getElementById("split-passive").textContent = board.split.passive;
  document.getElementById("split-distracted").textContent = board.split.distracted;
  document.getElementById("help-count").textContent = board.helpRequests;
  running = board.current;
  drawTimeline();
}

function drawTimeline() {
  const line = document.getElementById("timeline");
  line.replaceChildren();
  document.getElementById("no-session").hidden = running !== null;
  line.hidden = running === null;
  if (!running) { document.getElementById("session-clock").textContent = ""; return; }
  const until = now();
  const parts = running.segments.map((s) => {
    const end = s.running ? until : Date.parse(s.until);
    return { topic: s.topic, seconds: Math.max(0, (end - Date.parse(s.startedAt)) / 1000) };
  });
  const total = parts.reduce((sum, p) => sum + p.seconds, 0) || 1;
  for (const part of parts) {
    line.append(element("span", {
      style: `flex-grow:${part.seconds / total};background:${colourOf(part.topic)}`,
      title: `${part.topic}: ${duration(part.seconds)}`,
      text: part.topic,
    }));
  }
}

// The running session keeps ticking between events.
setInterval(() => {
  if (!running) return;
  const seconds = (now() - Date.parse(running.startedAt)) / 1000;
  document.getElementById("session-clock").textContent = `since ${clock(running.startedAt)}, ${duration(seconds)}`;
  drawTimeline();
}, 1000);

// --- History --------------------------------------------------------------------------------

async function loadHistory() {
  const [week, listed] = await Promise.all([
    api("/api/topic/weekly"), api("/api/sessions?limit=30"), chartsLoaded()]);
  const topics = [...new Set(week.days.flatMap((d) => d.topicStats.map((s) => s.topic)))];
  drawChart("week-chart", {
    type: "bar",
    data: {
      labels: week.days.map((d) => day(d.date + "T12:00:00")),
      datasets: topics.map((topic) => ({
        label: topic,
        backgroundColor: colourOf(topic),
        data: week.days.map((d) => {
          const found = d.topicStats.find((s) => s.topic === topic);
          return found ? +(found.durationSeconds / 60).toFixed(1) : 0;
        }),
      })),
    },
    options: {
      maintainAspectRatio: false, animation: false,
      scales: { x: { stacked: true }, y: { stacked: true, title: { display: true, text: "minutes" } } },
    },
  });
  const rows = listed.sessions.map((s) => element("tr", {},
    element("td", { text: day(s.date + "T12:00:00") }),
    element("td", { text: clock(s.startedAt) }),
    element("td", { text: duration(s.totalSeconds) }),
    element("td", { text: String(s.totalAnalyses) }),
    element("td", { text: s.endedAt ? `${clock(s.endedAt)} (${s.endReason})` : "running" }),
  ));
  document.querySelector("#sessions tbody").replaceChildren(...rows);
}

// --- Frames ---------------------------------------------------------------------------------

async function loadFrames() {
  const { frames } = await api("/api/frames/recent?limit=24");
  const cards = await Promise.all(frames.map(async (frame) => {
    const a = frame.analysis;
    const src = frame.imageUrl ? await imageUrl(frame.imageUrl) : "";
    const badges = element("p", {});
    if (a && a.isStudying) badges.append(element("span", { class: "badge", text: "studying" }));
    if (a && a.isActive) badges.append(element("span", { class: "badge active", text: "active" }));
    if (a && a.isDistracted) badges.append(element("span", { class: "badge distracted", text: "distracted" }));
    if (frame.bookmarked) badges.append(element("span", { class: "badge mark", text: "★ bookmarked" }));
    const title = a ? `${a.topic}${a.subtopic ? " · " + a.subtopic : ""}` : `not analysed (${frame.outcome})`;
    const card = element("li", { tabindex: "0", "data-analysis-id": frame.analysisId },
      element("img", { src, alt: `Frame at ${clock(frame.capturedAt)}: ${title}`, loading: "lazy" }),
      element("div", { class: "body" },
        element("div", { class: "topic", text: title }),
        element("div", { class: "muted", text: clock(frame.capturedAt) }),
        badges,
        element("div", { class: "text", text: a ? a.extractedText : "" }),
      ),
    );
    const open = () => openViewer(src, a ? a.extractedText : "");
    card.addEventListener("click", open);
    card.addEventListener("keydown", (event) => { if (event.key === "Enter" || event.key === " ") { event.preventDefault(); open(); } });
    return card;
  }));
  document.getElementById("frames").replaceChildren(...cards);
}

function openViewer(src, text) {
  document.getElementById("viewer-img").src = src;
  document.getElementById("viewer-img").alt = text || "Frame";
  document.getElementById("viewer-text").textContent = text;
  document.getElementById("viewer").showModal();
}

// --- Devices --------------------------------------------------------------------------------

function showOwnerOnly() {
  document.getElementById("owner-only").hidden = false;
  document.getElementById("owner-controls").hidden = true;
}

async function loadDevices() {
  // A token means this browser paired as a phone: the owner's routes would only say 403.
  if (token()) return showOwnerOnly();
  let devices, sync;
  try {
    [{ devices }, sync] = await Promise.all([api("/api/devices"), api("/api/sync/status")]);
  } catch (error) {
    if (error instanceof OwnerOnly) return showOwnerOnly();
    throw error;
  }
  const rows = devices.map((d) => {
    const action = element("td", {});
    if (!d.revokedAt) {
      const button = element("button", { type: "button", class: "secondary", text: "Revoke" });
      button.addEventListener("click", async () => {
        if (!confirm(`Revoke ${d.name}? It will need a new pairing code.`)) return;
        await api(`/api/devices/${d.deviceId}`, { method: "DELETE" });
        loadDevices();
      });
      action.append(button);
    }
    return element("tr", {},
      element("td", { text: d.name }),
      element("td", { text: day(d.createdAt) }),
      element("td", { text: d.revokedAt ? `revoked ${day(d.revokedAt)}` : "active" }),
      action,
    );
  });
  document.querySelector("#devices tbody").replaceChildren(...rows);
  const facts = [
    ["Linked", sync.linked ? sync.cloudUrl : "no (local only)"],
    ["Pending facts", sync.pendingFacts],
    ["Pending images", sync.pendingImages],
    ["Last success", sync.lastSuccessAt ? new Date(sync.lastSuccessAt).toLocaleString() : "never"],
  ];
  if (sync.lastError) facts.push(["Last error", sync.lastError], ["Next retry", sync.nextRetryAt || "—"]);
  document.getElementById("sync").replaceChildren(
    ...facts.flatMap(([k, v]) => [element("dt", { text: k }), element("dd", { text: String(v) })]));
}

document.getElementById("new-code").addEventListener("click", async () => {
  const offer = await api("/api/pair/code", { method: "POST" });
  document.getElementById("offer-code").textContent = `${offer.code.slice(0, 3)} ${offer.code.slice(3)}`;
  document.getElementById("offer-code").dataset.code = offer.code;
  document.getElementById("offer-qr").innerHTML = offer.qrSvg; // SVG made by the daemon itself
  document.getElementById("offer-expiry").textContent = clock(offer.expiresAt);
  document.getElementById("offer").hidden = false;
  document.getElementById("offer-withdrawn").hidden = true;
});

function onPairing(event) {
  const { state } = JSON.parse(event.data);
  if (state === "withdrawn") {
    document.getElementById("offer").hidden = true;
    document.getElementById("offer-withdrawn").hidden = false;
  }
  if (state === "paired" && currentPage() === "devices") refreshSoon();
}

document.getElementById("sync-now").addEventListener("click", async () => {
  await api("/api/sync/now", { method: "POST" });
  setTimeout(loadDevices, 1000);
});

// --- pause (the privacy switch) ------------------------------------------------------------

// The header's switch, and a copy of it on the Privacy page: each shows the state and pauses
// for its own chosen minutes.
const pauseControls = (() => {
  const header = document.getElementById("pause-bar");
  const copy = header.cloneNode(true);
  copy.removeAttribute("id");
  for (const node of copy.querySelectorAll("[id]")) node.removeAttribute("id");
  document.getElementById("privacy-pause-slot").replaceWith(copy);
  return [header, copy];
})();

function showPause(state) {
  document.body.dataset.paused = state.paused ? "yes" : "no";
  for (const control of pauseControls) {
    control.querySelector('[data-pause="state"]').textContent = !state.paused ? "Capture on"
      : state.endsAt ? `Paused until ${clock(state.endsAt)}` : "Paused until you resume";
    control.querySelector('[data-pause="minutes"]').hidden = state.paused;
    const button = control.querySelector('[data-pause="toggle"]');
    button.textContent = state.paused ? "Resume" : "Pause";
    button.setAttribute("aria-pressed", String(state.paused));
  }
}

async function loadPause() {
  showPause((await api("/healthz")).pause);
}

for (const control of pauseControls) {
  control.querySelector('[data-pause="toggle"]').addEventListener("click", async () => {
    const paused = document.body.dataset.paused === "yes";
    const chosen = control.querySelector('[data-pause="minutes"]').value;
    const state = paused
      ? await api("/api/privacy/resume", { method: "POST" })
      : await api("/api/privacy/pause", { method: "POST", json: { minutes: chosen ? Number(chosen) : null } });
    showPause(state);
  });
}

// --- Privacy --------------------------------------------------------------------------------

function size(bytes) {
  const units = ["kB", "MB", "GB", "TB"];
  if (bytes < 1000) return `${bytes} bytes`;
  let value = bytes;
  let unit = -1;
  while (value >= 1000 && unit < units.length - 1) { value /= 1000; unit += 1; }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

const fullDay = (iso) => new Date(iso)
  .toLocaleDateString([], { weekday: "short", day: "numeric", month: "short", year: "numeric" });
const longDay = (isoDate) => fullDay(isoDate + "T12:00:00");

// What each count is called: one, many.
const KINDS = [
  ["sessions", "session", "sessions", "Sessions"],
  ["learningEvents", "frame", "frames", "Frames"],
  ["topicSegments", "topic stretch", "topic stretches", "Topic stretches"],
  ["bookmarks", "bookmark", "bookmarks", "Bookmarks"],
  ["helpRequests", "help request", "help requests", "Help requests"],
  ["cards", "review card", "review cards", "Review cards"],
  ["reviewLogs", "review grade", "review grades", "Review grades"],
  ["originals", "image", "images", "Images on disk"],
  ["recordings", "voice recording file", "voice recording files", "Voice recording files"],
];
const counted = (n, one, many) => `${n} ${n === 1 ? one : many}`;

function facts(id, pairs, attribute) {
  document.getElementById(id).replaceChildren(...pairs.flatMap(([key, label, value]) => [
    element("dt", { text: label }),
    element("dd", { text: String(value), [attribute]: key }),
  ]));
}

function showRetention(r) {
  let images = "not kept (only what was seen in them)";
  if (r.keepOriginals) {
    images = r.originalsRetentionDays
      ? `kept, deleted ${r.originalsRetentionDays} days after the cloud has them`
      : "kept until you forget them";
  }
  const voice = r.voiceRecording
    ? `on, each recording deleted after ${r.voiceRecordingRetentionDays} days`
    : `off (any earlier recordings are deleted after ${r.voiceRecordingRetentionDays} days)`;
  facts("retention", [
    ["keepOriginals", "Frame images", images],
    ["storeExtractedText", "Text read off pages", r.storeExtractedText ? "kept" : "not kept"],
    ["voiceRecording", "Voice recording", voice],
  ], "data-retention");
}

let sessionLabels = new Map(); // sessionId -> how the page names it

function showSessions(sessions) {
  const select = document.getElementById("forget-session");
  const chosen = select.value;
  sessionLabels = new Map(sessions.map((s) => [s.sessionId,
    `${day(s.date + "T12:00:00")}, ${clock(s.startedAt)} (${duration(s.totalSeconds)}, ${s.totalAnalyses} frames)`]));
  const options = [...sessionLabels].map(([id, label]) => element("option", { value: id, text: label }));
  if (!options.length) options.push(element("option", { value: "", text: "No sessions" }));
  select.replaceChildren(...options);
  if (sessionLabels.has(chosen)) select.value = chosen; // a live refresh keeps the choice
}

function showPrivacyOwnerOnly(ownerOnly) {
  document.getElementById("privacy-owner-only").hidden = !ownerOnly;
  for (const card of document.querySelectorAll("[data-owner-only]")) card.hidden = ownerOnly;
}

async function loadPrivacy() {
  // A token means this browser paired as a phone: it may pause, the rest is the owner's.
  if (token()) return showPrivacyOwnerOnly(true);
  let found, listed;
  try {
    [found, listed] = await Promise.all([api("/api/privacy/summary"), api("/api/sessions?limit=200")]);
  } catch (error) {
    if (error instanceof OwnerOnly) return showPrivacyOwnerOnly(true);
    throw error;
  }
  showPrivacyOwnerOnly(false);
  facts("stored-counts", KINDS.map(([key, , , label]) => [key, label, found.counts[key]]), "data-count");
  facts("stored-bytes", [
    ["database", "Database", size(found.bytes.database)],
    ["originals", "Images", size(found.bytes.originals)],
    ["recordings", "Recordings", size(found.bytes.recordings)],
    ["total", "In all", size(found.bytes.total)],
  ], "data-bytes");
  document.getElementById("stored-span").textContent = found.oldest
    ? `Since ${fullDay(found.oldest)}; last activity ${fullDay(found.newest)}, ${clock(found.newest)}.`
    : "Nothing is stored yet.";
  showRetention(found.retention);
  showPause(found.pause);
  const before = document.getElementById("forget-before");
  before.max = found.today;
  if (!before.value) before.value = found.today;
  showSessions(listed.sessions);
}

// --- forget ---

let pendingForget = null; // the scope the open dialog asks about

function chosenScope() {
  const kind = document.querySelector('input[name="forget-kind"]:checked').value;
  if (kind === "before") return { before: document.getElementById("forget-before").value };
  if (kind === "session") return { sessionId: document.getElementById("forget-session").value };
  return { all: true };
}

function describeScope(scope) {
  if (scope.all) return "everything StudyLens keeps";
  if (scope.before) return `everything from before ${longDay(scope.before)}`;
  return `the session of ${sessionLabels.get(scope.sessionId) || scope.sessionId}`;
}

function countsOf(report) {
  return KINDS.map(([key, one, many]) => counted(report[key], one, many));
}

// Choosing a date or a session chooses that kind of forgetting.
document.getElementById("forget-before").addEventListener("change", () => {
  document.getElementById("forget-kind-before").checked = true;
});
document.getElementById("forget-session").addEventListener("change", () => {
  document.getElementById("forget-kind-session").checked = true;
});

document.getElementById("forget-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const status = document.getElementById("forget-status");
  const scope = chosenScope();
  if (scope.sessionId === "") { status.textContent = "There is no session to delete."; return; }
  let preview;
  try {
    preview = await api("/api/privacy/forget/preview", { method: "POST", json: scope });
  } catch (error) {
    status.textContent = error.message;
    return;
  }
  if (!preview.sessions) {
    status.textContent = `Nothing to delete: ${describeScope(scope)} holds no sessions.`;
    return;
  }
  status.textContent = "";
  pendingForget = scope;
  document.getElementById("forget-title").textContent = `Delete ${counted(preview.sessions, "session", "sessions")}?`;
  document.getElementById("forget-what").textContent =
    `This deletes ${describeScope(scope)}, ${size(preview.bytes)} of files:`;
  document.getElementById("forget-counts").replaceChildren(
    ...countsOf(preview).map((text) => element("li", { text })));
  const dialog = document.getElementById("forget-dialog");
  dialog.returnValue = ""; // Escape keeps the last value: it must never be an old "delete"
  dialog.showModal();
});

document.getElementById("forget-dialog").addEventListener("close", async () => {
  const dialog = document.getElementById("forget-dialog");
  const scope = pendingForget;
  pendingForget = null;
  if (dialog.returnValue !== "delete" || !scope) return;
  const status = document.getElementById("forget-status");
  status.textContent = "Deleting…";
  try {
    const report = await api("/api/privacy/forget", { method: "POST", json: scope });
    status.textContent = `Deleted ${describeScope(scope)}: ${countsOf(report).join(", ")}; ${size(report.bytes)} freed.`;
  } catch (error) {
    status.textContent = error.message;
  }
  await loadPrivacy();
  // For the page's tests: how many forgets have finished, the summary refreshed after each.
  document.body.dataset.forgets = String(Number(document.body.dataset.forgets || 0) + 1);
});

// --- Report ---------------------------------------------------------------------------------

let reportWeek = null; // the week chosen with the picker; null follows the current week
// Whole minutes, half a minute up: as `studylens-edge report` rounds them.
const minutes = (seconds) => Math.floor((seconds + 30) / 60);
const signed = (n) => (n > 0 ? `+${n}` : String(n));

function showReportOwnerOnly(ownerOnly) {
  document.getElementById("report-owner-only").hidden = !ownerOnly;
  document.getElementById("report-body").hidden = ownerOnly;
  document.querySelector("#page-report .week-picker").hidden = ownerOnly;
}

function minutesRow(label, seconds, previousSeconds, attributes) {
  const now = minutes(seconds);
  const before = minutes(previousSeconds);
  return element("tr", attributes,
    element("th", { scope: "row", text: label }),
    element("td", { class: "num", "data-cell": "minutes", text: String(now) }),
    element("td", { class: "num", "data-cell": "previous", text: String(before) }),
    element("td", { class: "num", "data-cell": "change", text: signed(now - before) }),
  );
}

async function loadReport() {
  // A token means this browser paired as a phone: the report is the owner's.
  if (token()) return showReportOwnerOnly(true);
  let report;
  try {
    report = await api(`/api/report/weekly${reportWeek ? `?week=${encodeURIComponent(reportWeek)}` : ""}`);
  } catch (error) {
    if (error instanceof OwnerOnly) return showReportOwnerOnly(true);
    throw error;
  }
  showReportOwnerOnly(false);
  document.getElementById("report-week").textContent = report.week;
  document.getElementById("report-span").textContent =
    `${longDay(report.fromDate)} to ${longDay(report.toDate)}`;
  const rows = report.topics.map((t) =>
    minutesRow(t.topic, t.seconds, t.previousSeconds, { "data-topic": t.topic }));
  if (!rows.length) {
    rows.push(element("tr", {}, element("td", { colspan: "4", class: "muted", text: "Nothing studied this week or the week before." })));
  }
  document.querySelector("#report-topics tbody").replaceChildren(...rows);
  document.querySelector("#report-topics tfoot").replaceChildren(
    minutesRow("Total", report.totalSeconds, report.previousTotalSeconds, { id: "report-total" }));
  document.getElementById("report-goal-days").textContent = String(report.goalDaysMet);
  document.getElementById("report-goal").textContent = String(report.goalMinutesPerDay);
  document.querySelector("#report-days tbody").replaceChildren(...report.days.map((d) => element("tr", { "data-date": d.date },
    element("th", { scope: "row", text: day(d.date + "T12:00:00") }),
    element("td", { class: "num", "data-cell": "minutes", text: String(minutes(d.seconds)) }),
    element("td", { "data-cell": "goal", text: d.goalMet ? "met" : "" }),
  )));
  document.getElementById("report-streak").textContent = counted(report.streakDays, "day", "days");
  document.getElementById("report-streak-until").textContent = report.streakUntil
    ? `of study in a row, up to ${longDay(report.streakUntil)}`
    : "Study today to start a streak.";
  const r = report.recall;
  facts("report-recall", [
    ["reviewed", "Reviewed", r.reviewed],
    ["recalled", "Recalled", r.share === null ? "—" : `${Math.round(r.share * 100)} %`],
  ], "data-recall");
  const distracted = report.distracted.map((d) => element("li", { "data-topic": d.topic,
    text: `${d.topic}: ${counted(d.distractedFrames, "distracted frame", "distracted frames")} of ${d.frames}` }));
  if (!distracted.length) distracted.push(element("li", { class: "muted", text: "None this week." }));
  document.getElementById("report-distracted").replaceChildren(...distracted);
  const previous = document.getElementById("report-previous");
  const next = document.getElementById("report-next");
  previous.dataset.week = report.previousWeek;
  next.dataset.week = report.nextWeek || "";
  next.disabled = report.nextWeek === null;
  // For the page's tests: which week is on show, once it is drawn.
  document.body.dataset.reportWeek = report.week;
}

async function showWeek(button) {
  const wanted = button.dataset.week;
  if (!wanted) return;
  reportWeek = wanted;
  try {
    await loadReport();
  } catch (error) {
    console.warn("report failed:", error.message);
  }
  // Disabled at the current week, Next would drop the focus: keep it in the picker.
  if (button.disabled) document.getElementById("report-previous").focus();
}

for (const id of ["report-previous", "report-next"]) {
  const button = document.getElementById(id);
  button.addEventListener("click", () => showWeek(button));
}
document.getElementById("report-print").addEventListener("click", () => window.print());

// --- Review ---------------------------------------------------------------------------------

const RATINGS = ["again", "hard", "good", "easy"]; // keys 1 to 4, as `studylens-edge review`
// Cards fetched at once: enough for a sitting without a wait, few enough to answer fast.
const REVIEW_BATCH = 20;
const MAX_REVIEW_MS = 3_600_000; // the daemon refuses longer: a card left open is no review
const review = { queue: [], card: null, revealed: false, busy: false, shownAt: 0 };
const reviewBox = () => document.getElementById("review-card");

function showReviewOwnerOnly(ownerOnly) {
  document.getElementById("review-owner-only").hidden = !ownerOnly;
  document.getElementById("review-progress").hidden = ownerOnly;
  if (ownerOnly) {
    reviewBox().hidden = true;
    document.getElementById("review-empty").hidden = true;
  }
}

function showReviewProgress(progress) {
  document.getElementById("review-due").textContent = String(progress.dueNow);
  document.getElementById("review-done").textContent = String(progress.reviewedToday);
}

function showReviewError(message) {
  const box = document.getElementById("review-error");
  box.textContent = message;
  box.hidden = !message;
}

// A cloze's blank is the run of underscores its maker put in the term's place; revealed, the
// term fills it, so the sentence reads whole.
function questionNodes(card, revealed) {
  if (card.kind !== "cloze") return [card.question];
  return card.question.split(/(_{3,})/).map((part, i) => {
    if (i % 2 === 0) return part;
    if (revealed) return element("span", { class: "blank filled", text: card.answer });
    return element("span", { class: "blank" }, element("span", { class: "sr-only", text: "blank" }));
  });
}

// Focus inside the card is about to vanish with what it was on: move it to what replaces it.
function keepFocus(hadFocus, target) {
  if (hadFocus) target.focus();
}

function showCard() {
  const hadFocus = reviewBox().contains(document.activeElement);
  const card = review.card;
  review.revealed = false;
  reviewBox().hidden = card === null;
  document.getElementById("review-empty").hidden = card !== null;
  if (!card) {
    document.body.dataset.reviewCard = "";
    keepFocus(hadFocus, document.getElementById("review-empty"));
    return;
  }
  reviewBox().dataset.cardId = card.cardId;
  document.getElementById("review-topic").textContent =
    card.subtopic ? `${card.topic} · ${card.subtopic}` : card.topic;
  document.getElementById("review-question").replaceChildren(...questionNodes(card, false));
  document.getElementById("review-answer").textContent = card.answer;
  document.getElementById("review-answer-box").hidden = true;
  document.getElementById("review-grades").hidden = true;
  document.getElementById("review-reveal").hidden = false;
  review.shownAt = Date.now();
  // For the page's tests and its benchmark: which card is on show, once it is drawn.
  document.body.dataset.reviewCard = card.cardId;
  keepFocus(hadFocus, document.getElementById("review-reveal"));
}

function reveal() {
  if (!review.card || review.revealed) return;
  const hadFocus = reviewBox().contains(document.activeElement);
  review.revealed = true;
  document.getElementById("review-question").replaceChildren(...questionNodes(review.card, true));
  document.getElementById("review-answer-box").hidden = false;
  document.getElementById("review-reveal").hidden = true;
  document.getElementById("review-grades").hidden = false;
  // Good is the usual answer, so Enter or Space again gives it (as in Anki); 1-4 give any.
  keepFocus(hadFocus, document.querySelector('#review-grades [data-rating="good"]'));
}

// The cards due now, fresh from the daemon; the first of them on show.
async function fetchDue() {
  const due = await api(`/api/review/due?limit=${REVIEW_BATCH}`);
  review.queue = due.cards;
  review.card = review.queue.shift() || null;
  showReviewProgress(due.progress);
}

async function loadReview() {
  // A token means this browser paired as a phone: reviewing here is the owner's.
  if (token()) return showReviewOwnerOnly(true);
  showReviewError("");
  try {
    await fetchDue();
  } catch (error) {
    if (error instanceof OwnerOnly) return showReviewOwnerOnly(true);
    if (error instanceof NeedsPairing) throw error;
    review.queue = [];
    review.card = null;
    showReviewError(`The cards could not be loaded: ${error.message}. Check again in a moment.`);
  }
  showReviewOwnerOnly(false);
  showCard();
}

function setGrading(busy) {
  review.busy = busy;
  // aria-disabled, not disabled: a disabled button drops the keyboard focus.
  for (const button of document.querySelectorAll("#review-grades button")) {
    button.setAttribute("aria-disabled", String(busy));
  }
}

// The next card from the queue held; the daemon is asked again only when it runs out and
// its last answer said more are due.
async function nextCard(dueNow) {
  review.card = review.queue.shift() || null;
  if (review.card === null && dueNow > 0) {
    try {
      await fetchDue();
    } catch (error) {
      showReviewError(`The next cards could not be loaded: ${error.message}. Check again in a moment.`);
    }
  }
  showCard();
}

async function grade(rating) {
  const card = review.card;
  if (!card || !review.revealed || review.busy) return; // one request per grade, never two
  setGrading(true);
  showReviewError("");
  const reviewDurationMs = Math.min(Math.max(0, Date.now() - review.shownAt), MAX_REVIEW_MS);
  let graded;
  try {
    graded = await api(`/api/review/${encodeURIComponent(card.cardId)}/grade`,
      { method: "POST", json: { rating, reviewDurationMs } });
  } catch (error) {
    setGrading(false);
    if (error instanceof NeedsPairing) return showPairing(true);
    if (error instanceof ApiError && error.code === "card_not_found") {
      // Deleted elsewhere meanwhile: a retry could never succeed, so go on to the next.
      showReviewError("That card was deleted meanwhile, so its grade was not saved. Here is the next one.");
      await nextCard(Number(document.getElementById("review-due").textContent));
    } else {
      const why = error instanceof TypeError ? "the daemon could not be reached" : error.message;
      showReviewError(`Your grade was not saved: ${why}. The card is still here; grade it again.`);
    }
    return;
  }
  setGrading(false);
  showReviewProgress(graded.progress);
  if (review.card === card) await nextCard(graded.progress.dueNow);
}

document.getElementById("review-reveal").addEventListener("click", reveal);
for (const button of document.querySelectorAll("#review-grades button")) {
  button.addEventListener("click", () => grade(button.dataset.rating));
}
document.getElementById("review-check").addEventListener("click", async () => {
  await loadReview();
  // Still nothing: the focus stays on the button pressed, not lost with a hidden one.
  if (review.card) document.getElementById("review-reveal").focus();
});

document.addEventListener("keydown", (event) => {
  if (currentPage() !== "review" || !review.card) return;
  if (event.altKey || event.ctrlKey || event.metaKey || document.querySelector("dialog[open]")) return;
  const target = event.target;
  if (target.closest("input, select, textarea")) return; // typing is not reviewing
  const key = event.key;
  if (event.repeat && (key === "Enter" || key === " ") && reviewBox().contains(target)) {
    // A held key would reveal, then grade Good on the button the focus moved to.
    event.preventDefault();
    return;
  }
  const index = ["1", "2", "3", "4"].indexOf(key);
  if (index >= 0) {
    event.preventDefault();
    grade(RATINGS[index]);
  } else if ((key === " " || key === "Enter") && !review.revealed && !target.closest("a, button")) {
    // On a button or a link, Space and Enter are that control's: only elsewhere do they reveal.
    event.preventDefault();
    reveal();
  }
});

// --- pages and live updates -----------------------------------------------------------------

const LOADERS = {
  today: loadToday, history: loadHistory, frames: loadFrames, devices: loadDevices, privacy: loadPrivacy,
  report: loadReport, review: loadReview,
};

function currentPage() {
  const wanted = location.hash.slice(1);
  return wanted in LOADERS ? wanted : "today";
}

async function refresh() {
  const page = currentPage();
  for (const name of Object.keys(LOADERS)) {
    document.getElementById(`page-${name}`).hidden = name !== page;
    const link = document.querySelector(`nav a[data-page="${name}"]`);
    if (name === page) link.setAttribute("aria-current", "page"); else link.removeAttribute("aria-current");
  }
  try {
    await Promise.all([LOADERS[page](), loadPause()]);
    showPairing(false);
    if (!events) connectEvents(); // only once we know we may: a 401 stream would retry forever
  } catch (error) {
    if (error instanceof NeedsPairing) showPairing(true);
    else console.warn("refresh failed:", error.message);
  }
  document.body.dataset.loaded = page;
}

let pending = null;
function refreshSoon() {
  clearTimeout(pending);
  pending = setTimeout(refresh, 250);
}

let events = null;
function connectEvents() {
  if (events) events.close();
  const url = token() ? `/api/events?token=${encodeURIComponent(token())}` : "/api/events";
  events = new EventSource(url);
  const live = document.getElementById("live");
  events.onopen = () => { live.textContent = "live"; live.classList.add("on"); };
  events.onerror = () => { live.textContent = "reconnecting…"; live.classList.remove("on"); };
  for (const kind of ["frame", "session"]) {
    // A refresh of the Review page would drop the card being answered for a new queue.
    events.addEventListener(kind, () => { if (currentPage() !== "review") refreshSoon(); });
  }
  events.addEventListener("pairing", onPairing);
  events.addEventListener("pause", (event) => showPause(JSON.parse(event.data)));
}

window.addEventListener("hashchange", refresh);
window.addEventListener("DOMContentLoaded", refresh);
