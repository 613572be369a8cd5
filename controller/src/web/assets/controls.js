// Unity dashboard controls that every page shares (issue 19):
// - Confirmation: a form with data-confirm="Revoke agent nas-1?" asks that question in a
//   <dialog> before it is submitted; Cancel (or Escape) leaves it unsent. The form itself is
//   submitted as it is, hidden CSRF field included. The dialog's buttons are keyboard reachable
//   and the confirm button has focus when it opens.
// - Navigation: below 640 px the menu folds behind its "Menu" button.
// - Phone tables: every <td> gets data-label from its column's <th>, and the table the class
//   "cards", which app.css shows as one card per row below 640 px. Without this script tables
//   keep scrolling sideways inside their box.
"use strict";
(function () {
  let dialog = null;

  function confirmDialog() {
    if (dialog) return dialog;
    dialog = document.createElement("dialog");
    dialog.id = "confirm-dialog";
    dialog.setAttribute("aria-labelledby", "confirm-question");
    const question = document.createElement("p");
    question.id = "confirm-question";
    const buttons = document.createElement("form");
    buttons.method = "dialog";
    buttons.className = "confirm-buttons";
    const cancel = document.createElement("button");
    cancel.type = "submit";
    cancel.value = "cancel";
    cancel.id = "confirm-cancel";
    cancel.className = "secondary";
    cancel.textContent = "Cancel";
    const ok = document.createElement("button");
    ok.type = "submit";
    ok.value = "confirm";
    ok.id = "confirm-ok";
    ok.className = "danger";
    buttons.append(cancel, ok);
    dialog.append(question, buttons);
    document.body.append(dialog);
    return dialog;
  }

  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.dataset.confirm) return;
    if (form.dataset.confirmed === "yes") {
      delete form.dataset.confirmed;
      return;
    }
    event.preventDefault();
    const submitter = event.submitter || null;
    const box = confirmDialog();
    box.querySelector("#confirm-question").textContent = form.dataset.confirm;
    const ok = box.querySelector("#confirm-ok");
    ok.textContent = form.dataset.confirmButton || (submitter && submitter.textContent.trim()) || "Confirm";
    box.returnValue = "";
    box.onclose = () => {
      if (box.returnValue !== "confirm") return;
      form.dataset.confirmed = "yes";
      if (submitter && submitter.form === form) form.requestSubmit(submitter);
      else form.requestSubmit();
    };
    box.showModal();
    ok.focus();
  });

  function labelTables() {
    document.querySelectorAll("table").forEach((table) => {
      const head = table.tHead && table.tHead.rows[table.tHead.rows.length - 1];
      if (!head) return;
      const names = [];
      for (const cell of head.cells) {
        for (let i = 0; i < (cell.colSpan || 1); i++) names.push(cell.textContent.trim());
      }
      for (const body of table.tBodies) {
        for (const row of body.rows) {
          let column = 0;
          for (const cell of row.cells) {
            if (!cell.hasAttribute("data-label")) cell.dataset.label = names[column] || "";
            column += cell.colSpan || 1;
          }
        }
      }
      table.classList.add("cards");
    });
  }
  labelTables();
  window.unityLabelTables = labelTables;

  // The navigation menu (layout.rs): a <details> open by default, folded behind its "Menu"
  // button on narrow screens and opened again when the window grows.
  const menu = document.getElementById("menu");
  if (menu && window.matchMedia) {
    const narrow = window.matchMedia("(max-width: 640px)");
    const fit = () => { menu.open = !narrow.matches; };
    fit();
    narrow.addEventListener("change", fit);
  }
})();
