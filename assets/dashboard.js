// mypostshare dashboard: the only script. Copy buttons (data-copy="input id" or
// data-copy-text="text"); everything else works without JavaScript.
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-copy], [data-copy-text]");
  if (!button) return;
  var field = button.dataset.copy ? document.getElementById(button.dataset.copy) : null;
  var text = field ? field.value : button.dataset.copyText;
  var done = function () {
    var label = button.textContent;
    button.textContent = "Copied";
    setTimeout(function () { button.textContent = label; }, 2000);
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done, function () { fallback(); });
  } else {
    fallback();
  }
  function fallback() {
    if (field) { field.select(); } 
    try { if (document.execCommand("copy")) done(); } catch (e) { /* the text stays selected */ }
  }
});
