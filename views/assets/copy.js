// The copy button on the API keys page. Without JavaScript the key is still there to select.
// The words it shows come from the page (data-copied, data-copy-manual), in the page's language.
for (const button of document.querySelectorAll('button[data-copy]')) {
  button.addEventListener('click', async () => {
    const field = document.getElementById(button.dataset.copy);
    try {
      await navigator.clipboard.writeText(field.value);
      button.textContent = button.dataset.copied;
    } catch {
      field.select();
      button.textContent = button.dataset.copyManual;
    }
  });
}
