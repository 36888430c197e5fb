"use client";

import * as Dialog from "@radix-ui/react-dialog";

interface Props {
  open: boolean;
  title: string;
  body: string;
  confirmLabel: string;
  busy?: boolean;
  onConfirm(): void;
  onCancel(): void;
}

/** A modal confirm (Radix Dialog: focus trap, Escape, focus returns to the opener). */
export function ConfirmDialog({ open, title, body, confirmLabel, busy, onConfirm, onCancel }: Props) {
  return (
    <Dialog.Root open={open} onOpenChange={(o) => (!o ? onCancel() : undefined)}>
      <Dialog.Portal>
        <Dialog.Overlay className="dialog-overlay" />
        <Dialog.Content className="dialog" role="alertdialog" data-testid="confirm-dialog">
          <Dialog.Title>{title}</Dialog.Title>
          <Dialog.Description>{body}</Dialog.Description>
          <div className="dialog-actions">
            <Dialog.Close asChild>
              <button type="button" className="btn" autoFocus>
                Cancel
              </button>
            </Dialog.Close>
            <button type="button" className="btn btn-danger-solid" onClick={onConfirm} disabled={busy} data-testid="confirm-ok">
              {confirmLabel}
            </button>
          </div>
        </Dialog.Content>
      </Dialog.Portal>
    </Dialog.Root>
  );
}
