/* KI-Lernbegleiter: learning along the role paths. Plain JS over /api/learning (no build step).
 * The learner id lives in localStorage only; nothing else is kept in the browser. */
(function () {
  "use strict";
  var KEY = "ki-lernbegleiter-lernen";
  var ROLES = { owner: "Geschäftsführung", employee: "Beschäftigte", works_council: "Betriebsrat", consultant: "Beratung" };
  var app = document.getElementById("app");
  var timer = null; // {unit, since}

  function h(tag, attrs, kids) {
    var el = document.createElement(tag);
    for (var k in attrs || {}) {
      var v = attrs[k];
      if (v == null || v === false) continue;
      if (k === "text") el.textContent = v;
      else if (k === "html") el.innerHTML = v; // only server-rendered course HTML (no raw HTML, no links)
      else if (k.slice(0, 2) === "on") el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? "" : v);
    }
    (kids || []).forEach(function (c) { if (c != null) el.append(c); });
    return el;
  }
  function learner() { try { return JSON.parse(localStorage.getItem(KEY) || "null"); } catch (e) { return null; } }
  function saveLearner(v) { if (v) localStorage.setItem(KEY, JSON.stringify(v)); else localStorage.removeItem(KEY); }
  function deDate(iso) { if (!iso) return "–"; var d = new Date(iso); return d.toLocaleDateString("de-DE", { day: "2-digit", month: "2-digit", year: "numeric" }); }
  function minutes(sec) { return Math.round((sec || 0) / 60); }

  function api(method, path, body) {
    return fetch(path, { method: method, headers: body ? { "Content-Type": "application/json" } : {}, body: body ? JSON.stringify(body) : undefined })
      .then(function (r) {
        if (r.status === 204) return null;
        var ct = r.headers.get("content-type") || "";
        if (!r.ok) return r.json().catch(function () { return {}; }).then(function (j) {
          var e = new Error(j.error || "Die Anfrage ist fehlgeschlagen."); e.status = r.status; throw e;
        });
        return ct.indexOf("application/json") >= 0 ? r.json() : r.blob();
      });
  }
  function go(params) {
    stopTimer();
    var q = new URLSearchParams(params || {}).toString();
    history.pushState(null, "", "/lernen/" + (q ? "?" + q : ""));
    render();
  }
  function show(nodes, focus) {
    app.replaceChildren.apply(app, nodes);
    if (focus !== false) { var h1 = app.querySelector("h1"); if (h1) { h1.setAttribute("tabindex", "-1"); h1.focus(); } }
  }
  function fail(e) {
    if (e && e.status === 404 && /Lerndaten/.test(e.message)) saveLearner(null);
    show([h("div", { class: "card" }, [h("h1", { text: "Das hat nicht geklappt" }), h("p", { class: "msg error", role: "alert", text: e.message }),
      h("p", {}, [h("a", { href: "/lernen/", class: "btn secondary", text: "Zur Übersicht" })])])]);
  }

  // ------------------------------------------------------------------ time on a unit
  function startTimer(unit) { timer = { unit: unit, since: Date.now() }; }
  function stopTimer() {
    var l = learner();
    if (!timer || !l) { timer = null; return; }
    var sec = Math.round((Date.now() - timer.since) / 1000);
    var body = JSON.stringify({ unit_id: timer.unit, event: "time", seconds: Math.min(sec, 3600) });
    timer = null;
    if (sec < 2) return;
    fetch("/api/learning/learners/" + l.id + "/progress", { method: "POST", headers: { "Content-Type": "application/json" }, body: body, keepalive: true }).catch(function () {});
  }
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden" && timer) { var u = timer.unit; stopTimer(); startTimer(u); }
  });

  // ------------------------------------------------------------------ start: choose a role
  function startPage(preset) {
    api("GET", "/api/learning/paths").then(function (data) {
      var chosen = ROLES[preset] ? preset : null;
      var name = h("input", { type: "text", id: "lb-name", maxlength: "120", autocomplete: "name" });
      var info = h("div", {});
      var existing = learner(); // "Jetzt lernen" for another role: switch the path, keep the progress
      var startBtn = h("button", { type: "button", text: existing ? "Zu diesem Lernpfad wechseln" : "Lernpfad starten", disabled: !chosen, onclick: function () {
        startBtn.disabled = true;
        var req = existing
          ? api("PATCH", "/api/learning/learners/" + existing.id, { role: chosen, display_name: name.value.trim() || null }).then(function (r) { return { learner_id: r.learner_id, role: r.role }; })
          : api("POST", "/api/learning/learners", { role: chosen, display_name: name.value.trim() || null });
        req.then(function (r) {
          saveLearner({ id: r.learner_id, role: r.role }); go({});
        }).catch(function (e) { startBtn.disabled = false; msg.textContent = e.message; msg.hidden = false; });
      } });
      var msg = h("p", { class: "msg error", role: "alert", hidden: true });
      var buttons = data.paths.map(function (p) {
        return h("button", { type: "button", class: "role", "data-role": p.role, "aria-pressed": String(p.role === chosen), onclick: function () { choose(p.role); } },
          [h("strong", { text: p.role_label }), h("span", { class: "muted", text: p.units + " Einheiten, ca. " + p.minutes + " Minuten" })]);
      });
      function choose(r) {
        chosen = r; startBtn.disabled = false;
        buttons.forEach(function (b) { b.setAttribute("aria-pressed", String(b.getAttribute("data-role") === r)); });
        var p = data.paths.filter(function (x) { return x.role === r; })[0];
        api("GET", "/api/learning/paths/" + r).then(function (full) {
          info.replaceChildren(h("h2", { text: full.headline }), h("p", { text: full.einleitung }),
            h("ol", { class: "steps" }, full.steps.map(function (s) {
              return h("li", {}, [h("div", {}, [h("strong", { text: s.titel }), h("div", { class: "muted", text: "ca. " + s.minuten + " Minuten · " + s.warum })])]);
            })));
        }).catch(fail);
        return p;
      }
      show([h("div", { class: "card" }, [
        h("h1", { text: chosen ? "Ihr Lernpfad als " + ROLES[chosen] : "Lernen mit dem KI-Lernbegleiter" }),
        h("p", { text: "Wählen Sie Ihre Rolle. Sie bekommen einen Lernpfad mit Lerneinheiten, einem kurzen Quiz nach jeder Einheit und einem Nachweis, den Sie selbst herunterladen." }),
        h("div", { class: "roles", role: "group", "aria-label": "Rolle" }, buttons),
        info,
        h("p", {}, [h("label", { for: "lb-name", text: "Name für den Nachweis (freiwillig)" })]), name,
        h("p", { class: "muted", text: "Ohne Konto: Ihr Fortschritt wird unter einer zufälligen Kennung gespeichert, die nur dieser Browser kennt." }),
        h("p", { class: "row" }, [startBtn, existing ? h("a", { href: "/lernen/", text: "Bei meinem Lernpfad bleiben" }) : null,
          h("a", { href: "/was-wird-gespeichert", text: "Was wird gespeichert?" })]), msg,
        h("p", { class: "muted" }, [h("a", { href: "/lernen/?team=1", text: "Für Betriebe: Team anlegen und Übersicht ansehen" })])])]);
      if (chosen) choose(chosen);
    }).catch(fail);
  }

  // ------------------------------------------------------------------ my path
  function pathPage(l) {
    api("GET", "/api/learning/learners/" + l.id + "/progress").then(function (p) {
      var path = p.path, done = path.completed, total = path.steps.length;
      var steps = path.steps.map(function (s) {
        var state = s.completed_at ? "abgeschlossen am " + deDate(s.completed_at) : (s.opened_at ? "begonnen" : "offen");
        var quiz = s.quiz ? " · Quiz: " + s.quiz.correct + " von " + s.quiz.total + " richtig" : "";
        return h("li", { class: s.completed_at ? "done" : "", "data-unit": s.unit_id }, [h("div", {}, [
          h("strong", { text: s.titel }),
          h("div", { class: "muted", text: "ca. " + s.minuten + " Minuten · " + state + quiz }),
          h("div", { text: s.warum })]),
          h("div", { class: "step-actions" }, [h("button", { type: "button", class: s.completed_at ? "secondary" : "", text: s.completed_at ? "Noch einmal lesen" : "Lesen",
            "aria-label": "Einheit lesen: " + s.titel, onclick: function () { go({ einheit: s.unit_id }); } })])]);
      });
      var due = p.reviews.due, later = p.reviews.later;
      var review = h("section", { class: "card", id: "wiederholen" }, [h("h2", { text: "Wiederholen" }),
        due.length ? h("p", { text: due.length === 1 ? "1 Frage ist jetzt zur Wiederholung fällig." : due.length + " Fragen sind jetzt zur Wiederholung fällig." })
                   : h("p", { text: "Gerade ist nichts zu wiederholen." }),
        due.length ? h("button", { type: "button", text: "Jetzt wiederholen", onclick: function () { go({ wiederholen: "1" }); } }) : null,
        later.length ? h("p", { class: "muted", text: later.length + (later.length === 1 ? " Frage kommt" : " Fragen kommen") + " später wieder, die nächste am " + deDate(later[0].due_at) + "." }) : null,
        h("p", { class: "muted", text: "Falsch beantwortete Fragen kommen nach einem Tag und noch einmal nach sieben Tagen wieder." })]);
      var team = h("input", { type: "text", id: "lb-team", maxlength: "32", autocomplete: "off", value: "" });
      var teamMsg = h("p", { role: "status" });
      show([
        h("section", { class: "card" }, [h("h1", { text: path.headline }), h("p", { text: path.einleitung }),
          h("p", { text: done + " von " + total + " Einheiten abgeschlossen · Lernzeit bisher " + minutes(p.total_seconds) + " Minuten" }),
          h("div", { class: "bar", role: "progressbar", "aria-valuemin": "0", "aria-valuemax": String(total), "aria-valuenow": String(done), "aria-label": "Fortschritt" },
            [h("span", { style: "width:" + Math.round(100 * done / total) + "%" })]),
          h("ol", { class: "steps" }, steps)]),
        review,
        h("section", { class: "card" }, [h("h2", { text: "Mein Nachweis" }),
          h("p", { text: "Ein PDF mit Ihren abgeschlossenen Einheiten, Quizergebnissen und Ihrer Lernzeit – ein Nachweis über Maßnahmen zur KI-Kompetenz, kein Zertifikat. Er geht nur dorthin, wohin Sie ihn geben." }),
          h("button", { type: "button", id: "lb-record", text: "Nachweis herunterladen (PDF)", onclick: function () { download("/api/learning/learners/" + l.id + "/record.pdf", "nachweis-ki-kompetenz.pdf"); } })]),
        h("section", { class: "card" }, [h("h2", { text: "Team" }),
          h("p", { text: p.team ? "Sie sind im Team „" + p.team + "“. Das Team sieht nur zusammengefasste Zahlen, nie Ihre einzelnen Ergebnisse." : "Wenn Ihr Betrieb einen Team-Code ausgibt, können Sie beitreten. Das Team sieht nur zusammengefasste Zahlen ab fünf Personen." }),
          h("label", { for: "lb-team", text: "Team-Code" }), h("div", { class: "row" }, [team,
            h("button", { type: "button", class: "secondary", text: "Beitreten", onclick: function () {
              api("PUT", "/api/learning/learners/" + l.id + "/team", { team_code: team.value.trim() }).then(function () { go({}); }).catch(function (e) { teamMsg.textContent = e.message; });
            } }),
            p.team ? h("button", { type: "button", class: "secondary", text: "Team verlassen", onclick: function () {
              api("PUT", "/api/learning/learners/" + l.id + "/team", { team_code: null }).then(function () { go({}); }).catch(function (e) { teamMsg.textContent = e.message; });
            } }) : null]), teamMsg]),
        h("section", { class: "card" }, [h("h2", { text: "Meine Daten" }),
          h("p", { class: "muted", text: "Rolle: " + p.role_label + (p.display_name ? " · Name im Nachweis: " + p.display_name : "") }),
          h("div", { class: "row" }, [
            h("button", { type: "button", class: "secondary", text: "Meine Daten herunterladen (JSON)", onclick: function () { download("/api/learning/learners/" + l.id, "meine-lerndaten.json"); } }),
            h("button", { type: "button", class: "danger", id: "lb-delete", text: "Alle meine Lerndaten löschen", onclick: function () { removeAll(l); } })]),
          h("p", {}, [h("a", { href: "/was-wird-gespeichert", text: "Was wird gespeichert?" }), " · ",
            h("a", { href: "/lernen/?team=1", text: "Für Betriebe: Team-Übersicht" })])])
      ]);
    }).catch(fail);
  }
  function download(url, name) {
    api("GET", url).then(function (blob) {
      if (!(blob instanceof Blob)) blob = new Blob([JSON.stringify(blob, null, 2)], { type: "application/json" });
      var a = h("a", { href: URL.createObjectURL(blob), download: name });
      document.body.append(a); a.click(); setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
    }).catch(fail);
  }
  function removeAll(l) {
    if (!window.confirm("Wirklich alle Lerndaten löschen? Fortschritt, Quizergebnisse und ausgestellte Nachweise (ihre Prüf-ID) werden endgültig gelöscht.")) return;
    api("DELETE", "/api/learning/learners/" + l.id).then(function () {
      saveLearner(null);
      show([h("div", { class: "card" }, [h("h1", { text: "Ihre Lerndaten sind gelöscht" }),
        h("p", { role: "status", text: "Fortschritt, Quizergebnisse und Nachweise wurden vom Server entfernt." }),
        h("a", { href: "/lernen/", class: "btn", text: "Neu beginnen" })])]);
    }).catch(fail);
  }

  // ------------------------------------------------------------------ a unit
  function unitPage(l, id, anchor) {
    api("GET", "/api/learning/units/" + encodeURIComponent(id) + "?role=" + encodeURIComponent(l.role)).then(function (u) {
      api("POST", "/api/learning/learners/" + l.id + "/progress", { unit_id: id, event: "opened", seconds: 0 }).catch(function () {});
      startTimer(id);
      var asked = u.fragen.length ? h("section", { class: "card asked" }, [h("h2", { text: "Fragen, die sich andere dazu stellen" }),
        h("ul", {}, u.fragen.map(function (q) {
          return h("li", {}, [h("span", { text: "„" + q.frage + "“ " }), h("a", { href: "#" + q.anchor, text: "→ " + q.abschnitt })]);
        }))]) : null;
      var next = u.quiz_items
        ? h("button", { type: "button", text: "Weiter zum Quiz (" + u.quiz_items + " Fragen)", onclick: function () { go({ quiz: id }); } })
        : h("button", { type: "button", text: "Einheit abschließen", onclick: function () {
            stopTimer();
            api("POST", "/api/learning/learners/" + l.id + "/progress", { unit_id: id, event: "completed", seconds: 0 }).then(function () { go({}); }).catch(fail);
          } });
      show([h("p", {}, [h("a", { href: "/lernen/", text: "← Mein Lernpfad" })]),
        h("article", { class: "card unit" }, [h("h1", { text: u.titel }), h("p", { class: "muted", text: "Stand: " + deDate(u.stand) }),
          h("div", { html: u.html })]),
        asked, h("p", { class: "row" }, [next, h("a", { href: "/lernen/", text: "Zurück zum Lernpfad" })])], !anchor);
      if (anchor) { var t = document.getElementById(anchor); if (t) { t.setAttribute("tabindex", "-1"); t.scrollIntoView(); t.focus(); } }
    }).catch(fail);
  }

  // ------------------------------------------------------------------ quiz and review
  function itemFieldset(it, n) {
    var multi = it.typ === "mehrfach";
    var name = "q-" + it.id;
    var hint = multi ? "Mehrere Antworten können richtig sein." : (it.typ === "wahr_falsch" ? "Wahr oder falsch?" : "Eine Antwort ist richtig.");
    return h("fieldset", { "data-item": it.id }, [h("legend", { text: "Frage " + n }), h("p", { text: it.frage }), h("p", { class: "muted", text: hint })]
      .concat(it.optionen.map(function (o, i) {
        return h("label", { class: "opt" }, [h("input", { type: multi ? "checkbox" : "radio", name: name, value: String(i) }), h("span", { text: o })]);
      })));
  }
  function collect(items, form) {
    var answers = {}, missing = 0;
    items.forEach(function (it) {
      var picked = Array.prototype.map.call(form.querySelectorAll("input[name='q-" + it.id + "']:checked"), function (x) { return Number(x.value); });
      if (!picked.length) { missing++; return; }
      answers[it.id] = it.typ === "wahr_falsch" ? picked[0] === 0 : picked;
    });
    return { answers: answers, missing: missing };
  }
  function showResults(items, form, res, done) {
    var byId = {}; res.results.forEach(function (r) { byId[r.item_id] = r; });
    items.forEach(function (it) {
      var r = byId[it.id], fs = form.querySelector("fieldset[data-item='" + it.id + "']");
      if (!r || !fs) return;
      fs.querySelectorAll("input").forEach(function (x) { x.disabled = true; });
      var right = it.typ === "wahr_falsch" ? (r.richtig ? "Wahr" : "Falsch") : r.richtig.map(function (i) { return it.optionen[i]; }).join("; ");
      fs.append(h("div", { class: "result " + (r.correct ? "ok" : "bad"), role: "note" }, [
        h("strong", { text: r.correct ? "Richtig." : "Nicht richtig. Richtig ist: " + right }),
        h("p", { text: r.erklaerung }),
        h("a", { href: r.link, text: "Zum Abschnitt „" + r.abschnitt + "“" }),
        r.correct ? null : h("p", { class: "muted", text: "Diese Frage kommt unter „Wiederholen“ wieder." })]));
    });
    form.append(h("p", { role: "status", class: "msg", text: res.correct + " von " + res.total + " richtig." }), done);
  }
  function quizPage(l, id) {
    api("GET", "/api/learning/units/" + encodeURIComponent(id) + "/quiz").then(function (q) {
      var msg = h("p", { class: "msg error", role: "alert", hidden: true });
      var submit = h("button", { type: "submit", text: "Auswerten" });
      var form = h("form", { novalidate: true }, q.items.map(function (it, i) { return itemFieldset(it, i + 1); }).concat([msg, submit]));
      form.addEventListener("submit", function (e) {
        e.preventDefault();
        var c = collect(q.items, form);
        if (c.missing) { msg.textContent = "Bitte beantworten Sie alle Fragen (" + c.missing + " offen)."; msg.hidden = false; return; }
        msg.hidden = true; submit.disabled = true;
        api("POST", "/api/learning/learners/" + l.id + "/attempts", { answers: c.answers }).then(function (res) {
          submit.remove();
          showResults(q.items, form, res, h("p", { class: "row" }, [h("a", { class: "btn", href: "/lernen/", text: "Zurück zum Lernpfad" })]));
        }).catch(function (e2) { submit.disabled = false; msg.textContent = e2.message; msg.hidden = false; });
      });
      show([h("p", {}, [h("a", { href: "/lernen/?einheit=" + id, text: "← Zurück zur Einheit" })]),
        h("section", { class: "card" }, [h("h1", { text: "Quiz: " + q.titel }), form])]);
    }).catch(fail);
  }
  function reviewPage(l) {
    api("GET", "/api/learning/learners/" + l.id + "/progress").then(function (p) {
      var items = p.reviews.due;
      if (!items.length) { show([h("section", { class: "card" }, [h("h1", { text: "Wiederholen" }), h("p", { text: "Gerade ist nichts zu wiederholen." }), h("a", { href: "/lernen/", text: "Zurück zum Lernpfad" })])]); return; }
      var msg = h("p", { class: "msg error", role: "alert", hidden: true });
      var submit = h("button", { type: "submit", text: "Auswerten" });
      var form = h("form", { novalidate: true }, items.map(function (it, i) { return itemFieldset(it, i + 1); }).concat([msg, submit]));
      form.addEventListener("submit", function (e) {
        e.preventDefault();
        var c = collect(items, form);
        if (c.missing) { msg.textContent = "Bitte beantworten Sie alle Fragen (" + c.missing + " offen)."; msg.hidden = false; return; }
        submit.disabled = true;
        api("POST", "/api/learning/learners/" + l.id + "/attempts", { answers: c.answers, review: true }).then(function (res) {
          submit.remove();
          showResults(items, form, res, h("p", {}, [h("a", { class: "btn", href: "/lernen/", text: "Zurück zum Lernpfad" })]));
        }).catch(function (e2) { submit.disabled = false; msg.textContent = e2.message; msg.hidden = false; });
      });
      show([h("section", { class: "card" }, [h("h1", { text: "Wiederholen" }), h("p", { class: "muted", text: "Fragen, die Sie zuletzt falsch beantwortet haben." }), form])]);
    }).catch(fail);
  }


  // ------------------------------------------------------------------ team (for the business): aggregates only
  var TEAM_KEY = "ki-lernbegleiter-team";
  function teamPage() {
    var saved = null; try { saved = JSON.parse(localStorage.getItem(TEAM_KEY) || "null"); } catch (e) { saved = null; }
    var out = h("div", { "aria-live": "polite" });
    var name = h("input", { type: "text", id: "lb-team-name", maxlength: "120" });
    var code = h("input", { type: "text", id: "lb-team-code", maxlength: "32", value: saved ? saved.code : "" });
    var key = h("input", { type: "text", id: "lb-team-key", maxlength: "64", autocomplete: "off", value: saved ? saved.key : "" });
    var msg = h("p", { role: "alert", class: "msg error", hidden: true });
    function error(e) { msg.textContent = e.message; msg.hidden = false; }
    function load() {
      msg.hidden = true;
      fetch("/api/learning/teams/" + encodeURIComponent(code.value.trim()) + "/summary", { headers: { "X-Team-Key": key.value.trim() } })
        .then(function (r) { return r.json().then(function (j) { if (!r.ok) throw new Error(j.error || "Fehler"); return j; }); })
        .then(function (s) {
          localStorage.setItem(TEAM_KEY, JSON.stringify({ code: s.team_code, key: key.value.trim() }));
          var hidden = "weniger als " + s.min_group;
          out.replaceChildren(h("h2", { text: "Team „" + s.team + "“" }),
            h("p", { text: "Mitglieder: " + (s.members == null ? hidden : s.members) + ". Gezeigt werden nur zusammengefasste Zahlen; für Gruppen mit weniger als " + s.min_group + " Personen erscheint keine Zahl." }));
          s.paths.forEach(function (p) {
            out.append(h("h3", { text: p.titel }));
            if (p.members == null) { out.append(h("p", { class: "muted", text: "Teilnehmende: " + hidden + " – keine Zahlen." })); return; }
            out.append(h("p", { text: "Teilnehmende: " + p.members + " · begonnen: " + p.started + " · abgeschlossen: " + p.completed }),
              h("table", {}, [h("tr", {}, [h("th", { text: "Einheit" }), h("th", { text: "abgeschlossen" })])].concat(p.units.map(function (u) {
                return h("tr", {}, [h("td", { text: u.titel }), h("td", { text: u.completion_rate + " %" })]);
              }))));
          });
          out.append(h("p", {}, [h("button", { type: "button", class: "secondary", text: "Team-Übersicht als PDF", onclick: function () {
            fetch("/api/learning/teams/" + encodeURIComponent(s.team_code) + "/record.pdf", { headers: { "X-Team-Key": key.value.trim() } })
              .then(function (r) { if (!r.ok) throw new Error("Die Übersicht konnte nicht erstellt werden."); return r.blob(); })
              .then(function (b) { var a = h("a", { href: URL.createObjectURL(b), download: "team-ki-kompetenz.pdf" }); document.body.append(a); a.click(); a.remove(); })
              .catch(error);
          } })]));
        }).catch(error);
    }
    show([h("section", { class: "card" }, [h("h1", { text: "Für Betriebe: Team" }),
        h("p", { text: "Legen Sie ein Team an und geben Sie den Team-Code an Ihre Beschäftigten. Beitreten ist freiwillig. Sie sehen nur zusammengefasste Zahlen, nie die Ergebnisse einzelner Personen." }),
        h("label", { for: "lb-team-name", text: "Name des Teams" }), h("div", { class: "row" }, [name,
          h("button", { type: "button", text: "Team anlegen", onclick: function () {
            api("POST", "/api/learning/teams", { name: name.value }).then(function (t) {
              code.value = t.team_code; key.value = t.owner_key;
              localStorage.setItem(TEAM_KEY, JSON.stringify({ code: t.team_code, key: t.owner_key }));
              out.replaceChildren(h("p", { class: "msg", role: "status", text: "Team angelegt. Team-Code für die Beschäftigten: " + t.team_code + ". Ihr Team-Schlüssel (nur für Sie, bitte aufbewahren): " + t.owner_key }));
            }).catch(error);
          } })]), msg]),
      h("section", { class: "card" }, [h("h2", { text: "Team-Übersicht" }),
        h("label", { for: "lb-team-code", text: "Team-Code" }), code,
        h("label", { for: "lb-team-key", text: "Team-Schlüssel" }), key,
        h("p", {}, [h("button", { type: "button", text: "Übersicht anzeigen", onclick: load })]), out,
        h("p", {}, [h("a", { href: "/was-wird-gespeichert", text: "Was wird gespeichert?" })])])]);
  }

  // ------------------------------------------------------------------ router
  function render() {
    var q = new URLSearchParams(location.search), l = learner();
    var anchor = location.hash ? decodeURIComponent(location.hash.slice(1)) : null;
    if (l && q.get("rolle") && ROLES[q.get("rolle")] && q.get("rolle") !== l.role) {
      // "Jetzt lernen" for another role than the stored one: offer that role's path
      return startPage(q.get("rolle"));
    }
    if (q.get("team")) return teamPage();
    if (!l) return startPage(q.get("rolle"));
    if (q.get("einheit")) return unitPage(l, q.get("einheit"), anchor);
    if (q.get("quiz")) return quizPage(l, q.get("quiz"));
    if (q.get("wiederholen")) return reviewPage(l);
    return pathPage(l);
  }
  window.addEventListener("popstate", function () { stopTimer(); render(); });
  window.addEventListener("pagehide", stopTimer);
  render();
})();
