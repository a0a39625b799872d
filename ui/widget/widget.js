/*! KI-Lernbegleiter chat widget — plain JS, no build step, no dependencies. Apache-2.0.
 *
 * Embed:  <script src="https://HOST/widget.js" data-title="KI-Lernbegleiter" defer></script>
 * Options (data-*): role, title, accent, position (right|left), lang (de|en), api (base URL),
 *   offset (px above the bottom edge), avoid (CSS selector of host elements the button must not cover).
 * Contract: docs/api.md. Everything lives in one Shadow DOM; the only global is window.KILernbegleiter.
 *
 * Safety rule: text from the server (answers, passages, titles, error messages) only ever reaches
 * the DOM as text nodes (textContent / Node.append(string)). This file never uses innerHTML.
 */
(function () {
  "use strict";

  if (window.KILernbegleiter) return; // included twice: keep the first instance

  var VERSION = "1.0.0";
  var STORE_KEY = "ki-lernbegleiter"; // sessionStorage: {sid, role} — nothing else, no cookies
  var MAX_QUESTION = 2000;
  var IDLE_TIMEOUT_MS = 60000; // no byte for this long → give up (the server pings every 15 s)
  var ROLES = ["owner", "employee", "works_council", "consultant"];

  var STRINGS = {
    de: {
      launcher: "Fragen zu KI?",
      open: "{title} öffnen",
      close: "Chat schließen",
      clear: "Verlauf löschen",
      clearLabel: "Verlauf löschen: alle Fragen, Antworten und Rückmeldungen dieser Unterhaltung",
      clearConfirm: "Wirklich löschen?",
      clearYes: "Löschen",
      clearNo: "Abbrechen",
      roleHeading: "Wer fragt?",
      roleIntro: "Wählen Sie Ihre Rolle – die Antworten werden darauf zugeschnitten.",
      roleNames: { owner: "Geschäftsführung", employee: "Beschäftigte", works_council: "Betriebsrat", consultant: "Beratung" },
      roleHints: {
        owner: "Inhaber, Chefin, Betriebsleitung",
        employee: "Mitarbeitende, Auszubildende",
        works_council: "Mitbestimmung, Interessenvertretung",
        consultant: "Kammer, Verband, Unternehmensberatung"
      },
      roleCurrent: "Sie fragen als: {role}",
      roleNone: "Sie fragen ohne Rolle",
      roleChange: "Rolle ändern",
      learn: "Jetzt lernen",
      learnLabel: "Jetzt lernen: Lernpfad für Ihre Rolle öffnen (neues Fenster)",
      dataSheet: "Was wird gespeichert?",
      roleChosen: "Rolle gewählt: {role}.",
      welcome: "Hallo! Ich beantworte Fragen zu KI im Betrieb – aus den Kursunterlagen und mit Quellenangaben. Ich bin ein Lernangebot, keine Rechtsberatung. Bitte geben Sie keine Namen oder Gesundheitsdaten ein.",
      inputLabel: "Ihre Frage",
      placeholder: "Ihre Frage zu KI im Betrieb …",
      send: "Senden",
      sendLabel: "Frage senden",
      keyHint: "Enter: senden · Umschalt+Enter: neue Zeile",
      tooLong: "Die Frage ist zu lang (höchstens {max} Zeichen).",
      busy: "Bitte warten Sie, bis die Antwort fertig ist.",
      you: "Sie",
      bot: "Lernbegleiter",
      thinking: "Antwort wird erstellt …",
      sources: "Quellen",
      sourceShow: "Quelle {n}: {label} – Textstelle anzeigen",
      citeLabel: "Quelle {n} anzeigen",
      page: "S. {p}",
      stand: "Stand: {d}",
      file: "Datei: {f}",
      passageMissing: "Der Wortlaut der Textstelle wird nur direkt nach der Antwort angezeigt.",
      followups: "Weiterfragen",
      incomplete: "(Antwort unvollständig)",
      fbQuestion: "War die Antwort hilfreich?",
      fbUp: "Ja, hilfreich",
      fbDown: "Nein, nicht hilfreich",
      fbRemark: "Anmerkung (freiwillig)",
      fbWrong: "Quelle [{n}] passt nicht",
      fbWrongLegend: "Passende Quellen?",
      fbSend: "Rückmeldung senden",
      fbCancel: "Abbrechen",
      fbThanks: "Danke für Ihre Rückmeldung!",
      fbStored: "Rückmeldung gespeichert.",
      fbError: "Die Rückmeldung konnte nicht gespeichert werden.",
      privacy: "Datenschutz: Gespeichert werden Fragen, Antworten und Rückmeldungen unter einer zufälligen Sitzungs-ID. Keine IP-Adresse, keine Cookies. {retention}",
      retentionDays: "Automatische Löschung nach {n} Tagen ohne Nutzung.",
      retentionUnknown: "Automatische Löschung nach Ablauf der Aufbewahrungsfrist.",
      cleared: "Der Verlauf wurde gelöscht.",
      clearError: "Der Verlauf konnte nicht gelöscht werden.",
      retry: "Erneut versuchen",
      errNetwork: "Der Lernbegleiter ist gerade nicht erreichbar. Bitte prüfen Sie die Verbindung und versuchen Sie es erneut.",
      errCut: "Die Verbindung wurde unterbrochen, bevor die Antwort fertig war.",
      errTimeout: "Der Lernbegleiter antwortet nicht. Bitte versuchen Sie es erneut.",
      errRate: "Zu viele Fragen in kurzer Zeit. Bitte warten Sie einen Moment und versuchen Sie es dann erneut.",
      errServer: "Auf dem Server ist ein Fehler aufgetreten (Status {status}). Bitte versuchen Sie es gleich noch einmal.",
      errRejected: "Die Frage wurde nicht angenommen (Status {status}).",
      errBadResponse: "Der Server hat unerwartet geantwortet.",
      restoreError: "Der bisherige Verlauf konnte nicht geladen werden.",
      logLabel: "{title} – Unterhaltung",
      persp: "Aus allen Blickwinkeln",
      perspLabel: "Aus allen Blickwinkeln: dieselbe Frage aus Sicht von Geschäftsführung, Betriebsrat und Beschäftigten",
      perspTabs: "Antworten nach Rolle",
      perspLoading: "Antworten aus drei Blickwinkeln werden erstellt …",
      perspReady: "Drei Antworten bereit. Mit den Pfeiltasten wechseln Sie zwischen den Rollen.",
      perspError: "Die Blickwinkel konnten nicht geladen werden.",
      perspEmpty: "Für diese Rolle liegt keine Antwort vor."
    },
    en: {
      launcher: "Questions about AI?",
      open: "Open {title}",
      close: "Close chat",
      clear: "Delete history",
      clearLabel: "Delete history: all questions, answers and feedback of this conversation",
      clearConfirm: "Really delete?",
      clearYes: "Delete",
      clearNo: "Cancel",
      roleHeading: "Who is asking?",
      roleIntro: "Choose your role – answers are tailored to it. (Answers are in German.)",
      roleNames: { owner: "Management", employee: "Employees", works_council: "Works council", consultant: "Consultancy" },
      roleHints: {
        owner: "Owner, managing director",
        employee: "Staff, apprentices",
        works_council: "Co-determination, employee representation",
        consultant: "Chamber, association, consultancy"
      },
      roleCurrent: "Asking as: {role}",
      roleNone: "Asking without a role",
      roleChange: "Change role",
      learn: "Start learning",
      learnLabel: "Start learning: open the learning path for your role (new window, in German)",
      dataSheet: "What is stored?",
      roleChosen: "Role selected: {role}.",
      welcome: "Hello! I answer questions about AI at work – from the course material, with sources. Answers are in German. This is a learning aid, not legal advice. Please do not enter names or health data.",
      inputLabel: "Your question",
      placeholder: "Your question about AI at work …",
      send: "Send",
      sendLabel: "Send question",
      keyHint: "Enter sends · Shift+Enter: new line",
      tooLong: "The question is too long (at most {max} characters).",
      busy: "Please wait until the answer is complete.",
      you: "You",
      bot: "Tutor",
      thinking: "Writing the answer …",
      sources: "Sources",
      sourceShow: "Source {n}: {label} – show passage",
      citeLabel: "Show source {n}",
      page: "p. {p}",
      stand: "as of {d}",
      file: "File: {f}",
      passageMissing: "The passage text is only shown right after the answer.",
      followups: "Ask next",
      incomplete: "(answer incomplete)",
      fbQuestion: "Was this answer helpful?",
      fbUp: "Yes, helpful",
      fbDown: "No, not helpful",
      fbRemark: "Remark (optional)",
      fbWrong: "Source [{n}] does not fit",
      fbWrongLegend: "Do the sources fit?",
      fbSend: "Send feedback",
      fbCancel: "Cancel",
      fbThanks: "Thank you for your feedback!",
      fbStored: "Feedback stored.",
      fbError: "The feedback could not be stored.",
      privacy: "Privacy: questions, answers and feedback are stored under a random session id. No IP address, no cookies. {retention}",
      retentionDays: "Erased automatically after {n} days without use.",
      retentionUnknown: "Erased automatically after the retention period.",
      cleared: "The history has been deleted.",
      clearError: "The history could not be deleted.",
      retry: "Try again",
      errNetwork: "The tutor cannot be reached right now. Please check the connection and try again.",
      errCut: "The connection was interrupted before the answer was complete.",
      errTimeout: "The tutor does not respond. Please try again.",
      errRate: "Too many questions in a short time. Please wait a moment and try again.",
      errServer: "A server error occurred (status {status}). Please try again shortly.",
      errRejected: "The question was not accepted (status {status}).",
      errBadResponse: "The server answered unexpectedly.",
      restoreError: "The previous history could not be loaded.",
      logLabel: "{title} – conversation",
      persp: "From every angle",
      perspLabel: "From every angle: the same question from the view of management, works council and employees",
      perspTabs: "Answers by role",
      perspLoading: "Writing answers from three angles …",
      perspReady: "Three answers ready. Use the arrow keys to switch between the roles.",
      perspError: "The answers from every angle could not be loaded.",
      perspEmpty: "There is no answer for this role."
    }
  };

  // ---------------------------------------------------------------- configuration from the tag
  var script = document.currentScript || (function () {
    var all = document.querySelectorAll("script[src]");
    for (var i = all.length - 1; i >= 0; i--) if (/widget\.js(\?|#|$)/.test(all[i].src)) return all[i];
    return null;
  })();
  if (!script) return;
  var ds = script.dataset || {};
  var scriptUrl = new URL(script.src, location.href);
  var API = (ds.api || scriptUrl.origin).replace(/\/+$/, "");
  var CSS_URL = new URL(/\/widget\/[^/]*$/.test(scriptUrl.pathname) ? "widget.css" : "widget/widget.css", scriptUrl).href;
  var LANG = ds.lang && STRINGS[ds.lang.toLowerCase()] ? ds.lang.toLowerCase() : "de";
  var S = STRINGS[LANG];
  var TITLE = (ds.title || "KI-Lernbegleiter").slice(0, 80);
  var POSITION = ds.position === "left" ? "left" : "right";
  var DEFAULT_ROLE = ROLES.indexOf(ds.role) >= 0 ? ds.role : null;
  var OFFSET = Math.max(0, Math.min(400, parseInt(ds.offset, 10) || 0)); // px above the bottom edge
  var AVOID = (ds.avoid || "").slice(0, 300); // selector of host elements the button must not cover

  function t(key, vars) {
    var s = S[key];
    if (vars) for (var k in vars) s = s.split("{" + k + "}").join(String(vars[k]));
    return s;
  }

  // ---------------------------------------------------------------- storage (one key)
  function loadStore() {
    try { return JSON.parse(window.sessionStorage.getItem(STORE_KEY) || "{}") || {}; } catch (e) { return {}; }
  }
  function saveStore() {
    try {
      if (!state.sid && !state.roleChosen) window.sessionStorage.removeItem(STORE_KEY);
      else window.sessionStorage.setItem(STORE_KEY, JSON.stringify({ sid: state.sid || null, role: state.roleChosen ? state.role : null }));
    } catch (e) { /* storage blocked: the widget still works for this page view */ }
  }

  var stored = loadStore();
  var state = {
    sid: typeof stored.sid === "string" ? stored.sid : null,
    role: ROLES.indexOf(stored.role) >= 0 ? stored.role : DEFAULT_ROLE,
    roleChosen: ROLES.indexOf(stored.role) >= 0,
    retention: null,
    open: false,
    started: false, // first open done (health + restore)
    busy: false,
    controller: null,
    uid: 0
  };

  // ---------------------------------------------------------------- DOM helpers (no innerHTML)
  function h(tag, props, kids) {
    var el = document.createElement(tag);
    if (props) {
      for (var k in props) {
        var v = props[k];
        if (v == null || v === false) continue;
        if (k === "class") el.className = v;
        else if (k === "text") el.textContent = v;
        else if (k.slice(0, 2) === "on") el.addEventListener(k.slice(2), v);
        else el.setAttribute(k, v === true ? "" : String(v));
      }
    }
    if (kids) for (var i = 0; i < kids.length; i++) if (kids[i] != null && kids[i] !== false) el.append(kids[i]);
    return el;
  }
  var ICONS = {
    chat: "M4 5h16v11H9l-5 4z M8 9.5h8 M8 12.5h5",
    close: "M6 6l12 12M18 6L6 18",
    trash: "M4 7h16M10 11v6M14 11v6M6 7l1 13h10l1-13M9 7V4h6v3",
    send: "M4 12l16-8-6 16-2.5-6.5z M11.5 13.5L20 4",
    chevron: "M8 10l4 4 4-4",
    retry: "M19 12a7 7 0 1 1-2-4.9M19 4v4h-4",
    thumb: "M7 11v9H4v-9zM7 11l4-7c1.4 0 2.4 1.1 2.1 2.6L12.6 10H19a2 2 0 0 1 2 2.3l-1.2 6A2 2 0 0 1 17.8 20H7",
    views: "M4 5h4.5v14H4z M9.75 5h4.5v14h-4.5z M15.5 5H20v14h-4.5z"
  };
  function icon(name, flip) {
    var NS = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(NS, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    svg.setAttribute("class", "lb-icon");
    var p = document.createElementNS(NS, "path");
    p.setAttribute("d", ICONS[name]);
    if (flip) p.setAttribute("transform", "rotate(180 12 12)");
    svg.appendChild(p);
    return svg;
  }
  function uid(prefix) { state.uid += 1; return "lb-" + prefix + "-" + state.uid; }
  var reducedMotion = window.matchMedia ? window.matchMedia("(prefers-reduced-motion: reduce)") : { matches: false };
  var smallScreen = window.matchMedia ? window.matchMedia("(max-width: 520px)") : { matches: false };

  // Tiny, safe Markdown subset: paragraphs, line breaks, "- "/"1. " lists, tables, **bold**, *italic*,
  // `code`, [text](link) and [n] citations. Every piece of server text becomes a text node; the only
  // elements are the ones created here. A link becomes <a> only for http(s) or a path on the app's own
  // server (e.g. a course unit); anything else (javascript:, data:, mailto: ...) stays plain text.
  var INLINE = /\*\*([^*\n]+?)\*\*|`([^`\n]+)`|\[([^\]\n]{1,300})\]\(([^()\s]{1,500})\)|\[(\d{1,2})\]|(^|[\s(])\*([^*\s](?:[^*\n]*[^*\s])?)\*(?![*\w])/g;
  function safeHref(href) {
    if (!/^(https?:\/\/|\/(?!\/))/i.test(href)) return null;
    try {
      var u = new URL(href, API + "/");
      return u.protocol === "http:" || u.protocol === "https:" ? u.href : null;
    } catch (e) { return null; }
  }
  function inline(parent, text, cite, noLinks) {
    var re = new RegExp(INLINE.source, "g"), last = 0, m; // own regex: inline() recurses for **bold**
    while ((m = re.exec(text))) {
      if (m.index > last) parent.append(text.slice(last, m.index));
      if (m[1] != null) { var b = h("strong"); inline(b, m[1], cite, noLinks); parent.append(b); }
      else if (m[2] != null) parent.append(h("code", { text: m[2] }));
      else if (m[3] != null) {
        var href = noLinks ? null : safeHref(m[4]);
        if (href) { var a = h("a", { href: href, class: "lb-a", target: "_blank", rel: "noopener noreferrer" }); inline(a, m[3], null, true); parent.append(a); }
        else inline(parent, m[3], cite, noLinks); // the link text only, the address is dropped
      }
      else if (m[5] != null) { if (cite) parent.append(cite(Number(m[5]))); else parent.append(m[0]); }
      else if (m[7] != null) { var em = h("em"); inline(em, m[7], cite, noLinks); parent.append(m[6], em); }
      last = re.lastIndex;
    }
    if (last < text.length) parent.append(text.slice(last));
  }
  var TABLE_SEP = /^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$/;
  function cells(line) {
    return line.trim().replace(/^\|/, "").replace(/\|$/, "").split("|").map(function (c) { return c.trim(); });
  }
  function table(container, rows, cite) {
    var head = cells(rows[0]), body = rows.slice(2);
    var tr = h("tr");
    head.forEach(function (c) { var th = h("th", { scope: "col" }); inline(th, c, cite); tr.append(th); });
    var tbody = h("tbody");
    body.forEach(function (r) {
      var row = h("tr"), cs = cells(r);
      for (var i = 0; i < head.length; i++) { var td = h("td"); inline(td, cs[i] || "", cite); row.append(td); }
      tbody.append(row);
    });
    container.append(h("div", { class: "lb-tablewrap" }, [h("table", { class: "lb-table" }, [h("thead", null, [tr]), tbody])]));
  }
  var BULLET = /^\s*(?:[-*•]|(\d{1,3})[.)])\s+/;
  function renderRich(container, text, cite) {
    container.textContent = "";
    var blocks = String(text).replace(/\r\n?/g, "\n").split(/\n[ \t]*\n/);
    for (var i = 0; i < blocks.length; i++) {
      var block = blocks[i].replace(/^\n+|\n+$/g, "");
      if (!block.trim()) continue;
      var lines = block.split("\n");
      for (var j = 0; j < lines.length; j++) { // a Markdown table: header row, separator row, body rows
        if (/^\s*\|/.test(lines[j]) && j + 1 < lines.length && TABLE_SEP.test(lines[j + 1]) && lines[j + 1].indexOf("-") >= 0) {
          var k = j + 2;
          while (k < lines.length && /^\s*\|/.test(lines[k])) k++;
          var before = lines.slice(0, j).join("\n"), after = lines.slice(k).join("\n");
          if (before.trim()) renderBlock(container, before, cite);
          table(container, lines.slice(j, k), cite);
          if (after.trim()) blocks.splice(i + 1, 0, after);
          lines = null;
          break;
        }
      }
      if (lines) renderBlock(container, block, cite);
    }
  }
  function renderBlock(container, block, cite) {
    var p = null, list = null;
    block.split("\n").forEach(function (l) {
        if (!l.trim()) return;
        var bullet = BULLET.exec(l);
        if (bullet) { // a run of "- item" / "1. item" lines
          if (!list) {
            list = h(bullet[1] ? "ol" : "ul"); container.append(list); p = null;
            if (bullet[1] && Number(bullet[1]) > 1) list.setAttribute("start", bullet[1]);
          }
          var li = h("li"); inline(li, l.replace(BULLET, ""), cite); list.append(li);
          return;
        }
        list = null;
        if (p) p.append(h("br")); else { p = h("p"); container.append(p); }
        var heading = /^#{1,6}\s+(.*)$/.exec(l);
        var lead = /^((?:Für Sie als [^:\n]{2,40}|Nächste Schritte|Wichtig|Hinweis):)(.*)$/.exec(l);
        if (heading) { var s = h("strong"); inline(s, heading[1], cite); p.append(s); }
        else if (lead) { p.append(h("strong", { text: lead[1] })); inline(p, lead[2], cite); }
        else inline(p, l, cite);
      });
  }

  // ---------------------------------------------------------------- build the widget
  var host = document.createElement("ki-lernbegleiter");
  host.style.cssText = "all: initial; display: none;"; // CSSOM, not a style attribute: fine under a strict CSP
  var root = host.attachShadow({ mode: "open" });
  var css = h("link", { rel: "stylesheet", href: CSS_URL });
  css.addEventListener("load", function () { host.style.display = "block"; });
  css.addEventListener("error", function () { host.style.display = "block"; wrap.classList.add("lb-nocss"); });
  root.append(css);

  var accent = ds.accent && window.CSS && CSS.supports("color", ds.accent) ? ds.accent : null;
  if (accent) {
    host.style.setProperty("--lb-accent-in", accent);
    host.style.setProperty("--lb-on-accent-in", readableOn(accent));
  }
  function readableOn(color) {
    try {
      var c = document.createElement("canvas").getContext("2d");
      c.fillStyle = "#000"; c.fillStyle = color;
      var v = c.fillStyle, r, g, b, m;
      if (v.charAt(0) === "#") { r = parseInt(v.substr(1, 2), 16); g = parseInt(v.substr(3, 2), 16); b = parseInt(v.substr(5, 2), 16); }
      else if ((m = /(\d+),\s*(\d+),\s*(\d+)/.exec(v))) { r = +m[1]; g = +m[2]; b = +m[3]; }
      else return "#fff";
      var lum = [r, g, b].map(function (x) { x /= 255; return x <= 0.03928 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4); });
      var L = 0.2126 * lum[0] + 0.7152 * lum[1] + 0.0722 * lum[2];
      return (1.05) / (L + 0.05) >= (L + 0.05) / 0.05 ? "#ffffff" : "#111111";
    } catch (e) { return "#ffffff"; }
  }

  var titleId = uid("title"), panelId = uid("panel"), inputId = uid("input"), privacyId = uid("privacy"), hintId = uid("hint");

  var launcher = h("button", {
    type: "button", class: "lb-launcher", "aria-haspopup": "dialog", "aria-expanded": "false",
    "aria-controls": panelId, onclick: function () { toggle(); }
  }, [icon("chat"), h("span", { class: "lb-launcher-text", text: t("launcher") }), h("span", { class: "lb-sr", text: " – " + t("open", { title: TITLE }) })]);

  var roleLine = h("span", { class: "lb-roleline" });
  var roleBtn = h("button", { type: "button", class: "lb-link", text: t("roleChange"), onclick: function () { showRolePicker(true); } });
  var clearBtn = h("button", {
    type: "button", class: "lb-textbtn", "aria-label": t("clearLabel"), "aria-expanded": "false", hidden: true,
    onclick: function () { askClear(true); }
  }, [icon("trash"), h("span", { text: t("clear") })]);
  // "Verlauf löschen" asks first: an inline "Wirklich löschen?" with Löschen / Abbrechen
  var confirmQ = uid("cq");
  var clearNo = h("button", { type: "button", class: "lb-confirm-no", text: t("clearNo"), onclick: function () { askClear(false); clearBtn.focus(); } });
  var clearYes = h("button", { type: "button", class: "lb-confirm-yes", text: t("clearYes"), onclick: function () { askClear(false); clearHistory(); } });
  var confirmBar = h("div", { class: "lb-confirm", role: "group", "aria-labelledby": confirmQ, hidden: true }, [
    h("span", { id: confirmQ, class: "lb-confirm-q", text: t("clearConfirm") }), clearYes, clearNo
  ]);
  clearBtn.setAttribute("aria-controls", uid("confirm"));
  confirmBar.id = clearBtn.getAttribute("aria-controls");
  function askClear(show) {
    confirmBar.hidden = !show;
    clearBtn.setAttribute("aria-expanded", String(show));
    if (show) clearNo.focus();
  }
  function hasHistory() { return !!state.sid || log.childElementCount > 0; }
  function updateClear() {
    clearBtn.hidden = !hasHistory();
    if (clearBtn.hidden) askClear(false);
  }
  var closeBtn = h("button", { type: "button", class: "lb-iconbtn", "aria-label": t("close"), onclick: function () { close(true); } }, [icon("close")]);

  var roleButtons = {};
  var roleHeadId = uid("rh");
  var rolePicker = h("div", { class: "lb-rolepicker", role: "group", "aria-labelledby": roleHeadId }, [
    h("p", { class: "lb-rolepicker-h", id: roleHeadId, text: t("roleHeading") }),
    h("p", { class: "lb-rolepicker-intro", text: t("roleIntro") })
  ]);
  var roleGrid = h("div", { class: "lb-rolegrid" });
  ROLES.forEach(function (r) {
    var b = h("button", { type: "button", class: "lb-role", "aria-pressed": "false", "data-role": r, onclick: function () { chooseRole(r); } },
      [h("span", { class: "lb-role-name", text: S.roleNames[r] }), h("span", { class: "lb-role-hint", text: S.roleHints[r] })]);
    roleButtons[r] = b;
    roleGrid.append(b);
  });
  rolePicker.append(roleGrid);

  var log = h("div", { class: "lb-log", role: "log", "aria-live": "polite", "aria-relevant": "additions text", "aria-label": t("logLabel", { title: TITLE }), tabindex: "-1" });
  var welcome = h("div", { class: "lb-welcome", text: t("welcome") });
  var status = h("div", { class: "lb-status", role: "status" });

  var input = h("textarea", {
    id: inputId, class: "lb-input", rows: "1", maxlength: String(MAX_QUESTION), placeholder: t("placeholder"),
    "aria-describedby": hintId, autocomplete: "off", spellcheck: "true", lang: "de"
  });
  var sendBtn = h("button", { type: "submit", class: "lb-send", "aria-label": t("sendLabel") }, [icon("send"), h("span", { class: "lb-send-text", text: t("send") })]);
  var formMsg = h("p", { class: "lb-formmsg", "aria-live": "assertive" });
  var form = h("form", { class: "lb-form", novalidate: true, onsubmit: function (e) { e.preventDefault(); submitInput(); } }, [
    h("label", { for: inputId, class: "lb-sr", text: t("inputLabel") }),
    h("div", { class: "lb-inputrow" }, [input, sendBtn]),
    formMsg,
    h("p", { id: hintId, class: "lb-hint", text: t("keyHint") })
  ]);
  var privacy = h("p", { id: privacyId, class: "lb-privacy" });
  // "Jetzt lernen": the learning path (/lernen/) for the chosen or preset role, in a new window
  var learnLink = h("a", { class: "lb-link lb-learn", target: "_blank", rel: "noopener", "aria-label": t("learnLabel"), text: t("learn") });
  var dataSheetLink = h("a", { class: "lb-datasheet", href: API + "/was-wird-gespeichert", target: "_blank", rel: "noopener", text: t("dataSheet") });
  function renderLearn() { learnLink.href = API + "/lernen/" + (state.role ? "?rolle=" + encodeURIComponent(state.role) : ""); }

  var panel = h("div", {
    id: panelId, class: "lb-panel", role: "dialog", "aria-modal": "false", "aria-labelledby": titleId, hidden: true, lang: LANG
  }, [
    h("div", { class: "lb-head" }, [
      h("div", { class: "lb-head-top" }, [h("h2", { id: titleId, class: "lb-title", text: TITLE }), clearBtn, closeBtn]),
      confirmBar,
      h("p", { class: "lb-rolebar" }, [roleLine, " ", roleBtn, " · ", learnLink])
    ]),
    h("div", { class: "lb-scroll" }, [welcome, rolePicker, log, status]),
    h("div", { class: "lb-foot" }, [form, privacy, dataSheetLink])
  ]);

  var wrap = h("div", { class: "lb-root lb-pos-" + POSITION, lang: LANG }, [launcher, panel]);
  root.append(wrap);
  var scroller = panel.querySelector(".lb-scroll");

  function mount() { (document.body || document.documentElement).appendChild(host); placeLauncher(); }
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);

  // ---------------------------------------------------------------- the button and the host page
  // data-offset lifts button and panel by N px (e.g. above a cookie bar). data-avoid names host elements
  // (e.g. the page's main call to action) that the button must not cover: while one would be under it,
  // the button shrinks to a round icon, and if that still covers it, moves up above it. On a phone the
  // button is always the round icon. The safe area (notch, home indicator) is respected by the CSS.
  if (OFFSET) host.style.setProperty("--lb-offset", OFFSET + "px");
  var placing = 0;
  function overlaps(r, els) {
    var out = [];
    for (var i = 0; i < els.length; i++) {
      var e = els[i].getBoundingClientRect();
      if (e.width && e.height && e.left < r.right + 8 && e.right > r.left - 8 && e.top < r.bottom + 8 && e.bottom > r.top - 8) out.push(e);
    }
    return out;
  }
  function placeLauncher() {
    placing = 0;
    if (!AVOID || !host.isConnected) return;
    var els;
    try { els = document.querySelectorAll(AVOID); } catch (e) { return; } // an invalid selector: ignore it
    launcher.style.transform = "";
    wrap.classList.remove("lb-compact");
    var r = launcher.getBoundingClientRect();
    if (!r.width || !overlaps(r, els).length) return;
    wrap.classList.add("lb-compact");
    r = launcher.getBoundingClientRect();
    var lift = liftFor(r, els);
    // no free place above (e.g. full-width cards stacked on a phone): keep at least buttons and links free
    if (lift < 0) lift = liftFor(r, Array.prototype.filter.call(els, function (el) { return el.getBoundingClientRect().height < 120; }));
    if (lift > 0) launcher.style.transform = "translateY(" + (-lift) + "px)";
  }
  function liftFor(r, els) { // how far up the button must move to cover none of els; -1: no such place
    for (var lift = 0, n = 0; n < 8; n++) {
      var hit = overlaps({ left: r.left, right: r.right, top: r.top - lift, bottom: r.bottom - lift }, els);
      if (!hit.length) return r.top - lift > 8 ? lift : -1;
      lift = r.bottom - Math.min.apply(null, hit.map(function (e) { return e.top; })) + 12;
    }
    return -1;
  }
  function schedulePlace() { if (AVOID && !placing) placing = requestAnimationFrame(placeLauncher); }
  if (AVOID) {
    window.addEventListener("scroll", schedulePlace, { passive: true });
    window.addEventListener("resize", schedulePlace, { passive: true });
    window.addEventListener("load", schedulePlace);
  }

  // ---------------------------------------------------------------- role
  function renderRole() {
    roleLine.textContent = state.role ? t("roleCurrent", { role: S.roleNames[state.role] }) : t("roleNone");
    ROLES.forEach(function (r) { roleButtons[r].setAttribute("aria-pressed", String(r === state.role)); });
    renderLearn();
  }
  function setPicker(visible) {
    rolePicker.hidden = !visible;
    roleBtn.hidden = visible; // "Rolle ändern" only while the picker is closed
  }
  function showRolePicker(focus) {
    setPicker(true);
    if (focus) (roleButtons[state.role] || roleButtons.owner).focus();
  }
  function chooseRole(r) {
    state.role = r; state.roleChosen = true;
    saveStore(); renderRole();
    setPicker(false);
    say(t("roleChosen", { role: S.roleNames[r] }));
    input.focus();
  }
  function say(text) { status.textContent = ""; setTimeout(function () { status.textContent = text; }, 30); }

  // ---------------------------------------------------------------- privacy note
  function renderPrivacy() {
    privacy.textContent = t("privacy", { retention: state.retention ? t("retentionDays", { n: state.retention }) : t("retentionUnknown") });
  }
  function setRetention(n) { if (typeof n === "number" && n > 0 && n !== state.retention) { state.retention = n; renderPrivacy(); } }

  // ---------------------------------------------------------------- open / close / keyboard
  function open() {
    if (state.open) return;
    state.open = true;
    panel.hidden = false;
    wrap.classList.add("lb-open");
    launcher.setAttribute("aria-expanded", "true");
    panel.setAttribute("aria-modal", String(smallScreen.matches));
    if (!state.started) start();
    var target = !rolePicker.hidden ? (roleButtons[state.role] || roleButtons.owner) : input;
    // after the panel is rendered, so that the focus lands (and scrolls) correctly
    target.focus();
    scrollToEnd(true);
  }
  function close(returnFocus) {
    if (!state.open) return;
    state.open = false;
    panel.hidden = true;
    wrap.classList.remove("lb-open");
    launcher.setAttribute("aria-expanded", "false");
    if (returnFocus !== false) launcher.focus();
  }
  function toggle() { if (state.open) close(true); else open(); }

  panel.addEventListener("keydown", function (e) {
    if (e.key === "Escape" && !e.isComposing) {
      e.preventDefault(); e.stopPropagation();
      if (!confirmBar.hidden) { askClear(false); clearBtn.focus(); return; }
      close(true); return;
    }
    if (e.key === "Tab" && smallScreen.matches) { // full-screen on a phone: keep the focus inside
      var f = focusables();
      if (!f.length) return;
      var active = root.activeElement;
      if (e.shiftKey && active === f[0]) { e.preventDefault(); f[f.length - 1].focus(); }
      else if (!e.shiftKey && active === f[f.length - 1]) { e.preventDefault(); f[0].focus(); }
    }
  });
  function focusables() {
    return Array.prototype.filter.call(panel.querySelectorAll("button, textarea, input, [href], [tabindex]:not([tabindex='-1'])"), function (el) {
      return !el.disabled && el.offsetParent !== null;
    });
  }

  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing && e.keyCode !== 229) { e.preventDefault(); submitInput(); }
  });
  input.addEventListener("input", function () { autosize(); formMsg.textContent = ""; });
  function autosize() {
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight, 160) + "px";
  }

  function scrollToEnd(force) {
    var nearBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 120;
    if (force || nearBottom) scroller.scrollTop = scroller.scrollHeight;
    return scroller.scrollTop;
  }
  // While an answer grows, the view follows it only until the question reaches the top of the panel:
  // the start of the answer stays in view. If the user scrolled elsewhere meanwhile, nothing moves.
  function follow(turn) {
    if (turn.autoTop == null || Math.abs(scroller.scrollTop - turn.autoTop) > 4) return;
    var anchor = turn.user || turn.answer;
    var limit = scroller.scrollTop + anchor.getBoundingClientRect().top - scroller.getBoundingClientRect().top - 8;
    var end = scroller.scrollHeight - scroller.clientHeight;
    var target = Math.max(0, Math.min(end, limit));
    if (target > scroller.scrollTop) scroller.scrollTop = target;
    turn.autoTop = scroller.scrollTop;
  }

  // ---------------------------------------------------------------- first open: health (retention) + restore
  function start() {
    state.started = true;
    renderRole(); renderPrivacy();
    setPicker(!state.role);
    updateClear();
    getJSON("/api/health").then(function (hlth) {
      if (hlth && hlth.sessions) setRetention(hlth.sessions.retention_days);
    }).catch(function () { /* the note keeps its generic wording */ });
    if (state.sid) restore(state.sid);
  }
  function getJSON(path) {
    return fetch(API + path, { headers: { Accept: "application/json" }, credentials: "omit", cache: "no-store" }).then(function (r) {
      if (!r.ok) { var e = new Error("HTTP " + r.status); e.status = r.status; throw e; }
      return r.json();
    });
  }
  function restore(sid) {
    getJSON("/api/sessions/" + encodeURIComponent(sid)).then(function (exp) {
      if (sid !== state.sid || !exp || !Array.isArray(exp.messages)) return;
      setRetention(exp.retention_days);
      var pendingUser = null;
      exp.messages.forEach(function (m) {
        if (m.kind === "user") { pendingUser = m.text; return; }
        if (m.kind !== "assistant") return;
        var turn = addTurn(pendingUser || "", true);
        pendingUser = null;
        turn.text = m.text || "";
        turn.messageId = m.id;
        turn.sources = Array.isArray(m.sources) ? m.sources : [];
        turn.done = true;
        renderAnswer(turn);
        renderSources(turn);
        if (m.complete === false) turn.bubble.append(h("p", { class: "lb-note", text: t("incomplete") }));
        renderPerspectives(turn);
        renderFeedback(turn, Array.isArray(m.feedback) && m.feedback.length ? m.feedback[m.feedback.length - 1] : null);
      });
      if (pendingUser) addTurn(pendingUser, true).answer.remove();
      updateClear();
      scrollToEnd(true);
    }).catch(function (e) {
      if (e && e.status === 404) { if (sid === state.sid) { state.sid = null; saveStore(); updateClear(); } }
      else say(t("restoreError"));
    });
  }

  // ---------------------------------------------------------------- asking
  function submitInput() {
    var q = input.value;
    if (!q.trim()) { input.focus(); return; }
    if (q.length > MAX_QUESTION) { formMsg.textContent = t("tooLong", { max: MAX_QUESTION }); return; }
    if (state.busy) { formMsg.textContent = t("busy"); return; }
    input.value = ""; autosize();
    ask(q, true);
  }

  function ask(question, fromInput) {
    question = String(question || "").trim();
    if (!question || state.busy) return Promise.resolve(false);
    status.textContent = "";
    setPicker(false); // asked without choosing: role stays open ("Rolle ändern" brings the picker back)
    var turn = addTurn(question, false);
    turn.fromInput = !!fromInput;
    turn.autoTop = scrollToEnd(true);
    return attempt(turn, true);
  }

  function addTurn(question, restored) {
    var turn = { question: question, text: "", queue: [], raf: 0, sources: [], followups: [], messageId: null, done: false, id: uid("t") };
    if (question) {
      turn.user = h("div", { class: "lb-msg lb-msg-user" }, [h("span", { class: "lb-sr", text: t("you") + ": " }), h("div", { class: "lb-bubble", lang: "de", text: question })]);
      log.append(turn.user);
    }
    turn.answer = h("div", { class: "lb-msg lb-msg-bot", "data-turn": turn.id });
    turn.bubble = h("div", { class: "lb-bubble", lang: "de" });
    turn.body = h("div", { class: "lb-answer" });
    turn.extras = h("div", { class: "lb-extras" });
    turn.bubble.append(turn.body);
    turn.answer.append(h("span", { class: "lb-sr", text: t("bot") + ": " }), turn.bubble, turn.extras);
    if (!restored) {
      turn.typing = h("div", { class: "lb-typing" }, [h("span", { class: "lb-dot" }), h("span", { class: "lb-dot" }), h("span", { class: "lb-dot" }), h("span", { class: "lb-sr", text: t("thinking") })]);
      turn.bubble.append(turn.typing);
    }
    log.append(turn.answer);
    updateClear();
    return turn;
  }

  function resetTurn(turn) {
    stopText(turn);
    turn.text = ""; turn.error = null; turn.finished = false; turn.received = false; turn.sources = []; turn.followups = []; turn.done = false; turn.messageId = null;
    turn.body.textContent = ""; turn.extras.textContent = "";
    Array.prototype.slice.call(turn.bubble.querySelectorAll(".lb-note, .lb-error")).forEach(function (n) { n.remove(); });
    if (turn.typing && !turn.typing.isConnected) turn.bubble.append(turn.typing);
  }

  function setBusy(on) {
    state.busy = on;
    sendBtn.disabled = on;
    log.setAttribute("aria-busy", String(on));
    wrap.classList.toggle("lb-busy", on);
  }

  function attempt(turn, mayDropSession) {
    setBusy(true);
    var ctrl = new AbortController();
    state.controller = ctrl;
    turn.answer.classList.add("lb-streaming");
    var body = { question: turn.question, role: state.role || null, session_id: mayDropSession ? state.sid : null, filters: null };
    return streamChat(body, ctrl, turn).then(function () { return drained(turn); }).then(function () {
      if (turn.error) throw turn.error;
      if (!turn.done) throw { kind: "cut" };
    }).catch(function (err) {
      if (ctrl.lbCleared) { stopText(turn); return "cleared"; }
      if (err && err.kind === "http" && err.status === 404 && body.session_id) {
        // the server forgot the session (deleted or expired): drop it and ask once more without
        state.sid = null; saveStore();
        resetTurn(turn);
        return "retry";
      }
      return drained(turn).then(function () { showError(turn, err); return "failed"; });
    }).then(function (outcome) {
      if (state.controller === ctrl) state.controller = null;
      turn.answer.classList.remove("lb-streaming");
      if (turn.typing) turn.typing.remove();
      setBusy(false);
      if (outcome === "retry") return attempt(turn, false);
      if (!outcome) { finishTurn(turn); return true; }
      return false;
    });
  }

  function streamChat(body, ctrl, turn) {
    var idle = null;
    function arm() {
      clearTimeout(idle);
      idle = setTimeout(function () { turn.error = { kind: "timeout" }; ctrl.abort(); }, IDLE_TIMEOUT_MS);
    }
    arm();
    return fetch(API + "/api/chat", {
      method: "POST", credentials: "omit", cache: "no-store", signal: ctrl.signal,
      headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
      body: JSON.stringify(body)
    }).then(function (res) {
      if (!res.ok) return httpError(res).then(function (e) { throw e; });
      var type = res.headers.get("content-type") || "";
      if (type.indexOf("text/event-stream") < 0 || !res.body) throw { kind: "bad" };
      var reader = res.body.getReader();
      var decoder = new TextDecoder("utf-8");
      var parser = sseParser(function (ev, data) { handleEvent(turn, ev, data); });
      function pump() {
        return reader.read().then(function (chunk) {
          arm();
          if (chunk.done) { parser.end(decoder.decode()); return; }
          turn.received = true;
          parser.push(decoder.decode(chunk.value, { stream: true }));
          pumpText(turn); // the text grows as the bytes arrive
          if (turn.finished) { reader.cancel().catch(function () {}); return; }
          return pump();
        });
      }
      return pump();
    }).then(function () { clearTimeout(idle); pumpText(turn); }, function (err) {
      clearTimeout(idle); pumpText(turn);
      if (turn.error) throw turn.error;
      if (err && err.kind) throw err;
      throw { kind: turn.received ? "cut" : "network" }; // connection lost mid-answer vs. never reached
    });
  }

  function httpError(res) {
    return res.text().then(function (txt) {
      var msg = null;
      try { var j = JSON.parse(txt); if (j && typeof j.error === "string") msg = j.error; } catch (e) { /* not JSON */ }
      return { kind: "http", status: res.status, message: msg, retryAfter: res.headers.get("Retry-After") };
    }, function () { return { kind: "http", status: res.status }; });
  }

  // text/event-stream parser (fields: event, data; comments ':' ignored; CRLF, CR or LF line ends)
  function sseParser(onEvent) {
    var buf = "", ev = "message", data = [];
    function line(l) {
      if (l === "") {
        if (data.length) {
          var raw = data.join("\n"), parsed;
          try { parsed = JSON.parse(raw); } catch (e) { parsed = raw; }
          onEvent(ev, parsed);
        }
        ev = "message"; data = [];
        return;
      }
      if (l.charAt(0) === ":") return;
      var i = l.indexOf(":"), field = i < 0 ? l : l.slice(0, i), value = i < 0 ? "" : l.slice(i + 1);
      if (value.charAt(0) === " ") value = value.slice(1);
      if (field === "event") ev = value;
      else if (field === "data") data.push(value);
    }
    function drain(final) {
      var hold = !final && buf.charAt(buf.length - 1) === "\r" ? 1 : 0; // "\r" may be half of "\r\n"
      var text = buf.slice(0, buf.length - hold);
      buf = buf.slice(buf.length - hold);
      var parts = text.split(/\r\n|\r|\n/);
      buf = parts.pop() + buf;
      parts.forEach(line);
    }
    return {
      push: function (s) { buf += s; drain(false); },
      end: function (s) { buf += s || ""; drain(true); if (buf) { line(buf); buf = ""; } line(""); }
    };
  }

  function handleEvent(turn, ev, d) {
    d = d || {};
    switch (ev) {
      case "meta":
        if (typeof d.session_id === "string" && d.session_id) { state.sid = d.session_id; saveStore(); }
        if (d.message_id) turn.messageId = d.message_id;
        if (d.retention_days) setRetention(d.retention_days);
        break;
      case "notice":
        if (d.message) turn.bubble.insertBefore(h("p", { class: "lb-note", text: String(d.message) }), turn.body);
        break;
      case "reset":
        turn.queue = []; turn.text = ""; turn.dirty = true;
        break;
      case "delta":
        if (typeof d.text === "string" && d.text) turn.queue.push(d.text);
        break;
      case "sources":
        turn.sources = Array.isArray(d) ? d : [];
        break;
      case "followups":
        turn.followups = Array.isArray(d) ? d.filter(function (q) { return typeof q === "string" && q; }).slice(0, 3) : [];
        break;
      case "done":
        if (d.message_id) turn.messageId = d.message_id;
        turn.done = true; turn.finished = true;
        break;
      case "error":
        turn.error = { kind: "stream", message: d.message ? String(d.message) : null };
        turn.finished = true;
        break;
    }
  }

  // Deltas are shown as they arrive. When one network chunk brings many of them at once (a fast,
  // extractive answer), they are revealed over a few animation frames — the backlog is always
  // cleared within ~6 frames, so this never holds text back for long. Reduced motion: at once.
  function pumpText(turn) {
    if (turn.raf) return;
    if (!turn.queue.length) { if (turn.dirty) showText(turn); settle(turn); return; }
    if (reducedMotion.matches || document.visibilityState === "hidden") {
      turn.text += turn.queue.join(""); turn.queue = []; showText(turn); settle(turn); return;
    }
    turn.raf = requestAnimationFrame(function step() {
      turn.raf = 0;
      var n = Math.max(2, Math.ceil(turn.queue.length / 6));
      turn.text += turn.queue.splice(0, n).join("");
      showText(turn);
      if (turn.queue.length) turn.raf = requestAnimationFrame(step);
      else settle(turn);
    });
  }
  function showText(turn) {
    turn.dirty = false;
    if (turn.text && turn.typing) turn.typing.remove();
    renderAnswer(turn);
    follow(turn);
  }
  function settle(turn) {
    if (turn.queue.length || turn.raf || !turn.onDrained) return;
    var f = turn.onDrained; turn.onDrained = null; f();
  }
  function drained(turn) {
    return new Promise(function (resolve) {
      var safety = setTimeout(function () { stopText(turn, true); resolve(); }, 2000); // e.g. tab hidden: no frames
      turn.onDrained = function () { clearTimeout(safety); resolve(); };
      pumpText(turn);
    });
  }
  function stopText(turn, show) {
    if (turn.raf) cancelAnimationFrame(turn.raf);
    turn.raf = 0;
    if (show) { turn.text += turn.queue.join(""); showText(turn); }
    turn.queue = [];
    if (turn.onDrained) { var f = turn.onDrained; turn.onDrained = null; f(); }
  }

  function renderAnswer(turn) {
    renderRich(turn.body, turn.text, function (n) {
      return h("button", {
        type: "button", class: "lb-cite", "aria-label": t("citeLabel", { n: n }), text: "[" + n + "]",
        onclick: function () { openSource(turn, n); }
      });
    });
  }

  function sourceLabel(s) {
    var parts = [];
    if (s.heading_path) parts.push(String(s.heading_path));
    if (s.page) parts.push(t("page", { p: s.page }));
    var d = standDate(s.stand);
    if (d) parts.push(t("stand", { d: d }));
    return parts.join(" · ");
  }

  // "2026-11-29" (the unit's front matter `stand`) -> "29.11.2026"; anything else -> ""
  function standDate(v) {
    var m = /^(\d{4})-(\d{2})-(\d{2})/.exec(typeof v === "string" ? v : "");
    return m ? m[3] + "." + m[2] + "." + m[1] : "";
  }

  function renderSources(turn) {
    var old = turn.extras.querySelector(".lb-sources");
    if (old) old.remove();
    turn.sourceItems = {};
    if (!turn.sources.length) return;
    var headId = uid("sh");
    var list = h("ol", { class: "lb-srclist", "aria-labelledby": headId });
    turn.sources.forEach(function (s, i) {
      var n = Number(s.n) || i + 1;
      var btnId = uid("src"), passId = uid("pass");
      var title = String(s.title || s.label || s.source || "");
      var sub = sourceLabel(s);
      var passage = h("div", { class: "lb-passage", id: passId, role: "region", "aria-labelledby": btnId, hidden: true });
      if (typeof s.text === "string" && s.text) {
        var quote = h("blockquote", { class: "lb-quote", lang: "de" });
        renderRich(quote, s.text, null);
        passage.append(quote);
      } else {
        passage.append(h("p", { class: "lb-note", text: t("passageMissing") }));
      }
      if (s.source) passage.append(h("p", { class: "lb-file", text: t("file", { f: String(s.source).split(/[\\/]/).pop() }) }));
      var btn = h("button", {
        type: "button", class: "lb-chip", id: btnId, "aria-expanded": "false", "aria-controls": passId,
        "aria-label": t("sourceShow", { n: n, label: title + (sub ? " – " + sub : "") }),
        onclick: function () { toggleSource(turn, n); }
      }, [
        h("span", { class: "lb-num", text: String(n) }),
        h("span", { class: "lb-chip-main" }, [
          h("span", { class: "lb-chip-title", text: title }),
          sub ? h("span", { class: "lb-chip-sub", text: sub }) : null
        ]),
        icon("chevron")
      ]);
      turn.sourceItems[n] = { btn: btn, passage: passage };
      list.append(h("li", { class: "lb-src" }, [btn, passage]));
    });
    var box = h("div", { class: "lb-sources" }, [h("h3", { class: "lb-sub-h", id: headId, text: t("sources") }), list]);
    turn.extras.insertBefore(box, turn.extras.firstChild);
  }

  function toggleSource(turn, n, force) {
    var it = turn.sourceItems && turn.sourceItems[n];
    if (!it) return null;
    var show = force != null ? force : it.passage.hidden;
    it.passage.hidden = !show;
    it.btn.setAttribute("aria-expanded", String(show));
    return it;
  }
  function openSource(turn, n) {
    var it = toggleSource(turn, n, true);
    if (!it) return;
    it.btn.focus();
    it.btn.scrollIntoView({ block: "nearest", behavior: reducedMotion.matches ? "auto" : "smooth" });
  }

  function finishTurn(turn) {
    turn.fromInput = false;
    renderSources(turn);
    if (turn.followups.length) {
      var headId = uid("fh");
      var chips = h("div", { class: "lb-followups", role: "group", "aria-labelledby": headId }, [h("h3", { class: "lb-sub-h", id: headId, text: t("followups") })]);
      turn.followups.forEach(function (q) {
        chips.append(h("button", { type: "button", class: "lb-follow", lang: "de", text: q, onclick: function () {
          if (state.busy) { formMsg.textContent = t("busy"); return; }
          ask(q, false);
        } }));
      });
      turn.extras.append(chips);
    }
    renderPerspectives(turn);
    if (turn.messageId && state.sid) renderFeedback(turn, null);
    follow(turn);
  }

  function showError(turn, err) {
    err = err || { kind: "network" };
    var msg;
    if (err.kind === "http") {
      if (err.status === 429) msg = err.message || t("errRate");
      else if (err.status >= 500) msg = t("errServer", { status: err.status });
      else msg = err.message || t("errRejected", { status: err.status });
    } else if (err.kind === "stream") msg = err.message || t("errCut");
    else if (err.kind === "cut") msg = t("errCut");
    else if (err.kind === "timeout") msg = t("errTimeout");
    else if (err.kind === "bad") msg = t("errBadResponse");
    else msg = t("errNetwork");
    if (turn.sources.length) renderSources(turn);
    if (turn.text) turn.bubble.append(h("p", { class: "lb-note", text: t("incomplete") }));
    var retryBtn = h("button", { type: "button", class: "lb-retry" }, [icon("retry"), h("span", { text: t("retry") })]);
    var box = h("div", { class: "lb-error" }, [h("p", { text: msg }), retryBtn]);
    turn.bubble.append(box);
    // the typed text is never lost: put it back into the input if the user has not typed anything new
    if (turn.fromInput && !input.value.trim()) { input.value = turn.question; autosize(); }
    retryBtn.addEventListener("click", function () {
      if (state.busy) { formMsg.textContent = t("busy"); return; }
      if (input.value === turn.question) { input.value = ""; autosize(); }
      resetTurn(turn);
      turn.autoTop = scroller.scrollTop;
      input.focus();
      attempt(turn, true);
    });
    scrollToEnd(true);
  }

  // ---------------------------------------------------------------- feedback
  function renderFeedback(turn, existing) {
    var old = turn.extras.querySelector(".lb-fb");
    if (old) old.remove();
    if (!turn.messageId) return;
    var qId = uid("fbq");
    var fb = h("div", { class: "lb-fb" });
    var fbStatus = h("p", { class: "lb-fb-status", role: "status" });
    if (existing) {
      fbStatus.textContent = t("fbStored");
      fb.append(fbStatus);
      turn.extras.append(fb);
      return;
    }
    var rating = null;
    var up = h("button", { type: "button", class: "lb-thumb", "aria-pressed": "false", "aria-label": t("fbUp"), title: t("fbUp"), onclick: function () { pick("up"); } }, [icon("thumb")]);
    var down = h("button", { type: "button", class: "lb-thumb", "aria-pressed": "false", "aria-label": t("fbDown"), title: t("fbDown"), onclick: function () { pick("down"); } }, [icon("thumb", true)]);
    var remarkId = uid("rem");
    var remark = h("textarea", { id: remarkId, class: "lb-remark", rows: "2", maxlength: "1000", lang: "de" });
    var checks = turn.sources.map(function (s, i) {
      var n = Number(s.n) || i + 1;
      var id = uid("ws");
      return { n: n, box: h("input", { type: "checkbox", id: id, value: String(n) }), id: id };
    });
    var fbForm = h("form", { class: "lb-fb-form", hidden: true, novalidate: true, onsubmit: function (e) { e.preventDefault(); sendFeedback(); } }, [
      h("label", { for: remarkId, class: "lb-fb-label", text: t("fbRemark") }),
      remark,
      checks.length ? h("fieldset", { class: "lb-fb-wrong" }, [h("legend", { text: t("fbWrongLegend") })].concat(checks.map(function (c) {
        return h("label", { for: c.id, class: "lb-check" }, [c.box, h("span", { text: t("fbWrong", { n: c.n }) })]);
      }))) : null,
      h("div", { class: "lb-fb-actions" }, [
        h("button", { type: "submit", class: "lb-primary", text: t("fbSend") }),
        h("button", { type: "button", class: "lb-link", text: t("fbCancel"), onclick: function () { pick(null); } })
      ])
    ]);
    function pick(r) {
      rating = r;
      up.setAttribute("aria-pressed", String(r === "up"));
      down.setAttribute("aria-pressed", String(r === "down"));
      fbForm.hidden = !r;
      fbStatus.textContent = "";
      if (r) remark.focus();
    }
    function sendFeedback() {
      if (!rating) return;
      var payload = {
        session_id: state.sid, message_id: turn.messageId, rating: rating,
        remark: remark.value.trim() ? remark.value.trim().slice(0, 1000) : null,
        wrong_sources: checks.filter(function (c) { return c.box.checked; }).map(function (c) { return c.n; })
      };
      var submit = fbForm.querySelector("button[type=submit]");
      submit.disabled = true;
      fetch(API + "/api/feedback", {
        method: "POST", credentials: "omit", cache: "no-store",
        headers: { "Content-Type": "application/json", Accept: "application/json" }, body: JSON.stringify(payload)
      }).then(function (res) {
        if (!res.ok) return httpError(res).then(function (e) { throw e; });
        fbForm.hidden = true;
        up.disabled = true; down.disabled = true;
        fbStatus.textContent = t("fbThanks");
        fbStatus.focus();
      }).catch(function (e) {
        submit.disabled = false;
        fbStatus.textContent = "";
        fbStatus.append(t("fbError") + (e && e.message ? " " + e.message : "") + " ",
          h("button", { type: "button", class: "lb-link", text: t("retry"), onclick: function () { sendFeedback(); } }));
      });
    }
    fbStatus.setAttribute("tabindex", "-1");
    fb.append(h("div", { class: "lb-fb-row" }, [h("span", { id: qId, class: "lb-fb-q", text: t("fbQuestion") }), up, down]), fbForm, fbStatus);
    up.setAttribute("aria-describedby", qId); down.setAttribute("aria-describedby", qId);
    turn.extras.append(fb);
  }

  // ---------------------------------------------------------------- "Aus allen Blickwinkeln"
  // Under an answer: one action that asks POST /api/perspectives for the same question and shows the answers for
  // Geschäftsführung, Betriebsrat and Beschäftigte as tabs (WAI-ARIA tabs pattern: arrows, Home/End, automatic
  // activation). The answers go through the same safe renderer as every other answer; [n] stays plain text
  // and each tab lists its own sources.
  var PERSP_ROLES = ["owner", "works_council", "employee"];
  function renderPerspectives(turn) {
    if (!turn.question || turn.extras.querySelector(".lb-persp")) return;
    var regionId = uid("pv");
    var btn = h("button", {
      type: "button", class: "lb-persp-btn", "aria-expanded": "false", "aria-controls": regionId, title: t("perspLabel")
    }, [icon("views"), h("span", { text: t("persp") })]);
    var note = h("p", { class: "lb-persp-status", role: "status" });
    var region = h("div", { class: "lb-persp-box", id: regionId, role: "region", "aria-label": t("persp"), hidden: true });
    var box = h("div", { class: "lb-persp" }, [btn, note, region]);
    var loading = false, loaded = false;
    btn.addEventListener("click", function () {
      if (loading) return;
      if (loaded) { show(region.hidden); return; }
      load();
    });
    function show(on) {
      region.hidden = !on;
      btn.setAttribute("aria-expanded", String(on));
    }
    function load() {
      loading = true;
      btn.setAttribute("aria-busy", "true");
      box.classList.add("lb-persp-loading");
      note.textContent = t("perspLoading");
      fetch(API + "/api/perspectives", {
        method: "POST", credentials: "omit", cache: "no-store",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ question: turn.question.slice(0, MAX_QUESTION), roles: PERSP_ROLES })
      }).then(function (res) {
        if (!res.ok) return httpError(res).then(function (e) { throw e; });
        return res.json().catch(function () { throw { kind: "bad" }; });
      }).then(function (data) {
        var answers = data && Array.isArray(data.answers) ? data.answers.filter(function (a) { return a && PERSP_ROLES.indexOf(a.role) >= 0; }) : [];
        if (!answers.length) throw { kind: "bad" };
        var keep = root.activeElement === btn;
        buildTabs(region, answers);
        loaded = true;
        note.textContent = t("perspReady");
        show(true);
        if (keep) region.querySelector("[role=tab][aria-selected=true]").focus();
        region.scrollIntoView({ block: "nearest", behavior: reducedMotion.matches ? "auto" : "smooth" });
      }).catch(function (e) {
        note.textContent = "";
        var msg;
        if (e && e.kind === "http") msg = e.status === 429 ? (e.message || t("errRate")) : e.status >= 500 ? t("errServer", { status: e.status }) : (e.message || t("errRejected", { status: e.status }));
        else msg = e && e.kind === "bad" ? t("errBadResponse") : t("errNetwork");
        note.append(h("span", { class: "lb-persp-err", text: t("perspError") + " " + msg }), " ",
          h("button", { type: "button", class: "lb-link", text: t("retry"), onclick: function () { if (!loading) load(); } }));
      }).then(function () {
        loading = false;
        btn.removeAttribute("aria-busy");
        box.classList.remove("lb-persp-loading");
      });
    }
    turn.extras.append(box);
  }
  function buildTabs(region, answers) {
    region.textContent = "";
    var list = h("div", { class: "lb-tabs", role: "tablist", "aria-label": t("perspTabs") });
    var tabs = [], panels = [];
    answers.forEach(function (a) {
      var tabId = uid("tab"), panelId = uid("tp");
      var tab = h("button", {
        type: "button", class: "lb-tab", role: "tab", id: tabId, "aria-controls": panelId, "aria-selected": "false",
        tabindex: "-1", "data-role": a.role, text: S.roleNames[a.role] || String(a.label || a.role)
      });
      var panel = h("div", { class: "lb-tabpanel", role: "tabpanel", id: panelId, "aria-labelledby": tabId, tabindex: "0", lang: "de", hidden: true });
      (Array.isArray(a.notices) ? a.notices : []).forEach(function (n) { if (n) panel.append(h("p", { class: "lb-note", text: String(n) })); });
      var body = h("div", { class: "lb-answer" });
      if (typeof a.answer === "string" && a.answer.trim()) renderRich(body, a.answer, null);
      else body.append(h("p", { class: "lb-note", text: a.error ? String(a.error) : t("perspEmpty") }));
      panel.append(body);
      var srcs = Array.isArray(a.sources) ? a.sources : [];
      if (srcs.length) {
        var headId = uid("psh");
        var ol = h("ol", { class: "lb-persp-src", "aria-labelledby": headId });
        srcs.forEach(function (s, i) {
          var sub = sourceLabel(s || {});
          ol.append(h("li", { value: String(Number(s && s.n) || i + 1) }, [
            h("span", { class: "lb-chip-title", text: String((s && (s.title || s.label)) || "") }),
            sub ? h("span", { class: "lb-chip-sub", text: sub }) : null
          ]));
        });
        panel.append(h("h4", { class: "lb-sub-h", id: headId, text: t("sources") }), ol);
      }
      tab.addEventListener("click", function () { select(tabs.indexOf(tab), false); });
      tab.addEventListener("keydown", function (e) {
        var i = tabs.indexOf(tab), n = tabs.length, to = null;
        if (e.key === "ArrowRight" || e.key === "ArrowDown") to = (i + 1) % n;
        else if (e.key === "ArrowLeft" || e.key === "ArrowUp") to = (i - 1 + n) % n;
        else if (e.key === "Home") to = 0;
        else if (e.key === "End") to = n - 1;
        if (to == null) return;
        e.preventDefault();
        select(to, true);
      });
      tabs.push(tab); panels.push(panel); list.append(tab);
    });
    function select(i, focus) {
      tabs.forEach(function (tb, j) {
        var on = j === i;
        tb.setAttribute("aria-selected", String(on));
        tb.tabIndex = on ? 0 : -1;
        panels[j].hidden = !on;
      });
      if (focus) tabs[i].focus();
    }
    region.append(list);
    panels.forEach(function (p) { region.append(p); });
    var own = answers.map(function (a) { return a.role; }).indexOf(state.role);
    select(own >= 0 ? own : 0, false);
  }

  // ---------------------------------------------------------------- delete history
  function clearHistory() {
    var sid = state.sid;
    if (state.controller) { state.controller.lbCleared = true; state.controller.abort(); }
    status.textContent = "";
    var done = function () {
      if (state.sid === sid) state.sid = null;
      saveStore();
      log.textContent = "";
      formMsg.textContent = "";
      updateClear();
      say(t("cleared"));
      input.focus();
    };
    if (!sid) { done(); return Promise.resolve(true); }
    clearBtn.disabled = true;
    return fetch(API + "/api/sessions/" + encodeURIComponent(sid), { method: "DELETE", credentials: "omit", cache: "no-store" })
      .then(function (res) {
        if (res.ok || res.status === 404) { done(); return true; }
        throw { status: res.status };
      })
      .catch(function () {
        status.textContent = "";
        status.append(t("clearError") + " ", h("button", { type: "button", class: "lb-link", text: t("retry"), onclick: function () { clearHistory(); } }));
        return false;
      })
      .then(function (ok) { clearBtn.disabled = false; return ok; });
  }

  // ---------------------------------------------------------------- the one global
  var api = {
    version: VERSION,
    open: function () { open(); },
    close: function () { close(true); },
    toggle: function () { toggle(); },
    ask: function (q) { open(); return ask(q, false); },
    setRole: function (r) { if (ROLES.indexOf(r) >= 0) chooseRole(r); },
    clearHistory: function () { return clearHistory(); }
  };
  Object.defineProperty(api, "sessionId", { get: function () { return state.sid; }, enumerable: true });
  Object.defineProperty(window, "KILernbegleiter", { value: Object.freeze(api), writable: false, configurable: true, enumerable: true });
})();
