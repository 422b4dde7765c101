// promptvault web UI: small progressive enhancements over server-rendered pages.
// User text is only ever set through textContent (never innerHTML), so nothing a prompt
// contains can become markup here.
(function () {
  "use strict";

  const csrf = () => {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  };

  const el = (tag, cls, text) => {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  };

  // --- copy buttons -------------------------------------------------------------------
  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-copy]");
    if (!button) return;
    const source = document.getElementById(button.getAttribute("data-copy"));
    if (!source) return;
    const text = source.textContent;
    const done = () => {
      const before = button.textContent;
      button.textContent = "Copied";
      button.classList.add("copied");
      setTimeout(() => {
        button.textContent = before;
        button.classList.remove("copied");
      }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, () => fallbackCopy(text, done));
    } else {
      fallbackCopy(text, done);
    }
  });

  function fallbackCopy(text, done) {
    const area = el("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "offscreen";
    document.body.appendChild(area);
    area.select();
    try {
      document.execCommand("copy");
      done();
    } finally {
      area.remove();
    }
  }

  // --- live changes on a prompt's page ---------------------------------------------------
  // The change stream (/v1/stream, through the session cookie) says when a label of this
  // prompt moves, so a page left open does not show a stale production version.
  const live = document.getElementById("live-change");
  if (live && window.EventSource) {
    const name = live.getAttribute("data-live-prompt");
    const after = live.getAttribute("data-live-after") || "0";
    const source = new EventSource(
      "/v1/stream?prefix=" + encodeURIComponent(name) + "&after=" + encodeURIComponent(after)
    );
    const describe = (type, e) => {
      const p = e.payload || {};
      if (type === "label.moved") return p.label + " moved to v" + p.new_version + " by " + e.actor;
      if (type === "label.removed") return p.label + " removed by " + e.actor;
      if (type === "version.pushed") return "v" + p.version + " pushed by " + e.actor;
      if (type === "prompt.archived") return "archived by " + e.actor;
      if (type === "prompt.unarchived") return "unarchived by " + e.actor;
      return null;
    };
    const show = (type) => (message) => {
      let event;
      try {
        event = JSON.parse(message.data);
      } catch (_) {
        return;
      }
      if (event.prompt !== name) return; // the prefix also matches longer names
      const text = describe(type, event);
      if (!text) return;
      live.textContent = "";
      live.appendChild(el("span", "live-text", text));
      live.appendChild(document.createTextNode(" "));
      const reload = el("a", "live-reload", "Reload");
      reload.href = window.location.pathname + window.location.search;
      live.appendChild(reload);
      live.hidden = false;
    };
    for (const type of ["label.moved", "label.removed", "version.pushed", "prompt.archived", "prompt.unarchived"]) {
      source.addEventListener(type, show(type));
    }
    window.addEventListener("pagehide", () => source.close());
  }

  // --- a running evaluation run ---------------------------------------------------------
  // Polls the run's progress while it is going, and reloads the page (results, summary)
  // once it has finished or been interrupted.
  const runBox = document.getElementById("run-progress");
  if (runBox) {
    const url = runBox.getAttribute("data-run-progress");
    const bar = document.getElementById("run-progress-bar");
    const text = document.getElementById("run-progress-text");
    let shown = -1;
    const poll = () => {
      fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then((response) => (response.ok ? response.json() : null))
        .then((state) => {
          if (!state) return;
          if (state.status !== "running") {
            window.location.reload();
            return;
          }
          if (state.done !== shown) {
            shown = state.done;
            bar.max = state.total;
            bar.value = state.done;
            text.textContent =
              state.done + " of " + state.total + " cases done, " + state.errors +
              " errors. The page reloads when the run ends.";
          }
          setTimeout(poll, 1000);
        })
        .catch(() => setTimeout(poll, 3000));
    };
    setTimeout(poll, 500);
  }

  // --- editor -------------------------------------------------------------------------
  const form = document.getElementById("editor");
  if (!form) return;

  const rows = document.getElementById("chat-rows");
  const status = document.getElementById("check-status");
  const varsBox = document.getElementById("check-vars");
  const preview = document.getElementById("preview");
  const sample = document.getElementById("sample");
  const textArea = document.getElementById("template");
  let sampleTouched = sample.value.trim() !== "";
  let timer = null;
  let seq = 0;
  let lastError = null;

  sample.addEventListener("input", () => {
    sampleTouched = true;
  });

  function currentType() {
    const checked = form.querySelector('input[name="type"]:checked');
    return checked ? checked.value : "text";
  }

  function syncType() {
    form.setAttribute("data-type", currentType());
  }

  // Text areas grow with their content (between their initial rows and 30 lines).
  function grow(area) {
    if (!area.dataset.minRows) area.dataset.minRows = String(area.rows || 3);
    const lines = area.value.split("\n").length + 1;
    area.rows = Math.min(Math.max(Number(area.dataset.minRows), lines), 30);
  }
  form.querySelectorAll("textarea").forEach(grow);
  form.addEventListener("input", (event) => {
    if (event.target instanceof HTMLTextAreaElement) grow(event.target);
  });

  function renumber() {
    if (!rows) return;
    Array.from(rows.children).forEach((row, i) => {
      const n = i + 1;
      const no = row.querySelector(".row-no");
      if (no) no.textContent = String(n);
      row.querySelectorAll("[id]").forEach((node) => {
        node.id = node.id.replace(/-\d+$/, "-" + n);
      });
      row.querySelectorAll("label[for]").forEach((label) => {
        label.setAttribute("for", label.getAttribute("for").replace(/-\d+$/, "-" + n));
        label.textContent = label.textContent.replace(/\d+/, String(n));
      });
      row.querySelectorAll("[data-row]").forEach((button) => {
        const label = button.getAttribute("aria-label");
        if (label) button.setAttribute("aria-label", label.replace(/\d+/, String(n)));
      });
    });
  }

  function addRow(kind) {
    const tpl = document.getElementById("tpl-" + kind);
    if (!tpl || !rows) return;
    const row = tpl.content.firstElementChild.cloneNode(true);
    rows.appendChild(row);
    renumber();
    const focus = row.querySelector("textarea, input:not([type=hidden])");
    if (focus) focus.focus();
    schedule();
  }

  form.addEventListener("click", (event) => {
    const add = event.target.closest("[data-add]");
    if (add) {
      addRow(add.getAttribute("data-add"));
      return;
    }
    const tool = event.target.closest("[data-row]");
    if (!tool) return;
    const row = tool.closest(".chat-row");
    const action = tool.getAttribute("data-row");
    if (action === "remove") {
      const next = row.nextElementSibling || row.previousElementSibling;
      row.remove();
      if (next) {
        const button = next.querySelector('[data-row="remove"]');
        if (button) button.focus();
      }
    } else if (action === "up" && row.previousElementSibling) {
      row.parentNode.insertBefore(row, row.previousElementSibling);
      tool.focus();
    } else if (action === "down" && row.nextElementSibling) {
      row.parentNode.insertBefore(row.nextElementSibling, row);
      tool.focus();
    }
    renumber();
    schedule();
  });

  // Caret position for the text template: people fix errors by line and column.
  function caret(area, out) {
    if (!area || !out) return;
    const before = area.value.slice(0, area.selectionStart);
    const lines = before.split("\n");
    out.textContent = "Ln " + lines.length + ", Col " + (lines[lines.length - 1].length + 1);
  }
  ["keyup", "click", "input", "focus"].forEach((type) => {
    form.addEventListener(type, (event) => {
      const area = event.target;
      if (!(area instanceof HTMLTextAreaElement) || !area.hasAttribute("data-template")) return;
      const out = area.id === "template"
        ? document.getElementById("caret-pos")
        : document.getElementById("caret-pos-chat");
      caret(area, out);
    });
  });

  function goTo(area, line, column) {
    const lines = area.value.split("\n");
    let offset = 0;
    for (let i = 0; i < line - 1 && i < lines.length; i++) offset += lines[i].length + 1;
    offset += Math.max(column - 1, 0);
    area.focus();
    area.setSelectionRange(offset, offset);
  }

  function errorArea(error) {
    if (error.index !== null && error.index !== undefined && rows) {
      const row = rows.children[error.index];
      return row ? row.querySelector("textarea, input[name=m_content]") : null;
    }
    const field = String(error.field || "");
    if (field === "params" || field.startsWith("config")) return document.getElementById("params");
    if (field.startsWith("variables_schema")) return document.getElementById("variables_schema");
    if (field === "sample") return sample;
    if (field === "name") return document.getElementById("name");
    return currentType() === "chat" ? null : textArea;
  }

  function showError(error) {
    status.replaceChildren();
    status.className = "check-status bad";
    const head = el("p", "check-head");
    head.appendChild(el("span", "badge-bad", "✗"));
    head.appendChild(document.createTextNode(" " + error.message));
    status.appendChild(head);
    const parts = [];
    if (error.index !== null && error.index !== undefined) parts.push("message " + (error.index + 1));
    if (error.line) parts.push("line " + error.line + ", column " + (error.column || 1));
    else if (error.field) parts.push(String(error.field));
    if (parts.length) {
      const where = el("p", "where");
      where.appendChild(el("span", null, parts.join(", ")));
      const area = errorArea(error);
      if (area && error.line && area.tagName === "TEXTAREA") {
        const jump = el("button", "btn btn-sm btn-ghost", "Go to error");
        jump.type = "button";
        jump.addEventListener("click", () => goTo(area, error.line, error.column || 1));
        where.appendChild(document.createTextNode(" "));
        where.appendChild(jump);
      }
      status.appendChild(where);
    }
    if (error.excerpt) status.appendChild(el("pre", "excerpt", error.excerpt));
  }

  function markInvalid(error) {
    form.querySelectorAll(".invalid").forEach((node) => node.classList.remove("invalid"));
    form.querySelectorAll(".chat-row.has-error").forEach((node) => node.classList.remove("has-error"));
    if (!error) return;
    const area = errorArea(error);
    if (area) area.classList.add("invalid");
    if (error.index !== null && error.index !== undefined && rows && rows.children[error.index]) {
      rows.children[error.index].classList.add("has-error");
    }
  }

  function showVariables(names) {
    varsBox.replaceChildren();
    if (!names.length) return;
    varsBox.appendChild(el("span", "muted small", "Variables:"));
    names.forEach((name) => varsBox.appendChild(el("code", "chip chip-var", name)));
  }

  function fillSample(names) {
    if (sampleTouched) return;
    let current = {};
    try {
      current = sample.value.trim() ? JSON.parse(sample.value) : {};
    } catch (e) {
      return;
    }
    const next = {};
    names.filter((n) => n !== "now" && n !== "today").forEach((n) => {
      next[n] = Object.prototype.hasOwnProperty.call(current, n) ? current[n] : "";
    });
    const text = Object.keys(next).length ? JSON.stringify(next, null, 2) : "";
    if (text !== sample.value) {
      sample.value = text;
      grow(sample);
      schedule(); // preview again with the filled-in sample
    }
  }

  function showPreview(result) {
    preview.replaceChildren();
    if (result.preview_error) {
      preview.appendChild(el("p", "alert alert-warn", result.preview_error.message));
      return;
    }
    if (result.missing && result.missing.length) {
      preview.appendChild(
        el("p", "hint", "Missing in the sample (shown empty): " + result.missing.join(", "))
      );
    }
    const out = result.preview;
    if (out === "" || (Array.isArray(out) && !out.length)) {
      preview.appendChild(el("p", "muted", "The template renders to nothing yet."));
    } else if (typeof out === "string") {
      const pre = el("pre", "code plain");
      pre.appendChild(el("code", null, out));
      preview.appendChild(pre);
    } else if (Array.isArray(out)) {
      const list = el("ol", "messages");
      out.forEach((m) => {
        const role = ["system", "user", "assistant", "tool"].includes(m.role) ? m.role : "other";
        const item = el("li", "msg msg-" + role);
        item.appendChild(el("div", "msg-role", m.role));
        const pre = el("pre", "code plain");
        pre.appendChild(
          el("code", null, typeof m.content === "string" ? m.content : JSON.stringify(m.content, null, 2))
        );
        item.appendChild(pre);
        list.appendChild(item);
      });
      preview.appendChild(list);
    }
  }

  async function check() {
    const mine = ++seq;
    const data = new FormData(form);
    data.delete("message");
    let response;
    try {
      response = await fetch(form.getAttribute("data-check-url"), {
        method: "POST",
        body: data,
        headers: { "X-CSRF-Token": csrf(), Accept: "application/json" },
        credentials: "same-origin",
      });
    } catch (e) {
      if (mine === seq) status.textContent = "Could not reach the server to check.";
      return;
    }
    if (mine !== seq) return; // a newer check is on its way
    if (response.status === 401) {
      status.textContent = "Your session ended: sign in again to keep checking.";
      return;
    }
    const result = await response.json();
    if (mine !== seq) return;
    if (!response.ok) {
      showError((result.error && result.error) || { message: "check failed" });
      return;
    }
    lastError = result.ok ? null : result.error;
    markInvalid(lastError);
    if (result.ok) {
      status.replaceChildren();
      status.className = "check-status good";
      const head = el("p", "check-head");
      head.appendChild(el("span", "badge-good", "✓"));
      head.appendChild(document.createTextNode(" No problems found"));
      status.appendChild(head);
      showVariables(result.variables || []);
      fillSample(result.variables || []);
      showPreview(result);
    } else {
      showError(result.error);
      showVariables([]);
      preview.replaceChildren(el("p", "muted", "Fix the problem above to see the preview."));
    }
  }

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(check, 250);
  }

  form.addEventListener("input", (event) => {
    if (event.target && event.target.name === "message") return;
    if (event.target && event.target.name === "type") syncType();
    schedule();
  });
  form.addEventListener("change", (event) => {
    if (event.target && event.target.name === "type") {
      syncType();
      if (currentType() === "chat" && rows && !rows.children.length) {
        addRow("message");
      }
    }
    if (event.target && event.target.name !== "message") schedule();
  });

  syncType();
  renumber();
  check();
})();
