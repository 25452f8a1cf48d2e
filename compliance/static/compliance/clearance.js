// Light progressive enhancement; every page works without it.
(function () {
  "use strict";

  function token() {
    if (window.crypto && window.crypto.randomUUID) {
      return window.crypto.randomUUID().replace(/-/g, "");
    }
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  document.addEventListener("DOMContentLoaded", function () {
    // After a refused POST the page names its own address: put it in the address bar, so a
    // reload asks for the page (GET) instead of re-sending the form (compliance/web/once.py).
    var pageUrl = document.querySelector('meta[name="clearance-page-url"]');
    if (pageUrl && window.history && window.history.replaceState) {
      window.history.replaceState(null, "", pageUrl.getAttribute("content"));
    }
    // Every POST form carries a one-time token; the server renders one in most forms.
    var forms = document.querySelectorAll('form[method="post"], form[method="POST"]');
    Array.prototype.forEach.call(forms, function (form) {
      if (!form.querySelector('input[name="form_token"]')) {
        var input = document.createElement("input");
        input.type = "hidden";
        input.name = "form_token";
        input.value = token();
        form.appendChild(input);
      }
    });
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    // Ask before destructive actions (revoke, withdraw).
    var button = event.submitter;
    var message = (button && button.getAttribute("data-confirm")) || form.getAttribute("data-confirm");
    if (message && !window.confirm(message)) {
      event.preventDefault();
      return;
    }
    if (form.method.toLowerCase() !== "post") {
      return;
    }
    if (form.getAttribute("data-sending") === "1") {
      event.preventDefault(); // a second click: the first submit is on its way
      return;
    }
    form.setAttribute("data-sending", "1");
    // Disabled after the browser has taken the form's values (the clicked button's included).
    window.setTimeout(function () {
      Array.prototype.forEach.call(form.querySelectorAll('button[type="submit"], button:not([type]), input[type="submit"]'), function (b) {
        b.disabled = true;
      });
    }, 0);
  });

  // Back to a page kept in the browser's cache: its forms can be used again.
  window.addEventListener("pageshow", function (event) {
    if (!event.persisted) {
      return;
    }
    Array.prototype.forEach.call(document.querySelectorAll('form[data-sending="1"]'), function (form) {
      form.removeAttribute("data-sending");
      Array.prototype.forEach.call(form.querySelectorAll("button, input[type=submit]"), function (b) {
        b.disabled = false;
      });
    });
  });
})();
