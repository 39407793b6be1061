// The portal link is /portal#token=<token>. The fragment never reaches a server;
// this script takes the token out of it, clears it from the address bar and the
// history, and posts it (same origin) to open a session held in an HttpOnly cookie.
(function () {
  "use strict";
  var match = /(?:^#|&)token=([^&]+)/.exec(window.location.hash);
  window.history.replaceState(null, "", window.location.pathname);
  if (!match) {
    // No token: a session may already be open (the home page says if not).
    window.location.replace("/portal/home");
    return;
  }
  var form = document.getElementById("portal-session");
  var token;
  try {
    token = decodeURIComponent(match[1]);
  } catch (error) {
    document.getElementById("no-token").hidden = false;
    return;
  }
  form.elements.namedItem("token").value = token;
  form.submit();
})();
