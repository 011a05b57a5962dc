// hotline: the pages' one script. No framework, no build step, no inline script (the CSP allows
// this file only, by its hash). Every page works without it; it adds quick exit, the call timer,
// partial updates of forms marked data-partial, the repeat-caller check as a number is typed,
// the idle warning, and the passkey ceremonies (which cannot work without a script).
"use strict";
(function () {
  var body = document.body;

  // Quick exit: blank the page at once, end the session, and replace this page in the history
  // with a neutral site. The button, or Escape twice within a second.
  function quickExit() {
    var url = body.getAttribute("data-exit") || "https://www.google.com/";
    var token = body.getAttribute("data-form-token");
    try {
      document.title = "";
      body.innerHTML = "";
      if (token && navigator.sendBeacon) {
        navigator.sendBeacon("/sign-out", new URLSearchParams({ form_token: token }));
      }
    } finally {
      window.location.replace(url);
    }
  }
  var exitButton = document.getElementById("quick-exit");
  if (exitButton) {
    exitButton.addEventListener("click", function (e) {
      e.preventDefault();
      quickExit();
    });
  }
  var lastEscape = 0;
  document.addEventListener("keydown", function (e) {
    if (e.key !== "Escape") return;
    var now = Date.now();
    if (now - lastEscape < 1000) quickExit();
    lastEscape = now;
  });

  // The running call timer: seconds since the form was opened, as m:ss.
  var timer = document.querySelector("[data-timer-start]");
  if (timer) {
    var started = Date.now();
    var tick = function () {
      var s = Math.floor((Date.now() - started) / 1000);
      var text = Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
      timer.textContent = text;
    };
    tick();
    setInterval(tick, 1000);
  }

  // Partial updates: a form with data-partial="id" is sent with fetch and the element with that
  // id is replaced by the answer (the server sends the page's partial for HX-Request).
  function send(form, submitter) {
    var target = document.getElementById(form.getAttribute("data-partial"));
    var data = new FormData(form, submitter || undefined);
    return fetch(form.action, {
      method: "POST",
      body: new URLSearchParams(data),
      headers: { "HX-Request": "true" },
      credentials: "same-origin",
      redirect: "follow",
    }).then(function (res) {
      if (res.status === 401 || res.redirected) {
        window.location.assign("/sign-in");
        return;
      }
      return res.text().then(function (html) {
        if (target) target.innerHTML = html;
      });
    });
  }
  document.querySelectorAll("form[data-partial]").forEach(function (form) {
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      send(form, e.submitter);
    });
  });

  // Parts of a page loaded after it (data-load="path"): the answer (the path's partial)
  // replaces the element's content, which until then links to the full page.
  document.querySelectorAll("[data-load]").forEach(function (el) {
    fetch(el.getAttribute("data-load"), {
      headers: { "HX-Request": "true" },
      credentials: "same-origin",
    }).then(function (res) {
      if (res.ok && !res.redirected) {
        return res.text().then(function (html) {
          el.innerHTML = html;
        });
      }
    });
  });

  // The repeat-caller check as the number is typed: the lookup form is sent 400 ms after the
  // last keystroke, when the field holds at least 7 digits.
  var phone = document.getElementById("caller_phone");
  var lookup = document.getElementById("lookup-form");
  if (phone && lookup) {
    var pending = null;
    phone.addEventListener("input", function () {
      clearTimeout(pending);
      var digits = phone.value.replace(/\D/g, "");
      if (digits.length < 7) return;
      pending = setTimeout(function () {
        lookup.querySelector("input[name=phone]").value = phone.value;
        send(lookup);
      }, 400);
    });
  }

  // Idle warning a minute before the session ends; then the sign-in page.
  var idle = parseInt(body.getAttribute("data-idle-seconds") || "0", 10);
  var warning = document.getElementById("idle-warning");
  if (idle > 60 && warning) {
    var warnAt = null;
    var endAt = null;
    var arm = function () {
      clearTimeout(warnAt);
      clearTimeout(endAt);
      warning.hidden = true;
      warnAt = setTimeout(function () {
        warning.hidden = false;
      }, (idle - 60) * 1000);
      endAt = setTimeout(function () {
        window.location.assign("/sign-in");
      }, idle * 1000);
    };
    arm();
    // Any request to the server keeps the session alive; typing alone does not.
    document.addEventListener("submit", arm);
  }

  // A file input that fills a text area (data-fills="id"): the file is read here and its text
  // sent with the form, so the server takes only plain forms.
  document.querySelectorAll("input[type=file][data-fills]").forEach(function (input) {
    input.addEventListener("change", function () {
      var target = document.getElementById(input.getAttribute("data-fills"));
      if (!target || !input.files || !input.files[0]) return;
      input.files[0].text().then(function (text) {
        target.value = text;
      });
    });
  });

  // Passkeys: a form with data-passkey="create" (add one) or "get" (sign in) asks its
  // data-options path for a ceremony, hands the options to the browser, and is sent with the
  // ceremony's id and the browser's answer as JSON. The ceremony's state stays on the server.
  // Without WebAuthn the forms stay hidden and the page says so.
  var webauthn = window.PublicKeyCredential &&
    PublicKeyCredential.parseCreationOptionsFromJSON &&
    PublicKeyCredential.parseRequestOptionsFromJSON;
  document.querySelectorAll("form[data-passkey]").forEach(function (form) {
    if (!webauthn) return;
    var unsupported = document.getElementById("passkey-unsupported");
    if (unsupported) unsupported.hidden = true;
    var box = form.closest("[hidden]");
    if (box) box.hidden = false;
    var create = form.getAttribute("data-passkey") === "create";
    var problem = form.querySelector("[role=alert]");
    var field = function (name) {
      return form.querySelector("input[name=" + name + "]");
    };
    var busy = false;
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      if (busy) return;
      var ask = new URLSearchParams();
      var token = field("form_token");
      if (token) ask.set("form_token", token.value);
      if (!create) {
        var login = document.getElementById("login");
        if (!login.value.trim()) {
          login.focus();
          login.reportValidity();
          return;
        }
        ask.set("login", login.value);
        field("login").value = login.value;
      }
      busy = true;
      if (problem) problem.hidden = true;
      fetch(form.getAttribute("data-options"), {
        method: "POST",
        body: ask,
        credentials: "same-origin",
      }).then(function (res) {
        if (!res.ok) throw new Error("the ceremony did not start: " + res.status);
        return res.json();
      }).then(function (ceremony) {
        field("ceremony").value = ceremony.ceremony;
        var options = ceremony.options.publicKey;
        return create
          ? navigator.credentials.create({
            publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options),
          })
          : navigator.credentials.get({
            publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options),
          });
      }).then(function (credential) {
        field("credential").value = JSON.stringify(credential.toJSON());
        form.submit();
      }).catch(function () {
        // Cancelled, timed out, refused by the authenticator, or no ceremony: say so and
        // let the user try again (a new ceremony each time).
        busy = false;
        if (problem) problem.hidden = false;
      });
    });
  });
})();
