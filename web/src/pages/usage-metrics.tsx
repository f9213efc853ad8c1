/** Settings → Usage metrics: the table per group type, the editor, delete with confirmation. */
import { useState } from 'react'
import { useGroupTypes, useMetricMutations, useMetrics } from '../api/queries.ts'
import type { Metric } from '../api/types.ts'
import { ActionsHeader, Empty, ErrorText, Loading, PageHeader } from '../components/common.tsx'
import { ConfirmDialog } from '../components/dialog.tsx'
import { capitalize, groupTypeNames } from '../format.ts'
import { navigate, useLocation } from '../router.tsx'
import { MetricEditor, NEW_METRIC } from './metric-editor.tsx'

export function UsageMetricsPage({ projectId }: { projectId: number }) {
  const { path, search } = useLocation()
  const index = Number(search.get('group_type_index') ?? 0)
  const types = useGroupTypes(projectId)
  const metrics = useMetrics(projectId, index)
  const { remove } = useMetricMutations(projectId, index)
  const [editing, setEditing] = useState<(Omit<Metric, 'id'> & { id?: string }) | null>(null)
  const [deleting, setDeleting] = useState<Metric | null>(null)
  const add = () => setEditing({ ...NEW_METRIC, filters: {} })

  return (
    <>
      <PageHeader
        title="Usage metrics"
        description={
          <>
            Define what usage means for your product based on one or more events. Usage metrics are displayed
            in the group profiles.
          </>
        }
        actions={
          <button type="button" className="btn btn-primary" onClick={add}>
            Add metric
          </button>
        }
      />
      {(types.data?.length ?? 0) > 1 && (
        <label className="field inline-field">
          <span>Group type</span>
          <select value={index} onChange={(e) => navigate(`${path}?group_type_index=${e.target.value}`)}>
            {types.data?.map((t) => (
              <option key={t.group_type_index} value={t.group_type_index}>
                {capitalize(groupTypeNames(t).plural)}
              </option>
            ))}
          </select>
        </label>
      )}
      {metrics.isPending && <Loading />}
      {metrics.isError && <ErrorText error={metrics.error} />}
      {metrics.data?.results.length === 0 && (
        <Empty title="No usage metrics yet">
          <p className="muted">Once created, usage metrics will be displayed in the group profiles.</p>
          <button type="button" className="btn btn-primary" onClick={add}>
            Add metric
          </button>
        </Empty>
      )}
      {metrics.data && metrics.data.results.length > 0 && (
        <section className="card">
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Format</th>
                  <th scope="col">Interval</th>
                  <th scope="col">Display</th>
                  <th scope="col">Calculation</th>
                  <ActionsHeader />
                </tr>
              </thead>
              <tbody>
                {metrics.data.results.map((m) => (
                  <tr key={m.id}>
                    <td>{m.name}</td>
                    <td>{m.format === 'currency' ? 'Currency' : 'Numeric'}</td>
                    <td>{m.interval}d</td>
                    <td>{m.display === 'sparkline' ? 'Sparkline' : 'Number'}</td>
                    <td>{m.math === 'sum' ? `Sum of ${m.math_property}` : 'Count'}</td>
                    <td className="right nowrap">
                      <button
                        type="button"
                        className="btn btn-small"
                        aria-label={`Edit ${m.name}`}
                        onClick={() => setEditing(m)}
                      >
                        Edit
                      </button>{' '}
                      <button
                        type="button"
                        className="btn btn-small btn-danger-text"
                        aria-label={`Delete ${m.name}`}
                        onClick={() => setDeleting(m)}
                      >
                        Delete
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>
      )}
      {editing && (
        <MetricEditor
          projectId={projectId}
          index={index}
          initial={editing}
          onClose={() => setEditing(null)}
        />
      )}
      <ConfirmDialog
        variables={deleting ? deleting.id : null}
        mutation={remove}
        onClose={() => setDeleting(null)}
        title="Delete usage metric"
        confirmLabel="Delete"
      >
        <p>Are you sure you want to delete "{deleting?.name}"? This action cannot be undone.</p>
      </ConfirmDialog>
    </>
  )
}
