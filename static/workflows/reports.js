// The reports desk: poll each pending report's status until it is ready or failed.
(function () {
  var words = document.getElementById("rf-report-i18n");
  if (!words) { return; }
  var readyText = words.dataset.ready;
  var failedText = words.dataset.failed;
  var downloadText = words.dataset.download;
  var notices = document.getElementById("rf-report-notices");
  function notify(text, kind) {
    var item = document.createElement("div");
    item.className = "rf-msg rf-msg-" + kind;
    item.textContent = text;
    notices.appendChild(item);
  }
  function poll() {
    var rows = document.querySelectorAll("tr[data-status-url]");
    if (!rows.length) { return; }
    rows.forEach(function (row) {
      fetch(row.getAttribute("data-status-url"), {credentials: "same-origin"})
        .then(function (response) { return response.json(); })
        .then(function (data) {
          var cell = row.querySelector(".rf-report-status");
          if (data.status === "queued" || data.status === "rendering") {
            cell.textContent = data.status_display + " ";
            var bar = document.createElement("progress");
            bar.max = 100; bar.value = data.progress; bar.textContent = data.progress + "%";
            cell.appendChild(bar);
            return;
          }
          row.removeAttribute("data-status-url");
          cell.textContent = data.status_display;
          if (data.download_url) {
            var link = document.createElement("a");
            link.href = data.download_url; link.textContent = downloadText;
            row.querySelector(".rf-report-download").prepend(link);
            notify(data.name + " " + readyText, "success");
          } else {
            notify(data.name + " " + failedText, "error");
          }
        })
        .catch(function () {});
    });
    window.setTimeout(poll, 2000);
  }
  window.setTimeout(poll, 1000);
})();
