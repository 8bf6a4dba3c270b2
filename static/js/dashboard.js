/* Dashboard behaviour on top of HTMX: open a <dialog class="modal"> that a swap brings in,
 * drop it when it closes, and move focus to the heading of a step swapped into a dialog or
 * the seat editor, so keyboard and screen-reader users follow along. No framework. */
(function () {
  "use strict";

  function openDialogs(root) {
    root.querySelectorAll("dialog.modal:not([open])").forEach(function (dialog) {
      dialog.addEventListener("close", function () { dialog.remove(); }, { once: true });
      if (typeof dialog.showModal === "function") {
        dialog.showModal();
      } else {
        dialog.setAttribute("open", "");
      }
    });
  }

  function focusStep(target) {
    var heading = target.querySelector("[tabindex='-1'], [role='alert']");
    if (heading) {
      heading.focus({ preventScroll: false });
    }
  }

  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    if (!target) return;
    openDialogs(target);
    if (target.id === "plan-modal-body" || target.id === "seat-editor") {
      focusStep(target);
    }
  });
})();
