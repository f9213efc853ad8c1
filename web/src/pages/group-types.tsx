/** Settings → Group types (PostHog's GroupAnalyticsConfig): rename in place, one Save, delete with a dialog. */
import { useState } from 'react'
import { useGroupTypeMutations, useGroupTypes } from '../api/queries.ts'
import type { GroupType } from '../api/types.ts'
import { ActionsHeader, Banner, ErrorText, Loading, PageHeader } from '../components/common.tsx'
import { ConfirmDialog } from '../components/dialog.tsx'
import { formatDate } from '../format.ts'

type Edits = Record<number, { name_singular?: string; name_plural?: string }>

export function GroupTypesPage({ projectId }: { projectId: number }) {
  const types = useGroupTypes(projectId)
  const { updateMetadata, remove } = useGroupTypeMutations(projectId)
  const [edits, setEdits] = useState<Edits>({})
  const [deleting, setDeleting] = useState<GroupType | null>(null)
  const [saved, setSaved] = useState(false)
  const changed = Object.keys(edits).length > 0

  const edit = (index: number, field: 'name_singular' | 'name_plural', value: string) => {
    setSaved(false)
    setEdits((all) => ({ ...all, [index]: { ...all[index], [field]: value } }))
  }
  // PostHog sends the full objects of all types with the edits merged; an emptied input is not sent.
  const save = () => {
    const rows = (types.data ?? []).map((t) => {
      const e = edits[t.group_type_index] ?? {}
      return {
        ...t,
        ...(e.name_singular ? { name_singular: e.name_singular } : {}),
        ...(e.name_plural ? { name_plural: e.name_plural } : {}),
      }
    })
    updateMetadata.mutate(rows, {
      onSuccess: () => {
        setEdits({})
        setSaved(true)
      },
    })
  }

  return (
    <>
      <PageHeader
        title="Group types"
        description="Rename how each group type is shown. Group types are created by ingestion, in the order they are first seen."
      />
      {types.isPending && <Loading />}
      {types.isError && <ErrorText error={types.error} />}
      {types.data?.length === 0 && (
        <Banner>
          Group types will show up here after you send your first event associated with a group. To declare a
          type ahead of data, run <code>groupd group-types add --project {projectId} --name company</code>.
        </Banner>
      )}
      {types.data && types.data.length > 0 && (
        <section className="card">
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">
                    <abbr title="As used in code">Group type</abbr>
                  </th>
                  <th scope="col">Singular name</th>
                  <th scope="col">Plural name</th>
                  <th scope="col">Created</th>
                  <ActionsHeader />
                </tr>
              </thead>
              <tbody>
                {types.data.map((t) => {
                  const e = edits[t.group_type_index] ?? {}
                  return (
                    <tr key={t.group_type_index}>
                      <td>
                        <code>{t.group_type}</code>
                      </td>
                      <td>
                        <input
                          aria-label={`Singular name of ${t.group_type}`}
                          value={e.name_singular ?? (t.name_singular || t.group_type)}
                          onChange={(ev) => edit(t.group_type_index, 'name_singular', ev.target.value)}
                        />
                      </td>
                      <td>
                        <input
                          aria-label={`Plural name of ${t.group_type}`}
                          value={e.name_plural ?? (t.name_plural || `${t.group_type}(s)`)}
                          onChange={(ev) => edit(t.group_type_index, 'name_plural', ev.target.value)}
                        />
                      </td>
                      <td className="muted small nowrap">{formatDate(t.created_at)}</td>
                      <td className="right">
                        <button
                          type="button"
                          className="btn btn-small btn-danger-text"
                          onClick={() => setDeleting(t)}
                          aria-label={`Delete group type ${t.group_type}`}
                        >
                          Delete
                        </button>
                      </td>
                    </tr>
                  )
                })}
              </tbody>
            </table>
          </div>
          <div className="form-actions">
            <button
              type="button"
              className="btn"
              disabled={!changed}
              title={changed ? undefined : 'Revert any changes made'}
              onClick={() => setEdits({})}
            >
              Cancel
            </button>
            <button
              type="button"
              className="btn btn-primary"
              disabled={!changed || updateMetadata.isPending}
              title={changed ? undefined : 'Make some changes before saving'}
              onClick={save}
            >
              Save
            </button>
            <span role="status" className="muted small">
              {saved ? 'Saved' : ''}
            </span>
          </div>
          {updateMetadata.isError && <ErrorText error={updateMetadata.error} />}
        </section>
      )}
      <ConfirmDialog
        variables={deleting ? deleting.group_type_index : null}
        mutation={remove}
        onClose={() => setDeleting(null)}
        title={`Delete ${deleting?.group_type.toLowerCase()} group type`}
        confirmLabel={`Delete ${deleting?.name_singular || deleting?.group_type}`}
      >
        <p>Deleting a group type is irreversible.</p>
        <p>
          You will not be able to assign existing events from this group type to another group type created in
          the future, only new events.
        </p>
      </ConfirmDialog>
    </>
  )
}
