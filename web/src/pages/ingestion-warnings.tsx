/** What capture dropped or changed and why, per type, last 30 days. */
import { useWarnings } from '../api/queries.ts'
import { Empty, ErrorText, Loading, PageHeader } from '../components/common.tsx'
import { formatDate, formatRelative } from '../format.ts'

export function IngestionWarningsPage({ projectId }: { projectId: number }) {
  const warnings = useWarnings(projectId)
  return (
    <>
      <PageHeader
        title="Ingestion warnings"
        description="Problems capture met in the last 30 days, newest first."
      />
      {warnings.isPending && <Loading />}
      {warnings.isError && <ErrorText error={warnings.error} />}
      {warnings.data?.results.length === 0 && (
        <Empty title="No ingestion warnings">
          <p className="muted">Everything sent in the last 30 days was ingested as is.</p>
        </Empty>
      )}
      {warnings.data?.results.map((summary) => (
        <section className="card section" key={summary.type} aria-labelledby={`w-${summary.type}`}>
          <div className="section-header">
            <h2 id={`w-${summary.type}`}>
              <code>{summary.type}</code>
            </h2>
            <p className="muted small">
              {summary.count} in 30 days · last {formatRelative(summary.lastSeen)}
            </p>
          </div>
          <details>
            <summary>Examples ({summary.warnings.length})</summary>
            <div className="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th scope="col">When</th>
                    <th scope="col">Details</th>
                  </tr>
                </thead>
                <tbody>
                  {summary.warnings.map((w, i) => (
                    // biome-ignore lint/suspicious/noArrayIndexKey: examples have no id
                    <tr key={i}>
                      <td className="nowrap">{formatDate(w.timestamp)}</td>
                      <td className="break">
                        <code>{JSON.stringify(w.details)}</code>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </details>
        </section>
      ))}
    </>
  )
}
