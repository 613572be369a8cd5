// Unity passkeys: the browser half of WebAuthn. On the Security page the "add a passkey" form
// fetches creation options, asks the browser for a new credential and posts its answer; on the
// second-factor page the "use a passkey" form fetches request options, asks for an assertion
// and posts it. The server checks everything; this only moves bytes (base64url) around.
"use strict";
(function () {
  function toB64(buffer) {
    const bytes = new Uint8Array(buffer);
    let text = "";
    for (let i = 0; i < bytes.length; i++) text += String.fromCharCode(bytes[i]);
    return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function fromB64(text) {
    const plain = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
    const bytes = new Uint8Array(plain.length);
    for (let i = 0; i < plain.length; i++) bytes[i] = plain.charCodeAt(i);
    return bytes;
  }
  function showError(message) {
    const element = document.getElementById("passkey-error");
    if (element) {
      element.textContent = message;
      element.hidden = false;
    }
  }
  async function post(url, fields) {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(fields),
    });
    if (!response.ok) {
      let message = "the server refused (" + response.status + ")";
      try {
        const body = await response.json();
        if (body && body.error) message = body.error;
      } catch (ignored) { /* not JSON */ }
      throw new Error(message);
    }
    return response.json();
  }
  function supported() {
    if (window.PublicKeyCredential && navigator.credentials) return true;
    showError("This browser cannot use passkeys here (they need HTTPS or localhost).");
    return false;
  }

  const add = document.getElementById("add-passkey");
  if (add) {
    add.addEventListener("submit", async function (event) {
      event.preventDefault();
      if (!supported()) return;
      try {
        const options = await post("/settings/security/passkeys/options", { csrf: add.elements.csrf.value });
        const credential = await navigator.credentials.create({
          publicKey: {
            challenge: fromB64(options.challenge),
            rp: { id: options.rp_id, name: "Unity" },
            user: { id: fromB64(options.user_id), name: options.user_name, displayName: options.user_name },
            pubKeyCredParams: [{ type: "public-key", alg: -7 }],
            timeout: options.timeout_ms,
            attestation: "none",
            authenticatorSelection: { residentKey: "preferred", userVerification: "required" },
            excludeCredentials: options.exclude.map(function (id) { return { type: "public-key", id: fromB64(id) }; }),
          },
        });
        add.elements.client_data.value = toB64(credential.response.clientDataJSON);
        add.elements.attestation_object.value = toB64(credential.response.attestationObject);
        add.submit();
      } catch (error) {
        showError("No passkey was added: " + error.message);
      }
    });
  }

  const login = document.getElementById("passkey-login");
  if (login) {
    login.addEventListener("submit", async function (event) {
      event.preventDefault();
      if (!supported()) return;
      try {
        const options = await post("/login/second-factor/passkey/options", {});
        const credential = await navigator.credentials.get({
          publicKey: {
            challenge: fromB64(options.challenge),
            rpId: options.rp_id,
            timeout: options.timeout_ms,
            userVerification: "required",
            allowCredentials: options.allow.map(function (id) { return { type: "public-key", id: fromB64(id) }; }),
          },
        });
        login.elements.credential_id.value = toB64(credential.rawId);
        login.elements.client_data.value = toB64(credential.response.clientDataJSON);
        login.elements.authenticator_data.value = toB64(credential.response.authenticatorData);
        login.elements.signature.value = toB64(credential.response.signature);
        login.submit();
      } catch (error) {
        showError("The passkey did not work: " + error.message);
      }
    });
  }
})();
