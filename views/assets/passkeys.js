// Passkeys in the browser, on the pages that offer them (the account page's "Add a passkey",
// the sign-in's passkey step and its email field). No fetch: the server put the WebAuthn options
// into the page as JSON (<script type="application/json" id="webauthn-options">); this script
// hands them to @simplewebauthn/browser (the global SimpleWebAuthnBrowser, /assets/webauthn-browser.js,
// loaded before it), writes the browser's answer into the form's hidden `response` field and
// submits the form as it is (POST with its CSRF token, then the server's redirect).
//   form[data-passkey="register"]      navigator.credentials.create() on submit
//   form[data-passkey="authenticate"]  navigator.credentials.get() on submit
//   input[data-passkey="autofill"]     conditional mediation: the browser offers passkeys in the
//                                      field's autofill, and choosing one signs in
// When the browser says no, the words shown come from the page, in its language: the form's (or
// the field's) data-error-cancelled (the person cancelled, or it timed out) and data-error-failed
// (anything else), and optionally data-error-registered (this authenticator already holds a passkey
// for the account), in the form's [data-passkey-message] live region (made when there is none).
// The autofill's own failures show nothing: it runs before the person asked for anything.
(() => {
  const webauthn = globalThis.SimpleWebAuthnBrowser;

  /** The options the server wrote into the page, or undefined. */
  function options() {
    const element = document.getElementById('webauthn-options');
    if (!element) return undefined;
    try {
      return JSON.parse(element.textContent);
    } catch {
      return undefined;
    }
  }

  /** The form's live region for a refusal: the page's own, or one added at the form's end. */
  function messageOf(form) {
    let region = form.querySelector('[data-passkey-message]');
    if (!region) {
      region = document.createElement('p');
      region.className = 'error';
      region.setAttribute('role', 'status');
      region.setAttribute('aria-live', 'polite');
      region.setAttribute('data-passkey-message', '');
      region.hidden = true;
      form.append(region);
    }
    return region;
  }

  /** Shows the page's words for why the browser refused (never the browser's own, in its language). */
  function showError(form, source, error) {
    const name = error && (error.name || '');
    const code = error && (error.code || '');
    const cancelled = name === 'NotAllowedError' || name === 'AbortError' || code === 'ERROR_CEREMONY_ABORTED';
    // The authenticator holds a passkey for this account already (the options' excludeCredentials).
    const registered = code === 'ERROR_AUTHENTICATOR_PREVIOUSLY_REGISTERED';
    const chosen = registered ? source.dataset.errorRegistered : cancelled ? source.dataset.errorCancelled : source.dataset.errorFailed;
    const text = chosen || source.dataset.errorFailed || '';
    const region = messageOf(form);
    region.hidden = false;
    // Emptied first and written a moment later, so the same words said twice are announced twice.
    region.textContent = '';
    setTimeout(() => {
      region.textContent = text;
    }, 50);
  }

  function clearError(form) {
    const region = form.querySelector('[data-passkey-message]');
    if (region) {
      region.hidden = true;
      region.textContent = '';
    }
  }

  /** Puts the browser's answer in the form's `response` field and sends the form. */
  function send(form, result) {
    let field = form.querySelector('input[name="response"]');
    if (!field) {
      field = document.createElement('input');
      field.type = 'hidden';
      field.name = 'response';
      form.append(field);
    }
    field.value = JSON.stringify(result);
    // submit(), not requestSubmit(): the form was checked already, and this must not run again.
    form.submit();
  }

  /** A form whose submit asks the browser (create or get) before the form is sent. */
  function ceremonyOnSubmit(form, ask) {
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const optionsJSON = options();
      if (!webauthn || !optionsJSON || !webauthn.browserSupportsWebAuthn()) return showError(form, form, undefined);
      const buttons = [...form.querySelectorAll('button[type="submit"], button:not([type])')];
      clearError(form);
      for (const button of buttons) button.disabled = true;
      try {
        send(form, await ask(optionsJSON));
      } catch (error) {
        for (const button of buttons) button.disabled = false;
        showError(form, form, error);
      }
    });
  }

  for (const form of document.querySelectorAll('form[data-passkey="register"]')) {
    ceremonyOnSubmit(form, (optionsJSON) => webauthn.startRegistration({ optionsJSON }));
  }
  for (const form of document.querySelectorAll('form[data-passkey="authenticate"]')) {
    ceremonyOnSubmit(form, (optionsJSON) => webauthn.startAuthentication({ optionsJSON }));
  }

  // Conditional mediation: started once, at load; the browser answers only when the person picks
  // a passkey from the field's suggestions. Starting another ceremony (a passkey button) cancels
  // it, which is no refusal worth showing.
  const autofill = document.querySelector('input[data-passkey="autofill"]');
  // The answer goes to the form the field names (the login page's passkey form), else the field's own.
  const autofillForm = autofill && (autofill.dataset.passkeyForm ? document.getElementById(autofill.dataset.passkeyForm) : autofill.form);
  if (autofill && autofillForm && webauthn) {
    const optionsJSON = options();
    webauthn.browserSupportsWebAuthnAutofill().then(async (supported) => {
      if (!supported || !optionsJSON) return;
      try {
        send(autofillForm, await webauthn.startAuthentication({ optionsJSON, useBrowserAutofill: true }));
      } catch {
        // The person asked for nothing yet (the autofill waits in the background): a failure here,
        // cancelled or refused (an origin WebAuthn does not allow, such as an IP address), is not
        // theirs to read. The passkey button still says what went wrong when they press it.
      }
    });
  }
})();
