// The modal dialog every other dialog is built on: a native <dialog> opened with showModal(),
// so the browser traps focus, makes the rest of the page inert and closes it on Esc; clicking
// the backdrop closes it too, and focus returns to where it was.
import { html, cls, useId, useLayoutEffect, useRef } from '../lib.js';
import { Icon } from './icons.js';

export function Modal({ title, onClose, children, class: extra, wide }) {
  const ref = useRef(null);
  const closeRef = useRef(onClose);
  closeRef.current = onClose;
  const id = `dialog-title-${useId()}`;

  useLayoutEffect(() => {
    const dialog = ref.current;
    const opener = document.activeElement;
    dialog.showModal();
    const onCancel = (event) => {
      event.preventDefault();
      closeRef.current();
    };
    dialog.addEventListener('cancel', onCancel);
    return () => {
      dialog.removeEventListener('cancel', onCancel);
      if (dialog.open) dialog.close();
      if (opener?.isConnected && document.activeElement === document.body) opener.focus();
    };
  }, []);

  // The dialog element itself has no padding: a click that lands on it is on the backdrop.
  const onClick = (event) => {
    if (event.target === ref.current) closeRef.current();
  };

  return html`<dialog ref=${ref} class=${cls('modal', wide && 'modal-wide', extra)} aria-labelledby=${id} onClick=${onClick}>
    <div class="modal-inner">
      <header class="modal-head">
        <h2 id=${id} class="modal-title">${title}</h2>
        <button type="button" class="icon-btn" aria-label="Close" onClick=${() => closeRef.current()}><${Icon} name="close" /></button>
      </header>
      ${children}
    </div>
  </dialog>`;
}

/** The problem the server found with one field, tied to its input by id. */
export function FieldError({ error, field, id }) {
  const text = error?.fields?.[field];
  return text ? html`<p class="field-error" id=${id}>${text}</p>` : null;
}
