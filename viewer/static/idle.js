// Idle sign-out for shared terminals. The server signs an idle session out
// on its next request whatever happens here; this only makes an open page
// clear itself: a warning a minute before (with a way to stay signed in),
// then the page goes to /idle, which signs out if no other tab was used.
(function () {
  var body = document.body;
  var seconds = parseInt(body.getAttribute('data-idle-seconds'), 10);
  if (!seconds) { return; }
  var back = body.getAttribute('data-idle-back') || '/';
  var warnAfter = Math.max(seconds - 60, Math.floor(seconds / 2));
  setTimeout(function () {
    var w = document.getElementById('idle-warning');
    if (w) { w.hidden = false; }
  }, warnAfter * 1000);
  setTimeout(function () {
    window.location.href = '/idle?back=' + encodeURIComponent(back);
  }, seconds * 1000);
})();
