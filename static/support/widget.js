/* Textsuite support chat widget: drop <script src=".../widget.js" data-api="/api/support/">
   on any page (templates/support/widget_embed.html does it). Text is always rendered with
   textContent, never as HTML. Messages carry client ids and the widget resumes from the last
   message id it saw, so reconnects neither lose nor duplicate messages. */
(function () {
  "use strict";
  var script = document.currentScript;
  // The widget's fixed texts in the page's language (Django's JavaScript catalog, loaded by
  // widget_embed.html before this file); English where no catalog is loaded.
  var t = window.gettext || function (text) { return text; };
  var interpolate = window.interpolate || function (fmt, args) {
    var i = 0;
    return fmt.replace(/%s/g, function () { return String(args[i++]); });
  };
  var cfg = {
    api: (script && script.dataset.api) || "/api/support/",
    csrf: (script && script.dataset.csrf) || "",
    mode: (script && script.dataset.mode) || "floating",
    target: (script && script.dataset.target) || "",
    // The knowledge base this page's chat answers from (its slug, e.g. "shop"); empty: the
    // default one. The server refuses a name it does not know.
    kb: (script && script.dataset.kb) || "",
  };
  // One conversation per knowledge base: the shop's chat does not continue the bank's.
  var KEY = "textsuite-support" + (cfg.kb ? ":" + cfg.kb : "");
  var state = load();
  // lastId is this page's own: a new page (reload, next storefront page) starts from 0 and so
  // shows the whole transcript; a reconnect within the page asks only for what it missed.
  var ws = null, retry = 0, seen = {}, streaming = null, outbox = state.outbox || [], lastId = 0;
  // Ratings and "talk to a human" wait here until the server answers them: clicked while the
  // socket is down they are sent on reconnect (and again after a drop), and the widget thanks
  // the customer only for what the server confirmed. `csatDone` is the conversation's rating.
  var requests = [], csatDone = null;
  var el = {};

  function load() { try { return JSON.parse(localStorage.getItem(KEY)) || {}; } catch (e) { return {}; } }
  function save() { state.outbox = outbox; localStorage.setItem(KEY, JSON.stringify(state)); }
  function uid() { return Date.now().toString(36) + Math.random().toString(36).slice(2, 10); }
  function make(tag, cls, text) {
    var n = document.createElement(tag);
    if (cls) n.className = cls;
    if (text !== undefined) n.textContent = text;
    return n;
  }
  function cookie(name) {
    var m = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return m ? decodeURIComponent(m[1]) : "";
  }

  function build() {
    var root = make("div", "ts-chat ts-" + cfg.mode);
    root.setAttribute("data-testid", "support-widget");
    var panel = make("section", "ts-panel");
    var head = make("header", "ts-head");
    head.appendChild(make("strong", "", t("Help")));
    var human = make("button", "ts-human", t("Talk to a human"));
    human.type = "button";
    human.onclick = function () {
      requests = requests.filter(function (r) { return r.frame.type !== "human"; });
      request({ type: "human" }, null);
    };
    head.appendChild(human);
    panel.appendChild(head);
    el.list = make("ol", "ts-messages");
    el.list.setAttribute("aria-live", "polite");
    panel.appendChild(el.list);
    el.typing = make("div", "ts-typing", "");
    panel.appendChild(el.typing);
    el.status = make("div", "ts-status", "");
    panel.appendChild(el.status);
    var form = make("form", "ts-form");
    el.input = make("textarea");
    el.input.rows = 2;
    el.input.maxLength = 2000;
    el.input.placeholder = t("Type your question…");
    el.input.setAttribute("aria-label", t("Your message"));
    el.input.addEventListener("input", typing);
    el.input.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); submit(); }
    });
    var btn = make("button", "", t("Send"));
    btn.type = "submit";
    form.appendChild(el.input);
    form.appendChild(btn);
    form.onsubmit = function (e) { e.preventDefault(); submit(); };
    panel.appendChild(form);
    if (cfg.mode === "floating") {
      var launcher = make("button", "ts-launcher", t("Chat with us"));
      launcher.type = "button";
      launcher.onclick = function () { root.classList.toggle("ts-open"); if (!ws) start(); };
      root.appendChild(launcher);
    }
    root.appendChild(panel);
    var host = cfg.target && document.getElementById(cfg.target);
    (host || document.body).appendChild(root);
    el.root = root;
  }

  var typingTimer = null, typingShown = null;
  function typing() {
    if (typingTimer) return;
    send({ type: "typing", on: true });
    typingTimer = setTimeout(function () { typingTimer = null; }, 3000);
  }

  // People send "typing" while they type and nothing when they stop (or leave), so an agent's
  // indicator goes away on its own; the bot's ends with its answer.
  var TYPING_SHOWN_MS = 6000;
  function showTyping(text, expires) {
    el.typing.textContent = text;
    clearTimeout(typingShown);
    if (text && expires) typingShown = setTimeout(function () { el.typing.textContent = ""; }, TYPING_SHOWN_MS);
  }

  function submit() {
    var text = el.input.value.trim();
    if (!text) { showStatus(t("Please type a message first.")); return; }
    if (text.length > 2000) { showStatus(t("That message is too long (2000 characters at most).")); return; }
    el.input.value = "";
    var item = { type: "message", text: text, client_id: uid() };
    outbox.push(item);
    save();
    render({ id: null, sender: "customer", text: text, client_id: item.client_id, pending: true });
    send(item);
  }

  function send(obj) {
    if (ws && ws.readyState === 1) ws.send(JSON.stringify(obj));
    else if (!ws) start();
  }

  function showStatus(text) { el.status.textContent = text || ""; }

  // `token` ties a rating to its conversation (null: whichever is current, as for "human").
  function request(frame, token) {
    requests.push({ frame: frame, token: token });
    if (ws && ws.readyState === 1) ws.send(JSON.stringify(frame));
    else {
      if (!ws) start();
      if (frame.type === "human") showStatus(t("Not connected; asking for a person as soon as the connection is back…"));
    }
  }
  function answered(type, messageId) {
    var found = null;
    requests = requests.filter(function (r) {
      var match = !found && r.frame.type === type && (type !== "rate" || r.frame.message_id === messageId);
      if (match) found = r;
      return !match;
    });
    return found;
  }
  function flushRequests() {
    requests = requests.filter(function (r) {
      if (r.token && r.token !== state.token) { notSent(r.frame, "this conversation has ended."); return false; }
      ws.send(JSON.stringify(r.frame));
      return true;
    });
  }
  function notSent(frame, reason) {
    if (frame.type === "rate") rateBoxes(frame.message_id, function (box) { fillRate(box, frame.message_id, t("Your rating was not sent: ") + reason, true); });
    else if (frame.type === "csat") csatBoxes(function (box) { fillCsat(box, t("Your rating was not sent: ") + reason, true); });
    else showStatus(t("Not sent: ") + reason);
  }

  // One conversation at a time: a message typed while the first one is being created waits in
  // the outbox for it, instead of starting a second conversation that the first then orphans.
  var starting = false;
  function start() {
    if (state.token) { connect(); return; }
    if (starting) return;
    starting = true;
    var headers = { "Content-Type": "application/json" };
    var token = cfg.csrf || cookie("csrftoken");
    if (token) headers["X-CSRFToken"] = token;
    var body = cfg.kb ? JSON.stringify({ kb: cfg.kb }) : "{}";
    fetch(cfg.api + "chat/", { method: "POST", headers: headers, credentials: "same-origin", body: body })
      .then(function (r) {
        // A refusal (an unknown knowledge base) is said once, not retried for ever.
        if (r.status === 400) return r.json().then(function (e) { var err = new Error(e.detail || "HTTP 400"); err.refused = true; throw err; });
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.json();
      })
      .then(function (data) { starting = false; state = { token: data.token }; lastId = 0; save(); connect(); })
      .catch(function (err) {
        starting = false;
        if (err && err.refused) { showStatus(t("Chat is not available on this page: ") + err.message); return; }
        showStatus(t("Chat is unavailable right now. Retrying…")); setTimeout(start, 5000);
      });
  }

  function connect() {
    if (ws && ws.readyState <= 1) return;  // already connecting or open
    var proto = location.protocol === "https:" ? "wss://" : "ws://";
    ws = new WebSocket(proto + location.host + "/ws/support/chat/" + state.token + "/?after=" + lastId);
    ws.onopen = function () {
      retry = 0;
      showStatus("");
      outbox.forEach(function (m) { ws.send(JSON.stringify(m)); });
      flushRequests();
    };
    ws.onmessage = function (e) { handle(JSON.parse(e.data)); };
    ws.onclose = function (e) {
      ws = null;
      if (e.code === 4404) {
        state = {}; outbox = []; save();
        // Ratings belong to the deleted conversation; a request for a person goes to the new one.
        flushGone();
        start(); return;
      }
      // The conversation was closed under the customer: their unsent messages go to a new one.
      if (!state.token) { start(); return; }
      showStatus(t("Reconnecting…"));
      retry = Math.min(retry + 1, 6);
      setTimeout(connect, 500 * Math.pow(2, retry));
    };
  }

  function flushGone() {
    requests = requests.filter(function (r) {
      if (r.token) { notSent(r.frame, "this conversation no longer exists."); return false; }
      return true;
    });
  }

  function handle(event) {
    if (event.type === "history") {
      csatDone = event.csat || null;
      event.messages.forEach(render);
      if (csatDone) csatBoxes(function (box) { fillCsat(box, rated(csatDone)); });
      setStatus(event.status);
    } else if (event.type === "message") {
      render(event.message);
    } else if (event.type === "ack") {
      outbox = outbox.filter(function (m) { return m.client_id !== event.client_id; });
      save();
      if (busyShown) { busyShown = false; showStatus(""); }
      var pending = el.list.querySelector('[data-client-id="' + CSS.escape(event.client_id || "") + '"]');
      if (pending) { pending.dataset.id = event.id; pending.classList.remove("ts-pending"); seen[event.id] = true; }
    } else if (event.type === "typing") {
      showTyping(event.on ? (event.who === "agent" ? t("An agent is typing…") : t("Typing…")) : "", event.who === "agent");
    } else if (event.type === "token") {
      if (!streaming) { streaming = make("li", "ts-msg ts-bot ts-streaming", ""); el.list.appendChild(streaming); }
      streaming.textContent += event.text;
      el.list.scrollTop = el.list.scrollHeight;
    } else if (event.type === "status") {
      setStatus(event.status);
      // Rated in another tab: this one stops offering it too.
      if (event.event === "csat" && !csatDone && !requests.some(function (r) { return r.frame.type === "csat"; })) {
        csatDone = true;
        csatBoxes(function (box) { fillCsat(box, t("This conversation has been rated. Thank you!")); });
      }
    } else if (event.type === "human") {
      answered("human");
      // Queued now: the bot's handoff message and the status say so already.
      if (event.outcome !== "queued") showStatus(event.text);
    } else if (event.type === "rated") {
      answered("rate", event.message_id);
      rateBoxes(event.message_id, function (box) { fillRate(box, event.message_id, t("Thanks for the feedback.")); });
    } else if (event.type === "csat_thanks") {
      answered("csat");
      csatDone = event.score || true;
      csatBoxes(function (box) { fillCsat(box, rated(event.score) + " Thank you!"); });
      showStatus(t("Thank you for your rating!"));
    } else if (event.type === "csat_ignored") {
      var mine = answered("csat");
      if (event.csat) {
        // A resend of a rating that had been stored before the connection dropped is no refusal.
        csatDone = event.csat;
        var same = mine && mine.frame.score === event.csat;
        csatBoxes(function (box) { fillCsat(box, same ? rated(event.csat) + " " + t("Thank you!") : interpolate(t("You have already rated this conversation (%s/5)."), [event.csat])); });
      } else {
        csatBoxes(function (box) { fillCsat(box, t("Your rating was not sent: ") + event.message, true); });
      }
    } else if (event.type === "error" && event.code === "busy") {
      busy(event);
    } else if (event.type === "error") {
      if (event.request === "rate" || event.request === "csat" || event.request === "human") {
        var failed = answered(event.request, event.message_id);
        // A closed conversation: asking for a person carries over to the new one (below).
        if (failed && event.request === "human" && event.code === "closed") requests.push(failed);
        else if (failed && event.request !== "human") notSent(failed.frame, event.message);
      }
      if (event.code === "closed") {
        var resend = outbox.slice();
        state = {}; outbox = []; save();
        if (ws) ws.close();
        showStatus(t("Starting a new conversation…"));
        // Same client ids: the pending bubbles on screen are confirmed by the new conversation.
        resend.forEach(function (m) { if (m.type === "message") outbox.push(m); });
        save();
        return;
      }
      // Only the message the error names was refused (or failed): it leaves the outbox and its
      // bubble says so, its text back in the box to edit or send again; the others still wait
      // for their acks, so nothing the customer typed is lost.
      if (event.client_id) {
        outbox = outbox.filter(function (m) { return m.client_id !== event.client_id; });
        save();
        var failed = el.list.querySelector('.ts-pending[data-client-id="' + CSS.escape(event.client_id) + '"]');
        if (failed) {
          failed.classList.remove("ts-pending");
          failed.classList.add("ts-failed");
          failed.appendChild(make("div", "ts-failed-note", t("Not sent: ") + event.message));
          if (!el.input.value) el.input.value = failed.querySelector(".ts-text").textContent;
        }
      }
      showStatus(event.message);
    }
  }

  // The server is answering too many questions at once and stored nothing: the message stays
  // pending in the outbox and goes again after the wait the server asked for (with jitter, so
  // refused customers do not all come back in the same instant).
  var busyShown = false;
  function busy(event) {
    busyShown = true;
    showStatus(t("Many customers are asking right now; sending your message again in a moment…"));
    var wait = 1000 * (event.retry_after || 2) * (1 + Math.random());
    setTimeout(function () {
      var again = outbox.filter(function (m) { return m.client_id === event.client_id; })[0];
      if (again) send(again);
    }, wait);
  }

  function setStatus(status) {
    el.root.dataset.status = status;
    el.input.placeholder = status === "email" ? t("Your email address, e.g. name@example.com") : t("Type your question…");
    if (status === "waiting") showStatus(t("Waiting for an agent…"));
    else if (status === "email") showStatus(t("Our team is away: a person will answer you by email."));
    else if (status === "agent") showStatus("");
    else if (status === "closed") showStatus(t("This conversation is closed.") + (csatDone ? " " + t("Thank you for your rating!") : ""));
  }

  function render(m) {
    if (m.id && seen[m.id]) return;
    if (m.id) {
      seen[m.id] = true;
      if (m.id > lastId) lastId = m.id;
      if (m.client_id) {
        var mine = el.list.querySelector('[data-client-id="' + CSS.escape(m.client_id) + '"]');
        if (mine) { mine.dataset.id = m.id; mine.classList.remove("ts-pending"); return; }
      }
    }
    if (m.sender === "bot" && streaming) { streaming.remove(); streaming = null; }
    if (m.sender === "agent") showTyping("");
    var li = make("li", "ts-msg ts-" + m.sender + (m.pending ? " ts-pending" : ""));
    if (m.id) li.dataset.id = m.id;
    if (m.client_id) li.dataset.clientId = m.client_id;
    li.appendChild(make("div", "ts-text", m.text));
    if (m.citations && m.citations.length) {
      var cites = make("div", "ts-cites", t("Sources: "));
      m.citations.forEach(function (c, i) {
        var url = String(c.url || "");
        if (!/^(https?:\/\/|\/)/.test(url)) return;
        var a = make("a", "", c.title || url);
        a.href = url;
        a.target = "_blank";
        a.rel = "noopener noreferrer";
        if (i) cites.appendChild(document.createTextNode(" · "));
        cites.appendChild(a);
      });
      li.appendChild(cites);
    }
    if (m.sender === "bot" && ["faq", "extractive", "generated"].indexOf(m.kind) >= 0) {
      var rate = make("div", "ts-rate");
      rate.dataset.messageId = m.id;
      fillRate(rate, m.id, m.rating ? (m.rating === "up" ? t("You rated this answer helpful.") : t("You rated this answer not helpful.")) : "");
      li.appendChild(rate);
    }
    if (m.kind === "csat_request") {
      var csat = make("div", "ts-csat");
      fillCsat(csat, csatDone ? rated(csatDone) : "", !csatDone);
      li.appendChild(csat);
    }
    place(li, m.id);
    el.list.scrollTop = el.list.scrollHeight;
  }

  // Messages keep the server's order: one that arrives late (the new conversation's greeting,
  // after a message typed following a close) goes before the bubbles still waiting to be sent
  // and before any later message, not under them.
  function place(li, id) {
    var before = null;
    if (id) {
      var items = el.list.children;
      for (var i = 0; i < items.length; i++) {
        var other = items[i];
        if (other.classList.contains("ts-pending") || (other.dataset.id && Number(other.dataset.id) > id)) {
          before = other;
          break;
        }
      }
    }
    el.list.insertBefore(li, before);
  }

  function rated(score) { return typeof score === "number" ? interpolate(t("You rated us %s/5."), [score]) : t("Thank you for your rating!"); }
  function sending() {
    return ws && ws.readyState === 1 ? t("Sending your rating…") : t("Not sent yet: reconnecting. It will be sent when the connection is back.");
  }
  function rateBoxes(messageId, fn) {
    Array.prototype.forEach.call(el.list.querySelectorAll('.ts-rate[data-message-id="' + Number(messageId) + '"]'), fn);
  }
  function csatBoxes(fn) { Array.prototype.forEach.call(el.list.querySelectorAll(".ts-csat"), fn); }

  // A rating box: a note and, unless the rating is done or on its way, the buttons.
  function fillRate(box, messageId, note, buttons) {
    box.textContent = "";
    if (note) box.appendChild(make("span", "ts-note", note));
    if (note && !buttons) return;
    // An optional comment goes with the thumbs (agents read it on the review page).
    var comment = make("input", "ts-rate-comment");
    comment.type = "text";
    comment.maxLength = 500;
    comment.placeholder = "Comment (optional)";
    comment.setAttribute("aria-label", "Comment on this answer (optional)");
    box.appendChild(comment);
    [["up", "👍 Helpful"], ["down", "👎 Not helpful"]].forEach(function (pair) {
      var b = make("button", "ts-rate-" + pair[0], pair[1]);
      b.type = "button";
      b.onclick = function () {
        var token = state.token;
        requests = requests.filter(function (r) { return !(r.frame.type === "rate" && r.frame.message_id === messageId); });
        box.textContent = sending();
        request({ type: "rate", message_id: messageId, rating: pair[0], comment: comment.value }, token);
      };
      box.appendChild(b);
    });
  }
  function fillCsat(box, note, buttons) {
    box.textContent = "";
    if (note) box.appendChild(make("span", "ts-note", note));
    if (buttons || !note) box.appendChild(csatButtons());
  }
  function csatButtons() {
    var row = make("span", "ts-csat-buttons");
    for (var i = 1; i <= 5; i++) {
      (function (score) {
        var b = make("button", "", String(score));
        b.type = "button";
        b.title = score + " out of 5";
        b.onclick = function () {
          if (requests.some(function (r) { return r.frame.type === "csat"; })) return;
          csatBoxes(function (other) { other.textContent = sending(); });
          request({ type: "csat", score: score }, state.token);
        };
        row.appendChild(b);
      })(i);
    }
    return row;
  }

  function init() {
    build();
    if (cfg.mode !== "floating" || state.token) start();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
