/* Agent console: live queue, transcript with the bot's sources, replies, notes, takeover,
   transfer, close, flags and suggestions, all over one websocket. Text goes in via textContent. */
(function () {
  "use strict";
  var me = Number(document.querySelector(".console").dataset.me);
  var ws = null, retry = 0, opened = null, conversations = {}, seen = {};
  function $(id) { return document.getElementById(id); }
  function make(tag, cls, text) { var n = document.createElement(tag); if (cls) n.className = cls; if (text !== undefined && text !== null) n.textContent = text; return n; }
  function uid() { return Date.now().toString(36) + Math.random().toString(36).slice(2, 10); }
  function send(obj) { if (ws && ws.readyState === 1) ws.send(JSON.stringify(obj)); else $("error").textContent = "Not connected; retrying…"; }

  function connect() {
    var proto = location.protocol === "https:" ? "wss://" : "ws://";
    ws = new WebSocket(proto + location.host + "/ws/support/console/");
    ws.onopen = function () { retry = 0; $("presence").textContent = "online"; $("presence").className = "badge good"; if (opened) send({ type: "open", conversation_id: opened }); };
    ws.onclose = function () { $("presence").textContent = "offline – reconnecting"; $("presence").className = "badge bad"; retry = Math.min(retry + 1, 5); setTimeout(connect, 500 * Math.pow(2, retry)); };
    ws.onmessage = function (e) { handle(JSON.parse(e.data)); };
  }
  setInterval(function () { send({ type: "heartbeat" }); }, 30000);

  function handle(ev) {
    if (ev.type === "queue") {
      conversations = {}; ev.conversations.forEach(function (c) { conversations[c.id] = c; }); renderQueue();
      renderAgents(ev.agents || []);
    }
    else if (ev.type === "agents") { renderAgents(ev.agents); }
    else if (ev.type === "queue_item" || ev.type === "conversation") { conversations[ev.conversation.id] = ev.conversation; renderQueue(); if (ev.conversation.id === opened) renderHead(ev.conversation); }
    else if (ev.type === "transcript") { openTranscript(ev); }
    else if (ev.type === "message") { if (opened) addMessage(ev.message); }
    else if (ev.type === "typing") { showTyping(ev.on ? "The customer is typing…" : ""); }
    else if (ev.type === "ack") { delete replies[ev.client_id]; }
    else if (ev.type === "error") {
      $("error").textContent = ev.message;
      if (ev.client_id && replies[ev.client_id] !== undefined) {
        if (!$("reply").value) $("reply").value = replies[ev.client_id];
        delete replies[ev.client_id];
      }
      // A conversation deleted meanwhile leaves the queue.
      if (ev.code === "not_found" && ev.conversation_id) { delete conversations[ev.conversation_id]; renderQueue(); }
    }
    else if (ev.type === "email_sent") { $("email-text").value = ""; notice("Answer sent by email."); }
    else if (ev.type === "faq_draft") { notice("Draft FAQ saved for review: " + ev.question); }
  }

  // The customer's widget sends "typing" while they type and nothing when they stop or leave,
  // so the indicator goes away on its own, and when their message arrives.
  var typingShown = null, typingSent = 0;
  function showTyping(text) {
    $("typing").textContent = text;
    clearTimeout(typingShown);
    if (text) typingShown = setTimeout(function () { $("typing").textContent = ""; }, 6000);
  }

  // "Transfer to": the colleagues online now. The server sends the list when agents come and go
  // (and when asked, as the control gets focus); an unchanged list is left alone so an open
  // drop-down is not rebuilt under the agent's pointer.
  var agentsShown = "";
  function renderAgents(agents) {
    var others = agents.filter(function (a) { return a.id !== me; });
    var key = JSON.stringify(others);
    if (key === agentsShown) return;
    agentsShown = key;
    var sel = $("transfer-to"), chosen = sel.value;
    sel.textContent = "";
    var first = make("option", "", "Transfer to…"); first.value = ""; sel.appendChild(first);
    others.forEach(function (a) { var o = make("option", "", a.name); o.value = a.id; sel.appendChild(o); });
    sel.value = others.some(function (a) { return String(a.id) === chosen; }) ? chosen : "";
  }

  // Success and information are told apart from errors: green, in their own line.
  function notice(text) { $("error").textContent = ""; $("notice").textContent = text; }

  // Waiting customers: a badge, a counter in the tab's title and, if the agent asked for it,
  // a short tone when someone new starts waiting.
  var baseTitle = document.title, waitingIds = null;
  var soundBox = $("sound");
  try { soundBox.checked = localStorage.getItem("textsuite-console-sound") === "on"; } catch (e) { /* private mode */ }
  soundBox.onchange = function () {
    try { localStorage.setItem("textsuite-console-sound", soundBox.checked ? "on" : "off"); } catch (e) { /* private mode */ }
  };
  var audio = null;
  function chime() {
    if (!soundBox.checked) return;
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      var osc = audio.createOscillator(), gain = audio.createGain();
      osc.frequency.value = 880; gain.gain.value = 0.08;
      osc.connect(gain); gain.connect(audio.destination);
      osc.start(); osc.stop(audio.currentTime + 0.25);
    } catch (e) { /* no audio device: the badge and title still tell */ }
  }
  function renderWaiting(waiting) {
    var ids = waiting.map(function (c) { return c.id; });
    var badge = $("waiting-badge");
    badge.hidden = !ids.length;
    badge.textContent = ids.length + " waiting";
    document.title = ids.length ? "(" + ids.length + ") " + baseTitle : baseTitle;
    if (waitingIds !== null && ids.some(function (id) { return waitingIds.indexOf(id) < 0; })) chime();
    waitingIds = ids;
  }

  function renderQueue() {
    var groups = { waiting: [], email: [], agent: [], bot: [], closed: [] };
    Object.keys(conversations).forEach(function (id) { var c = conversations[id]; (groups[c.status] || []).push(c); });
    Object.keys(groups).forEach(function (status) {
      var section = document.querySelector('.queue section[data-status="' + status + '"]');
      var ul = section.querySelector("ul");
      ul.textContent = "";
      groups[status].sort(function (a, b) { return b.last_message_at.localeCompare(a.last_message_at); });
      groups[status].forEach(function (c) {
        var li = make("li", (c.assigned_agent_id === me ? "mine " : "") + (c.id === opened ? "active" : ""));
        li.dataset.id = c.id;
        li.dataset.status = c.status;
        li.setAttribute("data-testid", "queue-item");
        li.appendChild(make("strong", "", "#" + c.id + " " + c.customer));
        if (c.assigned_agent) li.appendChild(make("span", "muted", " → " + c.assigned_agent));
        if (c.handoff_reason) li.appendChild(make("span", "badge warn", c.handoff_reason.replace("_", " ")));
        li.appendChild(make("span", "last", c.last_message));
        li.onclick = function () { opened = c.id; send({ type: "open", conversation_id: c.id }); renderQueue(); };
        ul.appendChild(li);
      });
      section.querySelector(".count").textContent = "(" + groups[status].length + ")";
    });
    renderWaiting(groups.waiting);
  }

  function renderHead(c) {
    $("conv-title").textContent = "#" + c.id + " " + c.customer + (c.assigned_agent ? " · " + c.assigned_agent : "");
    $("conv-status").textContent = c.status;
    $("conv-status").dataset.status = c.status;
    $("take-over").disabled = c.status === "closed" || (c.status === "agent" && c.assigned_agent_id === me);
    $("close").disabled = c.status === "closed";
    $("transfer").disabled = c.status === "closed";
    // A closed conversation is read-only: nothing typed there would reach the customer.
    var closed = c.status === "closed";
    $("closed-note").hidden = !closed;
    $("transfer-to").disabled = closed;
    $("faq-draft").disabled = false;
    ["reply", "note"].forEach(function (id) { $(id).disabled = closed; });
    document.querySelectorAll("#reply-form button, #note-form button").forEach(function (b) { b.disabled = closed; });
    // Out of hours: answered by email, to the address the customer left in the chat.
    var byEmail = c.status === "email";
    $("email-form").hidden = !byEmail || !c.customer_email;
    $("email-missing").hidden = !byEmail || !!c.customer_email;
    $("email-label").textContent = "Answer by email to " + (c.customer_email || "");
    var csat = $("conv-csat");
    csat.hidden = !c.csat;
    csat.textContent = c.csat ? "CSAT " + c.csat + "/5" : "";
    csat.className = "badge " + (c.csat >= 4 ? "good" : c.csat && c.csat <= 2 ? "bad" : "");
  }

  function openTranscript(ev) {
    $("empty").hidden = true;
    $("conv").hidden = false;
    $("error").textContent = "";
    $("notice").textContent = "";
    seen = {};
    showTyping("");
    $("messages").textContent = "";
    renderHead(ev.conversation);
    ev.messages.forEach(addMessage);
    if (ev.conversation.csat) {
      $("messages").appendChild(make("li", "system csat", "The customer rated this conversation " + ev.conversation.csat + "/5."));
    }
    var sugg = $("suggestions"); sugg.textContent = "";
    ev.suggestions.forEach(function (s) { var li = make("li", "", s.reply); li.title = s.kind + ": " + s.question + " (" + s.score + ")"; li.onclick = function () { $("reply").value = s.reply; $("reply").focus(); }; sugg.appendChild(li); });
    if (!ev.suggestions.length) sugg.appendChild(make("li", "muted", "No suggestions."));
    var canned = $("canned"); canned.textContent = "";
    ev.canned.forEach(function (c) { var li = make("li", "", c.title); li.title = c.text; li.onclick = function () { $("reply").value = c.text; $("reply").focus(); }; canned.appendChild(li); });
  }

  function addMessage(m) {
    if (seen[m.id]) { var old = $("messages").querySelector('[data-id="' + m.id + '"]'); if (old) old.remove(); }
    seen[m.id] = true;
    if (m.sender === "customer") showTyping("");
    var li = make("li", m.sender);
    li.dataset.id = m.id;
    li.appendChild(make("div", "meta", m.sender + (m.author ? " · " + m.author : "") + " · " + new Date(m.created_at).toLocaleTimeString()));
    li.appendChild(make("div", "", m.text));
    if (m.sender === "bot" && m.kind && m.kind !== "greeting") {
      var info = "answer: " + m.kind + (m.confidence !== null ? " · confidence " + Number(m.confidence).toFixed(2) : "") + (m.intent ? " · intent " + m.intent + " (" + Number(m.intent_confidence || 0).toFixed(2) + ")" : "") + (m.rating ? " · customer rated " + m.rating : "") + (m.flag ? " · flagged " + m.flag : "");
      li.appendChild(make("div", "meta", info));
      if (m.sources && m.sources.length) {
        var d = make("details"); d.appendChild(make("summary", "", "Sources used (" + m.sources.length + ")"));
        var ol = make("ol");
        m.sources.forEach(function (s) { ol.appendChild(make("li", "", s.title + " › " + s.heading + " [fused " + s.score + ", cos " + s.dense + ", bm25 " + s.keyword + "]: " + s.text)); });
        d.appendChild(ol); li.appendChild(d);
      }
      var flag = make("select"); flag.setAttribute("aria-label", "Flag this answer");
      [["", "Flag answer…"], ["incorrect", "Incorrect"], ["outdated", "Outdated"], ["incomplete", "Incomplete"]].forEach(function (p) { var o = make("option", "", p[1]); o.value = p[0]; flag.appendChild(o); });
      flag.value = m.flag || "";
      flag.onchange = function () { if (flag.value) send({ type: "flag", message_id: m.id, flag: flag.value }); };
      li.appendChild(flag);
    }
    $("messages").appendChild(li);
    $("messages").scrollTop = $("messages").scrollHeight;
  }

  $("take-over").onclick = function () { send({ type: "take_over", conversation_id: opened }); };
  $("close").onclick = function () { send({ type: "close", conversation_id: opened }); };
  $("transfer").onclick = function () { send({ type: "transfer", conversation_id: opened, to_agent_id: null }); };
  $("transfer-to").addEventListener("focus", function () { if (ws && ws.readyState === 1) send({ type: "agents" }); });
  $("transfer-to").onchange = function () { var to = $("transfer-to").value; if (to) send({ type: "transfer", conversation_id: opened, to_agent_id: Number(to) }); };
  $("faq-draft").onclick = function () { send({ type: "faq_draft", conversation_id: opened }); };
  // A reply leaves the box at once but is kept until acknowledged: a refused one ("Another agent
  // has this conversation", too long) comes back to the box instead of being lost.
  var replies = {};
  $("reply-form").onsubmit = function (e) { e.preventDefault(); var t = $("reply").value.trim(); if (!t) return; var id = uid(); replies[id] = t; send({ type: "message", conversation_id: opened, text: t, client_id: id }); $("reply").value = ""; };
  $("reply").addEventListener("keydown", function (e) { if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); $("reply-form").requestSubmit(); } });
  $("reply").addEventListener("input", function () {
    // At most one typing event every 3 s, not one per keystroke.
    if (!opened || Date.now() - typingSent < 3000) return;
    typingSent = Date.now();
    send({ type: "typing", conversation_id: opened, on: true });
  });
  $("email-form").onsubmit = function (e) { e.preventDefault(); var t = $("email-text").value.trim(); if (!t) return; send({ type: "email_reply", conversation_id: opened, text: t }); };
  $("note-form").onsubmit = function (e) { e.preventDefault(); var t = $("note").value.trim(); if (!t) return; send({ type: "note", conversation_id: opened, text: t }); $("note").value = ""; };
  connect();
})();
