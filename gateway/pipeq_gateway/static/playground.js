// The pipeq playground: submits a job (POST /v1/jobs), reads its events (SSE over fetch, so the
// API key can travel in a header), streams tokens, and renders the result. No build step.
"use strict";

const TASKS = {
  "text-generation": { input: "text", generative: true, sample: "Once upon a time" },
  "text-classification": { input: "text", sample: "I love this movie" },
  "summarization": { input: "text", generative: true, sample: "The quick brown fox jumps over the lazy dog. It was a sunny day." },
  "translation": { input: "text", generative: true, sample: "hello world, how are you" },
  "zero-shot-classification": { input: "text", labels: true, sample: "the quick brown fox jumps over the lazy dog" },
  "feature-extraction": { input: "text", sample: "hello world" },
  "image-to-text": { input: "image", generative: true },
  "image-classification": { input: "image" },
  "object-detection": { input: "image" },
  "image-text-to-text": { input: "image", text: true, generative: true, sample: "What is in this picture?" },
  "automatic-speech-recognition": { input: "audio" },
  "audio-classification": { input: "audio" },
  "text-to-speech": { input: "text", sample: "Hello from pipeq." },
};
const CLASSIFIERS = new Set(["text-classification", "zero-shot-classification", "image-classification", "audio-classification"]);

const $ = (selector) => document.querySelector(selector);
const state = { models: [], file: null, job: null };

function headers(json) {
  const result = json ? { "Content-Type": "application/json" } : {};
  const key = $("#api-key").value.trim();
  if (key) result.Authorization = `Bearer ${key}`;
  return result;
}

function api(method, path, body) {
  return fetch(path, { method, headers: headers(body !== undefined), body: body === undefined ? undefined : JSON.stringify(body) });
}

function setState(name, detail = "") {
  $("#state").dataset.state = name;
  $("#state").textContent = state.job ? `job ${state.job}: ${name}${detail ? ` (${detail})` : ""}` : name + (detail ? `: ${detail}` : "");
}

// ---- form ----------------------------------------------------------------------------------

function fillTasks() {
  for (const task of Object.keys(TASKS)) $("#task").add(new Option(task, task));
  $("#task").value = "text-classification";
}

async function loadModels() {
  const response = await api("GET", "/v1/models");
  state.models = response.ok ? (await response.json()).data : [];
  showModels();
  document.body.dataset.ready = "true";
}

function showModels() {
  const task = $("#task").value;
  const models = state.models.filter((model) => model.task === task);
  $("#model").replaceChildren(...(models.length ? models : [{ id: "", default: true }]).map(
    (model) => new Option(model.id || "(default)", model.id, model.default, model.default)));
}

function showTask() {
  const task = $("#task").value;
  const spec = TASKS[task];
  showModels();
  $("#text-input").hidden = spec.input !== "text" && !spec.text;
  $("#labels-input").hidden = !spec.labels;
  $("#file-input").hidden = spec.input === "text";
  $("#sampling").hidden = !spec.generative;
  $("#file").accept = spec.input === "audio" ? "audio/*" : "image/*";
  if (spec.sample) $("#text").value = spec.sample;
  state.file = null;
  $("#file-preview").replaceChildren();
}

function readFile(file) {
  const reader = new FileReader();
  reader.onload = () => {
    const url = reader.result;
    state.file = { name: file.name, url, base64: url.slice(url.indexOf(",") + 1) };
    const kind = TASKS[$("#task").value].input;
    const preview = document.createElement(kind === "audio" ? "audio" : "img");
    preview.src = url;
    if (kind === "audio") preview.controls = true;
    $("#file-preview").replaceChildren(preview);
  };
  reader.readAsDataURL(file);
}

function number(id) {
  const value = $(`#${id}`).value;
  return value === "" ? undefined : Number(value);
}

function parameters(task, spec) {
  const p = {};
  if (CLASSIFIERS.has(task) && task !== "zero-shot-classification") p.top_k = 5;
  if (task === "zero-shot-classification") p.candidate_labels = $("#labels").value.split(",").map((s) => s.trim()).filter(Boolean);
  if (task === "feature-extraction") p.pooling = "mean";
  if (task === "object-detection") p.threshold = 0.0;
  if (spec.generative) {
    for (const name of ["max_new_tokens", "temperature", "top_p", "top_k", "seed"]) {
      if (number(name) !== undefined) p[name] = number(name);
    }
    const stop = $("#stop").value.split(",").map((s) => s.trim()).filter(Boolean);
    if (stop.length) p.stop = stop;
  }
  return p;
}

function inputs(task, spec) {
  const text = $("#text").value;
  if (spec.input === "text") return text;
  if (!state.file) throw new Error("drop an image or audio file first");
  const blob = { data: state.file.base64 };
  if (task === "image-text-to-text") {
    return [{ role: "user", content: [{ type: "image", image: blob }, { type: "text", text }] }];
  }
  return blob;
}

// ---- events --------------------------------------------------------------------------------

async function* sseEvents(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const event = { event: "message", data: "", id: null };
      for (const line of buffer.slice(0, end).split("\n")) {
        const colon = line.indexOf(":");
        if (colon <= 0) continue;
        const name = line.slice(0, colon);
        event[name] = line.slice(colon + 1).replace(/^ /, "");
      }
      buffer = buffer.slice(end + 2);
      yield { ...event, data: event.data ? JSON.parse(event.data) : null };
    }
  }
}

async function run(submit) {
  submit.preventDefault();
  const task = $("#task").value;
  const spec = TASKS[task];
  state.job = null;
  $("#stream").textContent = "";
  $("#stream").dataset.tokens = "0";
  $("#result").replaceChildren();
  $("#raw").textContent = "";
  let body;
  try {
    body = { task, model: $("#model").value || undefined, inputs: inputs(task, spec), parameters: parameters(task, spec) };
  } catch (error) {
    return setState("failed", error.message);
  }
  $("#run").disabled = true;
  setState("submitting");
  try {
    const response = await api("POST", "/v1/jobs", body);
    const answer = await response.json();
    if (!response.ok) return showError(answer.error);
    state.job = answer.id;
    $("#cancel").disabled = false;
    setState("queued");
    await follow(task, spec, await api("GET", answer.events_url));
  } catch (error) {
    setState("failed", error.message);
  } finally {
    $("#run").disabled = false;
    $("#cancel").disabled = true;
  }
}

async function follow(task, spec, response) {
  if (!response.ok) return showError((await response.json()).error);
  const streaming = spec.generative && $("#streaming").checked;
  for await (const event of sseEvents(response)) {
    if (event.event === "started") setState("running");
    else if (event.event === "reset") $("#stream").textContent = "";
    else if (event.event === "token" && streaming && event.data.sequence === 0) {
      $("#stream").textContent += event.data.text;
      $("#stream").dataset.tokens = String(Number($("#stream").dataset.tokens) + 1);
    } else if (event.event === "done") {
      render(task, event.data.result);
      const reason = event.data.result.details?.finish_reason;
      setState(reason === "cancelled" ? "cancelled" : "done", reason || "");
    } else if (event.event === "error" || event.event === "gateway-error") showError(event.data);
  }
}

function showError(error) {
  const field = error?.field ? ` [${error.field}]` : "";
  setState(error?.code === "cancelled" ? "cancelled" : "failed", `${error?.code || "error"}${field}: ${error?.message || ""}`);
}

async function cancel() {
  if (state.job) await api("DELETE", `/v1/jobs/${state.job}`);
}

// ---- results -------------------------------------------------------------------------------

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function bars(items) {
  return items.map(({ label, score }) => {
    const row = element("div", "bar");
    const track = element("div", "track");
    const fill = element("div", "fill");
    fill.style.width = `${Math.max(0, Math.min(1, score)) * 100}%`;
    track.append(fill);
    row.append(element("span", "label", label), track, element("span", "score", score.toFixed(3)));
    return row;
  });
}

function boxes(items) {
  const canvas = element("canvas", "boxes");
  const image = new Image();
  image.onload = () => {
    canvas.width = image.naturalWidth;
    canvas.height = image.naturalHeight;
    const context = canvas.getContext("2d");
    context.drawImage(image, 0, 0);
    context.lineWidth = Math.max(1, image.naturalWidth / 200);
    context.font = `${Math.max(10, image.naturalWidth / 30)}px sans-serif`;
    for (const { label, score, box } of items) {
      context.strokeStyle = context.fillStyle = "#e5484d";
      context.strokeRect(box.xmin, box.ymin, box.xmax - box.xmin, box.ymax - box.ymin);
      context.fillText(`${label} ${score.toFixed(2)}`, box.xmin + 2, box.ymin + 12);
    }
  };
  image.src = state.file.url;
  return [canvas, element("div", "meta", `${items.length} boxes`)];
}

function generated(result) {
  // Streamed text is already on the page (#stream); otherwise the result shows it.
  const text = result.generated_text ?? result.summary_text ?? result.translation_text;
  const details = result.details || {};
  const meta = element("div", "meta", `finish_reason: ${details.finish_reason}, ${details.generated_tokens} tokens`);
  return $("#stream").textContent ? [meta] : [element("div", "text-result", text), meta];
}

function render(task, result) {
  $("#raw").textContent = JSON.stringify(result, null, 2);
  let nodes;
  if (CLASSIFIERS.has(task)) nodes = bars(result);
  else if (task === "object-detection") nodes = boxes(result);
  else if (task === "text-to-speech") {
    const audio = element("audio");
    audio.controls = true;
    audio.src = `data:audio/wav;base64,${result.audio.data}`;
    nodes = [audio, element("div", "meta", `${result.sampling_rate} Hz`)];
  } else if (task === "feature-extraction") {
    nodes = [element("div", "meta", `${result.length} embedding(s) of ${result[0].length} dimensions: ${result[0].slice(0, 6).map((v) => v.toFixed(3)).join(", ")}, …`)];
  } else if (task === "automatic-speech-recognition") nodes = [element("div", "text-result", result.text)];
  else nodes = generated(result);
  $("#result").replaceChildren(...nodes);
}

// ---- wiring --------------------------------------------------------------------------------

function wire() {
  $("#api-key").value = localStorage.getItem("pipeq-api-key") || "";
  $("#api-key").addEventListener("change", () => { localStorage.setItem("pipeq-api-key", $("#api-key").value); loadModels(); });
  $("#task").addEventListener("change", showTask);
  $("#form").addEventListener("submit", run);
  $("#cancel").addEventListener("click", cancel);
  $("#file").addEventListener("change", () => $("#file").files[0] && readFile($("#file").files[0]));
  const drop = $("#drop");
  drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    if (event.dataTransfer.files[0]) readFile(event.dataTransfer.files[0]);
  });
}

fillTasks();
wire();
showTask();
loadModels();
