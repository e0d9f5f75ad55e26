// kneo console: optional niceties; every page works without JavaScript.
(function () {
  "use strict";
  // Epoch timestamps shown as local dates.
  document.querySelectorAll("time[data-epoch]").forEach(function (el) {
    var seconds = parseFloat(el.getAttribute("data-epoch"));
    if (!isNaN(seconds)) { el.textContent = new Date(seconds * 1000).toLocaleString(); }
  });
  // Reload while runs move, unless the person is typing in a form.
  var refresh = document.querySelector('meta[name="kneo-refresh"]');
  if (refresh) {
    var every = parseFloat(refresh.getAttribute("content")) * 1000;
    setInterval(function () {
      var active = document.activeElement;
      var typing = active && /^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName);
      if (!typing && !document.hidden) { window.location.reload(); }
    }, every);
  }
})();
