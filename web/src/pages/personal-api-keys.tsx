/** The signed-in user's personal API keys: create (label, scopes), copy once, list masked, revoke. */
import { type FormEvent, useState } from 'react'
import { errorText } from '../api/client.ts'
import { useKeyMutations, useKeys } from '../api/queries.ts'
import type { PersonalApiKey } from '../api/types.ts'
import { ActionsHeader, CopyButton, Empty, ErrorText, Loading, PageHeader } from '../components/common.tsx'
import { ConfirmDialog, Dialog } from '../components/dialog.tsx'
import { formatDate, formatRelative } from '../format.ts'

const OBJECTS: [string, string][] = [
  ['group', 'Groups and group types'],
  ['usage_metric', 'Usage metrics'],
  ['project', 'Projects'],
  ['query', 'Queries (metric values, events)'],
]

function CreateKey({ onClose }: { onClose: () => void }) {
  const { create } = useKeyMutations()
  const [label, setLabel] = useState('')
  const [all, setAll] = useState(false)
  const [levels, setLevels] = useState<Record<string, '' | 'read' | 'write'>>({})
  const [error, setError] = useState<string | null>(null)
  const created = create.data

  const submit = (event: FormEvent) => {
    event.preventDefault()
    const scopes = all ? ['*'] : OBJECTS.flatMap(([o]) => (levels[o] ? [`${o}:${levels[o]}`] : []))
    if (!label.trim()) return setError('Label is required')
    if (scopes.length === 0) return setError('Pick at least one scope')
    setError(null)
    create.mutate({ label: label.trim(), scopes }, { onError: (e) => setError(errorText(e)) })
  }

  if (created?.value)
    return (
      <Dialog
        open
        title="Personal API key created"
        onClose={onClose}
        footer={
          <button type="button" className="btn btn-primary" onClick={onClose}>
            Done
          </button>
        }
      >
        <p>Copy the key now: you won't be able to see it again.</p>
        <p className="key-value">
          <code data-testid="new-key-value">{created.value}</code>{' '}
          <CopyButton text={created.value} label="Copy the new key" />
        </p>
      </Dialog>
    )
  return (
    <Dialog
      open
      title="Create personal API key"
      onClose={onClose}
      footer={
        <>
          <button type="button" className="btn" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" form="key-form" className="btn btn-primary" disabled={create.isPending}>
            Create key
          </button>
        </>
      }
    >
      <form id="key-form" onSubmit={submit} className="form-grid" noValidate>
        <label className="field span-2">
          <span>Label</span>
          <input
            value={label}
            maxLength={40}
            placeholder="e.g. Backend sync"
            onChange={(e) => setLabel(e.target.value)}
          />
        </label>
        <label className="switch span-2">
          <input
            type="checkbox"
            role="switch"
            aria-checked={all}
            checked={all}
            onChange={(e) => setAll(e.target.checked)}
          />
          <span>All access (every scope, *)</span>
        </label>
        {!all &&
          OBJECTS.map(([object, text]) => (
            <label className="field" key={object}>
              <span>{text}</span>
              <select
                value={levels[object] ?? ''}
                onChange={(e) => setLevels({ ...levels, [object]: e.target.value as '' | 'read' | 'write' })}
              >
                <option value="">No access</option>
                <option value="read">Read</option>
                <option value="write">Write</option>
              </select>
            </label>
          ))}
        {error && (
          <p className="error span-2" role="alert">
            {error}
          </p>
        )}
      </form>
    </Dialog>
  )
}

export function PersonalApiKeysPage() {
  const keys = useKeys()
  const { revoke } = useKeyMutations()
  const [creating, setCreating] = useState(false)
  const [revoking, setRevoking] = useState<PersonalApiKey | null>(null)
  return (
    <>
      <PageHeader
        title="Personal API keys"
        description="Keys let scripts call the groupd API as you. Treat them like passwords."
        actions={
          <button type="button" className="btn btn-primary" onClick={() => setCreating(true)}>
            Create personal API key
          </button>
        }
      />
      {keys.isPending && <Loading />}
      {keys.isError && <ErrorText error={keys.error} />}
      {keys.data?.length === 0 && <Empty title="No personal API keys" />}
      {keys.data && keys.data.length > 0 && (
        <section className="card">
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Label</th>
                  <th scope="col">Key</th>
                  <th scope="col">Scopes</th>
                  <th scope="col">Created</th>
                  <th scope="col">Last used</th>
                  <ActionsHeader />
                </tr>
              </thead>
              <tbody>
                {keys.data.map((k) => (
                  <tr key={k.id}>
                    <td>{k.label}</td>
                    <td>
                      <code>{k.mask_value}</code>
                    </td>
                    <td className="break">{k.scopes.join(', ')}</td>
                    <td className="nowrap">{formatDate(k.created_at)}</td>
                    <td className="nowrap">{k.last_used_at ? formatRelative(k.last_used_at) : 'Never'}</td>
                    <td className="right">
                      <button
                        type="button"
                        className="btn btn-small btn-danger-text"
                        aria-label={`Revoke key ${k.label}`}
                        onClick={() => setRevoking(k)}
                      >
                        Revoke
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>
      )}
      {creating && <CreateKey onClose={() => setCreating(false)} />}
      <ConfirmDialog
        variables={revoking ? revoking.id : null}
        mutation={revoke}
        onClose={() => setRevoking(null)}
        title={`Revoke key "${revoking?.label}"?`}
        confirmLabel="Revoke key"
      >
        <p>Anything using this key will stop working immediately. This cannot be undone.</p>
      </ConfirmDialog>
    </>
  )
}
