/*
 * News QA chat widget. Embed with one tag:
 *   <script src="http://HOST/widget.js" data-api="http://HOST" data-title="Ask the archive" defer></script>
 * Options (all optional): data-api, data-title, data-theme (light|dark|auto), data-accent,
 * data-position (bottom-right|bottom-left|top-right|top-left), data-placeholder,
 * data-suggestions ("question one|question two"), data-open (true|false).
 * A host page may set --newsqa-accent, --newsqa-bg, --newsqa-fg, --newsqa-muted,
 * --newsqa-font and --newsqa-radius on <news-qa-widget> or any ancestor.
 * Renders inside a Shadow DOM; adds only `window.NewsQAWidget` to the page. The stylesheet
 * comes from the script's own origin. Every piece of article or answer text is inserted as
 * text, never as HTML. Each quote's short answer (the citation's answer_start/answer_end) is
 * marked and its outlet and date shown under it; there is one source card per article (with
 * every [n] quoted from it and the other outlets that carry the same story, also_in). Chip and
 * link text is the accent raised to 4.5:1 contrast on the theme's background. On a screen up
 * to 600px wide the open panel fills it. An abstention says what its reason means.
 */
(function () {
  "use strict";
  if (window.NewsQAWidget) return;

  var script = document.currentScript;
  var STORAGE_KEY = "newsqa-widget-conversation";
  var MAX_HISTORY = 6;
  var POSITIONS = ["bottom-right", "bottom-left", "top-right", "top-left"];
  /* A sentence boundary: a paragraph break, or sentence punctuation (not after an initial or
     abbreviation such as "U.S." or "E.") and space, either followed by what can start a
     sentence (a capital, a digit or an opening quote; not a credit such as "(Kyodo)"). */
  var SENTENCE_END = /(?:(?<!\b[A-Z])[.!?]["'\u201d\u2019)\]]*[ \t]+|\s*\n\s*)(?=["'\u201c\u2018]?[A-Z0-9])/g;
  var STOPS = /[.!?:;\u2026]["'\u201d\u2019)\]]*$/;  // text that ends here needs no "\u2026"
  var EXCERPT_CONTEXT = 300;  // characters of context around a highlighted quote
  var CARD_CHARS = 220;       // characters of a passage shown on a source card
  var MIN_CONTRAST = 4.6;     // WCAG AA asks 4.5:1 for text; a little over for rounding
  var uid = 0;

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") node.textContent = attrs[key];
      else if (key === "class") node.className = attrs[key];
      else node.setAttribute(key, attrs[key]);
    });
    (children || []).forEach(function (child) {
      if (child === null || child === undefined) return;
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function safeUrl(url) {
    try {
      const parsed = new URL(url, window.location.href);
      return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
    } catch {
      return null;
    }
  }

  function originOf(url) {
    try { return new URL(url, window.location.href).origin; } catch { return ""; }
  }

  /* Where an excerpt may start at or after `pos`: the next sentence start before `stop`,
     else the next word start; `pos` itself when it already follows whitespace. */
  function startBoundary(text, pos, stop) {
    if (pos <= 0 || /\s/.test(text.charAt(pos - 1))) return Math.max(0, pos);
    SENTENCE_END.lastIndex = pos;
    var m = SENTENCE_END.exec(text);
    if (m && m.index + m[0].length <= stop) return m.index + m[0].length;
    var space = text.slice(pos, stop).search(/\s/);
    return space < 0 ? pos : pos + space + 1;
  }

  /* Where an excerpt may end at or before `pos` (and after `from`): the last sentence end,
     else the last word end; `pos` when it is the end of the text or before whitespace. */
  function endBoundary(text, pos, from) {
    if (pos >= text.length || /\s/.test(text.charAt(pos))) return Math.min(pos, text.length);
    var part = text.slice(from, pos), best = -1, m;
    SENTENCE_END.lastIndex = 0;
    for (m = SENTENCE_END.exec(part); m !== null; m = SENTENCE_END.exec(part)) {
      best = m.index + m[0].length;
    }
    if (best > 0) return from + best;
    var space = part.search(/\s\S*$/);
    return space < 0 ? pos : from + space;
  }

  /* A thumb icon drawn as SVG (no emoji font needed); thumbs down is the same, turned over. */
  function thumb() {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    var path = document.createElementNS(ns, "path");
    path.setAttribute("d", "M2 21h4V9H2v12zm20-11a2 2 0 0 0-2-2h-6.3l1-4.6v-.3c0-.4-.2-.8-.4-1.1" +
                      "L13.2 1 6.6 7.6C6.2 8 6 8.5 6 9v10a2 2 0 0 0 2 2h9c.8 0 1.5-.5 1.8-1.2" +
                      "l3-7.1c.1-.2.2-.5.2-.7v-2z");
    svg.appendChild(path);
    return svg;
  }

  function clip(text, limit) {
    if (text.length <= limit) return text;
    var cut = endBoundary(text, limit, 0);
    return ellipsis(text.slice(0, cut > 0 ? cut : limit));
  }

  /* Text that was cut short, with one "\u2026" unless it already ends a sentence. */
  function ellipsis(text) {
    var trimmed = text.replace(/\s+$/, "");
    return STOPS.test(trimmed) ? trimmed : trimmed + "\u2026";
  }

  /* Article text as a reader sees it: Markdown heading marks ("# ") dropped. */
  function tidy(text) {
    return String(text || "").replace(/(^|\n)[ \t]*#{1,6}[ \t]+/g, "$1");
  }

  /* The parts of [from, to) of an article, with the answer span (answer_start/answer_end,
     article offsets) inside it wrapped in `tag`: text nodes only. */
  function withSpan(text, from, to, c, tag) {
    var a = c.answer_start, b = c.answer_end;
    if (typeof a !== "number" || typeof b !== "number" || !(from <= a && a < b && b <= to)) {
      return [text];
    }
    return [text.slice(0, a - from),
            el(tag, { "class": "answer-span", text: text.slice(a - from, b - from) }),
            text.slice(b - from)];
  }

  /* A citation's quote, its answer span marked. */
  function quoteParts(c) {
    var quote = String(c.quote || "");
    return withSpan(quote, c.start, c.start + quote.length, c, "mark");
  }

  /* "Also in: Source (date), ...": the other articles that carry the same story. */
  function alsoIn(copies) {
    if (!Array.isArray(copies) || !copies.length) return null;
    var line = el("span", { "class": "also-in" }, ["Also in: "]);
    copies.filter(Boolean).forEach(function (copy, i) {
      var label = (copy.source || copy.title || copy.doc_id || "another article") +
        (copy.date ? " (" + copy.date + ")" : "");
      var url = copy.url && safeUrl(copy.url);
      if (i > 0) line.appendChild(document.createTextNode(", "));
      line.appendChild(url ? el("a", { href: url, target: "_blank", rel: "noopener noreferrer",
                                       title: copy.title || "", text: label })
        : el("span", { title: copy.title || "", text: label }));
    });
    return line;
  }

  /* "Outlet · date" under a quote: the outlet (else the article's title) and its date, and
     "photo caption" when the quote is one (a who-is answer's last resort). */
  function attribution(c) {
    var outlet = c.source || clip(String(c.title || c.doc_id || ""), 60);
    var text = [outlet, c.date, c.from_caption ? "photo caption" : ""]
      .filter(Boolean).join(" \u00b7 ");
    return text ? el("span", { "class": "attribution", text: text }) : null;
  }

  /* Citations grouped by article (doc_id), in order of first citation: [[citation, ...]]. */
  function byArticle(citations) {
    var groups = [], at = {};
    (citations || []).forEach(function (c) {
      if (!(c.doc_id in at)) { at[c.doc_id] = groups.length; groups.push([]); }
      groups[at[c.doc_id]].push(c);
    });
    return groups;
  }

  /* The other outlets of the story, once each, over all the citations of one article. */
  function copiesOf(citations) {
    var seen = {}, copies = [];
    citations.forEach(function (c) {
      (c.also_in || []).forEach(function (copy) {
        if (copy && !seen[copy.doc_id]) { seen[copy.doc_id] = true; copies.push(copy); }
      });
    });
    return copies;
  }

  /* What an abstention tells the reader, by the answer's `reason`: only the reasons that mean
     the articles lack the answer say so; a low-confidence one says no confident answer was
     found (the passages below may still hold it). */
  var ABSTENTIONS = {
    no_relevant_passage: "The articles don't say.",
    speaker_not_quoted: "The articles don't quote that person on this.",
    entity_not_found: "The articles don't mention everything your question names.",
    low_confidence: "No confident answer was found in the articles.",
    not_stated: "The articles are about this, but don't say the answer.",
    no_article_in_range: "No article is dated in the time your question names.",
  };

  function abstention(reason) {
    return ABSTENTIONS[reason] || ABSTENTIONS.low_confidence;
  }

  function parseColor(value) {
    var m = /rgba?\(([\d.]+)[, ]+([\d.]+)[, ]+([\d.]+)(?:[,/ ]+([\d.]+))?/.exec(value || "");
    if (!m || (m[4] !== undefined && parseFloat(m[4]) === 0)) return null;
    return [parseFloat(m[1]), parseFloat(m[2]), parseFloat(m[3])];
  }

  /* WCAG 2 relative luminance and contrast ratio (1 to 21). */
  function relativeLuminance(rgb) {
    var c = rgb.map(function (v) {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  }

  function contrast(a, b) {
    var x = relativeLuminance(a), y = relativeLuminance(b);
    return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05);
  }

  function rgbText(rgb) { return "rgb(" + rgb.map(Math.round).join(", ") + ")"; }

  function luminance(rgb) {
    return (0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2]) / 255;
  }

  /* "auto": the page's own background decides (a light page gets a light widget even when
     the OS is dark); a page with no background follows its color-scheme, then the OS. */
  function pageIsDark() {
    var bg = parseColor(getComputedStyle(document.body || document.documentElement)
      .backgroundColor) || parseColor(getComputedStyle(document.documentElement).backgroundColor);
    if (bg) return luminance(bg) < 0.45;
    var scheme = getComputedStyle(document.documentElement).colorScheme || "";
    if (scheme.indexOf("dark") < 0) return false;
    return scheme.indexOf("light") < 0 ||
      window.matchMedia("(prefers-color-scheme: dark)").matches;
  }

  function Widget(options) {
    this.api = (options.api || "").replace(/\/+$/, "");
    this.title = options.title || "Ask the news archive";
    this.theme = options.theme === "light" || options.theme === "dark" ? options.theme : "auto";
    this.accent = options.accent || "";
    this.position = POSITIONS.indexOf(options.position) >= 0 ? options.position : "bottom-right";
    this.placeholder = options.placeholder || "Ask a question\u2026";
    this.suggestions = (options.suggestions || []).filter(function (s) { return s; });
    this.cssHref = options.cssHref || this.api + "/widget.css";
    this.turns = this.load();
    this.busy = false;
    this.controller = null;
    this.docs = {};
    this.build(options.container || document.body);
    this.applyTheme();
    this.renderAll();
    if (options.open) this.toggle(true, false);
  }

  Widget.prototype.load = function () {
    try {
      const saved = JSON.parse(window.sessionStorage.getItem(STORAGE_KEY) || "[]");
      return Array.isArray(saved) ? saved : [];
    } catch {
      return [];
    }
  };

  Widget.prototype.save = function () {
    try {
      window.sessionStorage.setItem(STORAGE_KEY, JSON.stringify(this.turns.slice(-20)));
    } catch { /* storage full or disabled: the conversation still works */ }
  };

  Widget.prototype.build = function (container) {
    var self = this;
    var host = el("news-qa-widget", { "class": "newsqa-host" });
    if (this.accent) host.style.setProperty("--newsqa-accent", this.accent);
    container.appendChild(host);
    var root = host.attachShadow({ mode: "open" });
    root.appendChild(el("link", { rel: "stylesheet", href: this.cssHref }));
    this.frame = el("div", { "class": "root pos-" + this.position });
    this.launcher = el("button", {
      "class": "launcher", type: "button", "aria-expanded": "false",
      "aria-controls": "newsqa-panel", text: this.title,
    });
    this.launcher.addEventListener("click", function () { self.toggle(); });
    this.log = el("div", { "class": "log", role: "log", "aria-live": "polite",
                           "aria-relevant": "additions", "aria-label": "Conversation" });
    this.empty = this.buildEmpty();
    this.status = el("p", { "class": "status", role: "status", "aria-live": "polite" });
    this.panel = el("section", { "class": "panel", id: "newsqa-panel", role: "dialog",
                                 "aria-label": this.title, hidden: "" }, [
      this.buildHeader(), this.empty, this.log, this.status, this.buildComposer(),
    ]);
    this.panel.addEventListener("keydown", function (event) {
      if (event.key === "Escape") self.toggle(false);
    });
    this.frame.appendChild(this.launcher);
    this.frame.appendChild(this.panel);
    root.appendChild(this.frame);
    this.root = root;
    this.host = host;
    this.frame.style.visibility = "hidden";  // no flash of an unstyled launcher
    var css = root.querySelector("link");
    var reveal = function () {
      self.styled = true;
      self.fitColors();
      self.frame.style.visibility = "";
    };
    css.addEventListener("load", reveal);
    css.addEventListener("error", reveal);
  };

  /* The accent as text (chips, links) made readable on this theme's backgrounds: moved toward
     white on a dark theme, black on a light one, until it reaches MIN_CONTRAST on both the
     panel and a quote; and text on the accent (buttons) white or near-black, whichever reads
     better, unless the page sets --newsqa-accent-fg. */
  Widget.prototype.fitColors = function () {
    var frame = this.frame, probe = el("span");
    frame.style.removeProperty("--nq-accent-text");
    frame.style.removeProperty("--nq-accent-fg");
    frame.appendChild(probe);
    var read = function (name) {
      probe.style.color = "var(" + name + ")";
      return parseColor(getComputedStyle(probe).color);
    };
    var accent = read("--nq-accent"), bg = read("--nq-bg"), quoteBg = read("--nq-quote-bg");
    frame.removeChild(probe);
    if (!accent || !bg || !quoteBg) return;
    var toward = relativeLuminance(bg) < 0.18 ? [255, 255, 255] : [0, 0, 0];
    var text = accent;
    for (let step = 1; step <= 20 && Math.min(contrast(text, bg), contrast(text, quoteBg)) <
         MIN_CONTRAST; step++) {
      text = accent.map(function (v, i) { return v + (toward[i] - v) * step / 20; });
    }
    frame.style.setProperty("--nq-accent-text", rgbText(text));
    if (!getComputedStyle(frame).getPropertyValue("--newsqa-accent-fg").trim()) {
      frame.style.setProperty("--nq-accent-fg", contrast(accent, [255, 255, 255]) >=
                              contrast(accent, [17, 17, 17]) ? "#ffffff" : "#111111");
    }
  };

  Widget.prototype.buildHeader = function () {
    var self = this;
    var reset = el("button", { type: "button", "class": "reset", text: "New conversation" });
    reset.addEventListener("click", function () { self.reset(); });
    var close = el("button", { type: "button", "class": "close", "aria-label": "Close",
                               text: "\u00d7" });
    close.addEventListener("click", function () { self.toggle(false); });
    return el("header", {}, [el("h2", { text: this.title }), reset, close]);
  };

  Widget.prototype.buildEmpty = function () {
    var self = this;
    var box = el("div", { "class": "empty" }, [
      el("p", { text: "Ask about the news articles in this archive. Every answer is quoted " +
                      "from them, with its sources; when they don't say, you are told so." }),
    ]);
    if (this.suggestions.length) {
      const list = el("ul", { "class": "suggestions", "aria-label": "Suggested questions" });
      this.suggestions.forEach(function (text) {
        var button = el("button", { type: "button", "class": "suggestion", text: text });
        button.addEventListener("click", function () { self.ask(text); });
        list.appendChild(el("li", {}, [button]));
      });
      box.appendChild(list);
    }
    return box;
  };

  Widget.prototype.buildComposer = function () {
    var self = this;
    this.input = el("input", { type: "text", id: "newsqa-input", maxlength: "1000",
                               autocomplete: "off", placeholder: this.placeholder });
    var label = el("label", { "for": "newsqa-input", "class": "visually-hidden",
                              text: "Your question" });
    this.send = el("button", { type: "submit", "class": "send", text: "Send" });
    this.stop = el("button", { type: "button", "class": "stop", hidden: "",
                               text: "Stop" });
    this.stop.addEventListener("click", function () { self.cancel(); });
    var form = el("form", { "class": "composer" }, [label, this.input, this.send, this.stop]);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      self.ask(self.input.value);
    });
    return form;
  };

  Widget.prototype.applyTheme = function () {
    var self = this;
    var pick = function () {
      var dark = self.theme === "dark" || (self.theme === "auto" && pageIsDark());
      self.frame.setAttribute("data-theme", dark ? "dark" : "light");
      if (self.styled) self.fitColors();
    };
    pick();
    if (this.theme === "auto" && window.matchMedia) {
      const query = window.matchMedia("(prefers-color-scheme: dark)");
      if (query.addEventListener) query.addEventListener("change", pick);
    }
  };

  Widget.prototype.toggle = function (open, focus) {
    var show = open === undefined ? this.panel.hasAttribute("hidden") : open;
    if (show) this.panel.removeAttribute("hidden");
    else this.panel.setAttribute("hidden", "");
    this.frame.classList.toggle("open", show);  // (a phone's full-screen panel hides the launcher)
    this.launcher.setAttribute("aria-expanded", String(show));
    if (focus !== false) (show ? this.input : this.launcher).focus();
  };

  Widget.prototype.reset = function () {
    this.cancel();
    this.turns = [];
    this.save();
    this.log.textContent = "";
    this.empty.removeAttribute("hidden");
    this.status.textContent = "Started a new conversation.";
    this.input.focus();
  };

  Widget.prototype.renderAll = function () {
    var self = this;
    if (this.turns.length) this.empty.setAttribute("hidden", "");
    this.turns.forEach(function (turn) {
      var view = self.renderQuestion(turn);
      if (turn.result) self.renderAnswer(view, turn);
      else if (turn.error) self.renderError(view, turn.error, turn);
      else if (turn.stopped) self.renderStopped(view, turn);
    });
  };

  Widget.prototype.renderQuestion = function (turn) {
    this.empty.setAttribute("hidden", "");
    var node = el("div", { "class": "turn" });
    node.appendChild(el("p", { "class": "question", text: turn.question }));
    var answer = el("div", { "class": "answer", "aria-busy": "true" });
    var quotes = el("div", { "class": "quotes" });
    answer.appendChild(quotes);
    node.appendChild(answer);
    this.log.appendChild(node);
    var view = { turn: node, answer: answer, quotes: quotes, shown: {} };
    this.scrollTo(view);
    return view;
  };

  /* Show the turn from its top when it is taller than the log, else all of it. */
  Widget.prototype.scrollTo = function (view) {
    var top = view.turn.offsetTop - 8;
    this.log.scrollTop = Math.min(top, this.log.scrollHeight - this.log.clientHeight);
  };

  Widget.prototype.doc = function (docId) {
    if (!this.docs[docId]) {
      this.docs[docId] = fetch(this.api + "/documents/" + encodeURIComponent(docId))
        .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); });
      const self = this;
      this.docs[docId].catch(function () { delete self.docs[docId]; });
    }
    return this.docs[docId];
  };

  Widget.prototype.renderQuote = function (view, citation) {
    if (view.shown[citation.n]) return;
    view.shown[citation.n] = true;
    var self = this;
    var id = "newsqa-preview-" + (++uid);
    var chip = el("button", { type: "button", "class": "chip", "aria-expanded": "false",
                              "aria-describedby": id,
                              "aria-label": "Show source " + citation.n + " in context",
                              text: "[" + citation.n + "]" });
    var meta = el("span", { "class": "meta", text: citation.date || "" });
    var preview = el("span", { "class": "preview", role: "tooltip", id: id, hidden: "" }, [
      el("strong", { text: citation.title || citation.doc_id }), meta,
      el("span", { "class": "sentence" }, quoteParts(citation)),
    ]);
    var show = function () {
      preview.classList.remove("above");
      preview.removeAttribute("hidden");
      var room = self.log.getBoundingClientRect(), box = preview.getBoundingClientRect();
      if (box.bottom > room.bottom && chip.getBoundingClientRect().top - room.top > box.height) {
        preview.classList.add("above");  // no room below the quote: open upwards
      }
      self.doc(citation.doc_id).then(function (doc) {
        meta.textContent = [doc.source, doc.date].filter(Boolean).join(" \u00b7 ");
      }).catch(function () { /* the preview keeps its title and sentence */ });
    };
    var hide = function () { preview.setAttribute("hidden", ""); };
    // A preview dismissed with Escape stays dismissed until the pointer or the focus leaves
    // the chip (WCAG 1.4.13): a layout shift under a resting pointer must not reopen it.
    var dismissed = false;
    var showUnlessDismissed = function () { if (!dismissed) show(); };
    var leave = function () { dismissed = false; hide(); };
    chip.addEventListener("mouseenter", showUnlessDismissed);
    chip.addEventListener("focus", showUnlessDismissed);
    chip.addEventListener("mouseleave", leave);
    chip.addEventListener("blur", leave);
    chip.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && !preview.hasAttribute("hidden")) {
        event.stopPropagation();
        dismissed = true;
        hide();
      }
    });
    chip.addEventListener("click", function () { self.showSource(view, citation, chip); });
    view.quotes.appendChild(el("blockquote", { "class": "quote" },
                               quoteParts(citation).concat([" ", chip, preview,
                                                            attribution(citation)])));
  };

  Widget.prototype.renderAnswer = function (view, turn) {
    var self = this, result = turn.result;
    view.answer.removeAttribute("aria-busy");
    var asked = turn.question.trim().toLowerCase();
    if (result.resolved_question && result.resolved_question.trim().toLowerCase() !== asked) {
      view.turn.insertBefore(el("p", { "class": "resolved" }, [
        "Interpreted as: ", el("q", { text: result.resolved_question })]), view.answer);
    }
    var tf = result.time_filter;  // the question's time phrase and the dates it stands for
    if (tf) {
      view.turn.insertBefore(el("p", { "class": "resolved time", text: "Time: \u201c" + tf.phrase +
        "\u201d" + (tf.from || tf.to ? " = " + (tf.from || "any date") + " to " +
        (tf.to || "any date") : "") + (tf.latest ? ", newest first" : "") +
        (tf.note ? " (" + tf.note + ")" : "") }), view.answer);
    }
    if (result.abstained) {
      view.answer.appendChild(el("p", { "class": "abstain", "data-reason": result.reason || "",
                                        text: abstention(result.reason) }));
      const closest = result.closest || [];  // from before the question's dates: not the answer
      if (closest.length) {
        view.answer.appendChild(el("p", { "class": "hint closest-label",
          text: "Closest, before the dates you asked about (not an answer):" }));
        const before = el("ul", { "class": "cards closest", "aria-label": "Closest, before the range" });
        closest.forEach(function (c) { before.appendChild(self.closestCard(c)); });
        view.answer.appendChild(before);
      }
      const passages = (result.passages || []).slice(0, 3);
      if (passages.length) {
        view.answer.appendChild(el("p", { "class": "hint", text: result.reason === "low_confidence"
          ? "The closest passages, which may hold the answer:" : "Closest passages:" }));
        const cards = el("ul", { "class": "cards passages", "aria-label": "Closest passages" });
        passages.forEach(function (p) { cards.appendChild(self.passageCard(p)); });
        view.answer.appendChild(cards);
      }
    } else {
      (result.citations || []).forEach(function (c) { self.renderQuote(view, c); });
      const sources = el("ul", { "class": "cards sources", "aria-label": "Sources" });
      byArticle(result.citations).forEach(function (group) {
        sources.appendChild(self.sourceCard(group));
      });
      view.answer.appendChild(sources);
    }
    view.answer.appendChild(this.actions(turn));
    this.scrollTo(view);
  };

  /* A card: the title (linked when the article has a safe URL), source and date, and text. */
  Widget.prototype.card = function (tag, attrs, info, text) {
    var title = el("span", { "class": "title", text: info.title || info.doc_id });
    var meta = el("span", { "class": "meta", text: info.date || "" });
    var item = el(tag, attrs, [title, meta, text ? el("span", { "class": "excerpt-text",
                                                                  text: text }) : null]);
    var fill = function (doc) {
      var url = doc.url && safeUrl(doc.url);
      var heading = url ? el("a", { "class": "title", href: url, target: "_blank",
                                    rel: "noopener noreferrer", text: doc.title })
        : el("span", { "class": "title", text: doc.title });
      item.replaceChild(heading, title);
      title = heading;
      meta.textContent = [doc.source, doc.date].filter(Boolean).join(" \u00b7 ");
      return heading;
    };
    fill({ title: info.title || info.doc_id, url: info.url, date: info.date });
    this.doc(info.doc_id).then(fill).catch(function () { /* keeps what the answer said */ });
    return item;
  };

  /* One card per article: the [n] of every quote from it, its title, outlet and date, and
     the other outlets that carry the story. */
  Widget.prototype.sourceCard = function (citations) {
    var refs = citations.map(function (c) { return "[" + c.n + "]"; }).join(" ");
    var item = this.card("li", { "class": "card", "data-doc": citations[0].doc_id },
                         citations[0], "");
    item.insertBefore(el("span", { "class": "refs", text: refs + " " }), item.firstChild);
    var copies = alsoIn(copiesOf(citations));
    if (copies) item.appendChild(copies);
    return item;
  };

  /* A closest item (no article in the question's dates): its quote, title and date, labelled
     by the list it is in; never drawn as a quote of the answer. */
  Widget.prototype.closestCard = function (c) {
    return this.card("li", { "class": "card closest", "data-doc": c.doc_id }, c,
                     clip(tidy(c.quote), CARD_CHARS));
  };

  Widget.prototype.passageCard = function (p) {
    var item = this.card("li", { "class": "card" }, { doc_id: p.doc_id },
                         clip(tidy(p.text.slice(startBoundary(p.text, 0, 160))), CARD_CHARS));
    var text = item.querySelector(".excerpt-text");
    this.doc(p.doc_id).then(function (doc) {  // the article says where a word starts
      var from = startBoundary(doc.text, p.start, Math.min(p.end, p.start + 160));
      var body = tidy(doc.text.slice(from, p.end)).trim();
      var lead = from > 0 ? "\u2026" : "";
      if (doc.title && body.indexOf(doc.title) === 0) {  // the article's heading: the card's
        body = body.slice(doc.title.length).trim();       // title shows it already
        lead = "";
      }
      text.textContent = lead + clip(body, CARD_CHARS);
    }).catch(function () { /* the passage text alone */ });
    return item;
  };

  Widget.prototype.actions = function (turn) {
    var self = this;
    var bar = el("div", { "class": "actions" });
    var status = el("span", { "class": "action-status", role: "status" });
    if (!turn.result.abstained) {
      const copy = el("button", { type: "button", "class": "copy", text: "Copy answer" });
      copy.addEventListener("click", function () { self.copy(turn, status); });
      bar.appendChild(copy);
    }
    ["up", "down"].forEach(function (rating) {
      var button = el("button", {
        type: "button", "class": "rate rate-" + rating,
        "aria-pressed": String(turn.rating === rating),
        "aria-label": rating === "up" ? "Helpful answer" : "Unhelpful answer",
        title: rating === "up" ? "Helpful" : "Not helpful" }, [thumb()]);
      button.addEventListener("click", function () { self.rate(turn, rating, bar, status); });
      bar.appendChild(button);
    });
    bar.appendChild(status);
    return bar;
  };

  Widget.prototype.answerText = function (result) {
    var lines = [result.answer || ""];
    byArticle(result.citations).forEach(function (group, i) {  // one line per article
      var c = group[0];
      if (i === 0) lines.push("", "Sources:");
      lines.push(group.map(function (g) { return "[" + g.n + "]"; }).join(" ") + " " + c.title +
                 (c.source ? ", " + c.source : "") + (c.url ? " " + c.url : "") +
                 (c.date ? " (" + c.date + ")" : ""));
    });
    return lines.join("\n");
  };

  Widget.prototype.copy = function (turn, status) {
    var text = this.answerText(turn.result);
    var done = function () { status.textContent = "Copied."; };
    var fail = function () { status.textContent = "Could not copy: select the text instead."; };
    if (navigator.clipboard?.writeText) {
      navigator.clipboard.writeText(text).then(done, fail);
    } else {
      fail();
    }
  };

  Widget.prototype.rate = function (turn, rating, bar, status) {
    var self = this;
    status.textContent = "Sending\u2026";
    fetch(this.api + "/feedback", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ question: turn.question, rating: rating,
                             answer: turn.result?.answer || "" }),
    }).then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status);
      turn.rating = rating;
      self.save();
      Array.prototype.forEach.call(bar.querySelectorAll(".rate"), function (b) {
        b.setAttribute("aria-pressed", String(b.classList.contains("rate-" + rating)));
      });
      status.textContent = "Thanks for the feedback.";
    }).catch(function () { status.textContent = "Could not send the feedback."; });
  };

  Widget.prototype.renderError = function (view, message, turn) {
    view.answer.removeAttribute("aria-busy");
    view.answer.appendChild(el("p", { "class": "error", role: "alert", text: message }));
    view.answer.appendChild(this.retryBar(turn));
    this.scrollTo(view);
  };

  Widget.prototype.renderStopped = function (view, turn) {
    view.answer.removeAttribute("aria-busy");
    view.answer.appendChild(el("p", { "class": "stopped", text: "Stopped." }));
    view.answer.appendChild(this.retryBar(turn));
    this.scrollTo(view);
  };

  /* "Ask again" and "Edit question" under a stopped or failed turn. */
  Widget.prototype.retryBar = function (turn) {
    var self = this;
    var again = el("button", { type: "button", "class": "retry", text: "Ask again" });
    again.addEventListener("click", function () { self.ask(turn.question); });
    var edit = el("button", { type: "button", "class": "edit", text: "Edit question" });
    edit.addEventListener("click", function () {
      self.input.value = turn.question;
      self.input.focus();
      self.input.select();
    });
    return el("div", { "class": "retry-bar" }, [again, edit]);
  };

  Widget.prototype.showSource = function (view, citation, chip) {
    var self = this;
    var existing = view.turn.querySelector(".excerpt[data-n='" + citation.n + "']");
    if (existing) { existing.remove(); chip.setAttribute("aria-expanded", "false"); return; }
    this.doc(citation.doc_id).then(function (doc) {
      var text = doc.text;
      var start = startBoundary(text, Math.max(0, citation.start - EXCERPT_CONTEXT),
                                citation.start);
      var end = endBoundary(text, Math.min(text.length, citation.end + EXCERPT_CONTEXT),
                            citation.end);
      var box = el("figure", { "class": "excerpt", "data-n": String(citation.n),
                               tabindex: "-1" }, [
        el("figcaption", { text: "[" + citation.n + "] " + doc.title }),
        el("p", {}, [
          (start > 0 ? "\u2026" : "") + tidy(text.slice(start, citation.start)),
          el("mark", {}, withSpan(text.slice(citation.start, citation.end), citation.start,
                                  citation.end, citation, "strong")),
          end < text.length ? ellipsis(tidy(text.slice(citation.end, end)))
            : tidy(text.slice(citation.end, end)),
        ]),
      ]);
      box.addEventListener("keydown", function (event) {  // Escape closes this excerpt only
        if (event.key !== "Escape") return;
        event.stopPropagation();
        box.remove();
        chip.setAttribute("aria-expanded", "false");
        chip.focus();
      });
      view.answer.appendChild(box);
      chip.setAttribute("aria-expanded", "true");
      box.focus();
    }).catch(function () { self.status.textContent = "Could not load the source."; });
  };

  Widget.prototype.history = function () {
    return this.turns.filter(function (t) { return t.result && !t.error; })
      .slice(-MAX_HISTORY)
      .map(function (t) { return { question: t.question, answer: t.result.answer || "" }; });
  };

  Widget.prototype.setBusy = function (busy) {
    this.busy = busy;
    this.send.disabled = busy;
    if (busy) { this.send.setAttribute("hidden", ""); this.stop.removeAttribute("hidden"); }
    else { this.stop.setAttribute("hidden", ""); this.send.removeAttribute("hidden"); }
  };

  Widget.prototype.cancel = function () {
    if (this.controller) this.controller.abort();
  };

  Widget.prototype.ask = function (text) {
    var question = (text || "").trim();
    if (!question || this.busy) return;
    var self = this;
    var turn = { question: question };
    var body = JSON.stringify({ question: question, history: this.history() });
    var controller = window.AbortController ? new AbortController() : null;
    this.controller = controller;
    this.turns.push(turn);
    this.input.value = "";
    this.setBusy(true);
    this.status.textContent = "Searching the articles\u2026";
    var view = this.renderQuestion(turn);
    fetch(this.api + "/ask/stream", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: body,
      signal: controller ? controller.signal : undefined,
    }).then(function (response) {
      if (!response.ok) {
        return response.json().catch(function () { return {}; }).then(function (data) {
          throw new Error(self.describe(response.status, data));
        });
      }
      return self.readStream(response, view, turn);
    }).catch(function (error) {
      if (error && error.name === "AbortError") {
        turn.stopped = true;
        self.renderStopped(view, turn);
        return;
      }
      return self.explain(error).then(function (message) {
        turn.error = message;
        self.renderError(view, message, turn);
      });
    }).then(function () {
      self.controller = null;
      self.setBusy(false);
      self.status.textContent = "";
      self.save();
      self.input.focus();
    });
  };

  /* A failed fetch says nothing about why. When the service is on another origin and still
     answers a no-cors probe, the reason is CORS: this page's origin is not allowed. */
  Widget.prototype.explain = function (error) {
    var network = !error?.message || error instanceof TypeError;
    if (!network) return Promise.resolve(error.message);
    var unreachable = "The service is not reachable. Please try again.";
    var api = this.api || window.location.origin;
    if (originOf(api) === window.location.origin) return Promise.resolve(unreachable);
    return fetch(api + "/health", { mode: "no-cors", cache: "no-store" }).then(function () {
      return "The service is up but does not accept questions from this site (" +
        window.location.origin + "): its address must be added to the service's " +
        "allowed origins (RAG_CORS_ORIGINS).";
    }, function () { return unreachable; });
  };

  Widget.prototype.describe = function (status, data) {
    if (status === 429) return "Too many questions at once. Please wait a moment and retry.";
    var detail = data?.error?.message;
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
      if (name === "retrieval") {
        const n = (payload.passages || payload || []).length;
        self.status.textContent = "Reading " + n + " passage" + (n === 1 ? "" : "s") + "\u2026";
      } else if (name === "quote") {
        self.renderQuote(view, payload);
        self.scrollTo(view);
      } else if (name === "done") {
        turn.result = payload;
        self.renderAnswer(view, turn);
      } else if (name === "error") {
        throw new Error("Sorry: " + payload.message);
      }
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
    version: "0.3.0",
    mount: function (options) { return new Widget(options || {}); },
  };

  if (script?.src) {
    const attr = function (name) { return script.getAttribute("data-" + name); };
    const scriptUrl = script.src || window.location.href;
    const start = function () {
      window.NewsQAWidget.instance = window.NewsQAWidget.mount({
        api: attr("api") || originOf(scriptUrl),
        cssHref: new URL("widget.css", scriptUrl).href,
        title: attr("title") || undefined,
        theme: attr("theme") || undefined,
        accent: attr("accent") || undefined,
        position: attr("position") || undefined,
        placeholder: attr("placeholder") || undefined,
        suggestions: (attr("suggestions") || "").split("|").map(function (s) { return s.trim(); }),
        open: attr("open") === "true" || attr("open") === "",
      });
    };
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
    else start();
  }
})();
