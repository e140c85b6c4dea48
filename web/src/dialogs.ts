/** Modal dialogs, all built one way: a <dialog> holding a form whose errors are shown in it. */
import { el } from './dom.js';
import { describeError } from './format.js';

export interface FormDialogOptions {
  title: string;
  testid: string;
  fields: HTMLElement[];
  /** The submit button's label. */
  action: string;
  /** Runs on submit: success closes the dialog, an error is shown in it and the form can be sent again. */
  submit: () => Promise<void>;
  /** The submit button does something that cannot be undone. */
  danger?: boolean;
}

/** Opens a modal form; answers the dialog (closing it removes it). */
export function formDialog(options: FormDialogOptions): HTMLDialogElement {
  const error = el('p', { class: 'form-error', testid: 'dialog-error', attrs: { role: 'alert' } });
  const ok = el('button', { class: options.danger ? 'danger' : '', testid: 'dialog-submit', attrs: { type: 'submit' } }, options.action);
  const dialog = el('dialog', { class: 'dialog', testid: options.testid });
  const close = () => {
    dialog.close();
    dialog.remove();
  };
  const form = el(
    'form',
    {
      on: {
        submit: (event) => {
          event.preventDefault();
          ok.disabled = true;
          error.textContent = '';
          options.submit().then(close, (err: unknown) => {
            error.textContent = describeError(err);
            ok.disabled = false;
          });
        },
      },
    },
    el('h2', {}, options.title),
    ...options.fields,
    error,
    el('div', { class: 'dialog-actions' }, el('button', { class: 'quiet', testid: 'dialog-cancel', attrs: { type: 'button' }, on: { click: close } }, 'Cancel'), ok),
  );
  dialog.append(form);
  dialog.addEventListener('close', () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  return dialog;
}

/** Asks before doing something destructive; `run` errors are shown in the question. */
export function confirmDialog(title: string, message: string, action: string, run: () => Promise<void>): HTMLDialogElement {
  const dialog = formDialog({ title, testid: 'confirm-dialog', fields: [el('p', { class: 'confirm-message', testid: 'confirm-message' }, message)], action, submit: run, danger: true });
  dialog.querySelector<HTMLButtonElement>('[data-testid="dialog-submit"]')?.focus();
  return dialog;
}
