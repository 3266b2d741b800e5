/* Forms speak in the page, never in browser pop-ups (the pages' CSP allows no inline script,
   so this is the one place for it):
   - a field the browser finds invalid gets a Chinese message right under it, and the first
     such field is focused; the browser's own bubble (in its own language, gone in seconds)
     is suppressed;
   - a form with data-confirm asks in the page: the first press shows the question and turns
     the button into the confirmation; 取消 puts it back. */
(function () {
  "use strict";

  function messageFor(field) {
    var v = field.validity, label = field.getAttribute("data-label") || "";
    if (v.valueMissing) {
      return field.type === "checkbox" || field.type === "radio" ? "请先选择" + label : "请填写" + (label || "这一项");
    }
    if (v.tooLong) return "最多 " + field.maxLength + " 个字";
    if (v.tooShort) return "至少 " + field.minLength + " 个字";
    if (v.patternMismatch || v.typeMismatch || v.badInput) return field.getAttribute("title") || "格式不对，请检查";
    if (v.rangeOverflow || v.rangeUnderflow) return "数值应在 " + (field.min || "") + " 到 " + (field.max || "") + " 之间";
    return field.validationMessage;
  }

  function clear(field) {
    var note = field.parentNode && field.parentNode.querySelector(".field-error[data-for='" + field.name + "']");
    if (note) note.remove();
    field.removeAttribute("aria-invalid");
  }

  document.addEventListener("invalid", function (event) {
    var field = event.target;
    event.preventDefault();
    clear(field);
    var note = document.createElement("span");
    note.className = "field-error";
    note.setAttribute("role", "alert");
    note.setAttribute("data-for", field.name);
    note.textContent = messageFor(field);
    field.setAttribute("aria-invalid", "true");
    field.insertAdjacentElement("afterend", note);
    var form = field.form;
    if (form && form.querySelector(":invalid") === field) field.focus();
  }, true);

  document.addEventListener("input", function (event) {
    if (event.target.getAttribute && event.target.getAttribute("aria-invalid") && event.target.checkValidity()) {
      clear(event.target);
    }
  }, true);

  document.addEventListener("submit", function (event) {
    var form = event.target, question = form.getAttribute && form.getAttribute("data-confirm");
    if (!question || form.getAttribute("data-armed") === "1") return;
    event.preventDefault();
    var button = form.querySelector("button:not([type=button])");
    var ask = document.createElement("span");
    ask.className = "confirm-ask";
    ask.setAttribute("role", "alert");
    ask.textContent = question;
    var cancel = document.createElement("button");
    cancel.type = "button";
    cancel.textContent = "取消";
    var original = button ? button.textContent : "";
    form.setAttribute("data-armed", "1");
    if (button) {
      button.textContent = "确定" + original.replace(/^确定/, "");
      button.insertAdjacentElement("beforebegin", ask);
      button.insertAdjacentElement("afterend", cancel);
      button.focus();
    }
    cancel.addEventListener("click", function () {
      form.removeAttribute("data-armed");
      ask.remove();
      cancel.remove();
      if (button) { button.textContent = original; button.focus(); }
    });
  }, true);
})();
