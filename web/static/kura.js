// Kura's rooms: the idle lock, page boxes and field crops, and the station's keyboard.
// Served from the app itself; the Content-Security-Policy allows no inline script.
"use strict";

(function () {
  const body = document.body;
  const csrf = body.dataset.csrf;

  // --- Idle lock (control 58): hide everything personal, then sign out -------------------
  const idleSeconds = Number(body.dataset.idleSeconds || 300);
  if (body.dataset.signedIn) {
    let last = Date.now();
    const touch = () => { last = Date.now(); };
    ["keydown", "mousemove", "mousedown", "touchstart", "wheel"].forEach(
      (kind) => document.addEventListener(kind, touch, { passive: true }));
    const check = () => {
      if (Date.now() - last < idleSeconds * 1000) { return; }
      const main = document.getElementById("main");
      if (main) { main.replaceChildren(); }
      document.querySelectorAll("dialog").forEach((d) => d.remove());
      const lock = document.getElementById("idle-lock");
      if (lock) { lock.hidden = false; }
      const form = document.getElementById("idle-form");
      if (form) { form.submit(); }
    };
    setInterval(check, 1000);
  }

  // --- Page boxes and crops ---------------------------------------------------------------
  const numbers = (text) => (text || "").split(",").filter((s) => s !== "").map(Number);

  function scaleOf(image, sizeText) {
    const size = numbers(sizeText);
    return size.length === 2 ? image.naturalWidth / size[0] : 1;
  }

  function drawCrop(canvas, image) {
    const box = numbers(canvas.dataset.box);
    if (box.length !== 4 || !image.naturalWidth) { return; }
    const scale = scaleOf(image, canvas.dataset.size);
    const [x, y, w, h] = box.map((n) => n * scale);
    canvas.height = Math.round(canvas.width * h / w);
    canvas.getContext("2d").drawImage(image, x, y, w, h, 0, 0, canvas.width, canvas.height);
  }

  function whenLoaded(image, then) {
    if (image.complete && image.naturalWidth) { then(); } else { image.addEventListener("load", then); }
  }

  document.querySelectorAll("figure.page").forEach((figure) => {
    const image = figure.querySelector("img");
    whenLoaded(image, () => {
      const size = numbers(figure.dataset.size);
      const [width, height] = size.length === 2 ? size : [image.naturalWidth, image.naturalHeight];
      figure.querySelectorAll(".box").forEach((box) => {
        const [x, y, w, h] = numbers(box.dataset.box);
        box.style.left = (100 * x / width) + "%";
        box.style.top = (100 * y / height) + "%";
        box.style.width = (100 * w / width) + "%";
        box.style.height = (100 * h / height) + "%";
      });
      document.querySelectorAll(`canvas.crop[data-page="${figure.dataset.page}"]`).forEach(
        (canvas) => drawCrop(canvas, image));
    });
  });
  document.querySelectorAll("canvas.crop[data-source]").forEach((canvas) => {
    const image = document.querySelector(`img[data-for="${canvas.dataset.source}"]`);
    if (image) { whenLoaded(image, () => drawCrop(canvas, image)); }
  });

  // --- The station's keyboard -------------------------------------------------------------
  // A field's value is selected when it gets the focus, so typing replaces it.
  // The first step gets the focus only now, once this handler is in place: a key typed
  // before would land after the old value instead of replacing it.
  document.querySelectorAll("input.entry").forEach((entry) => {
    entry.addEventListener("focus", () => entry.select());
  });
  const first = document.querySelector("[data-autofocus]");
  if (first) { first.focus(); }
  // Enter in a field: unchanged → accept (for a field flagged for review), changed → correct.
  document.querySelectorAll("form.step[data-accepts]").forEach((form) => {
    form.addEventListener("submit", () => {
      const entry = form.querySelector("input.entry");
      const step = form.querySelector('input[name="step"]');
      if (entry && step && entry.value === entry.defaultValue) {
        step.value = form.dataset.accepts === "1" ? "accept" : "none";
      }
    });
  });
  document.querySelectorAll("form.step[data-accepts='0']").forEach((form) => {
    // an unchanged field nobody flagged: Enter only moves on
    form.addEventListener("submit", (event) => {
      const entry = form.querySelector("input.entry");
      if (entry && entry.value === entry.defaultValue) {
        event.preventDefault();
        const entries = Array.from(document.querySelectorAll("input.entry, button.confirm, #finish"));
        const next = entries[entries.indexOf(entry) + 1];
        if (next) { next.focus(); }
      }
    });
  });
  // Enter in the checker's note returns the change: the form's first button would confirm it.
  document.querySelectorAll("form.step input[name='note']").forEach((note) => {
    note.addEventListener("keydown", (event) => {
      if (event.key !== "Enter") { return; }
      event.preventDefault();
      note.form.querySelector("button[value='return']").click();
    });
  });
  const dialogs = { F8: "rescan-dialog", F9: "investigate-dialog" };
  document.addEventListener("keydown", (event) => {
    const id = dialogs[event.key];
    const dialog = id && document.getElementById(id);
    if (dialog) {
      event.preventDefault();
      dialog.showModal();
      dialog.querySelector('input[name="note"]').focus();
    }
  });

  // Every fetch the rooms make carries the CSRF token.
  window.kuraFetch = (url, options = {}) => fetch(url, {
    ...options, headers: { ...(options.headers || {}), "X-CSRF-Token": csrf },
    credentials: "same-origin" });
})();

// --- The intake desk: upload many files, then follow the batch without reloading --------
(function () {
  const drop = document.getElementById("drop");
  if (!drop) { return; }
  const picker = document.getElementById("files");
  const words = document.getElementById("words").dataset;
  const csrf = document.body.dataset.csrf;
  const set = (id, text) => { document.getElementById(id).textContent = text; };

  async function follow(batchId) {
    const answer = await fetch(`/desk/batch/${batchId}`, { credentials: "same-origin" });
    if (!answer.ok) { return; }
    const b = await answer.json();
    set("n-files", b.files);
    set("n-pages", b.pages);
    set("n-read", b.pages_read);
    set("n-failed", b.pages_failed);
    set("n-documents", b.documents);
    set("n-review", b.fields_review);
    set("n-left", b.seconds_left === null ? "—" : `${Math.ceil(b.seconds_left)} ${words.seconds}`);
    const list = document.getElementById("quarantined");
    list.replaceChildren(...b.quarantined.map(([label, code]) => {
      const item = document.createElement("li");
      item.textContent = `${label}: ${code}`;
      return item;
    }));
    set("batch-state", b.finished ? words.finished : words.reading);
    document.getElementById("batch").dataset.finished = b.finished ? "1" : "0";
    if (!b.finished) { setTimeout(() => follow(batchId), 1000); }
  }

  async function send(files) {
    if (!files.length) { return; }
    const body = new FormData();
    Array.from(files).forEach((file) => body.append("files", file));
    const answer = await fetch("/desk/upload", {
      method: "POST", body, credentials: "same-origin", headers: { "X-CSRF-Token": csrf } });
    if (!answer.ok) { return; }
    const { batch, refused } = await answer.json();
    document.getElementById("batch").hidden = false;
    // refused before they could be kept (over the size limit): named here, once, as sent
    document.getElementById("refused-title").hidden = refused.length === 0;
    document.getElementById("refused").replaceChildren(...refused.map(([name, reason]) => {
      const item = document.createElement("li");
      item.textContent = `${name}: ${reason}`;
      return item;
    }));
    set("batch-id", batch.slice(0, 8));
    follow(batch);
  }

  picker.addEventListener("change", () => send(picker.files));
  drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    send(event.dataTransfer.files);
  });
})();
