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
