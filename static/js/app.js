// Behaviour every page shares: the collapsing navigation and the confirmation step of forms
// marked data-confirm (promote, roll back, ship, stop...). The dialog states what will happen;
// the form is sent only after "confirm" is pressed.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  function navSetup() {
    var bar = document.querySelector(".topbar");
    var toggle = bar && bar.querySelector(".nav-toggle");
    if (!toggle) return;
    toggle.addEventListener("click", function () {
      var open = bar.classList.toggle("open");
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
    });
  }

  function confirmDialog() {
    var dialog = document.getElementById("confirm-dialog");
    if (dialog) return dialog;
    dialog = document.createElement("dialog");
    dialog.id = "confirm-dialog";
    dialog.className = "confirm";
    dialog.setAttribute("aria-labelledby", "confirm-title");
    dialog.setAttribute("data-testid", "confirm-dialog");
    dialog.innerHTML =
      '<h2 id="confirm-title"></h2><p class="confirm-text"></p>' +
      '<form method="dialog" class="actions">' +
      '<button value="cancel" class="secondary" data-testid="confirm-cancel">Cancel</button>' +
      '<button value="ok" data-testid="confirm-ok"></button></form>';
    document.body.appendChild(dialog);
    return dialog;
  }

  function confirmSetup() {
    document.addEventListener("submit", function (event) {
      var form = event.target;
      if (!(form instanceof HTMLFormElement) || !form.dataset.confirm) return;
      if (form.dataset.confirmed === "yes") return;
      event.preventDefault();
      var submitter = event.submitter || null;
      var dialog = confirmDialog();
      dialog.querySelector("#confirm-title").textContent = form.dataset.confirmTitle || "Are you sure?";
      dialog.querySelector(".confirm-text").textContent = form.dataset.confirm;
      var ok = dialog.querySelector('[value="ok"]');
      ok.textContent = form.dataset.confirmButton || "Confirm";
      ok.className = form.dataset.confirmDanger === "yes" ? "danger" : "";
      dialog.onclose = function () {
        if (dialog.returnValue !== "ok") return;
        form.dataset.confirmed = "yes";
        // The clicked button's name/value must travel with the form (action=ship, variant...).
        if (submitter && submitter.name) {
          var carried = document.createElement("input");
          carried.type = "hidden";
          carried.name = submitter.name;
          carried.value = submitter.value;
          form.appendChild(carried);
        }
        form.submit();
      };
      dialog.returnValue = "";
      dialog.showModal();
    });
  }

  // A box that scrolls sideways (a wide table on a phone) must be reachable by keyboard, so
  // it joins the tab order while, and only while, it scrolls.
  var SCROLLERS = "table, .feed, pre, .shelf, .scroll-box, .form div[id^='id_']";
  function scrollersFocusable() {
    document.querySelectorAll(SCROLLERS).forEach(function (box) {
      var scrolls = box.scrollWidth > box.clientWidth + 1 || box.scrollHeight > box.clientHeight + 1;
      var style = getComputedStyle(box);
      var canScroll = /(auto|scroll)/.test(style.overflowX + style.overflowY);
      if (scrolls && canScroll) {
        if (!box.hasAttribute("tabindex")) {
          box.setAttribute("tabindex", "0");
          box.dataset.scrollFocus = "yes";
        }
      } else if (box.dataset.scrollFocus === "yes") {
        box.removeAttribute("tabindex");
        delete box.dataset.scrollFocus;
      }
    });
  }
  window.textsuiteScrollers = scrollersFocusable;

  document.addEventListener("DOMContentLoaded", function () {
    navSetup();
    confirmSetup();
    scrollersFocusable();
    window.addEventListener("resize", scrollersFocusable);
    document.addEventListener("htmx:afterSettle", scrollersFocusable);
  });
  window.addEventListener("load", scrollersFocusable);
})();
