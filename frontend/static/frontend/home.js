/* Home: fill each project card with my numbers from /api/v1/projects/{id}/me. */
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", () => {
    for (const card of document.querySelectorAll("[data-project]")) {
      Q.api("GET", `projects/${card.dataset.project}/me`).then((me) => {
        for (const fig of card.querySelectorAll("[data-me]")) fig.querySelector("b").textContent = Q.fmt.int(me[fig.dataset.me]);
        const note = card.querySelector(".me-note");
        if (me.paused) {
          note.hidden = false;
          note.className = "me-note alert warn small";
          note.textContent = `You are paused in this project${me.paused_reason ? `: ${me.paused_reason}` : "."}`;
        } else if (me.gold_accuracy !== null && me.gold_accuracy !== undefined) {
          note.hidden = false;
          note.textContent = `Accuracy on gold items: ${Q.fmt.pct(me.gold_accuracy)} (${me.gold_answers} checked)`;
        }
      }).catch(() => { /* the numbers stay as dashes */ });
    }
  });
})();
