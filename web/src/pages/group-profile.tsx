/** A group's profile: header, usage metric cards, properties (search, edit, delete), recent events. */
import { type FormEvent, useEffect, useRef, useState } from 'react'
import { errorText } from '../api/client.ts'
import { useEvents, useGroup, useGroupMutations, useGroupTypes, useMetricValues } from '../api/queries.ts'
import { ActionsHeader, CopyButton, Empty, ErrorText, Loading, Skeleton } from '../components/common.tsx'
import { ConfirmDialog } from '../components/dialog.tsx'
import { MetricCard } from '../components/metric-card.tsx'
import {
  capitalize,
  formatDate,
  formatProperty,
  formatRelative,
  groupTypeNames,
  parseProperty,
} from '../format.ts'
import { Link } from '../router.tsx'

function MetricCards({ projectId, index, groupKey }: { projectId: number; index: number; groupKey: string }) {
  const values = useMetricValues(projectId, index, groupKey)
  const settings = `/project/${projectId}/settings/usage-metrics?group_type_index=${index}`
  return (
    <section className="section" aria-labelledby="metrics-title">
      <div className="section-header">
        <h2 id="metrics-title">Usage metrics</h2>
        <div className="actions">
          <Link href={settings} className="btn btn-small">
            Add metric
          </Link>
          <button
            type="button"
            className="btn btn-small"
            onClick={() => values.refetch()}
            disabled={values.isFetching}
          >
            Refresh
          </button>
        </div>
      </div>
      {values.isPending && (
        <div className="metric-grid" role="status" aria-label="Loading usage metrics">
          {[0, 1, 2].map((i) => (
            <div className="card metric-card" key={i}>
              <Skeleton width="50%" />
              <Skeleton height={32} width="40%" />
              <Skeleton width="30%" />
            </div>
          ))}
        </div>
      )}
      {values.isError && (
        <div className="card notice" role="alert">
          <p className="strong">Failed to load usage metrics</p>
          <p className="muted small">{errorText(values.error)}</p>
        </div>
      )}
      {values.data?.results.length === 0 && (
        <Empty title="No usage metrics">
          <p className="muted">Once created, usage metrics will be displayed here.</p>
          <Link href={settings} className="btn btn-primary">
            Add metric
          </Link>
        </Empty>
      )}
      {values.data && values.data.results.length > 0 && (
        <div className="metric-grid">
          {values.data.results.map((m) => (
            <MetricCard key={m.id} metric={m} />
          ))}
        </div>
      )}
    </section>
  )
}

function Properties({
  projectId,
  index,
  groupKey,
  properties,
}: {
  projectId: number
  index: number
  groupKey: string
  properties: Record<string, unknown>
}) {
  const { setProperty, deleteProperty } = useGroupMutations(projectId, index, groupKey)
  const [filter, setFilter] = useState('')
  const [editing, setEditing] = useState<{ key: string; text: string; isNew: boolean } | null>(null)
  const [deleting, setDeleting] = useState<string | null>(null)
  const entries = Object.entries(properties)
    .filter(([k, v]) => !filter || `${k} ${formatProperty(v)}`.toLowerCase().includes(filter.toLowerCase()))
    .sort(([a], [b]) => a.localeCompare(b))
  const save = (event: FormEvent) => {
    event.preventDefault()
    if (!editing?.key.trim()) return
    setProperty.mutate(
      { key: editing.key.trim(), value: parseProperty(editing.text) },
      { onSuccess: () => setEditing(null) },
    )
  }
  return (
    <section className="section" aria-labelledby="properties-title">
      <div className="section-header">
        <h2 id="properties-title">Properties</h2>
        <div className="actions">
          <label className="search">
            <span className="sr-only">Search properties</span>
            <input
              type="search"
              placeholder="Search properties"
              value={filter}
              onChange={(e) => setFilter(e.target.value)}
            />
          </label>
          <button
            type="button"
            className="btn btn-small"
            onClick={() => setEditing({ key: '', text: '', isNew: true })}
          >
            Add property
          </button>
        </div>
      </div>
      <div className="card">
        {editing?.isNew && (
          <form className="property-form" onSubmit={save}>
            <label className="field">
              <span>Property</span>
              <input
                value={editing.key}
                onChange={(e) => setEditing({ ...editing, key: e.target.value })}
                required
              />
            </label>
            <label className="field">
              <span>Value</span>
              <input
                value={editing.text}
                onChange={(e) => setEditing({ ...editing, text: e.target.value })}
              />
            </label>
            <button type="submit" className="btn btn-primary btn-small">
              Save
            </button>
            <button type="button" className="btn btn-small" onClick={() => setEditing(null)}>
              Cancel
            </button>
          </form>
        )}
        {setProperty.isError && <ErrorText error={setProperty.error} />}
        {entries.length === 0 ? (
          <p className="muted pad">{filter ? 'No properties match.' : 'This group has no properties.'}</p>
        ) : (
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Property</th>
                  <th scope="col">Value</th>
                  <ActionsHeader />
                </tr>
              </thead>
              <tbody>
                {entries.map(([key, value]) => (
                  <tr key={key}>
                    <td>
                      <code>{key}</code>
                    </td>
                    <td className="break">
                      {editing && !editing.isNew && editing.key === key ? (
                        <form className="inline-form" onSubmit={save}>
                          <input
                            aria-label={`New value of ${key}`}
                            value={editing.text}
                            // biome-ignore lint/a11y/noAutofocus: focus follows the Edit button the user pressed
                            autoFocus
                            onChange={(e) => setEditing({ ...editing, text: e.target.value })}
                          />
                          <button
                            type="submit"
                            className="btn btn-primary btn-small"
                            disabled={setProperty.isPending}
                          >
                            Save
                          </button>
                          <button type="button" className="btn btn-small" onClick={() => setEditing(null)}>
                            Cancel
                          </button>
                        </form>
                      ) : (
                        formatProperty(value)
                      )}
                    </td>
                    <td className="right nowrap">
                      <button
                        type="button"
                        className="btn btn-small"
                        aria-label={`Edit ${key}`}
                        onClick={() => setEditing({ key, text: formatProperty(value), isNew: false })}
                      >
                        Edit
                      </button>{' '}
                      <button
                        type="button"
                        className="btn btn-small btn-danger-text"
                        aria-label={`Delete ${key}`}
                        onClick={() => setDeleting(key)}
                      >
                        Delete
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </div>
      <ConfirmDialog
        variables={deleting}
        mutation={deleteProperty}
        onClose={() => setDeleting(null)}
        title={`Delete property "${deleting}"?`}
        confirmLabel="Delete property"
      >
        <p>The property is removed from this group now. New events may set it again.</p>
      </ConfirmDialog>
    </section>
  )
}

function RecentEvents({
  projectId,
  index,
  groupKey,
}: {
  projectId: number
  index: number
  groupKey: string
}) {
  const properties = JSON.stringify([
    { key: `$group_${index}`, value: groupKey, operator: 'exact', type: 'event_metadata' },
  ])
  const events = useEvents(projectId, { properties }, 25)
  const sentinel = useRef<HTMLDivElement>(null)
  const { hasNextPage, isFetchingNextPage, fetchNextPage } = events
  // Infinite list: the next page loads when the end of the list scrolls into view.
  useEffect(() => {
    const node = sentinel.current
    if (!node || !hasNextPage) return
    const observer = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting) && !isFetchingNextPage) fetchNextPage()
    })
    observer.observe(node)
    return () => observer.disconnect()
  }, [hasNextPage, isFetchingNextPage, fetchNextPage])
  const rows = events.data?.pages.flatMap((p) => p.results) ?? []
  return (
    <section className="section" aria-labelledby="events-title">
      <div className="section-header">
        <h2 id="events-title">Recent events</h2>
      </div>
      <div className="card">
        {events.isPending && <Loading />}
        {events.isError && <ErrorText error={events.error} />}
        {events.data && rows.length === 0 && <p className="muted pad">No events for this group yet.</p>}
        {rows.length > 0 && (
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Event</th>
                  <th scope="col">Person</th>
                  <th scope="col">When</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((e) => (
                  <tr key={e.id}>
                    <td>
                      <code>{e.event}</code>
                    </td>
                    <td className="break">{e.distinct_id}</td>
                    <td className="nowrap" title={formatDate(e.timestamp)}>
                      {formatRelative(e.timestamp)}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        <div ref={sentinel} />
        {hasNextPage && (
          <div className="load-more">
            <button
              type="button"
              className="btn"
              disabled={isFetchingNextPage}
              onClick={() => fetchNextPage()}
            >
              {isFetchingNextPage ? 'Loading…' : 'Load more events'}
            </button>
          </div>
        )}
      </div>
    </section>
  )
}

export function GroupProfilePage({
  projectId,
  index,
  groupKey,
}: {
  projectId: number
  index: number
  groupKey: string
}) {
  const group = useGroup(projectId, index, groupKey)
  const types = useGroupTypes(projectId)
  const type = types.data?.find((t) => t.group_type_index === index)
  const names = type ? groupTypeNames(type) : { singular: 'group', plural: 'groups' }
  if (group.isPending) return <Loading />
  if (group.isError)
    return (
      <>
        <Link href={`/project/${projectId}/groups/${index}`}>← {capitalize(names.plural)}</Link>
        <ErrorText error={group.error} />
      </>
    )
  const g = group.data
  const name = (typeof g.group_properties.name === 'string' && g.group_properties.name) || g.group_key
  return (
    <>
      <nav aria-label="Breadcrumb" className="breadcrumb">
        <Link href={`/project/${projectId}/groups/${index}`}>← {capitalize(names.plural)}</Link>
      </nav>
      <header className="page-header profile-header">
        <div>
          <h1>{name}</h1>
          <p className="caption">
            <span className="pill">{capitalize(names.singular)}</span>
            <span>
              <code>{g.group_key}</code> <CopyButton text={g.group_key} label={`Copy key ${g.group_key}`} />
            </span>
            <span className="muted">First seen {formatDate(g.created_at)}</span>
          </p>
        </div>
      </header>
      <MetricCards projectId={projectId} index={index} groupKey={groupKey} />
      <Properties projectId={projectId} index={index} groupKey={groupKey} properties={g.group_properties} />
      <RecentEvents projectId={projectId} index={index} groupKey={groupKey} />
    </>
  )
}
