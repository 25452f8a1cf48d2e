// Light progressive enhancement; every page works without it.
document.addEventListener("submit", function (event) {
  // Ask before destructive actions (revoke, withdraw).
  var button = event.submitter;
  var message = (button && button.getAttribute("data-confirm")) || event.target.getAttribute("data-confirm");
  if (message && !window.confirm(message)) {
    event.preventDefault();
  }
});
