// The show-password toggle: for every <input type="password" data-password-toggle>, a button
// right after it that shows or hides what was typed. Progressive enhancement: without this
// script the field is an ordinary password field, and the form works the same. The button's
// words come from the layout (data-show-password and friends on <body>), in the page's language.
// A live region says what changed, since the button's own text changes under a screen reader.
(() => {
  const words = document.body.dataset;
  let count = 0;
  for (const input of document.querySelectorAll('input[type="password"][data-password-toggle]')) {
    count += 1;
    if (!input.id) input.id = `password-toggle-field-${count}`;
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'password-toggle';
    button.setAttribute('aria-controls', input.id);
    button.textContent = words.showPassword || 'Show password';
    const status = document.createElement('span');
    status.className = 'visually-hidden';
    status.setAttribute('aria-live', 'polite');
    button.addEventListener('click', () => {
      const shown = input.type === 'password';
      input.type = shown ? 'text' : 'password';
      button.textContent = (shown ? words.hidePassword : words.showPassword) || (shown ? 'Hide password' : 'Show password');
      status.textContent = (shown ? words.passwordShown : words.passwordHidden) || '';
    });
    // Never submit a visible password: a browser may then offer to remember it as plain text.
    input.form?.addEventListener('submit', () => {
      input.type = 'password';
    });
    const row = document.createElement('div');
    row.className = 'password-toggle-row';
    row.append(button, status);
    input.after(row);
  }
})();
