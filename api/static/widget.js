/*
 * News QA chat widget. Embed with one tag:
 *   <script src="http://HOST/widget.js" data-api="http://HOST" data-title="Ask the archive" defer></script>
 * Renders inside a Shadow DOM; adds only `window.NewsQAWidget` to the page.
 * Every piece of article or answer text is inserted as text, never as HTML.
 */
(function () {
  "use strict";
  if (window.NewsQAWidget) return;

  var script = document.currentScript;
  var STORAGE_KEY = "newsqa-widget-conversation";
  var MAX_HISTORY = 6;

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") node.textContent = attrs[key];
      else if (key === "class") node.className = attrs[key];
      else node.setAttribute(key, attrs[key]);
    });
    (children || []).forEach(function (child) {
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function safeUrl(url) {
    try {
      var parsed = new URL(url, window.location.href);
      return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
    } catch (e) {
      return null;
    }
  }

  function Widget(options) {
    this.api = (options.api || "").replace(/\/+$/, "");
    this.title = options.title || "Ask the archive";
    this.turns = this.load();
    this.busy = false;
    this.build(options.container || document.body);
    this.renderAll();
  }

  Widget.prototype.load = function () {
    try {
      var saved = JSON.parse(window.sessionStorage.getItem(STORAGE_KEY) || "[]");
      return Array.isArray(saved) ? saved : [];
    } catch (e) {
      return [];
    }
  };

  Widget.prototype.save = function () {
    try {
      window.sessionStorage.setItem(STORAGE_KEY, JSON.stringify(this.turns.slice(-20)));
    } catch (e) { /* storage full or disabled: the conversation still works */ }
  };

  Widget.prototype.build = function (container) {
    var host = el("div", { "class": "newsqa-host" });
    container.appendChild(host);
    var root = host.attachShadow({ mode: "open" });
    root.appendChild(el("link", { rel: "stylesheet", href: this.api + "/widget.css" }));
    var self = this;
    this.launcher = el("button", {
      "class": "launcher", type: "button", "aria-expanded": "false",
      "aria-controls": "newsqa-panel", text: this.title,
    });
    this.launcher.addEventListener("click", function () { self.toggle(); });
    this.log = el("div", { "class": "log", role: "log", "aria-live": "polite",
                           "aria-relevant": "additions", "aria-label": "Conversation" });
    this.status = el("p", { "class": "status", role: "status", "aria-live": "assertive" });
    this.input = el("input", { type: "text", id: "newsqa-input", maxlength: "1000",
                               autocomplete: "off", placeholder: "Ask a question\u2026" });
    var label = el("label", { "for": "newsqa-input", "class": "visually-hidden",
                              text: "Your question" });
    this.send = el("button", { type: "submit", "class": "send", text: "Send" });
    var form = el("form", { "class": "composer" }, [label, this.input, this.send]);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      self.ask(self.input.value);
    });
    var reset = el("button", { type: "button", "class": "reset", text: "New conversation" });
    reset.addEventListener("click", function () { self.reset(); });
    var close = el("button", { type: "button", "class": "close", "aria-label": "Close",
                               text: "\u00d7" });
    close.addEventListener("click", function () { self.toggle(false); });
    this.panel = el("section", { "class": "panel", id: "newsqa-panel", role: "dialog",
                                 "aria-label": this.title, hidden: "" }, [
      el("header", {}, [el("h2", { text: this.title }), reset, close]),
      this.log, this.status, form,
    ]);
    this.panel.addEventListener("keydown", function (event) {
      if (event.key === "Escape") self.toggle(false);
    });
    root.appendChild(this.launcher);
    root.appendChild(this.panel);
    this.root = root;
  };

  Widget.prototype.toggle = function (open) {
    var show = open === undefined ? this.panel.hasAttribute("hidden") : open;
    if (show) this.panel.removeAttribute("hidden");
    else this.panel.setAttribute("hidden", "");
    this.launcher.setAttribute("aria-expanded", String(show));
    (show ? this.input : this.launcher).focus();
  };

  Widget.prototype.reset = function () {
    this.turns = [];
    this.save();
    this.log.textContent = "";
    this.status.textContent = "Started a new conversation.";
    this.input.focus();
  };

  Widget.prototype.renderAll = function () {
    var self = this;
    this.turns.forEach(function (turn) {
      var view = self.renderQuestion(turn.question);
      if (turn.result) self.renderAnswer(view, turn.result);
    });
  };

  Widget.prototype.renderQuestion = function (question) {
    var turn = el("div", { "class": "turn" });
    turn.appendChild(el("p", { "class": "question", text: question }));
    var answer = el("div", { "class": "answer", "aria-busy": "true" });
    var quotes = el("div", { "class": "quotes" });
    answer.appendChild(quotes);
    turn.appendChild(answer);
    this.log.appendChild(turn);
    this.log.scrollTop = this.log.scrollHeight;
    return { turn: turn, answer: answer, quotes: quotes, shown: {} };
  };

  Widget.prototype.renderQuote = function (view, citation) {
    if (view.shown[citation.n]) return;
    view.shown[citation.n] = true;
    var self = this;
    var chip = el("button", { type: "button", "class": "chip",
                              "aria-label": "Show source " + citation.n + " in context",
                              text: "[" + citation.n + "]" });
    chip.addEventListener("click", function () { self.showSource(view, citation, chip); });
    view.quotes.appendChild(el("blockquote", { "class": "quote" }, [citation.quote, " ", chip]));
  };

  Widget.prototype.renderAnswer = function (view, result) {
    var self = this;
    view.answer.removeAttribute("aria-busy");
    if (result.abstained) {
      view.answer.appendChild(el("p", { "class": "abstain",
        text: "The articles don't say." }));
      if (result.passages && result.passages.length) {
        view.answer.appendChild(el("p", { "class": "hint", text: "Closest passages:" }));
        var list = el("ul", { "class": "passages" });
        result.passages.slice(0, 3).forEach(function (p) {
          var text = p.text.length > 220 ? p.text.slice(0, 219) + "\u2026" : p.text;
          list.appendChild(el("li", { text: text }));
        });
        view.answer.appendChild(list);
      }
      return;
    }
    (result.citations || []).forEach(function (c) { self.renderQuote(view, c); });
    var sources = el("ol", { "class": "sources", "aria-label": "Sources" });
    (result.citations || []).forEach(function (c) {
      var item = el("li", { value: String(c.n) });
      var url = c.url && safeUrl(c.url);
      item.appendChild(url ? el("a", { href: url, target: "_blank", rel: "noopener noreferrer",
                                       text: c.title }) : el("span", { text: c.title }));
      if (c.date) item.appendChild(el("span", { "class": "date", text: " \u00b7 " + c.date }));
      sources.appendChild(item);
    });
    view.answer.appendChild(sources);
  };

  Widget.prototype.showSource = function (view, citation, chip) {
    var self = this;
    var existing = view.turn.querySelector(".excerpt[data-n='" + citation.n + "']");
    if (existing) { existing.remove(); chip.setAttribute("aria-expanded", "false"); return; }
    fetch(this.api + "/documents/" + encodeURIComponent(citation.doc_id))
      .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
      .then(function (doc) {
        var start = Math.max(0, citation.start - 300);
        var end = Math.min(doc.text.length, citation.end + 300);
        var box = el("figure", { "class": "excerpt", "data-n": String(citation.n),
                                 tabindex: "-1" }, [
          el("figcaption", { text: "[" + citation.n + "] " + doc.title }),
          el("p", {}, [
            (start > 0 ? "\u2026" : "") + doc.text.slice(start, citation.start),
            el("mark", { text: doc.text.slice(citation.start, citation.end) }),
            doc.text.slice(citation.end, end) + (end < doc.text.length ? "\u2026" : ""),
          ]),
        ]);
        view.answer.appendChild(box);
        chip.setAttribute("aria-expanded", "true");
        box.focus();
      })
      .catch(function () { self.status.textContent = "Could not load the source."; });
  };

  Widget.prototype.history = function () {
    return this.turns.filter(function (t) { return t.result && !t.error; })
      .slice(-MAX_HISTORY)
      .map(function (t) { return { question: t.question, answer: t.result.answer || "" }; });
  };

  Widget.prototype.ask = function (text) {
    var question = (text || "").trim();
    if (!question || this.busy) return;
    var self = this;
    var turn = { question: question };
    var body = JSON.stringify({ question: question, history: this.history() });
    this.turns.push(turn);
    this.input.value = "";
    this.busy = true;
    this.send.disabled = true;
    this.status.textContent = "Searching the articles\u2026";
    var view = this.renderQuestion(question);
    fetch(this.api + "/ask/stream", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: body,
    }).then(function (response) {
      if (!response.ok) {
        return response.json().catch(function () { return {}; }).then(function (data) {
          throw new Error(self.describe(response.status, data));
        });
      }
      return self.readStream(response, view, turn);
    }).catch(function (error) {
      var message = error && error.message && error.message.indexOf("Failed to fetch") < 0
        ? error.message : "The service is not reachable. Please try again.";
      turn.error = message;
      view.answer.removeAttribute("aria-busy");
      view.answer.appendChild(el("p", { "class": "error", role: "alert", text: message }));
    }).then(function () {
      self.busy = false;
      self.send.disabled = false;
      if (!turn.error) self.status.textContent = "";
      self.save();
      self.input.focus();
    });
  };

  Widget.prototype.describe = function (status, data) {
    if (status === 429) return "Too many questions at once. Please wait a moment and retry.";
    var detail = data && data.error && data.error.message;
    return detail ? "Sorry: " + detail : "The service answered with an error (" + status + ").";
  };

  Widget.prototype.readStream = function (response, view, turn) {
    var self = this;
    var reader = response.body.getReader();
    var decoder = new TextDecoder();
    var buffer = "";
    function handle(block) {
      var name = "message", data = "";
      block.split("\n").forEach(function (line) {
        if (line.indexOf("event:") === 0) name = line.slice(6).trim();
        else if (line.indexOf("data:") === 0) data += line.slice(5).trim();
      });
      if (!data) return;
      var payload = JSON.parse(data);
      if (name === "quote") self.renderQuote(view, payload);
      else if (name === "done") { turn.result = payload; self.renderAnswer(view, payload); }
      else if (name === "error") throw new Error("Sorry: " + payload.message);
    }
    function pump() {
      return reader.read().then(function (chunk) {
        if (chunk.done) {
          if (buffer.trim()) handle(buffer);
          if (!turn.result) throw new Error("The answer was cut off. Please try again.");
          return;
        }
        buffer += decoder.decode(chunk.value, { stream: true });
        var parts = buffer.split("\n\n");
        buffer = parts.pop();
        parts.forEach(handle);
        return pump();
      });
    }
    return pump();
  };

  window.NewsQAWidget = {
    version: "0.1.0",
    mount: function (options) { return new Widget(options || {}); },
  };

  if (script && script.getAttribute("data-api") !== null) {
    var start = function () {
      window.NewsQAWidget.instance = window.NewsQAWidget.mount({
        api: script.getAttribute("data-api") || "",
        title: script.getAttribute("data-title") || undefined,
      });
    };
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
    else start();
  }
})();
