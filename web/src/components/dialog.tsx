/** A modal on the native <dialog>: focus moves in and is trapped, Escape closes, focus returns. */
import { type ReactNode, useEffect, useId, useRef } from 'react'
import { errorText } from '../api/client.ts'

export function Dialog({
  open,
  title,
  onClose,
  children,
  footer,
}: {
  open: boolean
  title: string
  onClose: () => void
  children: ReactNode
  footer: ReactNode
}) {
  const ref = useRef<HTMLDialogElement>(null)
  const titleId = useId()
  useEffect(() => {
    const dialog = ref.current
    if (!dialog) return
    if (open && !dialog.open) dialog.showModal()
    if (!open && dialog.open) dialog.close()
  }, [open])
  return (
    <dialog
      ref={ref}
      className="dialog"
      aria-labelledby={titleId}
      onClose={onClose}
      onCancel={(event) => {
        event.preventDefault()
        onClose()
      }}
    >
      {open && (
        <>
          <h2 id={titleId} className="dialog-title">
            {title}
          </h2>
          <div className="dialog-body">{children}</div>
          <div className="dialog-footer">{footer}</div>
        </>
      )}
    </dialog>
  )
}

/** The parts of a TanStack mutation a confirmation needs. */
interface Mutation<V> {
  mutate: (variables: V, options: { onSuccess: () => void }) => void
  reset: () => void
  isPending: boolean
  error: unknown
}

/**
 * "Are you sure?" for one mutation: open while `variables` is not null; confirming runs the
 * mutation with them and closes on success; a failure shows in the dialog.
 */
export function ConfirmDialog<V>({
  variables,
  mutation,
  onClose,
  title,
  confirmLabel,
  children,
}: {
  variables: V | null
  mutation: Mutation<V>
  onClose: () => void
  title: string
  confirmLabel: string
  children: ReactNode
}) {
  const close = () => {
    onClose()
    mutation.reset()
  }
  return (
    <Dialog
      open={variables !== null}
      title={title}
      onClose={close}
      footer={
        <>
          <button type="button" className="btn" onClick={close}>
            Cancel
          </button>
          <button
            type="button"
            className="btn btn-danger"
            disabled={mutation.isPending}
            onClick={() => variables !== null && mutation.mutate(variables, { onSuccess: close })}
          >
            {confirmLabel}
          </button>
        </>
      }
    >
      {children}
      {mutation.error ? (
        <p className="error" role="alert">
          {errorText(mutation.error)}
        </p>
      ) : null}
    </Dialog>
  )
}
