/** Groups of one type: search (exact, prefix, contains first), newest first, load more, column picker. */
import { useEffect, useMemo, useState } from 'react'
import { useGroups, useGroupTypeMutations, useGroupTypes } from '../api/queries.ts'
import type { Group } from '../api/types.ts'
import { Empty, ErrorText, Loading, PageHeader } from '../components/common.tsx'
import { capitalize, formatDate, formatProperty, groupTypeNames } from '../format.ts'
import { Link, navigate, useLocation } from '../router.tsx'

const DEFAULT_COLUMNS = ['group_name', 'created_at']
const BUILT_IN: Record<string, string> = { group_name: 'Name', key: 'Key', created_at: 'First seen' }

const displayName = (g: Group) =>
  (typeof g.group_properties.name === 'string' && g.group_properties.name) || g.group_key

/** PostHog's search ranking: exact match, then prefix, then contains, then the rest; newest first within. */
function rank(groups: Group[], search: string): Group[] {
  const q = search.toLowerCase()
  const score = (g: Group) => {
    const texts = [g.group_key, displayName(g)].map((t) => t.toLowerCase())
    if (texts.some((t) => t === q)) return 0
    if (texts.some((t) => t.startsWith(q))) return 1
    if (texts.some((t) => t.includes(q))) return 2
    return 3
  }
  return groups
    .map((g, i) => ({ g, i, s: score(g) }))
    .sort((a, b) => a.s - b.s || a.i - b.i)
    .map((x) => x.g)
}

function cell(g: Group, column: string, href: string) {
  if (column === 'group_name')
    return (
      <Link href={href} className="strong">
        {displayName(g)}
      </Link>
    )
  if (column === 'key') return <code>{g.group_key}</code>
  if (column === 'created_at') return <span className="nowrap">{formatDate(g.created_at)}</span>
  const key = column.replace(/^properties\./, '')
  return key in g.group_properties ? (
    formatProperty(g.group_properties[key])
  ) : (
    <span className="muted">—</span>
  )
}

export function GroupsPage({ projectId, index }: { projectId: number; index: number }) {
  const { path, search } = useLocation()
  const q = search.get('q') ?? ''
  const [text, setText] = useState(q)
  const types = useGroupTypes(projectId)
  const type = types.data?.find((t) => t.group_type_index === index)
  const groups = useGroups(projectId, index, q)
  const { setColumns } = useGroupTypeMutations(projectId)
  const [picking, setPicking] = useState(false)
  // Shown at once while the choice is saved.
  const [pendingColumns, setPendingColumns] = useState<string[] | null>(null)

  useEffect(() => setText(q), [q])
  useEffect(() => {
    if (text === q) return
    const timer = setTimeout(
      () => navigate(text ? `${path}?q=${encodeURIComponent(text)}` : path, { replace: true }),
      300,
    )
    return () => clearTimeout(timer)
  }, [text, q, path])

  const rows = useMemo(() => {
    const all = groups.data?.pages.flatMap((p) => p.results) ?? []
    return q ? rank(all, q) : all
  }, [groups.data, q])
  const columns = pendingColumns ?? (type?.default_columns?.length ? type.default_columns : DEFAULT_COLUMNS)
  const propertyKeys = useMemo(
    () =>
      [...new Set(rows.flatMap((g) => Object.keys(g.group_properties)))].filter((k) => k !== 'name').sort(),
    [rows],
  )
  const label = (column: string) => BUILT_IN[column] ?? column.replace(/^properties\./, '')

  if (types.isPending) return <Loading />
  if (!type)
    return (
      <>
        <PageHeader title="Groups" />
        <Empty title="No group type at this index">
          <p className="muted">
            Group types appear after the first event associated with a group. See{' '}
            <Link href={`/project/${projectId}/settings/group-types`}>Group types</Link>.
          </p>
        </Empty>
      </>
    )
  const names = groupTypeNames(type)
  const toggle = (column: string) => {
    const next = columns.includes(column) ? columns.filter((c) => c !== column) : [...columns, column]
    const chosen = next.length ? next : DEFAULT_COLUMNS
    setPendingColumns(chosen)
    setColumns.mutate(
      { group_type_index: index, default_columns: chosen },
      { onSettled: () => setPendingColumns(null) },
    )
  }

  return (
    <>
      <PageHeader
        title={capitalize(names.plural)}
        description={`A catalog of all ${names.plural} for this project`}
        actions={
          <button type="button" className="btn" aria-expanded={picking} onClick={() => setPicking(!picking)}>
            Columns
          </button>
        }
      />
      {picking && (
        <fieldset className="card column-picker">
          <legend>Columns (saved for everyone in this project)</legend>
          {[...Object.keys(BUILT_IN), ...propertyKeys.map((k) => `properties.${k}`)].map((column) => (
            <label key={column} className="check">
              <input
                type="checkbox"
                checked={columns.includes(column)}
                disabled={setColumns.isPending}
                onChange={() => toggle(column)}
              />
              {label(column)}
            </label>
          ))}
          {setColumns.isError && <ErrorText error={setColumns.error} />}
        </fieldset>
      )}
      <div className="toolbar">
        <label className="search">
          <span className="sr-only">Search {names.plural}</span>
          <input
            type="search"
            placeholder={`Search by name or key`}
            value={text}
            onChange={(e) => setText(e.target.value)}
          />
        </label>
      </div>
      {groups.isPending && <Loading />}
      {groups.isError && <ErrorText error={groups.error} />}
      {groups.data && rows.length === 0 && (
        <Empty
          title={
            q ? `No ${names.plural} found` : `No ${names.plural} exist because none have been identified`
          }
        >
          {q && <p className="muted">Try changing the search.</p>}
        </Empty>
      )}
      {rows.length > 0 && (
        <section className="card">
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  {columns.map((c) => (
                    <th scope="col" key={c}>
                      {label(c)}
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {rows.map((g) => {
                  const href = `/project/${projectId}/groups/${index}/${encodeURIComponent(g.group_key)}`
                  return (
                    <tr key={g.group_key}>
                      {columns.map((c) => (
                        <td key={c}>{cell(g, c, href)}</td>
                      ))}
                    </tr>
                  )
                })}
              </tbody>
            </table>
          </div>
          {groups.hasNextPage && (
            <div className="load-more">
              <button
                type="button"
                className="btn"
                disabled={groups.isFetchingNextPage}
                onClick={() => groups.fetchNextPage()}
              >
                {groups.isFetchingNextPage ? 'Loading…' : 'Load more'}
              </button>
            </div>
          )}
        </section>
      )}
    </>
  )
}
