// Progressive enhancement only: the portal works the same with JavaScript disabled.
"use strict";
document.documentElement.classList.add("js");

function showField(id, visible) {
  const field = document.getElementById(id);
  if (field) field.classList.toggle("hidden", !visible);
}

// Show only the fields the chosen network needs; a hidden network's security is the person's choice.
function fitFieldsToNetwork(form, focusName) {
  const chosen = form.querySelector("input[name=ssid]:checked");
  const other = chosen ? chosen.dataset.security === "other" : false;
  const security = other ? document.getElementById("security").value : chosen ? chosen.dataset.security : "wpa";
  showField("other-field", other);
  showField("security-field", other);
  showField("identity-field", security === "enterprise");
  showField("passphrase-field", security !== "none");
  // a WPA key is at most 64 characters; an enterprise password may be longer (the server checks both)
  document.getElementById("passphrase").maxLength = security === "enterprise" ? 256 : 64;
  document.getElementById("other_ssid").required = other;
  if (other && focusName) document.getElementById("other_ssid").focus();
}

function enhanceForm(form) {
  form.addEventListener("change", (event) => {
    if (event.target.name === "ssid" || event.target.name === "security") {
      fitFieldsToNetwork(form, event.target.name === "ssid");
    }
  });
  const toggle = document.getElementById("show-passphrase");
  toggle.addEventListener("change", () => {
    document.getElementById("passphrase").type = toggle.checked ? "text" : "password";
  });
  fitFieldsToNetwork(form, true);
}

// While the phone is still on the setup network, follow the attempt; the server page says why it failed.
function followAttempt(region) {
  const attemptId = region.dataset.attempt;
  let polls = 0;
  let leftNetwork = false;
  const timer = setInterval(async () => {
    if (++polls > 90) return clearInterval(timer);
    try {
      const status = await (await fetch("/status", { cache: "no-store" })).json();
      const attempt = status.last_attempt || {};
      if (String(attempt.id) !== attemptId || attempt.result === "pending") return;
      clearInterval(timer);
      if (attempt.result === "connected") {
        // the words come from the page (data-msg-*), in the language the server chose
        const reach = status.reach || {};
        const where = [reach.mdns_name, ...(reach.addresses || [])].filter(Boolean).join(", ");
        region.textContent = region.dataset.msgConnected.replace("{ssid}", attempt.ssid);
        if (where) region.append(" " + region.dataset.msgReach.replace("{where}", where));
      } else {
        window.location.assign("/");
      }
    } catch (err) {
      if (!leftNetwork) {
        leftNetwork = true;
        region.insertAdjacentText("beforeend", " " + region.dataset.msgLeft);
      }
    }
  }, 2000);
}

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("connect-form");
  if (form) enhanceForm(form);
  const region = document.getElementById("attempt-status");
  if (region) followAttempt(region);
});
