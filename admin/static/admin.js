// Tortoise admin: the little behaviour plain HTML lacks. No inline script
// is allowed by the page's Content-Security-Policy, so it all lives here.
(function () {
  "use strict";
  // Forms and buttons with data-confirm ask before they submit.
  document.addEventListener("submit", function (e) {
    var f = e.target;
    var msg = f.getAttribute("data-confirm") || (e.submitter && e.submitter.getAttribute("data-confirm"));
    if (msg && !window.confirm(msg)) {
      e.preventDefault();
      e.stopImmediatePropagation();
    }
  }, true);
})();

// ---- Records pages (records.html, record_form.html) ----
(function () {
  "use strict";
  // Inside [data-swap-invalid] htmx shows a 400 answer (the records
  // table with the filter's error) instead of dropping it.
  document.addEventListener("htmx:beforeSwap", function (e) {
    var d = e.detail;
    if (d.xhr && d.xhr.status === 400 && d.target && d.target.closest && d.target.closest("[data-swap-invalid]")) {
      d.shouldSwap = true;
      d.isError = false;
    }
  });
  // A JSON editor (data-invalid-for) is marked invalid while the
  // server's check shows a message.
  document.addEventListener("htmx:afterSwap", function (e) {
    var elt = e.detail.elt;
    var id = elt && elt.getAttribute && elt.getAttribute("data-invalid-for");
    var input = id && document.getElementById(id);
    if (!input) return;
    if (e.detail.target.querySelector(".fielderror")) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
  });
  document.addEventListener("change", function (e) {
    var t = e.target;
    if (!t.getAttribute) return;
    // A checkbox with data-check-all="name" checks its form's boxes of that name.
    var name = t.getAttribute("data-check-all");
    if (name && t.form) {
      Array.prototype.forEach.call(t.form.elements, function (el) {
        if (el.name === name && el.type === "checkbox") el.checked = t.checked;
      });
    }
    // A file input with data-preview="id" shows what was chosen there.
    if (t.type === "file" && t.getAttribute("data-preview")) preview(t, document.getElementById(t.getAttribute("data-preview")));
  });
  function preview(input, out) {
    if (!out) return;
    out.textContent = "";
    Array.prototype.forEach.call(input.files || [], function (f) {
      var fig = document.createElement("figure");
      if (/^image\//.test(f.type)) {
        var img = document.createElement("img");
        img.alt = "";
        img.src = URL.createObjectURL(f);
        img.addEventListener("load", function () { URL.revokeObjectURL(img.src); });
        fig.appendChild(img);
      }
      var cap = document.createElement("figcaption");
      cap.textContent = f.name + " (" + Math.max(1, Math.round(f.size / 1024)) + " KB)";
      fig.appendChild(cap);
      out.appendChild(fig);
    });
  }
  // A record picked among a relation picker's results joins the chosen
  // ones, so that the next search (which replaces the results) keeps it;
  // a single relation's radio replaces the one chosen before.
  document.addEventListener("change", function (e) {
    var t = e.target;
    var results = t.closest && t.closest(".rec-relresults");
    var picker = results && results.closest(".rec-relpicker");
    var chosen = picker && picker.querySelector(".rec-chosen");
    if (!chosen || !t.checked) return;
    var label = t.closest("label");
    var item = label.parentNode;
    Array.prototype.forEach.call(chosen.querySelectorAll("input"), function (i) {
      if (i.type !== "hidden" && i.value !== "" && (t.type === "radio" || i.value === t.value)) i.closest("label").remove();
    });
    var none = chosen.querySelector(".rec-none");
    if (none) none.remove();
    var noneRadio = chosen.querySelector("input[type=radio][value='']");
    chosen.insertBefore(label, noneRadio ? noneRadio.closest("label") : null);
    if (item && item.tagName === "LI") item.remove();
  });
  // Enter in a relation picker's search searches; it does not submit
  // the record form.
  document.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && e.target.closest && e.target.closest(".rec-relpicker") && e.target.type === "search") e.preventDefault();
  });
})();

// ---- Collections: the editor's field rows (collection_edit.html) ----
// Moving and removing a field row happens in the page. Without script the
// same buttons submit the form (op=up:<row>, down:<row>, remove:<row>)
// and the server shows the draft again with the change.
(function () {
  "use strict";
  document.addEventListener("click", function (e) {
    var btn = e.target.closest && e.target.closest("button[data-row-move], button[data-row-remove]");
    if (!btn) { return; }
    var row = btn.closest(".fieldrow");
    if (!row) { return; }
    e.preventDefault();
    if (btn.hasAttribute("data-row-remove")) {
      row.remove();
      var add = document.getElementById("add-field");
      if (add) { add.focus(); }
      return;
    }
    if (btn.getAttribute("data-row-move") === "up" && row.previousElementSibling) {
      row.parentNode.insertBefore(row, row.previousElementSibling);
    } else if (btn.getAttribute("data-row-move") === "down" && row.nextElementSibling) {
      row.parentNode.insertBefore(row.nextElementSibling, row);
    }
    btn.focus();
  });
  // A row's heading follows its name as it is typed.
  document.addEventListener("input", function (e) {
    var t = e.target;
    if (!t.matches || !t.matches(".fieldrow .rowtop input[id$='-name']")) { return; }
    var label = t.closest(".fieldrow").querySelector("legend .mono");
    if (label) { label.textContent = t.value || "new field"; }
  });
})();
